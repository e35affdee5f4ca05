// Causal voice-activity decision per 10 ms frame, from the base descriptors (OnlineLld rows).
//
// A frame is a speech candidate when it is voiced (voicing_prob and f0), its log energy stands
// snr above a running noise floor, and it is not part of a steady tone (f0 and energy almost
// unchanged for steady_frames). The floor follows the quietest frames: it drops at once to a
// lower energy and rises slowly, so the decision does not depend on the input gain.
// Speech starts on the onset_frames-th candidate in a row (shorter bursts are dropped; the
// first onset_frames - 1 frames of a region are not flagged: no lookahead) and ends after
// hangover_frames non-candidates (shorter gaps are bridged; the hangover frames are speech).
#ifndef SER_SPEECH_DETECTOR_H_
#define SER_SPEECH_DETECTOR_H_

#include <cstdint>
#include <string>

namespace ser {

struct SpeechDetectorOptions {
  float min_voicing = 0.5f;       // voicing_prob a candidate needs (and f0 > 0)
  float snr = 2.3f;               // log_energy (natural log) above the floor; 2.3 = 10 dB
  float min_log_energy = -13.8f;  // absolute minimum (digital silence, dither)
  float floor_init = -13.8f;      // noise floor before any frame
  float floor_rise = 0.005f;      // floor rise per frame (0.5 per s, about 2 dB/s)
  float steady_f0 = 0.002f;       // |change of log f0| per frame below this is steady...
  float steady_energy = 0.01f;    // ...with |change of log energy| below this
  int steady_frames = 3;          // a steady run this long is a tone (below onset_frames)
  int onset_frames = 5;           // candidates in a row that start speech
  int hangover_frames = 40;       // non-candidates in a row that end it

  // Throws std::invalid_argument with a one-line message.
  void Validate() const;
  std::string ToString() const;
};

class SpeechDetector {
 public:
  // Throws std::invalid_argument on bad options.
  explicit SpeechDetector(const SpeechDetectorOptions& opts = SpeechDetectorOptions());

  // frames: n rows of stride floats whose first LldDim() columns are the base descriptors.
  // out: n flags (1 = speech).
  void AcceptFrames(const float* frames, int64_t n, int stride, uint8_t* out);
  void Reset();

  const SpeechDetectorOptions& Options() const { return opts_; }
  int64_t NumFrames() const { return num_frames_; }
  int64_t NumSpeechFrames() const { return num_speech_; }
  bool InSpeech() const { return in_speech_; }
  float NoiseFloor() const { return floor_; }

 private:
  bool Candidate(const float* row);
  bool Steady(float log_energy, float f0);
  bool Decide(bool candidate);

  SpeechDetectorOptions opts_;
  int col_energy_, col_voicing_, col_f0_;
  float floor_ = 0.0f;
  float prev_energy_ = 0.0f, prev_f0_ = 0.0f;
  int steady_run_ = 0;
  int run_ = 0;  // candidates in a row (outside speech) or non-candidates in a row (inside)
  bool in_speech_ = false;
  int64_t num_frames_ = 0;
  int64_t num_speech_ = 0;
};

}  // namespace ser

#endif  // SER_SPEECH_DETECTOR_H_
