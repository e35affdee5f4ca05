// Energy, cepstral, auditory and spectral-shape descriptors of one frame.
#ifndef SER_SPECTRAL_H_
#define SER_SPECTRAL_H_

#include <vector>

#include "ser/descriptor.h"
#include "ser/frame.h"
#include "ser/simd.h"

namespace ser {

class SpectralDescriptors {
 public:
  // Outputs, and those with first and second differences (spectral.cc checks its table against these).
  static constexpr int kDim = 82;
  static constexpr int kDimDelta = 70;
  static constexpr int kDimDeltaDelta = 21;
  // Sizes of the band, cepstrum and chroma blocks.
  static constexpr int kNumBands = 26;  // auditory / mel bands
  static constexpr int kNumCeps = 15;   // MFCC c1..c15
  static constexpr int kPlpOrder = 5;
  static constexpr int kNumChroma = 12;

  SpectralDescriptors();
  static const std::vector<DescriptorInfo>& Descriptors();
  static int Dim() { return kDim; }
  // Writes Dim() finite values. Keeps state across frames (flux, RASTA filter).
  void Compute(const FrameData& frame, float* out);
  void Reset();

 private:
  static constexpr int kRastaTaps = 4;  // input history of the RASTA FIR part
  static constexpr int kLanes = simd::kLanes;  // independent partial sums, see simd.h
  static constexpr int kPaddedBins = kNumBins + kLanes;
  static constexpr int kChromaFirst = 2;   // first bin >= 55 Hz
  static constexpr int kChromaBins = 160;  // bins 2..161 (up to 5 kHz), multiple of kLanes

  // One triangular band: weights_[offset .. offset + count) apply to bins first.. .
  // count is padded to a multiple of kLanes with zero weights.
  struct Band {
    int first = 0;
    int count = 0;
    int offset = 0;
  };

  void PrepareSpectrum(const float* power);
  void ComputeTimeDomain(const float* raw, float* out) const;
  void ComputeBands();
  void ComputeMfcc(float* mfcc) const;
  void ComputeAuditory(float* out);
  void ComputePlp(float* plp) const;
  void ComputeShape(float* out) const;
  void ComputeHarmonicity(float* out) const;
  void ComputeFlux(float* flux);
  void ComputeChroma(float* chroma) const;

  // Read-only tables, built once and shared by every stream (about 13 kB each stream used to own).
  struct Tables {
    Band bands[kNumBands];
    std::vector<float> band_weights;      // triangular mel weights
    std::vector<float> band_weights_pre;  // same, times the pre-emphasis response
    float log_eql[kNumBands];             // ln of the equal-loudness weight per band
    float dct[kNumCeps][kNumBands];       // HTK DCT-II with liftering folded in
    float idft[kPlpOrder + 1][kNumBands + 2];
    float bin_hz[kNumBins];
    float chroma_weights[kNumChroma][kChromaBins];
  };
  static const Tables& SharedTables();
  static void InitFilterbank(Tables& t);
  static void InitTables(Tables& t);

  // Views of SharedTables().
  const Band* bands_;
  const float* band_weights_;
  const float* band_weights_pre_;
  const float* log_eql_;
  const float (*dct_)[kNumBands];
  const float (*idft_)[kNumBands + 2];
  const float* bin_hz_;
  const float (*chroma_weights_)[kChromaBins];

  // Per-frame scratch (no allocation in Compute).
  float clean_power_[kPaddedBins];  // power through simd::CleanPower (within [0, 1e30]), zero tail
  float log_power_[kNumBins];
  float magnitude_[kNumBins];
  float shape_sums_[4];             // sum P, sum f*P, sum P*lnP, sum lnP over bins 1..256
  float mel_log_[kNumBands];        // ln of pre-emphasised mel power (MFCC)
  float aud_log_[kNumBands];        // ln of plain mel power (auditory spectrum)
  float audspec_[kNumBands];        // compressed auditory spectrum

  // Streaming state.
  float prev_mag_[kNumBins];
  bool has_prev_ = false;
  float rasta_x_[kRastaTaps][kNumBands];  // previous inputs, newest first
  float rasta_y_[kNumBands];
  int rasta_frames_ = 0;
};

}  // namespace ser

#endif  // SER_SPECTRAL_H_
