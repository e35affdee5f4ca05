#include "ser/speech_detector.h"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <stdexcept>

#include "ser/online_lld.h"

namespace ser {

namespace {

int Column(const char* name) {
  const auto& d = LldDescriptors();
  for (size_t i = 0; i < d.size(); ++i)
    if (d[i].name == name) return static_cast<int>(i);
  throw std::logic_error(std::string("speech detector: no descriptor ") + name);
}

void Require(bool ok, const char* message) {
  if (!ok) throw std::invalid_argument(message);
}

}  // namespace

void SpeechDetectorOptions::Validate() const {
  Require(min_voicing >= 0.0f && min_voicing <= 1.0f, "min_voicing must lie in [0, 1]");
  Require(std::isfinite(snr) && snr >= 0.0f, "snr must be finite and at least 0");
  Require(std::isfinite(min_log_energy), "min_log_energy must be finite");
  Require(std::isfinite(floor_init), "floor_init must be finite");
  Require(std::isfinite(floor_rise) && floor_rise >= 0.0f, "floor_rise must be finite and at least 0");
  Require(steady_f0 >= 0.0f && steady_energy >= 0.0f, "steady_f0 and steady_energy must be at least 0");
  Require(steady_frames >= 1, "steady_frames must be at least 1");
  Require(onset_frames >= 1, "onset_frames must be at least 1");
  Require(hangover_frames >= 1, "hangover_frames must be at least 1");
}

std::string SpeechDetectorOptions::ToString() const {
  std::ostringstream os;
  os << "SpeechDetectorOptions(min_voicing=" << min_voicing << ", snr=" << snr
     << ", min_log_energy=" << min_log_energy << ", floor_init=" << floor_init
     << ", floor_rise=" << floor_rise << ", steady_f0=" << steady_f0
     << ", steady_energy=" << steady_energy << ", steady_frames=" << steady_frames
     << ", onset_frames=" << onset_frames << ", hangover_frames=" << hangover_frames << ")";
  return os.str();
}

SpeechDetector::SpeechDetector(const SpeechDetectorOptions& opts)
    : opts_(opts),
      col_energy_(Column("log_energy")),
      col_voicing_(Column("voicing_prob")),
      col_f0_(Column("f0_hz")) {
  opts_.Validate();
  Reset();
}

void SpeechDetector::Reset() {
  floor_ = opts_.floor_init;
  prev_energy_ = prev_f0_ = 0.0f;
  steady_run_ = run_ = 0;
  in_speech_ = false;
  num_frames_ = num_speech_ = 0;
}

void SpeechDetector::AcceptFrames(const float* frames, int64_t n, int stride, uint8_t* out) {
  if (stride < LldDim()) throw std::invalid_argument("speech detector: rows narrower than the descriptors");
  for (int64_t t = 0; t < n; ++t) {
    const bool speech = Decide(Candidate(frames + t * stride));
    out[t] = speech ? 1 : 0;
    num_speech_ += speech;
    ++num_frames_;
  }
}

bool SpeechDetector::Candidate(const float* row) {
  const float e = row[col_energy_];
  const float f0 = row[col_f0_];
  // The floor: down at once, up slowly (speech rarely stays loud for long).
  floor_ = std::isfinite(e) ? std::min(floor_ + opts_.floor_rise, e) : floor_;
  const bool steady = Steady(e, f0);
  const bool voiced = row[col_voicing_] >= opts_.min_voicing && f0 > 0.0f;
  const bool loud = e >= opts_.min_log_energy && e >= floor_ + opts_.snr;
  return voiced && loud && !steady;
}

bool SpeechDetector::Steady(float log_energy, float f0) {
  const bool same = f0 > 0.0f && prev_f0_ > 0.0f &&
                    std::fabs(std::log(f0 / prev_f0_)) < opts_.steady_f0 &&
                    std::fabs(log_energy - prev_energy_) < opts_.steady_energy;
  steady_run_ = same ? steady_run_ + 1 : 0;
  prev_f0_ = f0;
  prev_energy_ = log_energy;
  return steady_run_ >= opts_.steady_frames;
}

bool SpeechDetector::Decide(bool candidate) {
  if (in_speech_) {
    run_ = candidate ? 0 : run_ + 1;
    if (run_ >= opts_.hangover_frames) {
      in_speech_ = false;  // this frame is the hangover_frames-th gap frame: not speech
      run_ = 0;
    }
    return in_speech_;
  }
  run_ = candidate ? run_ + 1 : 0;
  if (run_ >= opts_.onset_frames) {
    in_speech_ = true;
    run_ = 0;
  }
  return in_speech_;
}

}  // namespace ser
