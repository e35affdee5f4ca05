// Per-stream CTC bookkeeping in one pass: softmax and argmax once per frame (ties go to the
// lower index, a NaN wins, as numpy.argmax), then
//   - the best-path statistics of the whole input (label counts, posterior sums, frames),
//   - spike events (a new non-blank run of the best path),
//   - segments: from the first active (non-Null) frame to the last; closed once
//     endpoint_frames Null frames follow, or when start + max_frames is reached (then ending
//     at its last active frame; the next segment starts at the next active frame).
//     With speech_segments, a segment is one run of frames flagged speech (closed at the first
//     non-speech frame or at max_frames); the spikes inside it give its label counts, and a
//     segment without any has all-zero counts (the caller's fallback decides it).
// Memory is bounded: O(num_classes) state, plus the events queued since the last Pop*().
#ifndef SER_SEGMENT_TRACKER_H_
#define SER_SEGMENT_TRACKER_H_

#include <cstddef>
#include <cstdint>
#include <vector>

namespace ser {

struct SegmentTrackerOptions {
  int num_classes = 5;          // outputs per frame, blank included
  int blank = 0;                // output index of the CTC blank (Null)
  int endpoint_frames = 50;     // Null run that closes a segment
  int64_t max_frames = 3000;    // longest segment
  bool spikes = true;           // queue spike events
  bool speech_segments = false; // segments are the speech regions given per frame, not spike spans
};

// Label counts (the blank entry stays 0), posterior sums and frame count of a best path.
struct PathStats {
  std::vector<int64_t> counts;
  std::vector<double> post_sum;
  int64_t num_frames = 0;
};

struct SpikeEvent {
  int label = 0;      // output index
  int64_t frame = 0;  // first frame of the run
};

struct SegmentEvent {
  int64_t start = 0;  // first active frame
  int64_t end = 0;    // one past the last active frame
  PathStats stats;    // over frames [start, end)
};

// Row softmax in double, written as float. in and out may alias.
template <typename T>
void SoftmaxRows(const T* in, float* out, int64_t num_rows, int num_classes);

class SegmentTracker {
 public:
  // Throws std::invalid_argument on bad options.
  explicit SegmentTracker(const SegmentTrackerOptions& opts = SegmentTrackerOptions());

  // logits: num_frames rows of num_classes; post_out (may be null) gets the posteriors.
  // speech (may be null = no speech): num_frames flags, 1 = speech; needed for speech_segments.
  void AcceptLogits(const float* logits, int64_t num_frames, float* post_out,
                    const uint8_t* speech = nullptr);
  // post: num_frames rows of num_classes probabilities.
  void AcceptPosteriors(const float* post, int64_t num_frames, const uint8_t* speech = nullptr);
  // End of input: queue the open segment, if any.
  void Close();
  void Reset();

  const SegmentTrackerOptions& Options() const { return opts_; }
  const PathStats& Total() const { return total_; }
  int64_t NumFrames() const { return total_.num_frames; }
  bool IsEndpoint() const;
  // First frame of the open segment, -1 if none.
  int64_t OpenStart() const { return start_; }
  // Frames of the open segment (through its last active frame).
  int64_t OpenFrames() const { return start_ < 0 ? 0 : last_end_ - start_; }
  // The oldest frame a future event may refer to: the open segment's last end, else now.
  int64_t OldestOpenFrame() const { return start_ < 0 ? total_.num_frames : last_end_; }
  int64_t NullRun() const { return null_run_; }
  // Frames flagged speech so far.
  int64_t NumSpeechFrames() const { return num_speech_; }

  std::vector<SpikeEvent> PopSpikes();
  std::vector<SegmentEvent> PopSegments();
  size_t NumQueued() const { return spikes_.size() + segments_.size(); }

  int64_t HeapBytes() const;  // beyond sizeof, queued events included

 private:
  void AcceptFrame(const float* row, bool speech);
  void Active(const float* row, int k, int64_t t);
  void SpeechFrame(const float* row, int k, int64_t t, bool speech);
  void CloseSegment();
  void Clear(PathStats& s) const;

  SegmentTrackerOptions opts_;
  PathStats total_;
  int prev_ = -1;              // argmax of the previous frame (whole input)
  // Open segment: stats through its last active frame, and running through all its frames.
  int64_t start_ = -1;
  int64_t last_end_ = 0;
  int seg_prev_ = -1;
  std::vector<double> seg_sum_all_;  // posterior sums including the trailing Null frames
  PathStats seg_;
  int64_t null_run_ = 0;       // Null frames since the last active frame
  bool seen_active_ = false;
  int64_t num_speech_ = 0;
  std::vector<SpikeEvent> spikes_;
  std::vector<SegmentEvent> segments_;
};

}  // namespace ser

#endif  // SER_SEGMENT_TRACKER_H_
