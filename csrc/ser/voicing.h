// Source and vocal-tract descriptors of one frame: LPC and line spectral pairs (lpc.h), F0,
// voicing probability, HNR, jitter and shimmer (pitch.h), formants (formants.h), and the
// harmonic levels built from them (H1-H2, H1-A3, formant amplitudes).
#ifndef SER_VOICING_H_
#define SER_VOICING_H_

#include <cstdint>
#include <vector>

#include "ser/descriptor.h"
#include "ser/formants.h"
#include "ser/frame.h"
#include "ser/lpc.h"
#include "ser/pitch.h"

namespace ser {

class VoicingDescriptors {
 public:
  // Outputs, and those with first and second differences (voicing.cc checks its table against these).
  static constexpr int kDim = 39;
  static constexpr int kDimDelta = 26;
  static constexpr int kDimDeltaDelta = 0;

  VoicingDescriptors() = default;
  static const std::vector<DescriptorInfo>& Descriptors();
  static int Dim() { return kDim; }
  // Writes Dim() finite values. Keeps state across frames (previous periods for jitter/shimmer).
  void Compute(const FrameData& frame, float* out);
  void Reset();

  int64_t HeapBytes() const;  // beyond sizeof

 private:
  LpcAnalysis lpc_;
  PitchAnalysis pitch_;
  FormantAnalysis formants_;
};

}  // namespace ser

#endif  // SER_VOICING_H_
