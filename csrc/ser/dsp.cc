#include "ser/dsp.h"

#include <cmath>

#include "ser/frame.h"

namespace ser {

std::vector<float> HammingWindow(int n) {
  std::vector<float> w(n);
  for (int i = 0; i < n; ++i) w[i] = static_cast<float>(0.54 - 0.46 * std::cos(2.0 * kPi * i / (n - 1)));
  return w;
}

const float* FrameHammingWindow() {
  static const std::vector<float> window = HammingWindow(kFrameLength);
  return window.data();
}

}  // namespace ser
