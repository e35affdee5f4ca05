#include "ser/formants.h"

#include <algorithm>
#include <cmath>
#include <complex>

#include "ser/dsp.h"
#include "ser/simd.h"

namespace ser {

namespace {

constexpr float kMinFormantHz = 50.0f;
constexpr double kFormantRate = 11000.0;  // the spectrum below 5.5 kHz, treated as an 11 kHz signal
constexpr float kMaxFormantHz = 5450.0f;

// Newton iterations on the real polynomial poly (descending, degree deg) from z; false if no convergence.
// Complex arithmetic written out (no __muldc3 NaN checks).
bool NewtonRoot(const double* poly, int deg, int max_iter, double tol2, std::complex<double>* z) {
  double zr = z->real(), zi = z->imag();
  for (int it = 0; it < max_iter; ++it) {
    double pr = poly[0], pi = 0.0, dr = 0.0, di = 0.0;
    for (int k = 1; k <= deg; ++k) {
      const double ndr = dr * zr - di * zi + pr, ndi = dr * zi + di * zr + pi;
      const double npr = pr * zr - pi * zi + poly[k], npi = pr * zi + pi * zr;
      dr = ndr; di = ndi; pr = npr; pi = npi;
    }
    const double den = dr * dr + di * di;
    if (!(den > 1e-60)) { *z = {zr, zi}; return false; }
    const double sr = (pr * dr + pi * di) / den, si = (pi * dr - pr * di) / den;  // p * conj(dp) / |dp|^2
    zr -= sr;
    zi -= si;
    if (sr * sr + si * si < tol2 * std::max(1.0, zr * zr + zi * zi)) {
      *z = {zr, zi};
      return std::isfinite(zr);
    }
  }
  *z = {zr, zi};
  return false;
}

}  // namespace

const FormantAnalysis::Tables& FormantAnalysis::SharedTables() {
  static const Tables tables = [] {
    Tables t;
    t.env_cos.resize(kOrder * kEnvPoints);
    t.env_sin.resize(kOrder * kEnvPoints);
    for (int k = 1; k <= kOrder; ++k)
      for (int g = 0; g < kEnvPoints; ++g) {
        const double w = kPi * (g + 0.5) / kEnvPoints;
        t.env_cos[(k - 1) * kEnvPoints + g] = static_cast<float>(std::cos(k * w));
        t.env_sin[(k - 1) * kEnvPoints + g] = static_cast<float>(std::sin(k * w));
      }
    t.formant_cos.assign(kFormantBinsPad * (kOrder + 1), 0.0f);  // lag-major, zero padded
    for (int b = 0; b < kFormantBins; ++b)  // folded spectrum -> autocorrelation at 11 kHz
      for (int k = 0; k <= kOrder; ++k)
        t.formant_cos[k * kFormantBinsPad + b] = static_cast<float>(
            (b == 0 ? 1.0 : 2.0) * PreEmphasisPowerGainAtBin(b, kFftSize) *
            std::cos(2.0 * kPi * b * kSampleRate / kFftSize * k / kFormantRate));
    return t;
  }();
  return tables;
}

FormantAnalysis::FormantAnalysis()
    : env_cos_(SharedTables().env_cos.data()),
      env_sin_(SharedTables().env_sin.data()),
      formant_cos_(SharedTables().formant_cos.data()) {}

// Formants as eGeMAPS finds them: order-11 LPC of the spectrum below 5.5 kHz treated as an
// 11 kHz signal, every root of A(z) in (50, 5450) Hz. Envelope peaks seed the root search,
// each root found is deflated out. Returns the count, ascending in frequency.
SER_MULTIVERSION int FormantAnalysis::Compute(const float* power, Formant* out) const {
  static_assert(kFormantBinsPad % simd::kLanes == 0 && kFormantBinsPad <= kNumBins, "padded formant bins");
  double r[kOrder + 1], a[kOrder + 1];
  for (int k = 0; k <= kOrder; ++k) {  // one dot product per lag, in lane partial sums
    const float* t = &formant_cos_[k * kFormantBinsPad];
    float part[simd::kLanes] = {};
    for (int b = 0; b < kFormantBinsPad; b += simd::kLanes)
      for (int j = 0; j < simd::kLanes; ++j) part[j] += power[b + j] * t[b + j];
    r[k] = simd::LaneSum(part);
  }
  AddNoiseFloor(r);
  LevinsonDurbin(r, kOrder, a);

  // Envelope |A|^2 on a grid; its minima (spectral peaks) are the first seeds.
  float re[kEnvPoints], im[kEnvPoints];
  std::fill(re, re + kEnvPoints, 1.0f);
  std::fill(im, im + kEnvPoints, 0.0f);
  for (int k = 1; k <= kOrder; ++k) {
    const float ak = static_cast<float>(a[k]);
    const float* ct = &env_cos_[(k - 1) * kEnvPoints];
    const float* st = &env_sin_[(k - 1) * kEnvPoints];
    for (int g = 0; g < kEnvPoints; ++g) {
      re[g] += ak * ct[g];
      im[g] -= ak * st[g];
    }
  }
  for (int g = 0; g < kEnvPoints; ++g) re[g] = re[g] * re[g] + im[g] * im[g];
  std::complex<double> seeds[kOrder + 8];
  int ns = 0;
  for (int g = 1; g + 1 < kEnvPoints && ns < kOrder; ++g)
    if (re[g] < re[g - 1] && re[g] <= re[g + 1]) seeds[ns++] = {0.95 * env_cos_[g], 0.95 * env_sin_[g]};
  for (int i = 0; i < 8; ++i) seeds[ns++] = std::polar(0.8, 0.4 + 0.35 * i);  // generic fallbacks

  double poly[kOrder + 1];
  std::copy(a, a + kOrder + 1, poly);
  int deg = kOrder, n = 0;
  for (int si = 0; si < ns && deg > 0; ++si) {
    std::complex<double> z = seeds[si];
    if (deg <= 2) {  // closed form for the rest
      if (deg == 1) {
        z = -poly[1] / poly[0];
      } else {
        const double disc = poly[1] * poly[1] - 4.0 * poly[0] * poly[2];
        z = (std::complex<double>(-poly[1]) + std::sqrt(std::complex<double>(disc))) / (2.0 * poly[0]);
      }
    } else if (!NewtonRoot(poly, deg, 30, 1e-14, &z)) {  // loose: the polish below squares the error
      continue;
    }
    NewtonRoot(a, kOrder, 3, 1e-20, &z);  // polish on the undeflated polynomial
    const bool real_root = std::fabs(z.imag()) < 1e-7 || deg == 1;
    if (real_root) {  // deflate (z - x)
      for (int i = 1; i < deg; ++i) poly[i] += z.real() * poly[i - 1];
      deg -= 1;
      continue;
    }
    const double b1 = -2.0 * z.real(), b0 = std::norm(z);  // deflate z^2 + b1 z + b0
    for (int i = 1; i <= deg - 2; ++i) poly[i] -= b1 * poly[i - 1] + (i >= 2 ? b0 * poly[i - 2] : 0.0);
    deg -= 2;
    const double radius = std::sqrt(b0);
    if (!(radius < 1.0 && radius > 1e-3)) continue;
    const float freq = static_cast<float>(FastAcos(std::clamp(z.real() / radius, -1.0, 1.0)) * kFormantRate / (2.0 * kPi));
    const float bw = static_cast<float>(-std::log(radius) * kFormantRate / kPi);
    if (freq > kMinFormantHz && freq < kMaxFormantHz && n < kMaxFormants) out[n++] = {freq, bw};
  }
  std::sort(out, out + n, [](const Formant& x, const Formant& y) { return x.freq < y.freq; });
  return n;
}

}  // namespace ser
