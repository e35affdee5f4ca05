// Real FFT of a fixed power-of-two size, no allocation after construction.
#ifndef SER_FFT_H_
#define SER_FFT_H_

#include <complex>
#include <cstdint>
#include <vector>

namespace ser {

class RealFft {
 public:
  explicit RealFft(int n);  // n: power of two, >= 4
  int Size() const { return n_; }
  // in: n real samples. out: n/2+1 complex bins (DC .. Nyquist).
  void Forward(const float* in, std::complex<float>* out);
  // Power spectrum |X[k]|^2, k = 0..n/2. in may be shorter than n (zero padded).
  void Power(const float* in, int in_len, float* power);

  int64_t HeapBytes() const;  // beyond sizeof

 private:
  void Transform(const float* in);               // fills out_re_/out_im_
  void Butterflies(float* re, float* im) const;  // radix-2 stages, in place
  const float* Input(const float* in, int in_len);

  int n_;
  int half_;
  std::vector<int> bitrev_;
  std::vector<float> twr_, twi_;          // stage twiddles; stage of half-length h starts at h-1
  std::vector<float> post_re_, post_im_;  // real-split factors
  std::vector<float> re_, im_, out_re_, out_im_, padded_;
};

}  // namespace ser

#endif  // SER_FFT_H_
