#include "ser/voicing.h"

#include <algorithm>
#include <cmath>
#include <iterator>

#include "ser/memory.h"
#include "ser/simd.h"

namespace ser {

namespace {

constexpr double kPowerFloor = 1e-20;
constexpr int kNumFormants = 3;  // formants reported (f1..f3)

// The outputs, in slot order: names, slots and sizes all come from this table.
enum Block {
  kLpc, kGain, kLsp, kF0, kF0Raw, kProb, kHnr, kJitter, kDdp, kShimmer, kH1H2, kH1A3,
  kFormAmp, kFormFreq, kFormBw, kIntensity, kNumBlocks
};
constexpr DescriptorBlock kBlocks[] = {
    {kLpc, "lpc_#", LpcAnalysis::kOrder, 0, 1},
    {kGain, "lp_gain", 1, 0},
    {kLsp, "lsp_#", LpcAnalysis::kLspOrder, 1, 0},
    {kF0, "f0_hz", 1, 1},
    {kF0Raw, "f0_raw_hz", 1, 1},
    {kProb, "voicing_prob", 1, 1},
    {kHnr, "log_hnr", 1, 1},
    {kJitter, "jitter_local", 1, 1},
    {kDdp, "jitter_ddp", 1, 1},
    {kShimmer, "shimmer_local", 1, 1},
    {kH1H2, "h1_h2", 1, 1},
    {kH1A3, "h1_a3", 1, 1},
    {kFormAmp, "f#_amplitude", kNumFormants, 1, 1},
    {kFormFreq, "f#_freq", kNumFormants, 1, 1},
    {kFormBw, "f#_bandwidth", kNumFormants, 1, 1},
    {kIntensity, "formant_intensity", 1, 0},
};
static_assert(IdsInOrder(kBlocks) && std::size(kBlocks) == kNumBlocks, "one row per Block, in order");
static_assert(TotalSize(kBlocks) == VoicingDescriptors::kDim, "VoicingDescriptors::kDim: outputs in the table");
static_assert(CountWithDeltas(kBlocks, 1) == VoicingDescriptors::kDimDelta &&
                  CountWithDeltas(kBlocks, 2) == VoicingDescriptors::kDimDeltaDelta,
              "VoicingDescriptors::kDimDelta / kDimDeltaDelta: outputs with first / second differences");
static_assert(SizeOf(kBlocks, kLpc) == 11 && SizeOf(kBlocks, kLsp) == 8 && SizeOf(kBlocks, kFormFreq) == 3,
              "block sizes of descriptor set ser-lld-1");
static_assert(kNumFormants <= FormantAnalysis::kMaxFormants, "more formants reported than found");

constexpr int kOutLpc = SlotOf(kBlocks, kLpc);
constexpr int kOutGain = SlotOf(kBlocks, kGain);
constexpr int kOutLsp = SlotOf(kBlocks, kLsp);
constexpr int kOutF0 = SlotOf(kBlocks, kF0);
constexpr int kOutF0Raw = SlotOf(kBlocks, kF0Raw);
constexpr int kOutProb = SlotOf(kBlocks, kProb);
constexpr int kOutHnr = SlotOf(kBlocks, kHnr);
constexpr int kOutJitter = SlotOf(kBlocks, kJitter);
constexpr int kOutDdp = SlotOf(kBlocks, kDdp);
constexpr int kOutShimmer = SlotOf(kBlocks, kShimmer);
constexpr int kOutH1H2 = SlotOf(kBlocks, kH1H2);
constexpr int kOutH1A3 = SlotOf(kBlocks, kH1A3);
constexpr int kOutFormAmp = SlotOf(kBlocks, kFormAmp);
constexpr int kOutFormFreq = SlotOf(kBlocks, kFormFreq);
constexpr int kOutFormBw = SlotOf(kBlocks, kFormBw);
constexpr int kOutIntensity = SlotOf(kBlocks, kIntensity);

float Db(double num, double den) {
  return static_cast<float>(10.0 * std::log10(std::max(num, kPowerFloor) / std::max(den, kPowerFloor)));
}

// Largest power bin within one bin of freq.
float HarmonicPower(const float* power, float freq) {
  if (!(freq > 0.0f)) return 0.0f;
  const int c = static_cast<int>(std::lround(freq / kBinHz));
  const int lo = std::clamp(c - 1, 1, kNumBins - 1), hi = std::clamp(c + 1, 1, kNumBins - 1);
  float best = 0.0f;
  for (int b = lo; b <= hi; ++b) best = std::max(best, power[b]);
  return best;
}

}  // namespace

const std::vector<DescriptorInfo>& VoicingDescriptors::Descriptors() {
  static const std::vector<DescriptorInfo> descriptors = ExpandDescriptors(kBlocks);
  return descriptors;
}

void VoicingDescriptors::Reset() { pitch_.Reset(); }

void VoicingDescriptors::Compute(const FrameData& frame, float* out) {
  std::fill(out, out + kDim, 0.0f);
  double a[LpcAnalysis::kOrder + 1], a8[LpcAnalysis::kLspOrder + 1];
  const double err = lpc_.Compute(frame.raw, a, a8);
  for (int k = 1; k <= LpcAnalysis::kOrder; ++k) out[kOutLpc + k - 1] = static_cast<float>(a[k]);
  out[kOutGain] = static_cast<float>(err / kFrameLength);
  lpc_.Lsp(a8, out + kOutLsp);

  const PitchEstimate pitch = pitch_.Compute(frame.pitch);
  out[kOutF0Raw] = pitch.f0_raw;
  out[kOutProb] = pitch.prob;
  pitch_.JitterShimmer(pitch, out + kOutJitter, out + kOutDdp, out + kOutShimmer);

  Formant formants[FormantAnalysis::kMaxFormants];
  const int nf = formants_.Compute(frame.power, formants);
  for (int i = 0; i < kNumFormants && i < nf; ++i) {
    out[kOutFormFreq + i] = formants[i].freq;
    out[kOutFormBw + i] = formants[i].bw;
  }

  if (pitch.voiced) {
    const float f0 = pitch.f0_raw;
    out[kOutF0] = f0;
    const double r = std::clamp(static_cast<double>(pitch.prob), 1e-4, 1.0 - 1e-4);
    out[kOutHnr] = static_cast<float>(10.0 * std::log10(r / (1.0 - r)));
    const float h1 = HarmonicPower(frame.power, f0);
    out[kOutH1H2] = Db(h1, HarmonicPower(frame.power, 2.0f * f0));
    for (int i = 0; i < kNumFormants && i < nf; ++i) {  // harmonic nearest each formant
      const float harmonic = std::max(1.0f, std::round(formants[i].freq / f0)) * f0;
      const float amp = HarmonicPower(frame.power, harmonic);
      out[kOutFormAmp + i] = Db(amp, h1);
      if (i == kNumFormants - 1) out[kOutH1A3] = Db(h1, amp);
    }
  }

  out[kOutIntensity] = static_cast<float>(simd::SumSquares(frame.windowed, kFrameLength) / kFrameLength);

  for (int i = 0; i < kDim; ++i)
    if (!std::isfinite(out[i])) out[i] = 0.0f;
}

int64_t VoicingDescriptors::HeapBytes() const { return lpc_.HeapBytes() + pitch_.HeapBytes(); }

}  // namespace ser
