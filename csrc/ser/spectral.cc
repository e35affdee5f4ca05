#include "ser/spectral.h"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <string>

#include "ser/dsp.h"
#include "ser/simd.h"

namespace ser {
namespace {

using simd::BitsFloat;
using simd::CleanPower;
using simd::FastExp;
using simd::FastLog;
using simd::FastSqrt;
using simd::FloatBits;
using simd::LaneSum;
using simd::kLanes;

constexpr float kFloor = 1e-10f;      // power floor before logs
constexpr float kLogFloor = -23.02585093f;  // ln(kFloor)
constexpr float kLogCeil = 60.0f;     // keeps the RASTA state finite on absurd input
constexpr float kCompression = 0.33f;  // intensity-loudness power law
constexpr float kCepLifter = 22.0f;
constexpr float kMelLowHz = 20.0f;
constexpr float kMelHighHz = 8000.0f;
constexpr float kRastaPole = 0.94f;
constexpr int kFirstBin = 1;  // spectral-shape range: bins 1 .. kNumBins-1 (no DC)
constexpr int kShapeBins = kNumBins - kFirstBin;

// The outputs, in slot order: names, slots and sizes all come from this table.
enum Block {
  kPlp, kMfcc, kLogEnergy, kRms, kZcr, kLoudness, kRolloff, kFlux, kCentroid, kEntropy, kVariance,
  kSkewness, kKurtosis, kHarmonicity, kFlatness, kChroma, kBandEnergy, kSlope, kAlphaRatio,
  kHammarberg, kAudspecL1, kRastaL1, kRasta, kNumBlocks
};
constexpr int kNumRolloffs = 4;
constexpr const char* kRolloffNames[kNumRolloffs] = {"rolloff_25", "rolloff_50", "rolloff_75", "rolloff_90"};
constexpr const char* kBandEnergyNames[2] = {"band_energy_250_650", "band_energy_1000_4000"};
constexpr const char* kSlopeNames[2] = {"slope_0_500", "slope_500_1500"};
using S = SpectralDescriptors;
constexpr DescriptorBlock kBlocks[] = {
    {kPlp, "plp_#", S::kPlpOrder, 2, 1},
    {kMfcc, "mfcc_#", S::kNumCeps, 2, 1},
    {kLogEnergy, "log_energy", 1, 2},
    {kRms, "rms_energy", 1, 1},
    {kZcr, "zcr", 1, 1},
    {kLoudness, "loudness", 1, 1},
    {kRolloff, "rolloff", kNumRolloffs, 1, 0, kRolloffNames},
    {kFlux, "spectral_flux", 1, 1},
    {kCentroid, "spectral_centroid", 1, 1},
    {kEntropy, "spectral_entropy", 1, 1},
    {kVariance, "spectral_variance", 1, 1},
    {kSkewness, "spectral_skewness", 1, 1},
    {kKurtosis, "spectral_kurtosis", 1, 1},
    {kHarmonicity, "spectral_harmonicity", 1, 1},
    {kFlatness, "spectral_flatness", 1, 1},
    {kChroma, "chroma_#", S::kNumChroma, 0, 0},
    {kBandEnergy, "band_energy", 2, 1, 0, kBandEnergyNames},
    {kSlope, "slope", 2, 1, 0, kSlopeNames},
    {kAlphaRatio, "alpha_ratio", 1, 1},
    {kHammarberg, "hammarberg_index", 1, 1},
    {kAudspecL1, "audspec_l1norm", 1, 1},
    {kRastaL1, "audspec_rasta_l1norm", 1, 1},
    {kRasta, "audspec_rasta_#", S::kNumBands, 1, 0},
};
static_assert(IdsInOrder(kBlocks) && std::size(kBlocks) == kNumBlocks, "one row per Block, in order");
static_assert(TotalSize(kBlocks) == S::kDim, "SpectralDescriptors::kDim: outputs in the table");
static_assert(CountWithDeltas(kBlocks, 1) == S::kDimDelta && CountWithDeltas(kBlocks, 2) == S::kDimDeltaDelta,
              "SpectralDescriptors::kDimDelta / kDimDeltaDelta: outputs with first / second differences");
static_assert(SizeOf(kBlocks, kPlp) == 5 && SizeOf(kBlocks, kMfcc) == 15 && SizeOf(kBlocks, kChroma) == 12 &&
                  SizeOf(kBlocks, kRasta) == 26 && SizeOf(kBlocks, kRolloff) == 4,
              "block sizes of descriptor set ser-lld-1");

constexpr int kOutPlp = SlotOf(kBlocks, kPlp);
constexpr int kOutMfcc = SlotOf(kBlocks, kMfcc);
constexpr int kOutLogEnergy = SlotOf(kBlocks, kLogEnergy);
constexpr int kOutRms = SlotOf(kBlocks, kRms);
constexpr int kOutZcr = SlotOf(kBlocks, kZcr);
constexpr int kOutLoudness = SlotOf(kBlocks, kLoudness);
constexpr int kOutRolloff = SlotOf(kBlocks, kRolloff);
constexpr int kOutFlux = SlotOf(kBlocks, kFlux);
constexpr int kOutCentroid = SlotOf(kBlocks, kCentroid);
constexpr int kOutEntropy = SlotOf(kBlocks, kEntropy);
constexpr int kOutVariance = SlotOf(kBlocks, kVariance);
constexpr int kOutSkewness = SlotOf(kBlocks, kSkewness);
constexpr int kOutKurtosis = SlotOf(kBlocks, kKurtosis);
constexpr int kOutHarmonicity = SlotOf(kBlocks, kHarmonicity);
constexpr int kOutFlatness = SlotOf(kBlocks, kFlatness);
constexpr int kOutChroma = SlotOf(kBlocks, kChroma);
constexpr int kOutBandEnergy = SlotOf(kBlocks, kBandEnergy);
constexpr int kOutSlope = SlotOf(kBlocks, kSlope);
constexpr int kOutAlphaRatio = SlotOf(kBlocks, kAlphaRatio);
constexpr int kOutHammarberg = SlotOf(kBlocks, kHammarberg);
constexpr int kOutAudspecL1 = SlotOf(kBlocks, kAudspecL1);
constexpr int kOutRastaL1 = SlotOf(kBlocks, kRastaL1);
constexpr int kOutRasta = SlotOf(kBlocks, kRasta);

constexpr float kRolloffFractions[kNumRolloffs] = {0.25f, 0.50f, 0.75f, 0.90f};

float HzToMel(float hz) { return 1127.0f * std::log(1.0f + hz / 700.0f); }
float MelToHz(float mel) { return 700.0f * (std::exp(mel / 1127.0f) - 1.0f); }

int HzToBin(float hz) { return static_cast<int>(std::ceil(hz / kBinHz - 1e-4f)); }
int HzToLastBin(float hz) {
  int k = static_cast<int>(std::floor(hz / kBinHz + 1e-4f));
  return k < kNumBins - 1 ? k : kNumBins - 1;
}

// Hermansky (1990) equal-loudness curve, omega in rad/s.
double EqualLoudness(double hz) {
  const double w2 = (2.0 * kPi * hz) * (2.0 * kPi * hz);
  const double c = w2 + 6.3e6;
  return ((w2 + 56.8e6) * w2 * w2) / (c * c * (w2 + 0.38e9));
}

inline float Finite(float v) { return std::isfinite(v) ? v : 0.0f; }

// Fixed bin ranges of the band / slope / ratio descriptors.
struct BinRange {
  int first;
  int last;  // inclusive
};
const BinRange kBand250 = {HzToBin(250.0f), HzToLastBin(650.0f)};
const BinRange kBand1000 = {HzToBin(1000.0f), HzToLastBin(4000.0f)};
const BinRange kSlopes[2] = {{0, HzToLastBin(500.0f)}, {HzToBin(500.0f), HzToLastBin(1500.0f)}};
const BinRange kAlphaLow = {HzToBin(50.0f), HzToBin(1000.0f) - 1};
const BinRange kAlphaHigh = {HzToBin(1000.0f), HzToLastBin(5000.0f)};
const BinRange kHammLow = {1, HzToBin(2000.0f) - 1};
const BinRange kHammHigh = {HzToBin(2000.0f), HzToLastBin(5000.0f)};

// Sum of p[first..last] in kLanes partial sums.
float SumRange(const float* p, BinRange r) {
  float acc[kLanes] = {0};
  int k = r.first;
  for (; k + kLanes <= r.last + 1; k += kLanes)
    for (int j = 0; j < kLanes; ++j) acc[j] += p[k + j];
  float s = LaneSum(acc);
  for (; k <= r.last; ++k) s += p[k];
  return s;
}

// Max of clean (non-negative) powers: their bit patterns order like the values.
float MaxRange(const float* p, BinRange r) {
  int32_t m = 0;
  for (int k = r.first; k <= r.last; ++k) {
    const int32_t b = static_cast<int32_t>(FloatBits(p[k]));
    m = b > m ? b : m;
  }
  return BitsFloat(static_cast<uint32_t>(m));
}

// 10*log10(num/den) with both floored.
float DbRatio(float num, float den) {
  num = num > kFloor ? num : kFloor;
  den = den > kFloor ? den : kFloor;
  return 4.342944819f * (std::log(num) - std::log(den));
}

// Least-squares slope of dB power against frequency (dB/Hz) over a bin range.
float DbSlope(const float* log_power, BinRange r) {
  double sf = 0, sff = 0, sy = 0, sfy = 0;
  const int n = r.last - r.first + 1;
  for (int k = r.first; k <= r.last; ++k) {
    const double f = k * static_cast<double>(kBinHz);
    const double y = 4.342944819 * log_power[k];
    sf += f; sff += f * f; sy += y; sfy += f * y;
  }
  const double den = n * sff - sf * sf;
  return den > 0 ? static_cast<float>((n * sfy - sf * sy) / den) : 0.0f;
}

}  // namespace

const std::vector<DescriptorInfo>& SpectralDescriptors::Descriptors() {
  static const std::vector<DescriptorInfo> descriptors = ExpandDescriptors(kBlocks);
  return descriptors;
}

const SpectralDescriptors::Tables& SpectralDescriptors::SharedTables() {
  static const Tables tables = [] {
    Tables t;
    for (int k = 0; k < kNumBins; ++k) t.bin_hz[k] = k * kBinHz;
    InitFilterbank(t);
    InitTables(t);
    return t;
  }();
  return tables;
}

SpectralDescriptors::SpectralDescriptors() {
  const Tables& t = SharedTables();
  bands_ = t.bands;
  band_weights_ = t.band_weights.data();
  band_weights_pre_ = t.band_weights_pre.data();
  log_eql_ = t.log_eql;
  dct_ = t.dct;
  idft_ = t.idft;
  bin_hz_ = t.bin_hz;
  chroma_weights_ = t.chroma_weights;
  std::memset(clean_power_, 0, sizeof(clean_power_));
  Reset();
}

void SpectralDescriptors::Reset() {
  std::memset(prev_mag_, 0, sizeof(prev_mag_));
  has_prev_ = false;
  std::memset(rasta_x_, 0, sizeof(rasta_x_));
  std::memset(rasta_y_, 0, sizeof(rasta_y_));
  rasta_frames_ = 0;
}

// 26 HTK-style triangular mel bands between 20 Hz and 8 kHz, on bins 1..256.
void SpectralDescriptors::InitFilterbank(Tables& t) {
  const float mel_lo = HzToMel(kMelLowHz), mel_hi = HzToMel(kMelHighHz);
  const float step = (mel_hi - mel_lo) / (kNumBands + 1);
  t.band_weights.clear();
  t.band_weights_pre.clear();
  for (int b = 0; b < kNumBands; ++b) {
    const float left = mel_lo + b * step, centre = left + step, right = centre + step;
    Band& band = t.bands[b];
    band.first = -1;
    band.offset = static_cast<int>(t.band_weights.size());
    for (int k = 1; k < kNumBins; ++k) {
      const float m = HzToMel(t.bin_hz[k]);
      if (m <= left || m >= right) {
        if (band.first >= 0) break;
        continue;
      }
      if (band.first < 0) band.first = k;
      const float w = m < centre ? (m - left) / step : (right - m) / step;
      const double pre = PreEmphasisPowerGainAtBin(k, kFftSize);
      t.band_weights.push_back(w);
      t.band_weights_pre.push_back(static_cast<float>(w * pre));
    }
    if (band.first < 0) band.first = 1;  // cannot happen at 512 points; stay safe
    // Zero-pad to whole lanes; clean_power_ has kLanes spare zeros past the last bin.
    while ((t.band_weights.size() - band.offset) % kLanes != 0) {
      t.band_weights.push_back(0.0f);
      t.band_weights_pre.push_back(0.0f);
    }
    band.count = static_cast<int>(t.band_weights.size()) - band.offset;
    t.log_eql[b] = static_cast<float>(std::log(EqualLoudness(MelToHz(centre))));
  }
}

void SpectralDescriptors::InitTables(Tables& t) {
  // HTK DCT-II, sqrt(2/N) scaling, with the sinusoidal lifter folded in.
  const double scale = std::sqrt(2.0 / kNumBands);
  for (int i = 0; i < kNumCeps; ++i) {
    const int c = i + 1;
    const double lifter = 1.0 + 0.5 * kCepLifter * std::sin(kPi * c / kCepLifter);
    for (int j = 0; j < kNumBands; ++j)
      t.dct[i][j] = static_cast<float>(scale * lifter * std::cos(kPi * c * (j + 0.5) / kNumBands));
  }
  // Inverse DFT of the auditory spectrum to autocorrelation lags 0..order. The band
  // spectrum is extended with copies of its end bands as DC and Nyquist samples.
  const int n_freq = kNumBands + 2;
  for (int i = 0; i <= kPlpOrder; ++i)
    for (int m = 0; m < n_freq; ++m) {
      const double c = std::cos(kPi * i * m / (n_freq - 1));
      const double w = (m == 0 || m == n_freq - 1) ? 1.0 : 2.0;
      t.idft[i][m] = static_cast<float>(w * c / (2.0 * (n_freq - 1)));
    }
  // Chroma: bins 55 Hz..5 kHz, each split linearly between its two nearest pitch classes.
  std::memset(t.chroma_weights, 0, sizeof(t.chroma_weights));
  for (int i = 0; i < kChromaBins; ++i) {
    const float f = t.bin_hz[kChromaFirst + i];
    if (f < 55.0f || f > 5000.0f) continue;
    double pc = std::fmod(69.0 + 12.0 * std::log2(f / 440.0), 12.0);
    if (pc < 0) pc += 12.0;
    const int lower = static_cast<int>(std::floor(pc)) % kNumChroma;
    const double w = 1.0 - (pc - std::floor(pc));
    t.chroma_weights[lower][i] += static_cast<float>(w);
    t.chroma_weights[(lower + 1) % kNumChroma][i] += static_cast<float>(1.0 - w);
  }
}

void SpectralDescriptors::Compute(const FrameData& frame, float* out) {
  PrepareSpectrum(frame.power);
  ComputeTimeDomain(frame.raw, out);
  ComputeBands();
  ComputeMfcc(out + kOutMfcc);
  ComputeAuditory(out);
  ComputePlp(out + kOutPlp);
  ComputeShape(out);
  ComputeHarmonicity(out);
  ComputeFlux(out + kOutFlux);
  ComputeChroma(out + kOutChroma);
  for (int i = 0; i < kDim; ++i) out[i] = Finite(out[i]);
}

// Clean power, its log and magnitude per bin, and the plain sums over bins 1..256.
SER_MULTIVERSION void SpectralDescriptors::PrepareSpectrum(const float* power) {
  static_assert(kShapeBins % kLanes == 0, "bin count must be a multiple of kLanes");
  const float log_floor = kFloor * kFloor;
  for (int k = 0; k < kNumBins; ++k) clean_power_[k] = CleanPower(power[k]);
  for (int k = 0; k < kNumBins; ++k) log_power_[k] = FastLog(clean_power_[k], log_floor);
  for (int k = 0; k < kNumBins; ++k) magnitude_[k] = FastSqrt(clean_power_[k]);
  float s[kLanes] = {0}, sf[kLanes] = {0}, splp[kLanes] = {0}, slp[kLanes] = {0};
  for (int i = kFirstBin; i < kNumBins; i += kLanes)
    for (int j = 0; j < kLanes; ++j) {
      const int k = i + j;
      const float v = clean_power_[k];
      s[j] += v;
      sf[j] += v * bin_hz_[k];
      splp[j] += v * log_power_[k];
      slp[j] += log_power_[k];
    }
  shape_sums_[0] = LaneSum(s);
  shape_sums_[1] = LaneSum(sf);
  shape_sums_[2] = LaneSum(splp);
  shape_sums_[3] = LaneSum(slp);
}

SER_MULTIVERSION void SpectralDescriptors::ComputeTimeDomain(const float* raw, float* out) const {
  static_assert(kFrameLength % kLanes == 0, "frame length must be a multiple of kLanes");
  float acc[kLanes] = {0};
  int cross[kLanes] = {0};
  for (int i = 0; i < kFrameLength; i += kLanes)
    for (int j = 0; j < kLanes; ++j) acc[j] += raw[i + j] * raw[i + j];
  for (int i = 0; i + kLanes < kFrameLength; i += kLanes)
    for (int j = 0; j < kLanes; ++j) cross[j] += (raw[i + j] < 0.0f) != (raw[i + j + 1] < 0.0f);
  int crossings = 0;
  for (int j = 0; j < kLanes; ++j) crossings += cross[j];
  for (int i = kFrameLength - kLanes; i < kFrameLength - 1; ++i)
    crossings += (raw[i] < 0.0f) != (raw[i + 1] < 0.0f);
  const float energy = LaneSum(acc);
  out[kOutLogEnergy] = std::log(energy > kFloor ? energy : kFloor);
  out[kOutRms] = std::sqrt(energy / kFrameLength);
  out[kOutZcr] = static_cast<float>(crossings) / kFrameLength;
}

// Mel band powers, with and without pre-emphasis, in the log domain.
SER_MULTIVERSION void SpectralDescriptors::ComputeBands() {
  float plain[kNumBands], pre[kNumBands];
  for (int b = 0; b < kNumBands; ++b) {
    const Band& band = bands_[b];
    const float* p = clean_power_ + band.first;
    const float* w = band_weights_ + band.offset;
    const float* wp = band_weights_pre_ + band.offset;
    float a[kLanes] = {0}, c[kLanes] = {0};
    for (int k = 0; k < band.count; k += kLanes)
      for (int j = 0; j < kLanes; ++j) {
        a[j] += w[k + j] * p[k + j];
        c[j] += wp[k + j] * p[k + j];
      }
    plain[b] = CleanPower(LaneSum(a));
    pre[b] = CleanPower(LaneSum(c));
  }
  // Clean powers are <= 1e30, so the logs stay below ~69.
  for (int b = 0; b < kNumBands; ++b) aud_log_[b] = FastLog(plain[b], kFloor);
  for (int b = 0; b < kNumBands; ++b) mel_log_[b] = FastLog(pre[b], kFloor);
}

SER_MULTIVERSION void SpectralDescriptors::ComputeMfcc(float* mfcc) const {
  for (int i = 0; i < kNumCeps; ++i) {
    float c = 0.0f;
    for (int j = 0; j < kNumBands; ++j) c += dct_[i][j] * mel_log_[j];
    mfcc[i] = c;
  }
}

// Auditory spectrum (equal loudness, power 0.33), its RASTA-filtered version and L1 norms.
SER_MULTIVERSION void SpectralDescriptors::ComputeAuditory(float* out) {
  // H(z) = 0.1 (2 + z^-1 - z^-3 - 2 z^-4) / (1 - 0.94 z^-1). The output stays 0 until
  // the FIR history is full, which avoids a start-up transient (as openSMILE does).
  const float gate = rasta_frames_ >= kRastaTaps ? 1.0f : 0.0f;
  float* x1 = rasta_x_[0];
  float* x2 = rasta_x_[1];
  float* x3 = rasta_x_[2];
  float* x4 = rasta_x_[3];
  float* rasta = out + kOutRasta;
  for (int b = 0; b < kNumBands; ++b) {
    const float x = aud_log_[b];
    const float y = gate * (0.2f * x + 0.1f * x1[b] - 0.1f * x3[b] - 0.2f * x4[b] +
                            kRastaPole * rasta_y_[b]);
    rasta_y_[b] = y;
    x4[b] = x3[b]; x3[b] = x2[b]; x2[b] = x1[b]; x1[b] = x;
    rasta[b] = kCompression * (y + log_eql_[b]);
    audspec_[b] = kCompression * (x + log_eql_[b]);
  }
  if (rasta_frames_ < kRastaTaps) ++rasta_frames_;
  float aud_sum = 0.0f, rasta_sum = 0.0f;
  for (int b = 0; b < kNumBands; ++b) {
    audspec_[b] = FastExp(audspec_[b]);
    rasta[b] = FastExp(rasta[b]);
  }
  for (int b = 0; b < kNumBands; ++b) {
    aud_sum += audspec_[b];
    rasta_sum += rasta[b];
  }
  out[kOutLoudness] = aud_sum;
  out[kOutAudspecL1] = aud_sum;
  out[kOutRastaL1] = rasta_sum;
}

// PLP: auditory spectrum -> autocorrelation -> order-5 LPC (Levinson) -> cepstrum c1..c5.
void SpectralDescriptors::ComputePlp(float* plp) const {
  double r[kPlpOrder + 1];
  for (int i = 0; i <= kPlpOrder; ++i) {
    const float* c = idft_[i];
    float s = c[0] * audspec_[0] + c[kNumBands + 1] * audspec_[kNumBands - 1];
    for (int b = 0; b < kNumBands; ++b) s += c[b + 1] * audspec_[b];
    r[i] = s;
  }
  for (int i = 0; i < kPlpOrder; ++i) plp[i] = 0.0f;
  if (!(r[0] > 1e-20) || !std::isfinite(r[0])) return;
  double a[kPlpOrder + 1];  // A(z) = 1 + sum a_k z^-k
  LevinsonDurbin(r, kPlpOrder, a);
  // Cepstrum of 1/A(z): c_n = -a_n - sum_{k<n} (k/n) c_k a_{n-k}.
  double c[kPlpOrder + 1] = {0.0};
  for (int n = 1; n <= kPlpOrder; ++n) {
    double s = -a[n];
    for (int k = 1; k < n; ++k) s -= (static_cast<double>(k) / n) * c[k] * a[n - k];
    c[n] = s;
    plp[n - 1] = static_cast<float>(s);
  }
}

// Energy distribution descriptors on the power spectrum (cSpectral-like), bins 1..256.
SER_MULTIVERSION void SpectralDescriptors::ComputeShape(float* out) const {
  const float* p = clean_power_ + kFirstBin;
  const float* f = bin_hz_ + kFirstBin;
  const float sum = shape_sums_[0];
  const bool silent = !(sum > 1e-20f) || !std::isfinite(sum);

  // Roll-off points: find the 8-bin block first, then the bin.
  for (int i = 0; i < 4; ++i) out[kOutRolloff + i] = 0.0f;
  if (!silent) {
    float block[kShapeBins / kLanes];
    for (int i = 0; i < kShapeBins / kLanes; ++i) {
      float s = 0.0f;
      for (int j = 0; j < kLanes; ++j) s += p[i * kLanes + j];
      block[i] = s;
    }
    float cum = 0.0f;
    int next = 0;
    for (int i = 0; i < kShapeBins / kLanes && next < 4; ++i) {
      if (cum + block[i] < kRolloffFractions[next] * sum && i + 1 < kShapeBins / kLanes) {
        cum += block[i];
        continue;
      }
      for (int j = 0; j < kLanes && next < 4; ++j) {
        const int k = i * kLanes + j;
        cum += p[k];
        while (next < 4 && (cum >= kRolloffFractions[next] * sum || k == kShapeBins - 1))
          out[kOutRolloff + next++] = f[k];
      }
    }
  }

  // Centroid and central moments over frequency; entropy; flatness.
  float centroid = 0.0f, variance = 0.0f, skewness = 0.0f, kurtosis = 0.0f;
  float entropy = 0.0f, flatness = 0.0f;
  if (!silent) {
    const float u = shape_sums_[1] / sum;
    float m2[kLanes] = {0}, m3[kLanes] = {0}, m4[kLanes] = {0};
    for (int i = 0; i < kShapeBins; i += kLanes)
      for (int j = 0; j < kLanes; ++j) {
        const float d = f[i + j] - u;
        const float w = p[i + j] * d * d;
        m2[j] += w;
        m3[j] += w * d;
        m4[j] += w * d * d;
      }
    const double var = LaneSum(m2) / static_cast<double>(sum);
    centroid = u;
    variance = static_cast<float>(var);
    if (var > 0.0) {
      skewness = static_cast<float>(LaneSum(m3) / (sum * var * std::sqrt(var)));
      kurtosis = static_cast<float>(LaneSum(m4) / (sum * var * var));
    }
    // Entropy (bits) of P_k / sum: ln(sum) - sum(P ln P) / sum.
    entropy = (std::log(sum) - shape_sums_[2] / sum) * 1.44269504f;
    // Flatness: geometric over arithmetic mean.
    flatness = std::exp(shape_sums_[3] / kShapeBins) / (sum / kShapeBins);
  }
  out[kOutCentroid] = centroid;
  out[kOutEntropy] = entropy;
  out[kOutVariance] = variance;
  out[kOutSkewness] = skewness;
  out[kOutKurtosis] = kurtosis;
  out[kOutFlatness] = flatness;

  // Band energies (mean power per spectral bin), slopes and ratios.
  out[kOutBandEnergy] = SumRange(clean_power_, kBand250) / kShapeBins;
  out[kOutBandEnergy + 1] = SumRange(clean_power_, kBand1000) / kShapeBins;
  out[kOutSlope] = DbSlope(log_power_, kSlopes[0]);
  out[kOutSlope + 1] = DbSlope(log_power_, kSlopes[1]);
  out[kOutAlphaRatio] =
      DbRatio(SumRange(clean_power_, kAlphaHigh), SumRange(clean_power_, kAlphaLow));
  out[kOutHammarberg] =
      DbRatio(MaxRange(clean_power_, kHammLow), MaxRange(clean_power_, kHammHigh));
}

// Harmonicity (cSpectral): summed excursion between consecutive local extrema (over two
// neighbours each side), halved, per bin. Flags first, then a branch-free compaction.
SER_MULTIVERSION void SpectralDescriptors::ComputeHarmonicity(float* out) const {
  const float* p = clean_power_ + kFirstBin;
  int ext[kShapeBins];
  for (int k = 2; k < kShapeBins - 2; ++k) {
    const float v = p[k];
    const int peak = (p[k - 2] < v) & (p[k - 1] < v) & (v > p[k + 1]) & (v > p[k + 2]);
    const int valley = (p[k - 2] > v) & (p[k - 1] > v) & (v < p[k + 1]) & (v < p[k + 2]);
    ext[k] = peak | valley;
  }
  int idx[kShapeBins];
  int n = 0;
  for (int k = 2; k < kShapeBins - 2; ++k) {
    idx[n] = k;
    n += ext[k];
  }
  float ptp = 0.0f;
  for (int i = 1; i < n; ++i) ptp += std::fabs(p[idx[i]] - p[idx[i - 1]]);
  out[kOutHarmonicity] = 0.5f * ptp / kShapeBins;
}

// Flux: L2 distance between L1-normalised magnitude spectra of consecutive frames.
SER_MULTIVERSION void SpectralDescriptors::ComputeFlux(float* flux) {
  // Root-mean-square change of the magnitude spectrum, as openSMILE's cSpectral (unnormalised).
  const float* m = magnitude_ + kFirstBin;
  float d2[kLanes] = {0};
  for (int i = 0; i < kShapeBins; i += kLanes)
    for (int j = 0; j < kLanes; ++j) {
      const float d = m[i + j] - prev_mag_[i + j];
      d2[j] += d * d;
      prev_mag_[i + j] = m[i + j];
    }
  *flux = has_prev_ ? std::sqrt(LaneSum(d2) / kShapeBins) : 0.0f;
  has_prev_ = true;
}

// Pitch-class profile of bins 55 Hz..5 kHz, normalised to sum 1 (0 when silent).
SER_MULTIVERSION void SpectralDescriptors::ComputeChroma(float* chroma) const {
  static_assert(kChromaBins % kLanes == 0, "chroma bins must be a multiple of kLanes");
  const float* p = clean_power_ + kChromaFirst;
  float total = 0.0f;
  for (int c = 0; c < kNumChroma; ++c) {
    const float* w = chroma_weights_[c];
    float acc[kLanes] = {0};
    for (int i = 0; i < kChromaBins; i += kLanes)
      for (int j = 0; j < kLanes; ++j) acc[j] += w[i + j] * p[i + j];
    chroma[c] = LaneSum(acc);
    total += chroma[c];
  }
  const float inv = (total > 1e-10f && std::isfinite(total)) ? 1.0f / total : 0.0f;
  for (int c = 0; c < kNumChroma; ++c) chroma[c] *= inv;
}

}  // namespace ser
