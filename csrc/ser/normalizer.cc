#include "ser/normalizer.h"

#include <cmath>
#include <stdexcept>

#include "ser/memory.h"

namespace ser {

Normalizer::Normalizer(const NormalizerOptions& opts) : shift_(opts.mean), scale_(opts.std.size()) {
  if (shift_.empty() || opts.std.size() != shift_.size())
    throw std::invalid_argument("Normalizer: mean and std must have the same non-zero length");
  for (size_t j = 0; j < shift_.size(); ++j) {
    if (!std::isfinite(shift_[j]) || !std::isfinite(opts.std[j]) || !(opts.std[j] > 0.0f))
      throw std::invalid_argument("Normalizer: mean must be finite and std positive");
    scale_[j] = static_cast<float>(1.0 / static_cast<double>(opts.std[j]));
  }
  if (!opts.adaptive) return;
  if (opts.speech_mean.size() != shift_.size())
    throw std::invalid_argument("Normalizer: the speech statistics must have one value per feature");
  adaptive_ = std::make_unique<AdaptiveNorm>(opts.adaptation, opts.speech_mean, opts.speech_var, opts.adapt);
}

Normalizer::Normalizer(const Normalizer& other) : shift_(other.shift_), scale_(other.scale_) {
  if (other.adaptive_) adaptive_ = std::make_unique<AdaptiveNorm>(*other.adaptive_);
}

void Normalizer::Process(const float* x, int64_t n, float* out) {
  if (adaptive_) {
    adaptive_->Process(x, n, out);
    return;
  }
  const int64_t d = Dim();
  for (int64_t i = 0; i < n * d; i += d)
    for (int64_t j = 0; j < d; ++j) out[i + j] = (x[i + j] - shift_[j]) * scale_[j];
}

void Normalizer::Reset() {
  if (adaptive_) adaptive_->Reset();
}

int64_t Normalizer::HeapBytes() const {
  const int64_t own = ser::HeapBytes(shift_, scale_);
  return adaptive_ ? own + static_cast<int64_t>(sizeof(AdaptiveNorm)) + adaptive_->HeapBytes() : own;
}

}  // namespace ser
