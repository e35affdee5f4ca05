// Real FFT of a fixed power-of-two size, no allocation after construction.
#ifndef SER_FFT_H_
#define SER_FFT_H_

#include <complex>
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

 private:
  void ComplexForward(std::complex<float>* a) const;  // size n/2, in place
  int n_;
  int half_;
  std::vector<int> bitrev_;
  std::vector<float> twr_, twi_;  // per-stage twiddles
  mutable std::vector<float> re_, im_;
  std::vector<std::complex<float>> post_;     // n/2 factors for the real split
  std::vector<std::complex<float>> work_;
  std::vector<float> padded_;
  std::vector<std::complex<float>> spec_;
};

}  // namespace ser

#endif  // SER_FFT_H_
