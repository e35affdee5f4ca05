#include "ser/delta.h"

#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

namespace ser {

namespace {

inline int64_t Clamp(int64_t i, int64_t n) { return i < 0 ? 0 : (i > n - 1 ? n - 1 : i); }

void Check(const DeltaBlockArgs& a) {
  auto fail = [](const char* what) { throw std::invalid_argument(std::string("delta_block: ") + what); };
  if (a.t0 < 0 || a.t1 < a.t0 || a.t1 > a.n_total) fail("need 0 <= t0 <= t1 <= n_total");
  if (a.hist_rows < 0 || a.hist_cols < 0 || a.num_d < 0 || a.num_dd < 0) fail("negative size");
  if (a.num_dd > 0 && a.num_d == 0) fail("dd_cols needs d_cols");
  if (a.t0 == a.t1) return;
  for (int64_t c = 0; c < a.num_d; ++c)
    if (a.d_cols[c] < 0 || a.d_cols[c] >= a.hist_cols) fail("d_cols out of range of hist columns");
  for (int64_t c = 0; c < a.num_dd; ++c)
    if (a.dd_cols[c] < 0 || a.dd_cols[c] >= a.num_d) fail("dd_cols must be positions into d_cols");
  const int64_t need_lo = Clamp(a.t0 - kDeltaLookahead, a.n_total);
  const int64_t need_hi = Clamp(a.t1 - 1 + kDeltaLookahead, a.n_total);
  if (a.hist_start > need_lo || a.hist_start + a.hist_rows - 1 < need_hi)
    fail("hist does not cover [t0 - 2N, t1 + 2N) within [0, n_total)");
  if (a.num_d > 0 && a.out == nullptr) fail("missing out");
  if (a.hist == nullptr && a.num_d > 0) fail("missing hist");
}

}  // namespace

void DeltaBlock(const DeltaBlockArgs& a) {
  Check(a);
  if (a.t0 == a.t1 || a.num_d == 0) return;
  constexpr int n = kDeltaWindow;
  double norm = 0.0;
  for (int k = 1; k <= n; ++k) norm += 2.0 * k * k;
  const int64_t nd = a.num_d, ndd = a.num_dd, total = a.n_total;
  // First deltas for s in [t0 - N, t1 + N), clamped, so that the second deltas can use them.
  // Differences in float32, sums in double, as the numba kernel.
  const int64_t s0 = a.t0 - n;
  const int64_t m = a.t1 - a.t0 + 2 * n;
  std::vector<float> d(static_cast<size_t>(m * nd));
  const float* hist = a.hist - a.hist_start * a.hist_cols;  // absolute row indexing
  for (int64_t j = 0; j < m; ++j) {
    const int64_t s = Clamp(s0 + j, total);
    for (int64_t c = 0; c < nd; ++c) {
      const int64_t col = a.d_cols[c];
      double acc = 0.0;
      for (int k = 1; k <= n; ++k) {
        const float diff =
            hist[Clamp(s + k, total) * a.hist_cols + col] - hist[Clamp(s - k, total) * a.hist_cols + col];
        acc += static_cast<double>(k) * static_cast<double>(diff);
      }
      d[j * nd + c] = static_cast<float>(acc / norm);
    }
  }
  for (int64_t t = a.t0; t < a.t1; ++t) {
    float* row = a.out + (t - a.t0) * a.out_row_stride;
    const float* dt = d.data() + (t - s0) * nd;
    for (int64_t c = 0; c < nd; ++c) row[c] = dt[c];
    for (int64_t c = 0; c < ndd; ++c) {
      const int64_t src = a.dd_cols[c];
      double acc = 0.0;
      for (int k = 1; k <= n; ++k) {
        const float diff = d[(Clamp(t + k, total) - s0) * nd + src] - d[(Clamp(t - k, total) - s0) * nd + src];
        acc += static_cast<double>(k) * static_cast<double>(diff);
      }
      row[nd + c] = static_cast<float>(acc / norm);
    }
  }
}

}  // namespace ser
