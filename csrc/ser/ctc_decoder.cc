#include "ser/ctc_decoder.h"

#include <cmath>
#include <stdexcept>

namespace ser {

OnlineCtcDecoder::OnlineCtcDecoder(const CtcDecoderOptions& opts) : opts_(opts) {
  if (opts_.num_outputs < 2) throw std::invalid_argument("num_outputs must be at least 2");
  if (opts_.blank < 0 || opts_.blank >= opts_.num_outputs)
    throw std::invalid_argument("blank must lie in [0, num_outputs)");
  Reset();
}

void OnlineCtcDecoder::Reset() {
  num_frames_ = 0;
  prev_ = -1;
  popped_ = 0;
  counts_.assign(opts_.num_outputs, 0);
  post_sum_.assign(opts_.num_outputs, 0.0);
  spikes_.clear();
}

int ArgmaxRow(const float* row, int num_classes) {
  int best = 0;
  for (int c = 0; c < num_classes; ++c) {
    if (std::isnan(row[c])) return c;
    if (row[c] > row[best]) best = c;
  }
  return best;
}

void OnlineCtcDecoder::AcceptFrame(const float* row) {
  for (int c = 0; c < opts_.num_outputs; ++c) post_sum_[c] += row[c];
  const int k = ArgmaxRow(row, opts_.num_outputs);
  if (k != prev_) {
    // The open run (if any) ends here; a new non-blank run is a new label.
    if (!spikes_.empty() && spikes_.back().end < 0) spikes_.back().end = num_frames_;
    if (k != opts_.blank) {
      spikes_.push_back(CtcSpike{k, num_frames_, -1});
      ++counts_[k];
    }
    prev_ = k;
  }
  ++num_frames_;
}

void OnlineCtcDecoder::AcceptPosteriors(const float* post, int num_frames) {
  for (int t = 0; t < num_frames; ++t) AcceptFrame(post + static_cast<int64_t>(t) * opts_.num_outputs);
}

std::vector<CtcSpike> OnlineCtcDecoder::PopNewSpikes() {
  std::vector<CtcSpike> out(spikes_.begin() + popped_, spikes_.end());
  // Keep only the last spike: AcceptFrame may still have to close its run.
  if (spikes_.size() > 1) spikes_.erase(spikes_.begin(), spikes_.end() - 1);
  popped_ = spikes_.size();
  return out;
}

}  // namespace ser
