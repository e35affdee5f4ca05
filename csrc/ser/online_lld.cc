#include "ser/online_lld.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "ser/dsp.h"
#include "ser/memory.h"

namespace ser {

const std::vector<DescriptorInfo>& LldDescriptors() {
  static const std::vector<DescriptorInfo> all = [] {
    std::vector<DescriptorInfo> v = SpectralDescriptors::Descriptors();
    const auto& voicing = VoicingDescriptors::Descriptors();
    v.insert(v.end(), voicing.begin(), voicing.end());
    return v;
  }();
  return all;
}

static_assert(kLldDim == 121, "ser-lld-1 has 121 base descriptors");
static_assert(kFeatureDim == 238, "ser-lld-1 with deltas has 238 features");

int LldDim() { return kLldDim; }

OnlineLld::OnlineLld()
    : fft_(kFftSize),
      hamming_(FrameHammingWindow()),
      pitch_(kPitchLength),
      windowed_(kFrameLength),
      power_(kNumBins) {}

void OnlineLld::AcceptWaveform(const float* samples, int64_t n) {
  if (finished_ || n <= 0) return;
  const size_t old = samples_.size();
  samples_.resize(old + static_cast<size_t>(n));
  float* dst = samples_.data() + old;
  for (int64_t i = 0; i < n; ++i) {
    const float x = samples[i];
    // Non-finite becomes 0; denormals are flushed so they cannot slow the arithmetic.
    dst[i] = (std::fabs(x) >= 1e-30f && std::fabs(x) <= 1e30f) ? x : 0.0f;
  }
  num_samples_ += n;
  ComputeReadyFrames();
}

void OnlineLld::InputFinished() {
  if (finished_) return;
  finished_ = true;
  ComputeReadyFrames();
}

int64_t OnlineLld::NumFramesReady() const {
  return static_cast<int64_t>(ready_.size()) / LldDim() - ready_head_;
}

int64_t OnlineLld::PopFrames(float* out, int64_t max_frames) {
  const int dim = LldDim();
  const int64_t n = std::min<int64_t>(max_frames, NumFramesReady());
  if (n <= 0) return 0;
  std::memcpy(out, ready_.data() + ready_head_ * dim, sizeof(float) * n * dim);
  ready_head_ += n;
  popped_ += n;
  if (ready_head_ == static_cast<int64_t>(ready_.size()) / dim) {
    ready_.clear();
    ready_head_ = 0;
  }
  return n;
}

void OnlineLld::Reset() {
  spectral_.Reset();
  voicing_.Reset();
  samples_.clear();
  samples_offset_ = num_samples_ = 0;
  finished_ = false;
  next_frame_ = 0;
  ready_.clear();
  ready_head_ = popped_ = 0;
}

void OnlineLld::ComputeReadyFrames() {
  const int dim = LldDim();
  for (;;) {
    const int64_t start = next_frame_ * kFrameShift;
    if (start + kFrameLength > num_samples_) break;  // frame not complete
    if (!finished_ && start + kFrameLength + kPitchLeft > num_samples_) break;  // pitch lookahead
    const size_t row = ready_.size();
    ready_.resize(row + dim);
    ComputeFrame(next_frame_, ready_.data() + row);
    ++next_frame_;
  }
  DropConsumedSamples();
}

void OnlineLld::ComputeFrame(int64_t t, float* out) {
  const int64_t start = t * kFrameShift;
  const float* raw = samples_.data() + (start - samples_offset_);
  // Pitch window: zero outside [0, num_samples_).
  const int64_t p0 = start - kPitchLeft;
  const int64_t lo = std::max<int64_t>(p0, 0), hi = std::min<int64_t>(p0 + kPitchLength, num_samples_);
  std::fill(pitch_.begin(), pitch_.end(), 0.0f);
  std::copy(samples_.begin() + (lo - samples_offset_), samples_.begin() + (hi - samples_offset_),
            pitch_.begin() + (lo - p0));
  double mean = 0.0;
  for (int i = 0; i < kFrameLength; ++i) mean += raw[i];
  const float m = static_cast<float>(mean / kFrameLength);
  for (int i = 0; i < kFrameLength; ++i) windowed_[i] = hamming_[i] * (raw[i] - m);
  fft_.Power(windowed_.data(), kFrameLength, power_.data());

  const FrameData frame{raw, pitch_.data(), windowed_.data(), power_.data()};
  spectral_.Compute(frame, out);
  voicing_.Compute(frame, out + SpectralDescriptors::Dim());
  const int dim = LldDim();
  for (int i = 0; i < dim; ++i)
    if (!std::isfinite(out[i])) out[i] = 0.0f;
}

void OnlineLld::DropConsumedSamples() {
  // Keep what the next frame's pitch window needs.
  const int64_t keep_from = std::max<int64_t>(0, next_frame_ * kFrameShift - kPitchLeft);
  const int64_t drop = keep_from - samples_offset_;
  if (drop <= 0 || drop < static_cast<int64_t>(samples_.size()) / 2) return;  // amortise the move
  samples_.erase(samples_.begin(), samples_.begin() + drop);
  samples_offset_ = keep_from;
}

int64_t OnlineLld::HeapBytes() const {
  return ser::HeapBytes(samples_, ready_, pitch_, windowed_, power_) + fft_.HeapBytes() + voicing_.HeapBytes();
}

}  // namespace ser
