#include "ser/lpc.h"

#include <algorithm>
#include <cmath>

#include "ser/dsp.h"
#include "ser/memory.h"
#include "ser/simd.h"

namespace ser {

namespace {

using simd::HorizontalSum;
using simd::Load8;
using simd::V8;

// Power-series coefficients (ascending) of f(x) = c[m] + 2 * sum_{i=1..m} c[m-i] T_i(x),
// the half-polynomial of a symmetric LSP polynomial; m <= 4.
void ChebyshevToPower(const double* c, int m, double* poly) {
  double t_prev[5] = {1.0}, t[5] = {0.0, 1.0};  // T_0, T_1
  std::fill(poly, poly + m + 1, 0.0);
  poly[0] = c[m];
  for (int i = 1; i <= m; ++i) {
    for (int j = 0; j <= i; ++j) poly[j] += 2.0 * c[m - i] * t[j];
    double t_next[5] = {};
    for (int j = 0; j <= i; ++j) {
      if (j + 1 <= 4) t_next[j + 1] += 2.0 * t[j];
      t_next[j] -= t_prev[j];
    }
    std::copy(t, t + 5, t_prev);
    std::copy(t_next, t_next + 5, t);
  }
}

double Horner(const double* poly, int m, double x) {
  double v = poly[m];
  for (int i = m - 1; i >= 0; --i) v = v * x + poly[i];
  return v;
}

}  // namespace

LpcAnalysis::LpcAnalysis() : hamming_(FrameHammingWindow()), lsp_x_(kLspGrid + 1), x_(kFrameLength + 16, 0.0f) {
  for (int g = 0; g <= kLspGrid; ++g) lsp_x_[g] = static_cast<float>(std::cos(kPi * g / kLspGrid));
}

// Autocorrelation (lags 0..kOrder) of the pre-emphasised Hamming frame, then Levinson-Durbin.
SER_MULTIVERSION double LpcAnalysis::Compute(const float* raw, double* a, double* a8) {
  float* x = x_.data();
  PreEmphasizeWindowed(raw, hamming_, kFrameLength, x);
  // Eight samples at a time, one independent accumulator per lag. x_ has a zero tail.
  static_assert(kFrameLength % 8 == 0, "frame length must be a multiple of 8");
  V8 acc[kOrder + 1] = {};
  for (int i = 0; i < kFrameLength; i += 8) {
    V8 xi;
    Load8(xi, x + i);
    for (int k = 0; k <= kOrder; ++k) {
      V8 xk;
      Load8(xk, x + i + k);
      acc[k] += xi * xk;
    }
  }
  float r[kOrder + 1];
  for (int k = 0; k <= kOrder; ++k) r[k] = HorizontalSum(acc[k]);
  double rd[kOrder + 1];
  std::copy(r, r + kOrder + 1, rd);
  AddNoiseFloor(rd);
  return LevinsonDurbin(rd, kOrder, a, kLspOrder, a8);
}

// Line spectral frequencies of a8 by grid search and bisection on the Chebyshev forms.
SER_MULTIVERSION void LpcAnalysis::Lsp(const double* a8, float* lsp) const {
  constexpr int p = kLspOrder, m = kLspOrder / 2;
  static_assert(m == 4, "grid evaluation below is written for order 8");
  double sym[m + 1], anti[m + 1];  // P(z)/(1+z^-1), Q(z)/(1-z^-1)
  double sp = 0.0, ap = 0.0;
  for (int k = 0; k <= m; ++k) {
    const double rev = k >= 1 ? a8[p + 1 - k] : 0.0;
    sym[k] = a8[k] + rev - sp;
    anti[k] = a8[k] - rev + ap;
    sp = sym[k];
    ap = anti[k];
  }
  double sym_poly[m + 1], anti_poly[m + 1];
  ChebyshevToPower(sym, m, sym_poly);
  ChebyshevToPower(anti, m, anti_poly);
  double roots[p];
  int n = 0;
  float grid[kLspGrid + 1];
  for (const double* c : {sym_poly, anti_poly}) {
    const float c0 = c[0], c1 = c[1], c2 = c[2], c3 = c[3], c4 = c[4];
    for (int g = 0; g <= kLspGrid; ++g) {  // independent points: vectorises
      const float x = lsp_x_[g];
      grid[g] = (((c4 * x + c3) * x + c2) * x + c1) * x + c0;
    }
    unsigned char change[kLspGrid + 1];
    for (int g = 1; g <= kLspGrid; ++g) change[g] = (grid[g - 1] < 0.0f) != (grid[g] < 0.0f);
    for (int g = 1; g <= kLspGrid && n < p; ++g) {
      if (change[g]) {
        const double x0 = lsp_x_[g - 1], f0 = grid[g - 1], x1 = lsp_x_[g], f1 = grid[g];  // bracketed: Illinois (modified regula falsi)
        double lo = x0, hi = x1, flo = f0, fhi = f1, x = 0.5 * (lo + hi), prev = lo;
        int side = 0;
        for (int it = 0; it < 6; ++it) {
          x = flo != fhi ? lo - flo * (hi - lo) / (fhi - flo) : 0.5 * (lo + hi);
          const double fx = Horner(c, m, x);
          if (fx == 0.0 || std::fabs(x - prev) < 1e-13) break;
          prev = x;
          if ((fx < 0.0) == (flo < 0.0)) {
            lo = x; flo = fx;
            if (side == -1) fhi *= 0.5;
            side = -1;
          } else {
            hi = x; fhi = fx;
            if (side == 1) flo *= 0.5;
            side = 1;
          }
        }
        roots[n++] = FastAcos(std::clamp(x, -1.0, 1.0));
      }
    }
  }
  if (n != p) {  // degenerate predictor: evenly spaced fallback
    for (int i = 0; i < p; ++i) lsp[i] = static_cast<float>(kPi * (i + 1) / (p + 1));
    return;
  }
  std::sort(roots, roots + p);
  for (int i = 0; i < p; ++i) lsp[i] = static_cast<float>(roots[i]);
}

int64_t LpcAnalysis::HeapBytes() const { return ser::HeapBytes(lsp_x_, x_); }

}  // namespace ser
