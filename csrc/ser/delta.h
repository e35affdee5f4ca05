// Regression deltas (first and second differences) of frame descriptors, over a window of
// history, with edge replication. The C++ twin of realtime_ser/features/kernels.py delta_block.
#ifndef SER_DELTA_H_
#define SER_DELTA_H_

#include <cstdint>

namespace ser {

// Regression window N: d_t = sum_{n=1..N} n (x_{t+n} - x_{t-n}) / (2 sum_n n^2).
constexpr int kDeltaWindow = 2;
// Frames of lookahead the deltas need: first difference N, second difference 2N.
constexpr int kDeltaLookahead = 2 * kDeltaWindow;

struct DeltaBlockArgs {
  // Base frames with absolute indices hist_start .. hist_start + hist_rows - 1, row-major
  // (hist_rows, hist_cols). Must cover [t0 - 2N, t1 + 2N) clamped to [0, n_total).
  const float* hist = nullptr;
  int64_t hist_rows = 0;
  int64_t hist_cols = 0;
  int64_t hist_start = 0;
  int64_t n_total = 0;  // frames in the sequence so far; indices are clamped to [0, n_total)
  int64_t t0 = 0;       // frames [t0, t1) get deltas; 0 <= t0 <= t1 <= n_total
  int64_t t1 = 0;
  const int64_t* d_cols = nullptr;  // hist columns that get first deltas
  int64_t num_d = 0;
  const int64_t* dd_cols = nullptr;  // positions into d_cols that also get second deltas
  int64_t num_dd = 0;
  // out[r * out_row_stride + c]: row r = t - t0; columns [0, num_d) first deltas,
  // [num_d, num_d + num_dd) second deltas (rows at least that wide). Other columns are left alone.
  float* out = nullptr;
  int64_t out_row_stride = 0;
};

// Throws std::invalid_argument when the arguments are inconsistent (nothing is written).
void DeltaBlock(const DeltaBlockArgs& a);

}  // namespace ser

#endif  // SER_DELTA_H_
