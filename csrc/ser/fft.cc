#include "ser/fft.h"

#include <cmath>
#include <stdexcept>

#include "ser/dsp.h"
#include "ser/memory.h"
#include "ser/simd.h"

namespace ser {

RealFft::RealFft(int n) : n_(n), half_(n / 2) {
  if (n < 4 || (n & (n - 1)) != 0) throw std::invalid_argument("RealFft: n must be a power of two >= 4");
  int bits = 0;
  while ((1 << bits) < half_) ++bits;
  bitrev_.resize(half_);
  for (int i = 0; i < half_; ++i) {
    int r = 0;
    for (int b = 0; b < bits; ++b) r |= ((i >> b) & 1) << (bits - 1 - b);
    bitrev_[i] = r;
  }
  // Stage twiddles laid out contiguously: stage with half-length h starts at h-1.
  twr_.assign(half_, 0.0f);
  twi_.assign(half_, 0.0f);
  for (int h = 1; h < half_; h <<= 1)
    for (int k = 0; k < h; ++k) {
      twr_[h - 1 + k] = static_cast<float>(std::cos(-kPi * k / h));
      twi_[h - 1 + k] = static_cast<float>(std::sin(-kPi * k / h));
    }
  re_.resize(half_);
  im_.resize(half_);
  post_re_.resize(half_);
  post_im_.resize(half_);
  for (int k = 0; k < half_; ++k) {
    post_re_[k] = static_cast<float>(std::cos(-2.0 * kPi * k / n_));
    post_im_[k] = static_cast<float>(std::sin(-2.0 * kPi * k / n_));
  }
  padded_.assign(n_, 0.0f);
  out_re_.resize(half_ + 1);
  out_im_.resize(half_ + 1);
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
    const float* wr = twr_.data() + (h - 1);
    const float* wi = twi_.data() + (h - 1);
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

SER_MULTIVERSION void RealFft::Transform(const float* in) {
  // Even/odd samples packed as one complex sequence of half the length, in bit-reversed order.
  float* re = re_.data();
  float* im = im_.data();
  for (int i = 0; i < half_; ++i) {
    const int j = bitrev_[i];
    re[i] = in[2 * j];
    im[i] = in[2 * j + 1];
  }
  Butterflies(re, im);
  // Split the half-length transform into the real signal's spectrum.
  out_re_[0] = re[0] + im[0];
  out_im_[0] = 0.0f;
  out_re_[half_] = re[0] - im[0];
  out_im_[half_] = 0.0f;
  for (int k = 1; k < half_; ++k) {
    const float ar = re[k], ai = im[k];
    const float br = re[half_ - k], bi = -im[half_ - k];
    const float er = 0.5f * (ar + br), ei = 0.5f * (ai + bi);
    const float orr = 0.5f * (ai - bi), oi = -0.5f * (ar - br);
    const float wr = post_re_[k], wi = post_im_[k];
    out_re_[k] = er + orr * wr - oi * wi;
    out_im_[k] = ei + orr * wi + oi * wr;
  }
}

const float* RealFft::Input(const float* in, int in_len) {
  if (in_len >= n_) return in;
  for (int i = 0; i < in_len; ++i) padded_[i] = in[i];
  for (int i = in_len; i < n_; ++i) padded_[i] = 0.0f;
  return padded_.data();
}

void RealFft::Forward(const float* in, std::complex<float>* out) {
  Transform(in);
  for (int k = 0; k <= half_; ++k) out[k] = {out_re_[k], out_im_[k]};
}

void RealFft::Power(const float* in, int in_len, float* power) {
  Transform(Input(in, in_len));
  for (int k = 0; k <= half_; ++k) power[k] = out_re_[k] * out_re_[k] + out_im_[k] * out_im_[k];
}

int64_t RealFft::HeapBytes() const {
  return ser::HeapBytes(bitrev_, twr_, twi_, post_re_, post_im_, re_, im_, out_re_, out_im_, padded_);
}

}  // namespace ser
