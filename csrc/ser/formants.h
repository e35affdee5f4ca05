// Formant frequencies and bandwidths of one frame, as eGeMAPS finds them: the roots of an
// order-11 LPC fitted to the power spectrum below 5.5 kHz.
#ifndef SER_FORMANTS_H_
#define SER_FORMANTS_H_

#include <vector>

#include "ser/frame.h"

namespace ser {

struct Formant {
  float freq;  // Hz
  float bw;    // Hz
};

class FormantAnalysis {
 public:
  static constexpr int kOrder = 11;  // LPC order of the formant fit
  static constexpr int kMaxFormants = kOrder;

  FormantAnalysis();
  // power: kNumBins bins of the frame's power spectrum. Writes up to kMaxFormants formants
  // in (50, 5450) Hz, ascending in frequency; returns their count.
  int Compute(const float* power, Formant* out) const;

 private:
  static constexpr int kEnvPoints = 64;        // LPC envelope grid over (0, pi): root seeds
  static constexpr int kFormantBins = 177;     // bins 0..5500 Hz
  static constexpr int kFormantBinsPad = 184;  // multiple of 8, zero weights past kFormantBins

  // Read-only tables, built once and shared by every stream (14 kB that each stream used to own).
  struct Tables {
    std::vector<float> env_cos;      // kOrder x kEnvPoints
    std::vector<float> env_sin;
    std::vector<float> formant_cos;  // (kOrder + 1) x kFormantBinsPad, lag-major
  };
  static const Tables& SharedTables();

  const float* env_cos_;
  const float* env_sin_;
  const float* formant_cos_;
};

}  // namespace ser

#endif  // SER_FORMANTS_H_
