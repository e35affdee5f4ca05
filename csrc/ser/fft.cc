#include "ser/fft.h"

#include <cmath>
#include <stdexcept>

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
  const double pi = 3.14159265358979323846;
  // Stage twiddles laid out contiguously: stage with half-length h starts at h-1.
  twr_.assign(half_, 0.0f);
  twi_.assign(half_, 0.0f);
  for (int h = 1; h < half_; h <<= 1)
    for (int k = 0; k < h; ++k) {
      twr_[h - 1 + k] = static_cast<float>(std::cos(-pi * k / h));
      twi_[h - 1 + k] = static_cast<float>(std::sin(-pi * k / h));
    }
  re_.resize(half_);
  im_.resize(half_);
  post_.resize(half_);
  for (int k = 0; k < half_; ++k)
    post_[k] = std::polar(1.0f, static_cast<float>(-2.0 * pi * k / n_));
  work_.resize(half_);
  padded_.assign(n_, 0.0f);
  spec_.resize(half_ + 1);
}

void RealFft::ComplexForward(std::complex<float>* a) const {
  // Split real/imaginary arrays keep the butterflies free of store-forwarding stalls.
  float* re = re_.data();
  float* im = im_.data();
  for (int i = 0; i < half_; ++i) {
    const int j = bitrev_[i];
    re[i] = a[j].real();
    im[i] = a[j].imag();
  }
  for (int i = 0; i + 1 < half_; i += 2) {  // first stage: twiddle 1
    const float r0 = re[i], i0 = im[i], r1 = re[i + 1], i1 = im[i + 1];
    re[i] = r0 + r1; im[i] = i0 + i1;
    re[i + 1] = r0 - r1; im[i + 1] = i0 - i1;
  }
  for (int len = 4; len <= half_; len <<= 1) {
    const int h = len / 2;
    const float* wr = twr_.data() + (h - 1);
    const float* wi = twi_.data() + (h - 1);
    for (int start = 0; start < half_; start += len) {
      float* lr = re + start; float* li = im + start;
      float* hr = lr + h; float* hi = li + h;
      for (int k = 0; k < h; ++k) {
        const float tr = hr[k] * wr[k] - hi[k] * wi[k];
        const float ti = hr[k] * wi[k] + hi[k] * wr[k];
        const float ur = lr[k], ui = li[k];
        lr[k] = ur + tr; li[k] = ui + ti;
        hr[k] = ur - tr; hi[k] = ui - ti;
      }
    }
  }
  for (int i = 0; i < half_; ++i) a[i] = {re[i], im[i]};
}

void RealFft::Forward(const float* in, std::complex<float>* out) {
  // Pack even/odd samples as one complex sequence of half the length.
  for (int i = 0; i < half_; ++i) work_[i] = {in[2 * i], in[2 * i + 1]};
  ComplexForward(work_.data());
  const std::complex<float> z0 = work_[0];
  out[0] = {z0.real() + z0.imag(), 0.0f};
  out[half_] = {z0.real() - z0.imag(), 0.0f};
  for (int k = 1; k < half_; ++k) {
    const std::complex<float> a = work_[k];
    const std::complex<float> b = std::conj(work_[half_ - k]);
    const float er = 0.5f * (a.real() + b.real()), ei = 0.5f * (a.imag() + b.imag());
    const float or_ = 0.5f * (a.imag() - b.imag()), oi = -0.5f * (a.real() - b.real());
    const std::complex<float> w = post_[k];
    out[k] = {er + or_ * w.real() - oi * w.imag(), ei + or_ * w.imag() + oi * w.real()};
  }
}

void RealFft::Power(const float* in, int in_len, float* power) {
  const float* src = in;
  if (in_len < n_) {
    for (int i = 0; i < in_len; ++i) padded_[i] = in[i];
    for (int i = in_len; i < n_; ++i) padded_[i] = 0.0f;
    src = padded_.data();
  }
  Forward(src, spec_.data());
  for (int k = 0; k <= half_; ++k)
    power[k] = spec_[k].real() * spec_[k].real() + spec_[k].imag() * spec_[k].imag();
}

}  // namespace ser
