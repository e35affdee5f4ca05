// Fundamental frequency of one frame (normalised cross-correlation, coarse at 4 kHz then
// refined at 16 kHz) and the period-to-period perturbations jitter and shimmer.
#ifndef SER_PITCH_H_
#define SER_PITCH_H_

#include <cstdint>
#include <vector>

#include "ser/frame.h"

namespace ser {

struct PitchEstimate {
  float f0_raw = 0.0f;  // Hz
  float period = 0.0f;  // samples at 16 kHz
  float prob = 0.0f;    // normalised autocorrelation at the period
  bool voiced = false;
};

class PitchAnalysis {
 public:
  PitchAnalysis();
  // window: the frame's kPitchLength-sample pitch window (FrameData::pitch).
  PitchEstimate Compute(const float* window);
  // Jitter (local, DDP) and local shimmer of the window last passed to Compute, whose estimate
  // is pitch. Causal state: the previous voiced frame's last period fills in short windows.
  void JitterShimmer(const PitchEstimate& pitch, float* jitter, float* ddp, float* shimmer);
  void Reset();

  int64_t HeapBytes() const;  // beyond sizeof

 private:
  static constexpr int kDecim = 4;  // the search runs at 4 kHz first
  static constexpr int kDecLen = kPitchLength / kDecim;
  static constexpr int kCoarseMinLag = 8;   // 500 Hz at 4 kHz
  static constexpr int kCoarseMaxLag = 73;  // ~55 Hz at 4 kHz
  static constexpr int kCoarseLags = 68;    // >= max - min + 1, multiple of 4
  static constexpr int kFineLags = 8;       // lags refined at 16 kHz
  static constexpr int kMaxPeriods = 24;

  float FinePeriod(int center, float* prob);

  // Scratch (sized in the constructor, no allocation per frame).
  std::vector<float> pw_;   // mean-removed pitch window + zero tail
  std::vector<float> dec_;  // decimated pitch window + zero tail
  // Cross-frame state (causal).
  bool prev_voiced_ = false;
  float prev_period_ = 0.0f;  // last period of the previous voiced frame (samples)
  float prev_amp_ = 0.0f;     // its peak amplitude
};

}  // namespace ser

#endif  // SER_PITCH_H_
