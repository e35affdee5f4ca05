// Linear prediction of one frame: autocorrelation of the pre-emphasised Hamming frame,
// Levinson-Durbin (dsp.h), and the line spectral frequencies of the order-8 predictor.
#ifndef SER_LPC_H_
#define SER_LPC_H_

#include <cstdint>
#include <vector>

#include "ser/frame.h"

namespace ser {

class LpcAnalysis {
 public:
  static constexpr int kOrder = 11;    // lpc_1..lpc_11
  static constexpr int kLspOrder = 8;  // lsp_0..lsp_7

  LpcAnalysis();
  // raw: kFrameLength samples. a[0..kOrder] receives A(z) = 1 + sum_k a[k] z^-k, a8[0..kLspOrder]
  // the order-8 step of the same recursion. Returns the prediction error power.
  double Compute(const float* raw, double* a, double* a8);
  // Line spectral frequencies (rad in (0, pi), ascending) of the order-kLspOrder predictor a8;
  // evenly spaced if it is degenerate.
  void Lsp(const double* a8, float* lsp) const;

  int64_t HeapBytes() const;  // beyond sizeof

 private:
  static constexpr int kLspGrid = 128;  // LSP root search grid over [0, pi]

  const float* hamming_;        // kFrameLength, shared (FrameHammingWindow)
  std::vector<float> lsp_x_;    // cos of the LSP grid, kLspGrid + 1
  std::vector<float> x_;        // scratch: pre-emphasised windowed frame + zero tail
};

}  // namespace ser

#endif  // SER_LPC_H_
