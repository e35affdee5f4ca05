#include "ser/online_stream.h"

#include <stdexcept>

#include "ser/memory.h"

namespace ser {

OnlineStream::OnlineStream(const OnlineRecognizer& owner, const Normalizer& norm)
    : owner_(&owner),
      norm_(norm),
      detector_(owner.Options().speech),
      lstm_(owner.Lstm().NewState()),
      tracker_(owner.Options().tracker) {}

StreamMemory OnlineStream::Memory() const {
  StreamMemory m;
  m.features = static_cast<int64_t>(sizeof features_) + features_.HeapBytes();
  m.normalizer = static_cast<int64_t>(sizeof norm_) + norm_.HeapBytes();
  m.lstm = static_cast<int64_t>(sizeof lstm_) + lstm_.HeapBytes();
  m.tracker = static_cast<int64_t>(sizeof tracker_) + tracker_.HeapBytes();
  const size_t counted = sizeof features_ + sizeof norm_ + sizeof lstm_ + sizeof tracker_;
  m.other = static_cast<int64_t>(sizeof *this - counted) + HeapBytes(samples_, frames_, speech_, logits_, post_);
  return m;
}

void OnlineStream::AcceptWaveform(const float* samples, int64_t n) {
  if (finished_) throw std::invalid_argument("accept_waveform() after input_finished()");
  if (n <= 0) return;
  samples_.insert(samples_.end(), samples, samples + n);
  num_samples_ += n;
}

bool OnlineStream::IsReady() const {
  if (done_) return false;
  if (finished_) return true;
  return FinalFrames(num_samples_) > features_.NumFramesEmitted();
}

void OnlineStream::Reset(bool adaptation) {
  if (adaptation) norm_.Reset();
  features_.Reset();
  detector_.Reset();
  speech_.clear();
  speech_head_ = 0;
  owner_->Lstm().ResetState(&lstm_);
  tracker_.Reset();
  samples_.clear();
  samples_.shrink_to_fit();
  frames_.clear();
  logits_.clear();
  post_.clear();
  post_start_ = num_samples_ = 0;
  finished_ = finishing_ = done_ = false;
}

void OnlineStream::Prepare() {
  finishing_ = finished_;
  if (!samples_.empty()) {
    features_.AcceptWaveform(samples_.data(), static_cast<int64_t>(samples_.size()));
    samples_.clear();
    if (samples_.capacity() > (1u << 16)) samples_.shrink_to_fit();
  }
  if (finishing_) features_.InputFinished();
  frames_.clear();
  const int64_t n = features_.PopFrames(&frames_);
  const size_t old = speech_.size();
  speech_.resize(old + static_cast<size_t>(n));
  detector_.AcceptFrames(frames_.data(), n, FeatureDim(), speech_.data() + old);
  norm_.Process(frames_.data(), n, frames_.data());
}

void OnlineStream::Track() {
  const int c = tracker_.Options().num_classes;
  const int64_t n = static_cast<int64_t>(logits_.size()) / c;
  post_start_ = tracker_.NumFrames();
  post_.resize(owner_->Options().keep_posteriors ? static_cast<size_t>(n * c) : 0);
  if (speech_head_ + n > static_cast<int64_t>(speech_.size()))
    throw std::logic_error("OnlineStream: more BiLSTM outputs than analysed frames");
  tracker_.AcceptLogits(logits_.data(), n, post_.empty() ? nullptr : post_.data(), speech_.data() + speech_head_);
  speech_head_ += n;
  if (speech_head_ > 4096 && speech_head_ * 2 > static_cast<int64_t>(speech_.size())) {  // amortised compaction
    speech_.erase(speech_.begin(), speech_.begin() + speech_head_);
    speech_head_ = 0;
  }
  if (!finishing_) return;
  done_ = true;
  tracker_.Close();
}

OnlineRecognizer::OnlineRecognizer(const LcBlstmWeights& weights, const OnlineRecognizerOptions& opts)
    : opts_(opts), lstm_(weights, opts.chunking), norm_(opts.normalizer), pool_(opts.num_threads) {
  if (norm_.Dim() != FeatureDim() || weights.input_dim != FeatureDim())
    throw std::invalid_argument("OnlineRecognizer: the model's input size is not the feature size " +
                                std::to_string(FeatureDim()));
  if (opts.tracker.num_classes != weights.num_outputs)
    throw std::invalid_argument("OnlineRecognizer: the tracker's classes are not the model's outputs");
  SegmentTracker check(opts.tracker);  // validates the tracker options now
}

std::unique_ptr<OnlineStream> OnlineRecognizer::CreateStream() const {
  return std::unique_ptr<OnlineStream>(new OnlineStream(*this, norm_));
}

void OnlineRecognizer::DecodeStreams(OnlineStream* const* streams, int64_t n) {
  std::vector<OnlineStream*> work;
  for (int64_t i = 0; i < n; ++i) {
    OnlineStream* s = streams[i];
    if (!s || s->owner_ != this) throw std::invalid_argument("DecodeStreams: a stream of another recognizer");
    if (!s->done_) work.push_back(s);
  }
  const int64_t m = static_cast<int64_t>(work.size());
  pool_.ParallelFor(m, [&](int64_t i) { work[i]->Prepare(); });
  std::vector<LcBlstmInput> inputs(static_cast<size_t>(m));
  const int64_t d = FeatureDim();
  for (int64_t i = 0; i < m; ++i) {
    OnlineStream& s = *work[i];
    inputs[i] = {&s.lstm_, s.frames_.data(), static_cast<int64_t>(s.frames_.size()) / d, s.finishing_, &s.logits_};
  }
  lstm_.Step(inputs, &pool_);
  pool_.ParallelFor(m, [&](int64_t i) { work[i]->Track(); });
}

}  // namespace ser
