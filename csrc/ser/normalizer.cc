#include "ser/normalizer.h"

#include <cmath>
#include <stdexcept>
#include <utility>

#include "ser/memory.h"

namespace ser {

Normalizer::Normalizer(const NormalizerOptions& opts) {
  const size_t d = opts.mean.size();
  if (d == 0 || opts.std.size() != d)
    throw std::invalid_argument("Normalizer: mean and std must have the same non-zero length");
  Global g{opts.mean, std::vector<float>(d)};
  for (size_t j = 0; j < d; ++j) {
    if (!std::isfinite(g.shift[j]) || !std::isfinite(opts.std[j]) || !(opts.std[j] > 0.0f))
      throw std::invalid_argument("Normalizer: mean must be finite and std positive");
    g.scale[j] = static_cast<float>(1.0 / static_cast<double>(opts.std[j]));
  }
  global_ = std::make_shared<const Global>(std::move(g));
  if (!opts.adaptive) return;
  if (opts.speech_mean.size() != d)
    throw std::invalid_argument("Normalizer: the speech statistics must have one value per feature");
  adaptive_ = std::make_unique<AdaptiveNorm>(opts.adaptation, opts.speech_mean, opts.speech_var, opts.adapt);
}

Normalizer::Normalizer(const Normalizer& other) : global_(other.global_) {
  if (other.adaptive_) adaptive_ = std::make_unique<AdaptiveNorm>(*other.adaptive_);
}

void Normalizer::Process(const float* x, int64_t n, float* out) {
  if (adaptive_) {
    adaptive_->Process(x, n, out);
    return;
  }
  const int64_t d = Dim();
  const float* shift = global_->shift.data();
  const float* scale = global_->scale.data();
  for (int64_t i = 0; i < n * d; i += d)
    for (int64_t j = 0; j < d; ++j) out[i + j] = (x[i + j] - shift[j]) * scale[j];
}

void Normalizer::Reset() {
  if (adaptive_) adaptive_->Reset();
}

int64_t Normalizer::HeapBytes() const {
  // The global statistics are shared by the copies.
  return adaptive_ ? static_cast<int64_t>(sizeof(AdaptiveNorm)) + adaptive_->HeapBytes() : 0;
}

}  // namespace ser
