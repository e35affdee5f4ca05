#include "ser/lstm.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <type_traits>
#include <vector>

#include "ser/simd.h"

namespace ser {

namespace {

// Eight floats as one value (one AVX register in the x86-64-v3 clone, two SSE registers
// otherwise). Never passed or returned by value (no psABI question): locals and references.
typedef float V8 __attribute__((vector_size(32)));
typedef int32_t I8 __attribute__((vector_size(32)));
#define SER_INLINE inline __attribute__((always_inline))

constexpr int kRowBlock = 6;     // rows (streams, frames) per register block of a product
constexpr int64_t kPanel = 256;  // columns per panel of the input projection (fits in L2)
static_assert(kPanel % kStrip == 0, "panels are whole strips");

SER_INLINE void Load8(V8& v, const float* p) { std::memcpy(&v, p, sizeof(V8)); }
SER_INLINE void Store8(float* p, const V8& v) { std::memcpy(p, &v, sizeof(V8)); }

// dst = src + a @ b: a (m, k), src and dst (m, n) row-major; lds may be 0 (a bias row for
// every row). b (k, n) is a WeightMatrix. The caller picks the rows and columns of each piece.
struct Gemm {
  const float* a;
  int64_t lda;
  int64_t k;
  WeightMatrix b;
  const float* src;
  int64_t lds;
  float* dst;
  int64_t ldd;
};

SER_INLINE const float* Column(const WeightMatrix& b, int64_t col) {
  return b.data + (col / kStrip) * b.strip_stride + col % kStrip;
}

// Rows [row, row + SB), columns [col, col + 8 NV) (col a multiple of 8 NV, so the block
// lies in one strip of b): SB x NV accumulator registers, one pass down the k rows of b.
template <int SB, int NV>
SER_INLINE void GemmBlock(const Gemm& g, int64_t row, int64_t col) {
  static_assert(kStrip % (8 * NV) == 0, "a block never straddles two strips");
  V8 acc[SB][NV];
#pragma GCC unroll 8
  for (int s = 0; s < SB; ++s)
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) Load8(acc[s][v], g.src + (row + s) * g.lds + col + 8 * v);
  const float* a = g.a + row * g.lda;
  const float* b = Column(g.b, col);
  const int64_t ldb = g.b.row_stride;
  for (int64_t j = 0; j < g.k; ++j, b += ldb) {
    V8 bv[NV];
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) Load8(bv[v], b + 8 * v);
#pragma GCC unroll 8
    for (int s = 0; s < SB; ++s) {
      const float as = a[s * g.lda + j];
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) acc[s][v] += as * bv[v];
    }
  }
#pragma GCC unroll 8
  for (int s = 0; s < SB; ++s)
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) Store8(g.dst + (row + s) * g.ldd + col + 8 * v, acc[s][v]);
}

// Rows [row, row + SB), columns [col0, col1) (col0 a multiple of 64): wide column blocks,
// single vectors, then scalars.
template <int SB, int NV>
SER_INLINE void GemmRows(const Gemm& g, int64_t row, int64_t col0, int64_t col1) {
  int64_t col = col0;
  for (; col + 8 * NV <= col1; col += 8 * NV) GemmBlock<SB, NV>(g, row, col);
  for (; col + 8 <= col1; col += 8) GemmBlock<SB, 1>(g, row, col);
  for (; col < col1; ++col) {
    const float* b = Column(g.b, col);
    for (int64_t r = row; r < row + SB; ++r) {
      float acc = g.src[r * g.lds + col];
      for (int64_t j = 0; j < g.k; ++j) acc += g.a[r * g.lda + j] * b[j * g.b.row_stride];
      g.dst[r * g.ldd + col] = acc;
    }
  }
}

// Every row, columns [col0, col1).
SER_INLINE void GemmPanel(const Gemm& g, int64_t m, int64_t col0, int64_t col1) {
  int64_t r = 0;
  for (; r + kRowBlock <= m; r += kRowBlock) GemmRows<kRowBlock, 2>(g, r, col0, col1);
  switch (m - r) {  // the rest, with as many accumulators as fit in registers
    case 1: GemmRows<1, 8>(g, r, col0, col1); break;
    case 2: GemmRows<2, 4>(g, r, col0, col1); break;
    case 3: GemmRows<3, 4>(g, r, col0, col1); break;
    case 4: GemmRows<4, 2>(g, r, col0, col1); break;
    case 5: GemmRows<5, 2>(g, r, col0, col1); break;
    default: break;
  }
}

SER_MULTIVERSION void LstmAffineKernel(const Gemm& g, int64_t m, int64_t n) {
  for (int64_t col = 0; col < n; col += kPanel) GemmPanel(g, m, col, std::min(col + kPanel, n));
}

constexpr float kLog2e = 1.4426950408889634f;
constexpr float kLn2Hi = 0.693359375f;  // ln 2 split in two for the range reduction
constexpr float kLn2Lo = -2.12194440e-4f;

// exp(x) in float32 for x clamped to [-80, 80]; NaN stays NaN. exp(x) = 2^k exp(r) with
// r = x - k ln 2 in about [-ln2/2, ln2/2]; exp(r) by its degree-6 Taylor polynomial
// (relative error < 2e-7); 2^k from its exponent bits. T is float or V8: the same
// arithmetic, written branch-free so that the V8 form is plain SIMD code.
template <typename T>
SER_INLINE void Exp(T& x) {
  using Int = std::conditional_t<std::is_same_v<T, float>, int32_t, I8>;
  const T lo = x - x - 80.0f;  // splats that work for float and V8 (NaN lanes fixed below)
  T v = x > -80.0f ? x : lo;
  v = v < 80.0f ? v : lo + 160.0f;
  // floor(v log2e + 0.5) by truncation of a positive number (v log2e > -116).
  Int k;
  T kf;
  if constexpr (std::is_same_v<T, float>) {
    k = static_cast<int32_t>(v * kLog2e + 200.5f) - 200;
    kf = static_cast<float>(k);
  } else {
    k = __builtin_convertvector(v * kLog2e + 200.5f, I8) - 200;
    kf = __builtin_convertvector(k, V8);
  }
  const T r = (v - kf * kLn2Hi) - kf * kLn2Lo;
  T p = r * (1.0f / 720.0f) + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  const Int bits = (k + 127) << 23;
  T scale;
  static_assert(sizeof bits == sizeof scale, "float and int32 lanes");
  std::memcpy(&scale, &bits, sizeof scale);
  x = x == x ? p * scale : x;
}

template <typename T>
SER_INLINE void Sigmoid(T& x) {  // 1 / (1 + exp(-x))
  T e = -x;
  Exp(e);
  x = 1.0f / (1.0f + e);
}

template <typename T>
SER_INLINE void Tanh(T& x) {  // 2 sigmoid(2x) - 1
  T e = -2.0f * x;
  Exp(e);
  x = 2.0f / (1.0f + e) - 1.0f;
}

enum Activation { kSigmoid, kTanh };

template <Activation A>
SER_INLINE void Activate(float* x, int64_t n) {
  int64_t j = 0;
  for (; j + 8 <= n; j += 8) {
    V8 v;
    Load8(v, x + j);
    if (A == kSigmoid) Sigmoid(v); else Tanh(v);
    Store8(x + j, v);
  }
  for (; j < n; ++j) {
    if (A == kSigmoid) Sigmoid(x[j]); else Tanh(x[j]);
  }
}

// One LSTM cell update from the pre-activations g (4H, overwritten) of one stream.
SER_INLINE void Cell(float* g, int64_t n_h, float* c, float* h, float* out) {
  const float* gi = g;
  const float* gf = g + n_h;
  const float* gg = g + 2 * n_h;
  const float* go = g + 3 * n_h;
  Activate<kSigmoid>(g, 2 * n_h);  // i and f
  Activate<kTanh>(g + 2 * n_h, n_h);
  Activate<kSigmoid>(g + 3 * n_h, n_h);
  int64_t j = 0;
  for (; j + 8 <= n_h; j += 8) {
    V8 vi, vf, vg, vo, vc;
    Load8(vi, gi + j);
    Load8(vf, gf + j);
    Load8(vg, gg + j);
    Load8(vo, go + j);
    Load8(vc, c + j);
    vc = vf * vc + vi * vg;
    Store8(c + j, vc);
    Tanh(vc);
    vc = vo * vc;
    Store8(h + j, vc);
    Store8(out + j, vc);
  }
  for (; j < n_h; ++j) {
    float cj = gf[j] * c[j] + gi[j] * gg[j];
    c[j] = cj;
    Tanh(cj);
    h[j] = out[j] = go[j] * cj;
  }
}

// SB streams starting at s: recurrent product into scratch, then their cell updates.
template <int SB, int NV>
SER_INLINE void StepRows(const LstmRecurArgs& a, int64_t t, int64_t s, float* scratch) {
  const int64_t n_h = a.hidden, n_g = 4 * n_h;
  const Gemm g{a.h + s * n_h, n_h, n_h, a.w_hh_t,
               a.gates_x + t * a.gates_step_stride + s * a.gates_stream_stride, a.gates_stream_stride,
               scratch, n_g};
  GemmRows<SB, NV>(g, 0, 0, n_g);
  float* out = a.out + (t * a.num_streams + s) * n_h;
  for (int r = 0; r < SB; ++r)
    Cell(scratch + r * n_g, n_h, a.c + (s + r) * n_h, a.h + (s + r) * n_h, out + r * n_h);
}

SER_MULTIVERSION void LstmRecurKernel(const LstmRecurArgs& a, float* scratch) {
  for (int64_t t = 0; t < a.num_steps; ++t) {
    const int64_t k = a.counts[t];
    int64_t s = 0;
    for (; s + kRowBlock <= k; s += kRowBlock) StepRows<kRowBlock, 2>(a, t, s, scratch);
    switch (k - s) {  // the rest, as in GemmPanel
      case 1: StepRows<1, 8>(a, t, s, scratch); break;
      case 2: StepRows<2, 4>(a, t, s, scratch); break;
      case 3: StepRows<3, 4>(a, t, s, scratch); break;
      case 4: StepRows<4, 2>(a, t, s, scratch); break;
      case 5: StepRows<5, 2>(a, t, s, scratch); break;
      default: break;
    }
  }
}

}  // namespace

void LstmRecur(const LstmRecurArgs& a) {
  if (a.num_steps < 0 || a.num_streams < 0 || a.hidden < 0)
    throw std::invalid_argument("LstmRecur: negative size");
  if (a.num_steps > 0 && a.counts == nullptr) throw std::invalid_argument("LstmRecur: missing counts");
  for (int64_t t = 0; t < a.num_steps; ++t) {
    const int64_t k = a.counts[t];
    if (k < 0 || k > a.num_streams)
      throw std::invalid_argument("LstmRecur: counts must lie in [0, streams]");
    if (t > 0 && k > a.counts[t - 1]) throw std::invalid_argument("LstmRecur: counts must not increase");
  }
  if (a.num_steps == 0 || a.counts[0] == 0 || a.hidden == 0) return;
  if (!a.gates_x || !a.w_hh_t.data || !a.h || !a.c || !a.out)
    throw std::invalid_argument("LstmRecur: missing array");
  std::vector<float> scratch(static_cast<size_t>(kRowBlock * 4 * a.hidden));
  LstmRecurKernel(a, scratch.data());
}

void LstmAffine(const LstmAffineArgs& a) {
  if (a.rows < 0 || a.in_dim < 0 || a.out_dim < 0) throw std::invalid_argument("LstmAffine: negative size");
  if (a.rows == 0 || a.out_dim == 0) return;
  if (!a.x || !a.w.data || !a.b || !a.out) throw std::invalid_argument("LstmAffine: missing array");
  const Gemm g{a.x, a.in_dim, a.in_dim, a.w, a.b, 0, a.out, a.out_dim};
  LstmAffineKernel(g, a.rows, a.out_dim);
}

void PackColumns(const float* w, int64_t rows, int64_t cols, int64_t row_stride, float* out) {
  const int64_t strips = (cols + kStrip - 1) / kStrip;
  for (int64_t q = 0; q < strips; ++q)
    for (int64_t j = 0; j < rows; ++j) {
      float* dst = out + (q * rows + j) * kStrip;
      for (int64_t c = 0; c < kStrip; ++c) {
        const int64_t col = q * kStrip + c;
        dst[c] = col < cols ? w[j * row_stride + col] : 0.0f;
      }
    }
}

}  // namespace ser
