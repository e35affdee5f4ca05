// Real FFT of a fixed power-of-two size. The twiddle tables are built once per size and shared
// by every instance; the work arrays belong to the calling thread. An instance holds no
// per-call state, so a stream's RealFft costs a pointer.
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

  struct Tables {
    std::vector<int> bitrev;
    std::vector<float> twr, twi;          // stage twiddles; stage of half-length h starts at h-1
    std::vector<float> post_re, post_im;  // real-split factors
  };
  struct Work;  // the calling thread's arrays (fft.cc)

 private:
  static const Tables& SharedTables(int n);
  void Transform(const float* in, Work& w) const;  // fills w.out_re, w.out_im
  void Butterflies(float* re, float* im) const;    // radix-2 stages, in place

  int n_;
  int half_;
  const Tables* t_;  // SharedTables(n_)
};

}  // namespace ser

#endif  // SER_FFT_H_
