#include "ser/online_features.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "ser/delta.h"
#include "ser/memory.h"

namespace ser {

const FeatureLayout& Features() {
  static const FeatureLayout layout = [] {
    FeatureLayout f;
    const auto& all = LldDescriptors();
    f.base = static_cast<int>(all.size());
    for (int i = 0; i < f.base; ++i)
      if (all[i].delta_order >= 1) f.d_cols.push_back(i);
    for (size_t j = 0; j < f.d_cols.size(); ++j)
      if (all[f.d_cols[j]].delta_order >= 2) f.dd_cols.push_back(static_cast<int64_t>(j));
    if (f.Dim() != kFeatureDim) throw std::logic_error("descriptor table and kFeatureDim disagree");
    return f;
  }();
  return layout;
}

int FeatureDim() { return Features().Dim(); }

int64_t FinalFrames(int64_t num_samples) {
  const int64_t need = kFrameLength + kPitchLeft;  // samples of frame 0
  const int64_t lld = num_samples < need ? 0 : (num_samples - need) / kFrameShift + 1;
  return std::max<int64_t>(0, lld - kDeltaLookahead);
}

int64_t OnlineFeatures::NumFramesFinal() const {
  const int64_t rows = static_cast<int64_t>(hist_.size()) / Features().base + lld_.NumFramesReady();
  const int64_t total = hist_start_ + rows;
  const int64_t stop = lld_.IsFinished() ? total : total - kDeltaLookahead;
  return std::max<int64_t>(0, stop - emitted_);
}

int64_t OnlineFeatures::PopFrames(std::vector<float>* out) {
  const int64_t n = NumFramesFinal();
  const size_t old = out->size();
  out->resize(old + static_cast<size_t>(n * Features().Dim()));
  return PopFrames(out->data() + old, n);
}

int64_t OnlineFeatures::PopFrames(float* out, int64_t max_frames) {
  const FeatureLayout& f = Features();
  const int nb = f.base, dim = f.Dim();
  const int64_t n = std::min(NumFramesFinal(), std::max<int64_t>(0, max_frames));
  const int64_t fresh = lld_.NumFramesReady();
  if (fresh) {
    const size_t old = hist_.size();
    hist_.resize(old + static_cast<size_t>(fresh * nb));
    lld_.PopFrames(hist_.data() + old, fresh);
  }
  if (n == 0) return 0;
  const int64_t rows = static_cast<int64_t>(hist_.size()) / nb;
  const int64_t t0 = emitted_, stop = t0 + n;
  for (int64_t t = t0; t < stop; ++t)
    std::memcpy(out + (t - t0) * dim, hist_.data() + (t - hist_start_) * nb, sizeof(float) * nb);
  DeltaBlockArgs a;
  a.hist = hist_.data();
  a.hist_rows = rows;
  a.hist_cols = nb;
  a.hist_start = hist_start_;
  a.n_total = hist_start_ + rows;
  a.t0 = t0;
  a.t1 = stop;
  a.d_cols = f.d_cols.data();
  a.num_d = static_cast<int64_t>(f.d_cols.size());
  a.dd_cols = f.dd_cols.data();
  a.num_dd = static_cast<int64_t>(f.dd_cols.size());
  a.out = out + nb;
  a.out_row_stride = dim;
  DeltaBlock(a);
  emitted_ = stop;
  Trim();
  return n;
}

void OnlineFeatures::Trim() {
  const int nb = Features().base;
  const int64_t keep_from = std::max<int64_t>(0, emitted_ - kDeltaLookahead);
  const int64_t drop = keep_from - hist_start_;
  if (drop <= 0) return;
  hist_.erase(hist_.begin(), hist_.begin() + drop * nb);
  hist_start_ = keep_from;
}

void OnlineFeatures::Reset() {
  lld_.Reset();
  hist_.clear();
  hist_start_ = emitted_ = 0;
}

int64_t OnlineFeatures::HeapBytes() const { return lld_.HeapBytes() + ser::HeapBytes(hist_); }

}  // namespace ser
