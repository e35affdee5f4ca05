// Latency-controlled BiLSTM (LC-BLSTM) for streaming, over many streams at once.
//
// Frames are cut into consecutive chunks of C frames. The forward LSTM runs over the whole
// stream with (h, c) carried across chunks. For each chunk the backward LSTM starts from zero
// at the end of its R right-context frames (or at the end of the stream, once finished) and
// runs back over chunk + right context; only the chunk's own outputs are kept. C = 0 is the
// offline BiLSTM (one chunk, at the end). A chunk's outputs are final once its R right-context
// frames have arrived. realtime_ser/lstm.py (StreamingBiLstm) is the numpy form of the same
// arithmetic, and training/models.py the torch form.
#ifndef SER_LC_BLSTM_H_
#define SER_LC_BLSTM_H_

#include <cstdint>
#include <vector>

#include "ser/lstm.h"
#include "ser/thread_pool.h"

namespace ser {

struct LcBlstmOptions {
  int chunk_frames = 10;         // C; 0: offline (whole input, on finish)
  int right_context_frames = 20; // R
};

// Row-major float32 weights; gate order i, f, g, o (torch's).
struct LcBlstmWeights {
  int input_dim = 0, hidden = 0, num_outputs = 0;
  std::vector<float> w_in;      // (D, 8H): input -> [forward gates | backward gates]
  std::vector<float> b_in;      // (8H): bias_ih + bias_hh, forward then backward
  std::vector<float> w_hh_fwd;  // (H, 4H)
  std::vector<float> w_hh_bwd;  // (H, 4H)
  std::vector<float> w_out;     // (2H, O): [h_fwd, h_bwd] -> logits
  std::vector<float> b_out;     // (O)
};

// One stream: forward (h, c) and, for the frames whose outputs are not final, the forward
// outputs and the backward direction's input gates.
struct LcBlstmState {
  std::vector<float> h, c;
  std::vector<float> fwd;    // pending rows of H, from row head
  std::vector<float> gates;  // pending rows of 4H, from row head
  int64_t head = 0;
  int64_t frames_in = 0, frames_out = 0;
  int64_t Pending() const { return frames_in - frames_out; }
  // Buffered rows, the consumed ones included (memory bound checks).
  int64_t Capacity() const;
  int64_t HeapBytes() const;  // beyond sizeof
};

// One stream's part of a step: new normalised frames (n rows of D) and whether input ended.
struct LcBlstmInput {
  LcBlstmState* state = nullptr;
  const float* frames = nullptr;
  int64_t num_frames = 0;
  bool finish = false;
  std::vector<float>* logits = nullptr;  // gets the rows (of O) of the frames now final
};

class LcBlstm {
 public:
  // Throws std::invalid_argument on inconsistent weights or options.
  LcBlstm(const LcBlstmWeights& w, const LcBlstmOptions& opts);

  LcBlstmState NewState() const;
  void ResetState(LcBlstmState* st) const;
  // Advances every input's stream: per block of up to 32 streams, one input projection, one
  // forward and one backward recurrence (split over the pool's threads by stream). Finished
  // streams output all their remaining frames and start again from zero.
  void Step(std::vector<LcBlstmInput>& inputs, ThreadPool* pool) const;

  const LcBlstmOptions& Options() const { return opts_; }
  int InputDim() const { return w_.input_dim; }
  int Hidden() const { return w_.hidden; }
  int NumOutputs() const { return w_.num_outputs; }

 private:
  struct Window {
    int64_t input, pos, length, chunk;  // input index, first pending row, rows, rows kept
  };
  void Forward(std::vector<LcBlstmInput>& inputs, ThreadPool* pool) const;
  void Windows(const LcBlstmInput& in, int64_t index, std::vector<Window>* out) const;
  void Backward(std::vector<LcBlstmInput>& inputs, std::vector<Window>& windows, ThreadPool* pool) const;
  // The recurrence over time-major gates (lengths_desc[0], streams, stream_stride) of streams with
  // the given decreasing lengths, from states h, c (updated); out (steps, streams, H).
  void Recur(const float* gates_x, int64_t stream_stride, const std::vector<int64_t>& lengths_desc,
             const std::vector<float>& w_hh_packed, float* h, float* c, float* out, ThreadPool* pool) const;
  void RecurSplit(const LstmRecurArgs& a, ThreadPool* pool) const;  // over the pool by stream groups

  LcBlstmWeights w_;
  LcBlstmOptions opts_;
  std::vector<float> w_in_packed_, w_hh_fwd_packed_, w_hh_bwd_packed_, w_out_packed_;
};

}  // namespace ser

#endif  // SER_LC_BLSTM_H_
