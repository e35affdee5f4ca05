// The DSP core the descriptors share: constants, the analysis window, pre-emphasis and the
// Levinson-Durbin recursion. One definition each; spectral, LPC, formant and pitch code use these.
#ifndef SER_DSP_H_
#define SER_DSP_H_

#include <algorithm>
#include <cmath>
#include <vector>

#include "ser/simd.h"

namespace ser {

constexpr double kPi = 3.14159265358979323846;

// First-order pre-emphasis y[n] = x[n] - kPreEmphasis x[n-1].
constexpr float kPreEmphasis = 0.97f;

// Symmetric Hamming window of n >= 2 points: 0.54 - 0.46 cos(2 pi i / (n - 1)).
std::vector<float> HammingWindow(int n);
// HammingWindow(kFrameLength), built once and shared (read-only) by every stream's analysers.
const float* FrameHammingWindow();

// |1 - kPreEmphasis e^{-jw}|^2: the pre-emphasis filter's power response at w (rad/sample),
// for applying it in the power-spectrum domain. kPreEmphasis^2 is a float product (as when
// the feature set was fixed; tests/test_golden_features.py pins the numbers).
inline double PreEmphasisPowerGain(double w) {
  return 1.0 + kPreEmphasis * kPreEmphasis - 2.0 * kPreEmphasis * std::cos(w);
}

// The same at bin `bin` of an fft_size-point FFT.
inline double PreEmphasisPowerGainAtBin(int bin, int fft_size) {
  return PreEmphasisPowerGain(2.0 * kPi * bin / fft_size);
}

// out[i] = (x[i] - kPreEmphasis x[i-1]) window[i], i = 0..n-1, with x[-1] taken as x[0].
SER_ALWAYS_INLINE void PreEmphasizeWindowed(const float* x, const float* window, int n, float* out) {
  out[0] = (1.0f - kPreEmphasis) * x[0] * window[0];
  for (int i = 1; i < n; ++i) out[i] = (x[i] - kPreEmphasis * x[i - 1]) * window[i];
}

// White-noise floor for an autocorrelation that may come from silence: r[0] (1 + 1e-9) + 1e-12,
// so the prediction error of every order stays above ~1e-9 r[0] and the recursion stays stable.
SER_ALWAYS_INLINE void AddNoiseFloor(double* r) { r[0] = r[0] * (1.0 + 1e-9) + 1e-12; }

// Levinson-Durbin recursion on the autocorrelation r[0..order]. Writes A(z) = 1 + sum_k a[k] z^-k
// into a[0..order] and returns the prediction error power. Stops early, keeping the coefficients
// of the last order reached (the higher ones 0), when a reflection coefficient falls outside
// (-1, 1) or the error falls to 1e-12 r[0] (near singular). If keep is given it receives
// a[0..keep_order] of the order-keep_order step (of the last step reached, if that is earlier).
// Inline so that it compiles for the SIMD clone that calls it.
SER_ALWAYS_INLINE double LevinsonDurbin(const double* r, int order, double* a, int keep_order = 0,
                                        double* keep = nullptr) {
  std::fill(a, a + order + 1, 0.0);
  a[0] = 1.0;
  double err = r[0];
  if (keep) std::copy(a, a + keep_order + 1, keep);
  for (int m = 1; m <= order; ++m) {
    double acc = r[m];
    for (int j = 1; j < m; ++j) acc += a[j] * r[m - j];
    const double k = -acc / err;
    if (!(std::fabs(k) < 1.0)) break;
    for (int j = 1, l = m - 1; j <= l; ++j, --l) {  // a[j] += k a[m-j], from the old values
      const double aj = a[j], al = a[l];
      a[j] = aj + k * al;
      a[l] = al + k * aj;
    }
    a[m] = k;
    err *= 1.0 - k * k;
    if (keep && m <= keep_order) std::copy(a, a + keep_order + 1, keep);
    if (!(err > 1e-12 * r[0])) break;
  }
  return err;
}

// acos(x) for x in [-1, 1], Abramowitz & Stegun 4.4.46 (absolute error <= 2e-8), no libm call.
SER_ALWAYS_INLINE double FastAcos(double x) {
  const double ax = std::fabs(x);
  const double poly =
      ((((((-0.0012624911 * ax + 0.0066700901) * ax - 0.0170881256) * ax + 0.0308918810) * ax - 0.0501743046) * ax +
        0.0889789874) * ax - 0.2145988016) * ax + 1.5707963050;
  const double r = std::sqrt(std::max(0.0, 1.0 - ax)) * poly;
  return x < 0.0 ? kPi - r : r;
}

}  // namespace ser

#endif  // SER_DSP_H_
