#include "ser/adaptive_norm.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <utility>

#include "ser/memory.h"

namespace ser {

AdaptiveNorm::AdaptiveNorm(const AdaptiveNormOptions& opts, std::vector<float> mean, std::vector<float> var,
                           std::vector<uint8_t> adapt)
    : opts_(opts), prior_mean_(std::move(mean)), prior_var_(std::move(var)), adapt_(std::move(adapt)) {
  const size_t d = prior_mean_.size();
  if (d == 0 || prior_var_.size() != d || adapt_.size() != d)
    throw std::invalid_argument("AdaptiveNorm: mean, var and adapt must have the same non-zero length");
  for (size_t j = 0; j < d; ++j)
    if (!std::isfinite(prior_mean_[j]) || !std::isfinite(prior_var_[j]) || prior_var_[j] <= 0.0f)
      throw std::invalid_argument("AdaptiveNorm: prior means must be finite and variances positive");
  if (opts_.gate_column >= static_cast<int>(d) || opts_.gate_column < -1)
    throw std::invalid_argument("AdaptiveNorm: gate_column out of range");
  if (!(opts_.tau_frames >= 1.0f) || !(opts_.prior_frames >= 0.0f) || !(opts_.weight >= 0.0f) ||
      !(opts_.weight <= 1.0f))
    throw std::invalid_argument("AdaptiveNorm: need tau_frames >= 1, prior_frames >= 0, 0 <= weight <= 1");
  Reset();
}

void AdaptiveNorm::Reset() {
  const size_t d = prior_mean_.size();
  mean_.assign(prior_mean_.begin(), prior_mean_.end());
  var_.assign(prior_var_.begin(), prior_var_.end());
  shift_ = prior_mean_;
  scale_.resize(d);
  for (size_t j = 0; j < d; ++j) scale_[j] = static_cast<float>(1.0 / std::sqrt(static_cast<double>(prior_var_[j])));
  speech_frames_ = 0;
}

void AdaptiveNorm::Update(const float* x) {
  const size_t d = prior_mean_.size();
  for (size_t j = 0; j < d; ++j)
    if (!std::isfinite(x[j])) return;  // never let one bad frame poison the statistics
  ++speech_frames_;
  const double a = std::max(1.0 / (opts_.prior_frames + static_cast<double>(speech_frames_)),
                            1.0 / opts_.tau_frames);
  const double w = opts_.weight;
  for (size_t j = 0; j < d; ++j) {
    if (!adapt_[j]) continue;
    mean_[j] += a * (x[j] - mean_[j]);
    const double e = x[j] - mean_[j];
    var_[j] += a * (e * e - var_[j]);
    shift_[j] = static_cast<float>(prior_mean_[j] + w * (mean_[j] - prior_mean_[j]));
    if (opts_.adapt_scale) {
      const double v = std::max(prior_var_[j] + w * (var_[j] - prior_var_[j]), 1e-6 * prior_var_[j]);
      scale_[j] = static_cast<float>(1.0 / std::sqrt(v));
    }
  }
}

void AdaptiveNorm::Process(const float* x, int64_t n, float* out) {
  const size_t d = prior_mean_.size();
  for (int64_t t = 0; t < n; ++t) {
    const float* row = x + t * static_cast<int64_t>(d);
    float* dst = out + t * static_cast<int64_t>(d);
    if (opts_.gate_column < 0 || row[opts_.gate_column] > opts_.gate_threshold) Update(row);
    for (size_t j = 0; j < d; ++j) dst[j] = (row[j] - shift_[j]) * scale_[j];
  }
}

int64_t AdaptiveNorm::HeapBytes() const {
  return ser::HeapBytes(prior_mean_, prior_var_, adapt_, mean_, var_, shift_, scale_);
}

}  // namespace ser
