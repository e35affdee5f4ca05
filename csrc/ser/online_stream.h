// The recognizer core after sherpa-onnx's OnlineRecognizer / OnlineStream: one native object
// owns all of a stream's state (features, normalisation, LC-BLSTM state, CTC tracking and its
// queued events), and DecodeStreams advances many streams at once:
//   1. per stream, in the thread pool: queued samples -> descriptors and deltas -> speech flags
//      (SpeechDetector, on the raw descriptors) and normalised frames;
//   2. for all streams together: one input projection and one forward and one backward
//      recurrence (LcBlstm::Step);
//   3. per stream, in the thread pool: logits -> softmax, best path, spikes, segments.
// Audio arrives at 16 kHz (the Python face resamples). A stream is used by one thread at a time.
#ifndef SER_ONLINE_STREAM_H_
#define SER_ONLINE_STREAM_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "ser/lc_blstm.h"
#include "ser/normalizer.h"
#include "ser/online_features.h"
#include "ser/segment_tracker.h"
#include "ser/speech_detector.h"
#include "ser/thread_pool.h"

namespace ser {

struct OnlineRecognizerOptions {
  LcBlstmOptions chunking;
  SegmentTrackerOptions tracker;
  NormalizerOptions normalizer;
  SpeechDetectorOptions speech;
  bool keep_posteriors = false;  // keep each decode's frame posteriors for the caller
  int num_threads = 0;           // feature and recurrence threads; 0: one per core
};

class OnlineRecognizer;

// Bytes a stream holds, by owner (sizeof plus heap capacity; allocator overhead not counted).
struct StreamMemory {
  int64_t features = 0;    // OnlineFeatures: descriptor state, sample and delta buffers
  int64_t normalizer = 0;  // statistics in use (and the adaptation's running estimate)
  int64_t lstm = 0;        // LC-BLSTM (h, c) and its pending rows
  int64_t tracker = 0;     // segment tracker and queued events
  int64_t other = 0;       // the speech detector, queued samples, frames, flags, logits, posteriors
  int64_t Total() const { return features + normalizer + lstm + tracker + other; }
};

class OnlineStream {
 public:
  // Samples at kSampleRate in [-1, 1]; queued, and analysed by the next DecodeStreams.
  void AcceptWaveform(const float* samples, int64_t n);
  void InputFinished() { finished_ = true; }
  // True when DecodeStreams would move this stream on: new final frames, or the input ended.
  bool IsReady() const;
  bool IsFinished() const { return finished_; }
  bool IsDone() const { return done_; }
  int64_t NumSamples() const { return num_samples_; }
  // New input (same speaker: the adaptation carries on unless adaptation is true).
  void Reset(bool adaptation);

  SegmentTracker& Tracker() { return tracker_; }
  const SegmentTracker& Tracker() const { return tracker_; }
  const Normalizer& Norm() const { return norm_; }
  const LcBlstmState& LstmState() const { return lstm_; }
  int64_t FeatureHistoryFrames() const { return features_.HistoryFrames(); }
  int64_t QueuedSamples() const { return static_cast<int64_t>(samples_.size()); }
  // Speech flags of frames whose BiLSTM outputs are not final yet.
  int64_t QueuedSpeech() const { return static_cast<int64_t>(speech_.size()) - speech_head_; }
  // Posteriors of the frames the last decode finalised (keep_posteriors), from frame PosteriorsStart().
  const std::vector<float>& Posteriors() const { return post_; }
  int64_t PosteriorsStart() const { return post_start_; }
  // The normalised frames the last decode gave the LC-BLSTM, row-major (n, FeatureDim()).
  const std::vector<float>& LastFrames() const { return frames_; }
  // True if the last decode saw the end of input (the final events are queued).
  bool Finishing() const { return finishing_; }
  StreamMemory Memory() const;

 private:
  friend class OnlineRecognizer;
  OnlineStream(const OnlineRecognizer& owner, const Normalizer& norm);
  void Prepare();  // step 1
  void Track();    // step 3

  const OnlineRecognizer* owner_;
  OnlineFeatures features_;
  Normalizer norm_;
  SpeechDetector detector_;
  LcBlstmState lstm_;
  SegmentTracker tracker_;
  std::vector<float> samples_;  // accepted, not analysed yet
  std::vector<float> frames_;   // normalised frames for the next recurrence step
  std::vector<uint8_t> speech_; // speech flags from row speech_head_ on, for the tracker
  int64_t speech_head_ = 0;
  std::vector<float> logits_;
  std::vector<float> post_;
  int64_t post_start_ = 0;
  int64_t num_samples_ = 0;
  bool finished_ = false, finishing_ = false, done_ = false;
};

class OnlineRecognizer {
 public:
  // Throws std::invalid_argument on inconsistent weights or options.
  OnlineRecognizer(const LcBlstmWeights& weights, const OnlineRecognizerOptions& opts);

  std::unique_ptr<OnlineStream> CreateStream() const;
  // Advances the given streams (each at most once; done ones are skipped).
  void DecodeStreams(OnlineStream* const* streams, int64_t n);

  const OnlineRecognizerOptions& Options() const { return opts_; }
  const LcBlstm& Lstm() const { return lstm_; }
  int NumThreads() const { return pool_.NumThreads(); }

 private:
  OnlineRecognizerOptions opts_;
  LcBlstm lstm_;
  Normalizer norm_;  // fresh: copied into each new stream
  ThreadPool pool_;
};

}  // namespace ser

#endif  // SER_ONLINE_STREAM_H_
