// LSTM recurrence over many streams at once (the serving BiLSTM's inner loop), and the
// matrix product of its input projection.
//
// LstmAffine computes the input projection x @ W_ih + b of all frames at once; LstmRecur runs
// the sequential part: per step t, for the streams s < counts[t],
//   g = gates_x[t, s] + h[s] @ w_hh_t            (4H gate pre-activations i, f, g, o)
//   c[s] = sigmoid(f) * c[s] + sigmoid(i) * tanh(g);  h[s] = sigmoid(o) * tanh(c[s])
//   out[t, s] = h[s]
// Gate order is torch's (i, f, g, o). Activations are float32 with a polynomial exp
// (relative error < 2e-7), as realtime_ser/lstm_numba.py computes them.
#ifndef SER_LSTM_H_
#define SER_LSTM_H_

#include <cstdint>

namespace ser {

// Columns per strip of a packed weight matrix.
constexpr int kStrip = 64;

// A weight matrix w (rows, cols), float32, with element (j, col) at
//   data[(col / 64) * strip_stride + j * row_stride + col % 64].
// Row-major with leading dimension ld: strip_stride 64, row_stride ld. Packed in column
// strips of 64 (PackColumns): strip_stride 64 rows, row_stride 64; the products then read
// the weights sequentially, which is faster (mostly for one stream, where they stream from L2).
struct WeightMatrix {
  const float* data = nullptr;
  int64_t strip_stride = kStrip;
  int64_t row_stride = 0;

  static WeightMatrix RowMajor(const float* p, int64_t ld) { return {p, kStrip, ld}; }
  static WeightMatrix Packed(const float* p, int64_t rows) { return {p, kStrip * rows, kStrip}; }
};

// out (ceil(cols / 64), rows, 64) = w (rows, cols; leading dimension row_stride) in column
// strips of 64, the last one padded with zeros.
void PackColumns(const float* w, int64_t rows, int64_t cols, int64_t row_stride, float* out);

struct LstmRecurArgs {
  int64_t num_steps = 0;    // T
  int64_t num_streams = 0;  // S
  int64_t hidden = 0;       // H
  // gates_x[t, s, j] = gates_x[t * step_stride + s * stream_stride + j] (strides in floats,
  // either sign); j < 4H is contiguous.
  const float* gates_x = nullptr;
  int64_t gates_step_stride = 0;
  int64_t gates_stream_stride = 0;
  // counts[t] = streams active at step t: non-increasing, each in [0, S].
  const int64_t* counts = nullptr;
  WeightMatrix w_hh_t;            // (H, 4H)
  float* h = nullptr;             // (S, H) row-major, initial state, updated in place
  float* c = nullptr;             // (S, H) row-major, initial state, updated in place
  float* out = nullptr;           // (T, S, H) row-major; rows of inactive streams untouched
};

// Throws std::invalid_argument on negative sizes, missing pointers or bad counts.
void LstmRecur(const LstmRecurArgs& a);

// out = x @ w + b (the input projection of all frames at once), row-major float32:
// x (rows, in_dim), b (out_dim), out (rows, out_dim).
struct LstmAffineArgs {
  int64_t rows = 0;
  int64_t in_dim = 0;
  int64_t out_dim = 0;
  const float* x = nullptr;
  WeightMatrix w;  // (in_dim, out_dim)
  const float* b = nullptr;
  float* out = nullptr;
};

// Throws std::invalid_argument on negative sizes or missing pointers.
void LstmAffine(const LstmAffineArgs& a);

}  // namespace ser

#endif  // SER_LSTM_H_
