#include "ser/fft.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>

#include "ser/dsp.h"
#include "ser/simd.h"

namespace ser {

struct RealFft::Work {
  std::vector<float> re, im, out_re, out_im, padded;
};

namespace {

// The calling thread's work arrays, grown to the largest size it has run; every call
// overwrites what it reads.
RealFft::Work& ThreadWork(int n) {
  thread_local RealFft::Work w;
  if (static_cast<int>(w.padded.size()) < n) {
    w.re.resize(n / 2);
    w.im.resize(n / 2);
    w.out_re.resize(n / 2 + 1);
    w.out_im.resize(n / 2 + 1);
    w.padded.resize(n);
  }
  return w;
}

RealFft::Tables BuildTables(int n) {
  const int half = n / 2;
  RealFft::Tables t;
  int bits = 0;
  while ((1 << bits) < half) ++bits;
  t.bitrev.resize(half);
  for (int i = 0; i < half; ++i) {
    int r = 0;
    for (int b = 0; b < bits; ++b) r |= ((i >> b) & 1) << (bits - 1 - b);
    t.bitrev[i] = r;
  }
  // Stage twiddles laid out contiguously: stage with half-length h starts at h-1.
  t.twr.assign(half, 0.0f);
  t.twi.assign(half, 0.0f);
  for (int h = 1; h < half; h <<= 1)
    for (int k = 0; k < h; ++k) {
      t.twr[h - 1 + k] = static_cast<float>(std::cos(-kPi * k / h));
      t.twi[h - 1 + k] = static_cast<float>(std::sin(-kPi * k / h));
    }
  t.post_re.resize(half);
  t.post_im.resize(half);
  for (int k = 0; k < half; ++k) {
    t.post_re[k] = static_cast<float>(std::cos(-2.0 * kPi * k / n));
    t.post_im[k] = static_cast<float>(std::sin(-2.0 * kPi * k / n));
  }
  return t;
}

}  // namespace

const RealFft::Tables& RealFft::SharedTables(int n) {
  static std::mutex mu;
  static std::map<int, std::unique_ptr<Tables>> by_size;
  std::lock_guard<std::mutex> lock(mu);
  std::unique_ptr<Tables>& t = by_size[n];
  if (!t) t = std::make_unique<Tables>(BuildTables(n));
  return *t;
}

RealFft::RealFft(int n) : n_(n), half_(n / 2) {
  if (n < 4 || (n & (n - 1)) != 0) throw std::invalid_argument("RealFft: n must be a power of two >= 4");
  t_ = &SharedTables(n);
}

SER_MULTIVERSION void RealFft::Butterflies(float* re, float* im) const {
  for (int i = 0; i + 1 < half_; i += 2) {  // first stage: twiddle 1
    const float r0 = re[i], i0 = im[i], r1 = re[i + 1], i1 = im[i + 1];
    re[i] = r0 + r1;
    im[i] = i0 + i1;
    re[i + 1] = r0 - r1;
    im[i + 1] = i0 - i1;
  }
  for (int len = 4; len <= half_; len <<= 1) {
    const int h = len / 2;
    const float* wr = t_->twr.data() + (h - 1);
    const float* wi = t_->twi.data() + (h - 1);
    for (int start = 0; start < half_; start += len) {
      float* __restrict lr = re + start;
      float* __restrict li = im + start;
      float* __restrict hr = lr + h;
      float* __restrict hi = li + h;
      for (int k = 0; k < h; ++k) {
        const float tr = hr[k] * wr[k] - hi[k] * wi[k];
        const float ti = hr[k] * wi[k] + hi[k] * wr[k];
        const float ur = lr[k], ui = li[k];
        lr[k] = ur + tr;
        li[k] = ui + ti;
        hr[k] = ur - tr;
        hi[k] = ui - ti;
      }
    }
  }
}

SER_MULTIVERSION void RealFft::Transform(const float* in, Work& w) const {
  // Even/odd samples packed as one complex sequence of half the length, in bit-reversed order.
  float* re = w.re.data();
  float* im = w.im.data();
  float* out_re = w.out_re.data();
  float* out_im = w.out_im.data();
  const int* bitrev = t_->bitrev.data();
  for (int i = 0; i < half_; ++i) {
    const int j = bitrev[i];
    re[i] = in[2 * j];
    im[i] = in[2 * j + 1];
  }
  Butterflies(re, im);
  // Split the half-length transform into the real signal's spectrum.
  out_re[0] = re[0] + im[0];
  out_im[0] = 0.0f;
  out_re[half_] = re[0] - im[0];
  out_im[half_] = 0.0f;
  const float* post_re = t_->post_re.data();
  const float* post_im = t_->post_im.data();
  for (int k = 1; k < half_; ++k) {
    const float ar = re[k], ai = im[k];
    const float br = re[half_ - k], bi = -im[half_ - k];
    const float er = 0.5f * (ar + br), ei = 0.5f * (ai + bi);
    const float orr = 0.5f * (ai - bi), oi = -0.5f * (ar - br);
    const float wr = post_re[k], wi = post_im[k];
    out_re[k] = er + orr * wr - oi * wi;
    out_im[k] = ei + orr * wi + oi * wr;
  }
}

void RealFft::Forward(const float* in, std::complex<float>* out) {
  Work& w = ThreadWork(n_);
  Transform(in, w);
  for (int k = 0; k <= half_; ++k) out[k] = {w.out_re[k], w.out_im[k]};
}

void RealFft::Power(const float* in, int in_len, float* power) {
  Work& w = ThreadWork(n_);
  if (in_len < n_) {  // zero padded
    std::copy(in, in + in_len, w.padded.begin());
    std::fill(w.padded.begin() + in_len, w.padded.begin() + n_, 0.0f);
    in = w.padded.data();
  }
  Transform(in, w);
  for (int k = 0; k <= half_; ++k) power[k] = w.out_re[k] * w.out_re[k] + w.out_im[k] * w.out_im[k];
}

}  // namespace ser
