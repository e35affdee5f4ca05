// Streaming frame-level low-level descriptors: accept audio in chunks of any length,
// take the frames that are ready. The output does not depend on how the audio is chunked.
#ifndef SER_ONLINE_LLD_H_
#define SER_ONLINE_LLD_H_

#include <cstdint>
#include <string>
#include <vector>

#include "ser/fft.h"
#include "ser/frame.h"
#include "ser/spectral.h"
#include "ser/voicing.h"

namespace ser {

// Version of the descriptor set. Bump it whenever any value it produces changes.
constexpr const char* kLldVersion = "ser-lld-1";

// Base descriptors per frame, and features per frame once the set's differences are appended.
constexpr int kLldDim = SpectralDescriptors::kDim + VoicingDescriptors::kDim;
constexpr int kFeatureDim = kLldDim + SpectralDescriptors::kDimDelta + VoicingDescriptors::kDimDelta +
                            SpectralDescriptors::kDimDeltaDelta + VoicingDescriptors::kDimDeltaDelta;

// Names and delta orders of every descriptor, in output order.
const std::vector<DescriptorInfo>& LldDescriptors();
int LldDim();

class OnlineLld {
 public:
  OnlineLld();

  // Samples at kSampleRate, floats in [-1, 1]. Non-finite samples are treated as 0.
  void AcceptWaveform(const float* samples, int64_t n);
  // No more audio: the frames that need samples past the end are computed with zeros.
  void InputFinished();
  bool IsFinished() const { return finished_; }

  // Frames computed and not yet popped.
  int64_t NumFramesReady() const;
  // Copies up to max_frames ready frames (LldDim() floats each) into out; returns the count.
  int64_t PopFrames(float* out, int64_t max_frames);
  int64_t NumFramesPopped() const { return popped_; }
  int64_t NumSamplesAccepted() const { return num_samples_; }

  void Reset();
  int64_t HeapBytes() const;  // beyond sizeof

 private:
  void ComputeReadyFrames();
  void ComputeFrame(int64_t t, float* out);
  void DropConsumedSamples();

  RealFft fft_;
  SpectralDescriptors spectral_;
  VoicingDescriptors voicing_;
  const float* hamming_;  // kFrameLength, shared (FrameHammingWindow)

  std::vector<float> samples_;  // samples_[0] is absolute sample samples_offset_
  int64_t samples_offset_ = 0;
  int64_t num_samples_ = 0;
  bool finished_ = false;

  int64_t next_frame_ = 0;    // next frame to compute
  std::vector<float> ready_;  // computed frames, row-major
  int64_t ready_head_ = 0;    // first unpopped row in ready_
  int64_t popped_ = 0;

  std::vector<float> pitch_, windowed_, power_;
};

}  // namespace ser

#endif  // SER_ONLINE_LLD_H_
