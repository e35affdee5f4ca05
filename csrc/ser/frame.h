// Shared framing constants and the per-frame view handed to descriptor components.
#ifndef SER_FRAME_H_
#define SER_FRAME_H_

namespace ser {

constexpr int kSampleRate = 16000;
constexpr int kFrameLength = 400;  // 25 ms
constexpr int kFrameShift = 160;   // 10 ms
constexpr int kFftSize = 512;
constexpr int kNumBins = kFftSize / 2 + 1;
constexpr float kBinHz = static_cast<float>(kSampleRate) / kFftSize;  // FFT bin spacing
// Pitch analysis uses a longer window centred on the frame centre.
constexpr int kPitchLength = 640;  // 40 ms
constexpr int kPitchLeft = (kPitchLength - kFrameLength) / 2;  // samples before frame start

// Everything a component may read for one frame. Samples are floats in [-1, 1].
struct FrameData {
  const float* raw;       // kFrameLength samples as received
  const float* pitch;     // kPitchLength samples from frame start - kPitchLeft; zeros outside the signal
  const float* windowed;  // kFrameLength samples: Hamming * (raw - mean(raw))
  const float* power;     // kNumBins: |rfft_512(windowed)|^2, no normalisation
};

}  // namespace ser

#endif  // SER_FRAME_H_
