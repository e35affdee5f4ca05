#include "ser/segment_tracker.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "ser/memory.h"

namespace ser {

namespace {

// Argmax of one row; ties go to the lower index, a NaN wins (as numpy.argmax).
int ArgmaxRow(const float* row, int num_classes) {
  int best = 0;
  for (int c = 0; c < num_classes; ++c) {
    if (std::isnan(row[c])) return c;
    if (row[c] > row[best]) best = c;
  }
  return best;
}

}  // namespace

template <typename T>
void SoftmaxRows(const T* in, float* out, int64_t num_rows, int num_classes) {
  std::vector<double> z(num_classes);
  for (int64_t t = 0; t < num_rows; ++t) {
    const T* row = in + t * num_classes;
    double top = row[0];
    for (int c = 1; c < num_classes; ++c) top = std::max(top, static_cast<double>(row[c]));
    double sum = 0.0;
    for (int c = 0; c < num_classes; ++c) {
      z[c] = std::exp(static_cast<double>(row[c]) - top);
      sum += z[c];
    }
    float* dst = out + t * num_classes;
    for (int c = 0; c < num_classes; ++c) dst[c] = static_cast<float>(z[c] / sum);
  }
}

template void SoftmaxRows<float>(const float*, float*, int64_t, int);
template void SoftmaxRows<double>(const double*, float*, int64_t, int);

SegmentTracker::SegmentTracker(const SegmentTrackerOptions& opts) : opts_(opts) {
  if (opts_.num_classes < 2) throw std::invalid_argument("num_classes must be at least 2");
  if (opts_.blank < 0 || opts_.blank >= opts_.num_classes)
    throw std::invalid_argument("blank must lie in [0, num_classes)");
  if (opts_.endpoint_frames < 1) throw std::invalid_argument("endpoint_frames must be at least 1");
  if (opts_.max_frames < 1) throw std::invalid_argument("max_frames must be at least 1");
  Reset();
}

void SegmentTracker::Clear(PathStats& s) const {
  s.counts.assign(opts_.num_classes, 0);
  s.post_sum.assign(opts_.num_classes, 0.0);
  s.num_frames = 0;
}

void SegmentTracker::Reset() {
  Clear(total_);
  Clear(seg_);
  seg_sum_all_.assign(opts_.num_classes, 0.0);
  prev_ = seg_prev_ = -1;
  start_ = -1;
  last_end_ = 0;
  null_run_ = 0;
  seen_active_ = false;
  num_speech_ = 0;
  spikes_.clear();
  segments_.clear();
}

void SegmentTracker::AcceptLogits(const float* logits, int64_t num_frames, float* post_out,
                                  const uint8_t* speech) {
  std::vector<float> row(opts_.num_classes);
  for (int64_t t = 0; t < num_frames; ++t) {
    SoftmaxRows(logits + t * opts_.num_classes, row.data(), 1, opts_.num_classes);
    if (post_out) std::copy(row.begin(), row.end(), post_out + t * opts_.num_classes);
    AcceptFrame(row.data(), speech && speech[t]);
  }
}

void SegmentTracker::AcceptPosteriors(const float* post, int64_t num_frames, const uint8_t* speech) {
  for (int64_t t = 0; t < num_frames; ++t) AcceptFrame(post + t * opts_.num_classes, speech && speech[t]);
}

void SegmentTracker::AcceptFrame(const float* row, bool speech) {
  const int k = ArgmaxRow(row, opts_.num_classes);
  const int64_t t = total_.num_frames;
  // The whole input: a new non-blank run is a label (and a spike).
  for (int c = 0; c < opts_.num_classes; ++c) total_.post_sum[c] += row[c];
  if (k != prev_ && k != opts_.blank) {
    ++total_.counts[k];
    if (opts_.spikes) spikes_.push_back(SpikeEvent{k, t});
  }
  prev_ = k;
  ++total_.num_frames;
  num_speech_ += speech;

  if (opts_.speech_segments) {
    SpeechFrame(row, k, t, speech);
    return;
  }
  if (k != opts_.blank) {
    Active(row, k, t);
    return;
  }
  ++null_run_;
  if (start_ < 0) return;
  if (null_run_ >= opts_.endpoint_frames || t + 1 >= start_ + opts_.max_frames) {
    CloseSegment();  // an endpoint, or the segment can grow no more
    return;
  }
  for (int c = 0; c < opts_.num_classes; ++c) seg_sum_all_[c] += row[c];
  seg_prev_ = k;
}

void SegmentTracker::Active(const float* row, int k, int64_t t) {
  if (start_ < 0) {
    start_ = t;
    Clear(seg_);
    std::fill(seg_sum_all_.begin(), seg_sum_all_.end(), 0.0);
    seg_prev_ = -1;
  }
  for (int c = 0; c < opts_.num_classes; ++c) seg_sum_all_[c] += row[c];
  if (k != seg_prev_) ++seg_.counts[k];
  seg_prev_ = k;
  seg_.post_sum = seg_sum_all_;  // the Null frames before this one are inside the segment
  last_end_ = t + 1;
  null_run_ = 0;
  seen_active_ = true;
  if (last_end_ == start_ + opts_.max_frames) CloseSegment();
}

// Speech segments: a segment is one run of speech frames; its spikes give its labels.
void SegmentTracker::SpeechFrame(const float* row, int k, int64_t t, bool speech) {
  if (!speech) {
    ++null_run_;
    CloseSegment();
    return;
  }
  if (start_ < 0) {
    start_ = t;
    Clear(seg_);
    seg_prev_ = -1;
  }
  for (int c = 0; c < opts_.num_classes; ++c) seg_.post_sum[c] += row[c];
  if (k != seg_prev_ && k != opts_.blank) ++seg_.counts[k];
  seg_prev_ = k;
  last_end_ = t + 1;
  null_run_ = 0;
  seen_active_ = true;
  if (last_end_ == start_ + opts_.max_frames) CloseSegment();
}

void SegmentTracker::CloseSegment() {
  if (start_ < 0) return;
  seg_.num_frames = last_end_ - start_;
  segments_.push_back(SegmentEvent{start_, last_end_, seg_});
  start_ = -1;
}

void SegmentTracker::Close() { CloseSegment(); }

bool SegmentTracker::IsEndpoint() const {
  return seen_active_ && start_ < 0 && null_run_ >= opts_.endpoint_frames;
}

std::vector<SpikeEvent> SegmentTracker::PopSpikes() {
  std::vector<SpikeEvent> out;
  out.swap(spikes_);
  return out;
}

std::vector<SegmentEvent> SegmentTracker::PopSegments() {
  std::vector<SegmentEvent> out;
  out.swap(segments_);
  return out;
}

int64_t SegmentTracker::HeapBytes() const {
  int64_t n = ser::HeapBytes(total_.counts, total_.post_sum, seg_sum_all_, seg_.counts, seg_.post_sum, spikes_, segments_);
  for (const SegmentEvent& e : segments_) n += ser::HeapBytes(e.stats.counts, e.stats.post_sum);
  return n;
}

}  // namespace ser
