// A stream's input normalisation: y = (x - shift) * scale per column, with either the model's
// global statistics (fixed) or the causal per-stream adaptation of AdaptiveNorm.
#ifndef SER_NORMALIZER_H_
#define SER_NORMALIZER_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "ser/adaptive_norm.h"

namespace ser {

struct NormalizerOptions {
  bool adaptive = false;
  std::vector<float> mean;         // global statistics (both modes keep them)
  std::vector<float> std;          // > 0
  // adaptive only: the prior (speech-frame statistics), what adapts, and how.
  std::vector<float> speech_mean;
  std::vector<float> speech_var;
  std::vector<uint8_t> adapt;
  AdaptiveNormOptions adaptation;
};

class Normalizer {
 public:
  // Throws std::invalid_argument on inconsistent options.
  explicit Normalizer(const NormalizerOptions& opts);
  Normalizer(const Normalizer& other);
  Normalizer& operator=(const Normalizer&) = delete;

  // n frames, row-major (n, Dim()), in stream order; out may equal x.
  void Process(const float* x, int64_t n, float* out);
  // Back to the prior (a new speaker); no-op for global statistics.
  void Reset();
  int Dim() const { return static_cast<int>(shift_.size()); }
  bool IsAdaptive() const { return adaptive_ != nullptr; }
  int64_t SpeechFrames() const { return adaptive_ ? adaptive_->SpeechFrames() : 0; }

  int64_t HeapBytes() const;  // beyond sizeof

 private:
  std::vector<float> shift_, scale_;  // global statistics: scale = 1 / std
  std::unique_ptr<AdaptiveNorm> adaptive_;
};

}  // namespace ser

#endif  // SER_NORMALIZER_H_
