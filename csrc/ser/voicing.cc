#include "ser/voicing.h"

#include <algorithm>
#include <cmath>
#include <complex>
#include <cstring>

#include "ser/simd.h"

#pragma GCC diagnostic ignored "-Wpsabi"  // V8 helpers below are internal and always inlined

namespace ser {

namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr float kPreEmphasis = 0.97f;
constexpr float kVoicingThreshold = 0.7f;   // on the normalised autocorrelation peak
constexpr float kOctaveRatio = 0.9f;        // shorter lag wins if its peak is this close
constexpr double kSilenceEnergy = 1e-10 * kPitchLength;  // pitch window energy floor
constexpr double kPowerFloor = 1e-20;
constexpr float kMinFormantHz = 50.0f;
constexpr double kFormantRate = 11000.0;  // formant LPC runs on the spectrum below 5.5 kHz
constexpr float kMaxFormantHz = 5450.0f;
constexpr int kPad = 4;  // zeros before the pitch window for the decimation filter
constexpr float kDecFilter[7] = {1 / 16.f, 2 / 16.f, 3 / 16.f, 4 / 16.f, 3 / 16.f, 2 / 16.f, 1 / 16.f};

// Output slots.
constexpr int kOutLpc = 0, kOutGain = 11, kOutLsp = 12, kOutF0 = 20, kOutF0Raw = 21, kOutProb = 22,
              kOutHnr = 23, kOutJitter = 24, kOutDdp = 25, kOutShimmer = 26, kOutH1H2 = 27, kOutH1A3 = 28,
              kOutFormAmp = 29, kOutFormFreq = 32, kOutFormBw = 35, kOutIntensity = 38, kNumOut = 39;

float Db(double num, double den) {
  return static_cast<float>(10.0 * std::log10(std::max(num, kPowerFloor) / std::max(den, kPowerFloor)));
}

// Parabolic peak offset in (-0.5, 0.5) from three neighbouring values.
float ParabolicOffset(float left, float mid, float right) {
  const float den = left - 2.0f * mid + right;
  if (!(den < 0.0f)) return 0.0f;
  return std::clamp(0.5f * (left - right) / den, -0.5f, 0.5f);
}

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

// acos(x) for x in [-1, 1], Abramowitz & Stegun 4.4.46 (absolute error <= 2e-8), no libm call.
inline double FastAcos(double x) {
  const double ax = std::fabs(x);
  const double poly =
      ((((((-0.0012624911 * ax + 0.0066700901) * ax - 0.0170881256) * ax + 0.0308918810) * ax - 0.0501743046) * ax +
        0.0889789874) * ax - 0.2145988016) * ax + 1.5707963050;
  const double r = std::sqrt(std::max(0.0, 1.0 - ax)) * poly;
  return x < 0.0 ? kPi - r : r;
}

double Horner(const double* poly, int m, double x) {
  double v = poly[m];
  for (int i = m - 1; i >= 0; --i) v = v * x + poly[i];
  return v;
}

// |1 - 0.97 e^-jw|^2 at FFT bin b (16 kHz): pre-emphasis applied in the power domain.
double PreEmphasisGain(int b) {
  const double w = 2.0 * kPi * b / kFftSize;
  return 1.0 + kPreEmphasis * kPreEmphasis - 2.0 * kPreEmphasis * std::cos(w);
}

// Levinson-Durbin: a = A(z) coefficients (a[0] = 1), returns the prediction error.
// a8, if given, receives the order-8 step (kept at lower order if the recursion stops early).
double Levinson(const double* r, int order, double* a, double* a8) {
  constexpr int kOrder8 = 8;
  std::fill(a, a + order + 1, 0.0);
  a[0] = 1.0;
  double err = r[0] * (1.0 + 1e-9) + 1e-12;  // floor keeps silence stable
  if (a8) std::copy(a, a + kOrder8 + 1, a8);
  for (int m = 1; m <= order; ++m) {
    double acc = r[m];
    for (int j = 1; j < m; ++j) acc += a[j] * r[m - j];
    const double k = -acc / err;
    if (!(std::fabs(k) < 1.0)) break;
    double prev[32];
    std::copy(a, a + m, prev);
    for (int j = 1; j < m; ++j) a[j] = prev[j] + k * prev[m - j];
    a[m] = k;
    err *= 1.0 - k * k;
    if (a8 && m <= kOrder8) std::copy(a, a + kOrder8 + 1, a8);
  }
  return err;
}

// Eight floats as one value (GCC/Clang vector extension): one AVX register in the AVX2 clone,
// two SSE registers in the portable one.
typedef float V8 __attribute__((vector_size(32)));

inline V8 Load8(const float* p) {
  V8 v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

inline float HorizontalSum(V8 v) {
  return ((v[0] + v[4]) + (v[1] + v[5])) + ((v[2] + v[6]) + (v[3] + v[7]));
}

// Sums with independent partial accumulators so the compiler can vectorise them.
float Sum(const float* x, int n) {
  float part[8] = {};
  int i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j) part[j] += x[i + j];
  float total = 0.0f;
  for (; i < n; ++i) total += x[i];
  for (float p : part) total += p;
  return total;
}

double SumSquares(const float* x, int n) {
  float part[8] = {};
  int i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j) part[j] += x[i + j] * x[i + j];
  double total = 0.0;
  for (; i < n; ++i) total += static_cast<double>(x[i]) * x[i];
  for (float p : part) total += p;
  return total;
}

}  // namespace

const std::vector<DescriptorInfo>& VoicingDescriptors::Descriptors() {
  static const std::vector<DescriptorInfo> kList = [] {
    std::vector<DescriptorInfo> v;
    for (int k = 1; k <= 11; ++k) v.push_back({"lpc_" + std::to_string(k), 0});
    v.push_back({"lp_gain", 0});
    for (int k = 0; k < 8; ++k) v.push_back({"lsp_" + std::to_string(k), 1});
    for (const char* n : {"f0_hz", "f0_raw_hz", "voicing_prob", "log_hnr", "jitter_local", "jitter_ddp",
                          "shimmer_local", "h1_h2", "h1_a3", "f1_amplitude", "f2_amplitude", "f3_amplitude",
                          "f1_freq", "f2_freq", "f3_freq", "f1_bandwidth", "f2_bandwidth", "f3_bandwidth"})
      v.push_back({n, 1});
    v.push_back({"formant_intensity", 0});
    return v;
  }();
  return kList;
}

VoicingDescriptors::VoicingDescriptors() {
  hamming_.resize(kFrameLength);
  for (int i = 0; i < kFrameLength; ++i)
    hamming_[i] = static_cast<float>(0.54 - 0.46 * std::cos(2.0 * kPi * i / (kFrameLength - 1)));
  env_cos_.resize(kLpcOrder * kEnvPoints);
  env_sin_.resize(kLpcOrder * kEnvPoints);
  for (int k = 1; k <= kLpcOrder; ++k)
    for (int g = 0; g < kEnvPoints; ++g) {
      const double w = kPi * (g + 0.5) / kEnvPoints;
      env_cos_[(k - 1) * kEnvPoints + g] = static_cast<float>(std::cos(k * w));
      env_sin_[(k - 1) * kEnvPoints + g] = static_cast<float>(std::sin(k * w));
    }
  formant_cos_.assign(kFormantBinsPad * (kLpcOrder + 1), 0.0f);  // lag-major, zero padded
  for (int b = 0; b < kFormantBins; ++b)  // folded spectrum -> autocorrelation at 11 kHz
    for (int k = 0; k <= kLpcOrder; ++k)
      formant_cos_[k * kFormantBinsPad + b] = static_cast<float>(
          (b == 0 ? 1.0 : 2.0) * PreEmphasisGain(b) *
          std::cos(2.0 * kPi * b * kSampleRate / kFftSize * k / kFormantRate));
  lsp_x_.resize(kLspGrid + 1);
  for (int g = 0; g <= kLspGrid; ++g) lsp_x_[g] = static_cast<float>(std::cos(kPi * g / kLspGrid));
  x_.assign(kFrameLength + 16, 0.0f);
  pw_.assign(kPad + kPitchLength + 16, 0.0f);
  dec_.assign(kDecLen + kCoarseMinLag + kCoarseLags + 4, 0.0f);
  Reset();
}

void VoicingDescriptors::Reset() {
  std::fill(lpc_, lpc_ + kLpcOrder + 1, 0.0);
  std::fill(lpc8_, lpc8_ + kLspOrder + 1, 0.0);
  prev_voiced_ = false;
  prev_period_ = 0.0f;
  prev_amp_ = 0.0f;
}

// Autocorrelation of the pre-emphasised Hamming frame, then Levinson-Durbin.
// lpc_ holds A(z) = 1 + sum_k lpc_[k] z^-k; lpc8_ is the order-8 step of the same recursion.
SER_MULTIVERSION double VoicingDescriptors::Lpc(const FrameData& frame) {
  const float* raw = frame.raw;
  float* x = x_.data();
  x[0] = (1.0f - kPreEmphasis) * raw[0] * hamming_[0];
  for (int i = 1; i < kFrameLength; ++i) x[i] = (raw[i] - kPreEmphasis * raw[i - 1]) * hamming_[i];
  // Eight samples at a time, one independent accumulator per lag. x_ has a zero tail.
  static_assert(kFrameLength % 8 == 0, "frame length must be a multiple of 8");
  V8 acc[kLpcOrder + 1] = {};
  for (int i = 0; i < kFrameLength; i += 8) {
    const V8 xi = Load8(x + i);
    for (int k = 0; k <= kLpcOrder; ++k) acc[k] += xi * Load8(x + i + k);
  }
  float r[kLpcOrder + 1];
  for (int k = 0; k <= kLpcOrder; ++k) r[k] = HorizontalSum(acc[k]);
  double rd[kLpcOrder + 1], a[kLpcOrder + 1];
  std::copy(r, r + kLpcOrder + 1, rd);
  const double err = Levinson(rd, kLpcOrder, a, lpc8_);
  std::copy(a, a + kLpcOrder + 1, lpc_);
  return err;
}

// Line spectral frequencies of lpc8_ by grid search and bisection on the Chebyshev forms.
SER_MULTIVERSION void VoicingDescriptors::Lsp(float* lsp) const {
  constexpr int p = kLspOrder, m = kLspOrder / 2;
  static_assert(m == 4, "grid evaluation below is written for order 8");
  double sym[m + 1], anti[m + 1];  // P(z)/(1+z^-1), Q(z)/(1-z^-1)
  double sp = 0.0, ap = 0.0;
  for (int k = 0; k <= m; ++k) {
    const double rev = k >= 1 ? lpc8_[p + 1 - k] : 0.0;
    sym[k] = lpc8_[k] + rev - sp;
    anti[k] = lpc8_[k] - rev + ap;
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

// Newton iterations on the real polynomial poly (descending, degree deg) from z; false if no convergence.
// Complex arithmetic written out (no __muldc3 NaN checks).
static bool NewtonRoot(const double* poly, int deg, int max_iter, double tol2, std::complex<double>* z) {
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

// Formants as eGeMAPS finds them: order-11 LPC of the spectrum below 5.5 kHz treated as an
// 11 kHz signal, every root of A(z) in (50, 5450) Hz. Envelope peaks seed the root search,
// each root found is deflated out. Returns the count, ascending in frequency.
SER_MULTIVERSION int VoicingDescriptors::Formants(const float* power, Formant* out) {
  static_assert(kFormantBinsPad % 8 == 0 && kFormantBinsPad <= kNumBins, "padded formant bins");
  double r[kLpcOrder + 1], a[kLpcOrder + 1];
  for (int k = 0; k <= kLpcOrder; ++k) {  // one dot product per lag, 8 partial sums
    const float* t = &formant_cos_[k * kFormantBinsPad];
    float part[8] = {};
    for (int b = 0; b < kFormantBinsPad; b += 8)
      for (int j = 0; j < 8; ++j) part[j] += power[b + j] * t[b + j];
    float total = 0.0f;
    for (float v : part) total += v;
    r[k] = total;
  }
  Levinson(r, kLpcOrder, a, nullptr);

  // Envelope |A|^2 on a grid; its minima (spectral peaks) are the first seeds.
  float re[kEnvPoints], im[kEnvPoints];
  std::fill(re, re + kEnvPoints, 1.0f);
  std::fill(im, im + kEnvPoints, 0.0f);
  for (int k = 1; k <= kLpcOrder; ++k) {
    const float ak = static_cast<float>(a[k]);
    const float* ct = &env_cos_[(k - 1) * kEnvPoints];
    const float* st = &env_sin_[(k - 1) * kEnvPoints];
    for (int g = 0; g < kEnvPoints; ++g) {
      re[g] += ak * ct[g];
      im[g] -= ak * st[g];
    }
  }
  for (int g = 0; g < kEnvPoints; ++g) re[g] = re[g] * re[g] + im[g] * im[g];
  std::complex<double> seeds[kLpcOrder + 8];
  int ns = 0;
  for (int g = 1; g + 1 < kEnvPoints && ns < kLpcOrder; ++g)
    if (re[g] < re[g - 1] && re[g] <= re[g + 1]) seeds[ns++] = {0.95 * env_cos_[g], 0.95 * env_sin_[g]};
  for (int i = 0; i < 8; ++i) seeds[ns++] = std::polar(0.8, 0.4 + 0.35 * i);  // generic fallbacks

  double poly[kLpcOrder + 1];
  std::copy(a, a + kLpcOrder + 1, poly);
  int deg = kLpcOrder, n = 0;
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
    NewtonRoot(a, kLpcOrder, 3, 1e-20, &z);  // polish on the undeflated polynomial
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
    if (freq > kMinFormantHz && freq < kMaxFormantHz && n < kLpcOrder) out[n++] = {freq, bw};
  }
  std::sort(out, out + n, [](const Formant& x, const Formant& y) { return x.freq < y.freq; });
  return n;
}

// Coarse normalised cross-correlation at 4 kHz, refined at 16 kHz around the winner.
SER_MULTIVERSION VoicingDescriptors::Pitch VoicingDescriptors::F0(const FrameData& frame) {
  Pitch result;
  const float* s = frame.pitch;
  float* pw = pw_.data() + kPad;
  const float mean = Sum(s, kPitchLength) / kPitchLength;
  for (int i = 0; i < kPitchLength; ++i) pw[i] = s[i] - mean;
  if (!(SumSquares(pw, kPitchLength) > kSilenceEnergy)) return result;

  // Low-pass (7-tap triangle, zeros at multiples of 4 kHz) and keep every 4th sample.
  float* d = dec_.data();
  for (int j = 0; j < kDecLen; ++j) {
    const float* src = pw + kDecim * j - 3;
    float v = 0.0f;
    for (int t = 0; t < 7; ++t) v += kDecFilter[t] * src[t];
    d[j] = v;
  }
  float acc[kCoarseLags] = {};
  for (int i = 0; i < kDecLen; ++i) {
    const float di = d[i];
    const float* dj = d + i + kCoarseMinLag;
    for (int l = 0; l < kCoarseLags; ++l) acc[l] += di * dj[l];
  }
  constexpr int kLags = kCoarseMaxLag - kCoarseMinLag + 1;
  // Energies of d[0, N - lag) and d[lag, N), updated one lag at a time (two short chains
  // instead of a full prefix sum).
  double head = 0.0, tail = 0.0;
  {
    double h[4] = {}, t[4] = {};
    for (int j = 0; j < kDecLen; ++j) {
      const double sq = static_cast<double>(d[j]) * d[j];
      if (j < kDecLen - kCoarseMinLag) h[j & 3] += sq;
      if (j >= kCoarseMinLag) t[j & 3] += sq;
    }
    head = (h[0] + h[1]) + (h[2] + h[3]);
    tail = (t[0] + t[1]) + (t[2] + t[3]);
  }
  float c[kLags];
  for (int l = 0; l < kLags; ++l) {
    const int lag = kCoarseMinLag + l;
    if (l > 0) {
      const double out_head = d[kDecLen - lag], out_tail = d[lag - 1];
      head = std::max(0.0, head - out_head * out_head);
      tail = std::max(0.0, tail - out_tail * out_tail);
    }
    const double e = head * tail;
    c[l] = e > 1e-30 ? static_cast<float>(acc[l] / std::sqrt(e)) : 0.0f;
  }
  // Best interior local maximum; a shorter lag with a nearly as high peak wins (octave guard).
  int best = -1;
  for (int l = 1; l + 1 < kLags; ++l)
    if (c[l] >= c[l - 1] && c[l] > c[l + 1] && (best < 0 || c[l] > c[best])) best = l;
  if (best < 0) best = static_cast<int>(std::max_element(c, c + kLags) - c);
  for (int l = 1; l < best; ++l)
    if (c[l] >= c[l - 1] && c[l] > c[l + 1] && c[l] >= kOctaveRatio * c[best]) { best = l; break; }

  float delta = 0.0f;
  if (best > 0 && best + 1 < kLags) delta = ParabolicOffset(c[best - 1], c[best], c[best + 1]);
  float prob = 0.0f;
  const int center = static_cast<int>(std::lround(kDecim * (kCoarseMinLag + best + delta)));
  const float period = FinePeriod(center, &prob);
  result.period = period;
  result.f0_raw = kSampleRate / period;
  result.prob = prob;
  result.voiced = prob >= kVoicingThreshold;
  return result;
}

// Normalised cross-correlation over kFineLags lags around center (16 kHz), parabolic refinement.
SER_MULTIVERSION float VoicingDescriptors::FinePeriod(int center, float* prob) {
  const int min_lag = kSampleRate / 500 - 4;
  const int max_lo = kSampleRate / 55 + 6 - kFineLags;
  const int lo = std::clamp(center - kFineLags / 2, min_lag, max_lo);
  const int len = kPitchLength - (lo + kFineLags - 1);
  const float* pw = pw_.data() + kPad;
  V8 acc8[kFineLags] = {};  // eight samples at a time, one independent accumulator per lag
  int i = 0;
  for (; i + 8 <= len; i += 8) {
    const V8 a = Load8(pw + i);
    for (int k = 0; k < kFineLags; ++k) acc8[k] += a * Load8(pw + i + lo + k);
  }
  float acc[kFineLags];
  for (int k = 0; k < kFineLags; ++k) acc[k] = HorizontalSum(acc8[k]);
  for (; i < len; ++i) {
    const float pi = pw[i];
    for (int k = 0; k < kFineLags; ++k) acc[k] += pi * pw[i + lo + k];
  }
  const double e0 = SumSquares(pw, len);
  double e_lag = SumSquares(pw + lo, len);  // slid one sample per lag
  float c[kFineLags];
  for (int k = 0; k < kFineLags; ++k) {
    if (k > 0) {
      const double out = pw[lo + k - 1], in = pw[lo + k - 1 + len];
      e_lag = std::max(0.0, e_lag + in * in - out * out);
    }
    const double e = e0 * e_lag;
    c[k] = e > 1e-30 ? static_cast<float>(acc[k] / std::sqrt(e)) : 0.0f;
  }
  int best = 1;
  for (int k = 2; k + 1 < kFineLags; ++k)
    if (c[k] > c[best]) best = k;
  const float delta = ParabolicOffset(c[best - 1], c[best], c[best + 1]);
  *prob = c[best] - 0.25f * (c[best - 1] - c[best + 1]) * delta;
  return static_cast<float>(lo + best) + delta;
}

// Per-period analysis inside the pitch window: waveform peaks one period apart (+-25 % search).
void VoicingDescriptors::JitterShimmer(const Pitch& pitch, float* jitter, float* ddp, float* shimmer) {
  *jitter = *ddp = *shimmer = 0.0f;
  if (!pitch.voiced) {
    prev_voiced_ = false;
    return;
  }
  const float* s = pw_.data() + kPad;
  const float period = pitch.period;
  float pos[kMaxPeriods + 1], amp[kMaxPeriods + 1];
  int n = 0;
  int lo = 0, hi = std::min(kPitchLength - 1, static_cast<int>(period));
  while (n <= kMaxPeriods) {
    int m = lo;
    for (int i = lo + 1; i <= hi; ++i)
      if (s[i] > s[m]) m = i;
    float delta = 0.0f;
    if (m > 0 && m + 1 < kPitchLength) delta = ParabolicOffset(s[m - 1], s[m], s[m + 1]);
    pos[n] = m + delta;
    amp[n] = std::fabs(s[m]);
    ++n;
    const float expected = pos[n - 1] + period;
    lo = static_cast<int>(std::lround(expected - 0.25f * period));
    hi = static_cast<int>(std::lround(expected + 0.25f * period));
    if (hi >= kPitchLength) break;
  }
  // Periods and their amplitudes (amplitude of the closing peak).
  float per[kMaxPeriods + 1], pamp[kMaxPeriods + 2];
  int np = 0;
  pamp[0] = amp[0];
  if (n < 3 && prev_voiced_ && prev_period_ > 0.0f) {  // too few in-window periods: borrow the last one
    per[np++] = prev_period_;
    pamp[0] = prev_amp_;
    pamp[1] = amp[0];
  }
  const int amp_base = np;  // pamp index of amp[0]
  for (int i = 1; i < n; ++i) {
    per[np] = pos[i] - pos[i - 1];
    ++np;
    pamp[amp_base + i] = amp[i];
  }
  const int na = amp_base + n;
  double psum = 0.0, jsum = 0.0, dsum = 0.0, asum = 0.0, ssum = 0.0;
  for (int i = 0; i < np; ++i) psum += per[i];
  for (int i = 1; i < np; ++i) jsum += std::fabs(per[i] - per[i - 1]);
  for (int i = 2; i < np; ++i) dsum += std::fabs(per[i] - 2.0f * per[i - 1] + per[i - 2]);
  for (int i = 0; i < na; ++i) asum += pamp[i];
  for (int i = 1; i < na; ++i) ssum += std::fabs(pamp[i] - pamp[i - 1]);
  const double pmean = np > 0 ? psum / np : 0.0;
  if (np >= 2 && pmean > 0.0) *jitter = static_cast<float>(jsum / (np - 1) / pmean);
  if (np >= 3 && pmean > 0.0) *ddp = static_cast<float>(dsum / (np - 2) / pmean);
  if (na >= 2 && asum > 0.0) *shimmer = static_cast<float>(ssum / (na - 1) / (asum / na));
  prev_voiced_ = true;
  prev_period_ = np > 0 ? per[np - 1] : period;
  prev_amp_ = amp[n - 1];
}

// Largest power bin within one bin of freq.
float VoicingDescriptors::HarmonicPower(const float* power, float freq) const {
  constexpr float kBinHz = static_cast<float>(kSampleRate) / kFftSize;
  if (!(freq > 0.0f)) return 0.0f;
  const int c = static_cast<int>(std::lround(freq / kBinHz));
  const int lo = std::clamp(c - 1, 1, kNumBins - 1), hi = std::clamp(c + 1, 1, kNumBins - 1);
  float best = 0.0f;
  for (int b = lo; b <= hi; ++b) best = std::max(best, power[b]);
  return best;
}

void VoicingDescriptors::Compute(const FrameData& frame, float* out) {
  std::fill(out, out + kNumOut, 0.0f);
  const double err = Lpc(frame);
  for (int k = 1; k <= kLpcOrder; ++k) out[kOutLpc + k - 1] = static_cast<float>(lpc_[k]);
  out[kOutGain] = static_cast<float>(err / kFrameLength);
  Lsp(out + kOutLsp);

  const Pitch pitch = F0(frame);
  out[kOutF0Raw] = pitch.f0_raw;
  out[kOutProb] = pitch.prob;
  JitterShimmer(pitch, out + kOutJitter, out + kOutDdp, out + kOutShimmer);

  Formant formants[kLpcOrder];
  const int nf = Formants(frame.power, formants);
  for (int i = 0; i < 3 && i < nf; ++i) {
    out[kOutFormFreq + i] = formants[i].freq;
    out[kOutFormBw + i] = formants[i].bw;
  }

  if (pitch.voiced) {
    const float f0 = pitch.f0_raw;
    out[kOutF0] = f0;
    const double r = std::clamp(static_cast<double>(pitch.prob), 1e-4, 1.0 - 1e-4);
    out[kOutHnr] = static_cast<float>(10.0 * std::log10(r / (1.0 - r)));
    const float h1 = HarmonicPower(frame.power, f0);
    out[kOutH1H2] = Db(h1, HarmonicPower(frame.power, 2.0f * f0));
    for (int i = 0; i < 3 && i < nf; ++i) {  // harmonic nearest each formant
      const float harmonic = std::max(1.0f, std::round(formants[i].freq / f0)) * f0;
      const float a = HarmonicPower(frame.power, harmonic);
      out[kOutFormAmp + i] = Db(a, h1);
      if (i == 2) out[kOutH1A3] = Db(h1, a);
    }
  }

  out[kOutIntensity] = static_cast<float>(SumSquares(frame.windowed, kFrameLength) / kFrameLength);

  for (int i = 0; i < kNumOut; ++i)
    if (!std::isfinite(out[i])) out[i] = 0.0f;
}

}  // namespace ser
