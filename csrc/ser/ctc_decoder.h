// Streaming CTC best-path decoder: argmax per frame, merge repeats, drop the blank.
// Posteriors may arrive in chunks of any size; the result equals one pass over all frames
// (the previous frame's argmax carries over a chunk edge).
// Memory is bounded: once PopNewSpikes has returned a spike it is dropped (the last one is
// kept, as its run may still be open), so a stream that pops as it goes keeps O(1) spikes.
#ifndef SER_CTC_DECODER_H_
#define SER_CTC_DECODER_H_

#include <cstddef>
#include <cstdint>
#include <vector>

namespace ser {

// Argmax of one row; ties go to the lower index, a NaN wins (as numpy.argmax).
int ArgmaxRow(const float* row, int num_classes);

struct CtcDecoderOptions {
  int blank = 0;        // output index of the CTC blank (Null)
  int num_outputs = 5;  // columns per frame, blank included
};

// One decoded label: a run of frames whose argmax is the same non-blank output.
struct CtcSpike {
  int label = 0;        // output index (never the blank)
  int64_t start = 0;    // first frame of the run
  int64_t end = -1;     // one past the last frame of the run; -1 while the run is open
};

class OnlineCtcDecoder {
 public:
  // Throws std::invalid_argument on num_outputs < 2 or blank outside [0, num_outputs).
  explicit OnlineCtcDecoder(const CtcDecoderOptions& opts = CtcDecoderOptions());

  // post: num_frames rows of num_outputs probabilities, row-major.
  // Argmax ties go to the lower index; a NaN wins (as numpy.argmax).
  void AcceptPosteriors(const float* post, int num_frames);

  const CtcDecoderOptions& Options() const { return opts_; }
  int64_t NumFrames() const { return num_frames_; }
  // Decoded labels per output index (the blank entry stays 0).
  const std::vector<int64_t>& Counts() const { return counts_; }
  // Posteriors summed over frames per output index, in double.
  const std::vector<double>& PostSum() const { return post_sum_; }
  // The spikes kept: all of them if PopNewSpikes was never called, else the last one it
  // returned plus those it has not returned yet.
  const std::vector<CtcSpike>& Spikes() const { return spikes_; }
  // Argmax of the last frame seen; -1 before the first frame.
  int LastArgmax() const { return prev_; }

  // Spikes that started since the last call (ends as known now); drops the spikes
  // returned before, all but the last.
  std::vector<CtcSpike> PopNewSpikes();

  void Reset();

 private:
  void AcceptFrame(const float* row);

  CtcDecoderOptions opts_;
  int64_t num_frames_ = 0;
  int prev_ = -1;
  std::size_t popped_ = 0;  // spikes_[0, popped_) were handed out by PopNewSpikes (at most 1)
  std::vector<int64_t> counts_;
  std::vector<double> post_sum_;
  std::vector<CtcSpike> spikes_;
};

}  // namespace ser

#endif  // SER_CTC_DECODER_H_
