// Causal per-stream feature normalisation: running speech statistics that start from a prior.
//
// Every frame is normalised as y = (x - m) / sqrt(v). The prior (mean, var) comes from the
// model's training data. Speech frames (x[gate_column] > gate_threshold) update the stream's
// running estimate
//   a = max(1 / (prior_frames + n), 1 / tau_frames)        n = speech frames seen, this one included
//   mean += a (x - mean);  var += a ((x - mean)^2 - var)
// so that the prior counts as prior_frames frames of speech, and after that the estimate forgets
// with time constant tau_frames. The statistics used are prior + weight * (estimate - prior):
// weight < 1 bounds how far a stream (say, a long angry call) can move them. Columns outside the
// adapt mask always use the prior; with adapt_scale false only the means adapt.
#ifndef SER_ADAPTIVE_NORM_H_
#define SER_ADAPTIVE_NORM_H_

#include <cstdint>
#include <vector>

namespace ser {

struct AdaptiveNormOptions {
  int gate_column = -1;        // -1: every frame is speech
  float gate_threshold = 0.0f;
  float tau_frames = 3000.0f;  // forgetting time constant, speech frames (>= 1)
  float prior_frames = 300.0f; // weight of the prior, speech frames (>= 0)
  float weight = 1.0f;         // share of the stream estimate, 0..1 (0: global statistics)
  bool adapt_scale = true;     // adapt the variance as well as the mean
};

class AdaptiveNorm {
 public:
  // mean, var and adapt have dim entries; var > 0. Throws std::invalid_argument.
  AdaptiveNorm(const AdaptiveNormOptions& opts, std::vector<float> mean, std::vector<float> var,
               std::vector<uint8_t> adapt);

  // Normalises n frames, row-major (n, dim), in order; out may equal x.
  void Process(const float* x, int64_t n, float* out);
  // Back to the prior (a new speaker).
  void Reset();

  int Dim() const { return static_cast<int>(prior_mean_.size()); }
  int64_t SpeechFrames() const { return speech_frames_; }
  const std::vector<double>& Mean() const { return mean_; }
  const std::vector<double>& Var() const { return var_; }
  const AdaptiveNormOptions& Options() const { return opts_; }

  int64_t HeapBytes() const;  // beyond sizeof

 private:
  void Update(const float* x);

  AdaptiveNormOptions opts_;
  std::vector<float> prior_mean_, prior_var_;
  std::vector<uint8_t> adapt_;
  std::vector<double> mean_, var_;
  std::vector<float> shift_, scale_;  // statistics in use: y = (x - shift) * scale
  int64_t speech_frames_ = 0;
};

}  // namespace ser

#endif  // SER_ADAPTIVE_NORM_H_
