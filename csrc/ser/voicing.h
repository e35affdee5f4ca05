// LPC, line spectral pairs, formants and voicing descriptors (F0, HNR, jitter, shimmer) of one frame.
#ifndef SER_VOICING_H_
#define SER_VOICING_H_

#include <vector>

#include "ser/frame.h"

namespace ser {

class VoicingDescriptors {
 public:
  VoicingDescriptors();
  static const std::vector<DescriptorInfo>& Descriptors();
  static int Dim() { return static_cast<int>(Descriptors().size()); }
  // Writes Dim() finite values. Keeps state across frames (previous periods for jitter/shimmer).
  void Compute(const FrameData& frame, float* out);
  void Reset();

 private:
  static constexpr int kLpcOrder = 11;
  static constexpr int kLspOrder = 8;
  static constexpr int kEnvPoints = 64;   // LPC envelope grid over (0, pi): root seeds
  static constexpr int kLspGrid = 128;    // LSP root search grid over [0, pi]
  static constexpr int kDecim = 4;        // pitch search runs at 4 kHz first
  static constexpr int kDecLen = kPitchLength / kDecim;
  static constexpr int kCoarseMinLag = 8;   // 500 Hz at 4 kHz
  static constexpr int kCoarseMaxLag = 73;  // ~55 Hz at 4 kHz
  static constexpr int kCoarseLags = 68;    // >= max - min + 1, multiple of 4
  static constexpr int kFineLags = 8;       // lags refined at 16 kHz
  static constexpr int kMaxPeriods = 24;
  static constexpr int kFormantBins = 177;  // bins 0..5500 Hz
  static constexpr int kFormantBinsPad = 184;  // multiple of 8, zero weights past kFormantBins

  struct Pitch {
    float f0_raw = 0.0f;  // Hz
    float period = 0.0f;  // samples at 16 kHz
    float prob = 0.0f;    // normalised autocorrelation at the period
    bool voiced = false;
  };
  struct Formant {
    float freq, bw;
  };

  // Fills lpc_ (order 11), lpc8_ (order 8), returns the prediction error power.
  double Lpc(const FrameData& frame);
  void Lsp(float* lsp) const;
  int Formants(const float* power, Formant* out);
  Pitch F0(const FrameData& frame);
  float FinePeriod(int center, float* prob);
  void JitterShimmer(const Pitch& pitch, float* jitter, float* ddp, float* shimmer);
  float HarmonicPower(const float* power, float freq) const;

  // Tables built once.
  std::vector<float> hamming_;    // kFrameLength
  std::vector<float> env_cos_;    // kLpcOrder x kEnvPoints
  std::vector<float> env_sin_;
  std::vector<float> formant_cos_;  // (kLpcOrder + 1) x kFormantBinsPad, lag-major
  std::vector<float> lsp_x_;      // cos of the LSP grid, kLspGrid + 1
  // Scratch (sized in the constructor, no allocation in Compute).
  std::vector<float> x_;          // pre-emphasised windowed frame + zero tail
  std::vector<float> pw_;         // mean-removed pitch window + zero tail
  std::vector<float> dec_;        // decimated pitch window + zero tail
  double lpc_[kLpcOrder + 1];
  double lpc8_[kLspOrder + 1];
  // Cross-frame state (causal).
  bool prev_voiced_ = false;
  float prev_period_ = 0.0f;     // last period of the previous voiced frame (samples)
  float prev_amp_ = 0.0f;        // its peak amplitude
};

}  // namespace ser

#endif  // SER_VOICING_H_
