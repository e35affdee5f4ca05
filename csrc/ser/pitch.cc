#include "ser/pitch.h"

#include <algorithm>
#include <cmath>

#include "ser/memory.h"
#include "ser/simd.h"

namespace ser {

namespace {

using simd::HorizontalSum;
using simd::Load8;
using simd::Sum;
using simd::SumSquares;
using simd::V8;

constexpr float kVoicingThreshold = 0.7f;  // on the normalised autocorrelation peak
constexpr float kOctaveRatio = 0.9f;       // shorter lag wins if its peak is this close
constexpr double kSilenceEnergy = 1e-10 * kPitchLength;  // pitch window energy floor
constexpr int kPad = 4;  // zeros before the pitch window for the decimation filter
constexpr float kDecFilter[7] = {1 / 16.f, 2 / 16.f, 3 / 16.f, 4 / 16.f, 3 / 16.f, 2 / 16.f, 1 / 16.f};

// Parabolic peak offset in (-0.5, 0.5) from three neighbouring values.
float ParabolicOffset(float left, float mid, float right) {
  const float den = left - 2.0f * mid + right;
  if (!(den < 0.0f)) return 0.0f;
  return std::clamp(0.5f * (left - right) / den, -0.5f, 0.5f);
}

}  // namespace

PitchAnalysis::PitchAnalysis()
    : pw_(kPad + kPitchLength + 16, 0.0f), dec_(kDecLen + kCoarseMinLag + kCoarseLags + 4, 0.0f) {}

void PitchAnalysis::Reset() {
  prev_voiced_ = false;
  prev_period_ = 0.0f;
  prev_amp_ = 0.0f;
}

// Coarse normalised cross-correlation at 4 kHz, refined at 16 kHz around the winner.
SER_MULTIVERSION PitchEstimate PitchAnalysis::Compute(const float* window) {
  PitchEstimate result;
  const float* s = window;
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
SER_MULTIVERSION float PitchAnalysis::FinePeriod(int center, float* prob) {
  const int min_lag = kSampleRate / 500 - 4;
  const int max_lo = kSampleRate / 55 + 6 - kFineLags;
  const int lo = std::clamp(center - kFineLags / 2, min_lag, max_lo);
  const int len = kPitchLength - (lo + kFineLags - 1);
  const float* pw = pw_.data() + kPad;
  V8 acc8[kFineLags] = {};  // eight samples at a time, one independent accumulator per lag
  int i = 0;
  for (; i + 8 <= len; i += 8) {
    V8 a;
    Load8(a, pw + i);
    for (int k = 0; k < kFineLags; ++k) {
      V8 b;
      Load8(b, pw + i + lo + k);
      acc8[k] += a * b;
    }
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
void PitchAnalysis::JitterShimmer(const PitchEstimate& pitch, float* jitter, float* ddp, float* shimmer) {
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

int64_t PitchAnalysis::HeapBytes() const { return ser::HeapBytes(pw_, dec_); }

}  // namespace ser
