#include "ser/adaptive_norm.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <utility>

#include "ser/memory.h"

namespace ser {

AdaptiveNorm::AdaptiveNorm(const AdaptiveNormOptions& opts, std::vector<float> mean, std::vector<float> var,
                           std::vector<uint8_t> adapt)
    : opts_(opts) {
  const size_t d = mean.size();
  if (d == 0 || var.size() != d || adapt.size() != d)
    throw std::invalid_argument("AdaptiveNorm: mean, var and adapt must have the same non-zero length");
  for (size_t j = 0; j < d; ++j)
    if (!std::isfinite(mean[j]) || !std::isfinite(var[j]) || var[j] <= 0.0f)
      throw std::invalid_argument("AdaptiveNorm: prior means must be finite and variances positive");
  if (opts_.gate_column >= static_cast<int>(d) || opts_.gate_column < -1)
    throw std::invalid_argument("AdaptiveNorm: gate_column out of range");
  if (!(opts_.tau_frames >= 1.0f) || !(opts_.prior_frames >= 0.0f) || !(opts_.weight >= 0.0f) ||
      !(opts_.weight <= 1.0f))
    throw std::invalid_argument("AdaptiveNorm: need tau_frames >= 1, prior_frames >= 0, 0 <= weight <= 1");
  prior_ = std::make_shared<const Prior>(Prior{std::move(mean), std::move(var), std::move(adapt)});
  Reset();
}

void AdaptiveNorm::Reset() {
  const Prior& p = *prior_;
  const size_t d = p.mean.size();
  mean_.assign(p.mean.begin(), p.mean.end());
  var_.assign(p.var.begin(), p.var.end());
  shift_ = p.mean;
  scale_.resize(d);
  for (size_t j = 0; j < d; ++j) scale_[j] = static_cast<float>(1.0 / std::sqrt(static_cast<double>(p.var[j])));
  speech_frames_ = 0;
}

void AdaptiveNorm::Update(const float* x) {
  const Prior& p = *prior_;
  const size_t d = p.mean.size();
  for (size_t j = 0; j < d; ++j)
    if (!std::isfinite(x[j])) return;  // never let one bad frame poison the statistics
  ++speech_frames_;
  const double a = std::max(1.0 / (opts_.prior_frames + static_cast<double>(speech_frames_)),
                            1.0 / opts_.tau_frames);
  const double w = opts_.weight;
  for (size_t j = 0; j < d; ++j) {
    if (!p.adapt[j]) continue;
    mean_[j] += a * (x[j] - mean_[j]);
    const double e = x[j] - mean_[j];
    var_[j] += a * (e * e - var_[j]);
    shift_[j] = static_cast<float>(p.mean[j] + w * (mean_[j] - p.mean[j]));
    if (opts_.adapt_scale) {
      const double v = std::max(p.var[j] + w * (var_[j] - p.var[j]), 1e-6 * p.var[j]);
      scale_[j] = static_cast<float>(1.0 / std::sqrt(v));
    }
  }
}

void AdaptiveNorm::Process(const float* x, int64_t n, float* out) {
  const size_t d = shift_.size();
  for (int64_t t = 0; t < n; ++t) {
    const float* row = x + t * static_cast<int64_t>(d);
    float* dst = out + t * static_cast<int64_t>(d);
    if (opts_.gate_column < 0 || row[opts_.gate_column] > opts_.gate_threshold) Update(row);
    for (size_t j = 0; j < d; ++j) dst[j] = (row[j] - shift_[j]) * scale_[j];
  }
}

int64_t AdaptiveNorm::HeapBytes() const {
  return ser::HeapBytes(mean_, var_, shift_, scale_);  // the prior is shared
}

}  // namespace ser
