// One stream's feature front end: the base descriptors (OnlineLld) and their regression
// deltas, with the frame finality decided here: a frame is final once its delta lookahead
// (kDeltaLookahead frames) has been computed, or at the end of input.
// Output frames are LldDim() base values, then the first and the second differences.
#ifndef SER_ONLINE_FEATURES_H_
#define SER_ONLINE_FEATURES_H_

#include <cstdint>
#include <vector>

#include "ser/online_lld.h"

namespace ser {

// Columns of the full feature vector: base descriptors, their first differences, their
// second differences (for the descriptors with delta order 2).
struct FeatureLayout {
  int base = 0;
  std::vector<int64_t> d_cols;   // base columns with first differences
  std::vector<int64_t> dd_cols;  // positions into d_cols with second differences
  int Dim() const { return base + static_cast<int>(d_cols.size() + dd_cols.size()); }
};
const FeatureLayout& Features();
int FeatureDim();
// Frames OnlineFeatures has made final once num_samples samples have arrived and the input
// goes on: OnlineLld computes frame t once its pitch window is complete, the deltas need
// kDeltaLookahead more frames.
int64_t FinalFrames(int64_t num_samples);

class OnlineFeatures {
 public:
  OnlineFeatures() = default;
  // Samples at kSampleRate in [-1, 1]; computes the descriptors that become ready.
  void AcceptWaveform(const float* samples, int64_t n) { lld_.AcceptWaveform(samples, n); }
  void InputFinished() { lld_.InputFinished(); }
  bool IsFinished() const { return lld_.IsFinished(); }
  // Frames final now and not yet popped.
  int64_t NumFramesFinal() const;
  // Writes up to max_frames final frames (FeatureDim() floats each) to out; returns the count.
  int64_t PopFrames(float* out, int64_t max_frames);
  // Appends the final frames to out; returns their count.
  int64_t PopFrames(std::vector<float>* out);
  int64_t NumFramesEmitted() const { return emitted_; }
  // Base frames kept for the deltas (bounded: the lookahead plus what arrived since the last pop).
  int64_t HistoryFrames() const { return static_cast<int64_t>(hist_.size()) / Features().base; }
  void Reset();

  int64_t HeapBytes() const;  // beyond sizeof

 private:
  void Trim();

  OnlineLld lld_;
  std::vector<float> hist_;  // base frames from absolute index hist_start_
  int64_t hist_start_ = 0;
  int64_t emitted_ = 0;
};

}  // namespace ser

#endif  // SER_ONLINE_FEATURES_H_
