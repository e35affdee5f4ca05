#include "ser/lc_blstm.h"

#include <algorithm>
#include <cstring>
#include <memory>
#include <numeric>
#include <stdexcept>

#include "ser/memory.h"

namespace ser {

namespace {

constexpr int64_t kMinStreamsPerThread = 4;  // smaller groups are not worth a thread
constexpr int64_t kMinRowsPerThread = 32;
constexpr size_t kStreamsPerBlock = 32;  // streams per batched step: ~3 MB of scratch

std::vector<float> Packed(const std::vector<float>& w, int64_t rows, int64_t cols) {
  std::vector<float> out(static_cast<size_t>((cols + kStrip - 1) / kStrip * rows * kStrip));
  PackColumns(w.data(), rows, cols, cols, out.data());
  return out;
}

// A scratch buffer of n floats, not initialised (the callers write before they read).
std::unique_ptr<float[]> Scratch(int64_t n) { return std::unique_ptr<float[]>(new float[static_cast<size_t>(n)]); }

// Streams active per step for lengths sorted in decreasing order.
std::vector<int64_t> StepCounts(const std::vector<int64_t>& lengths_desc) {
  const int64_t n_max = lengths_desc.empty() ? 0 : lengths_desc[0];
  std::vector<int64_t> counts(static_cast<size_t>(n_max), 0);
  for (int64_t len : lengths_desc)
    for (int64_t t = 0; t < len; ++t) ++counts[t];
  return counts;
}

int64_t Groups(ThreadPool* pool, int64_t items, int64_t min_per_group) {
  if (!pool) return 1;
  return std::max<int64_t>(1, std::min<int64_t>(pool->NumThreads(), items / min_per_group));
}

// Pending rows [head, head + used) of buf: compacts or grows it so that n more fit, or shrinks
// it once a big input has gone (bounded memory). Returns true if the rows moved to row 0.
// min_rows: what a stream fed in steady pieces ever has pending (one chunk + right context
// waiting for its window, and one chunk of new rows), so such a stream's buffer stays at
// min_rows; a bigger input grows it geometrically.
bool MakeRoom(std::vector<float>& buf, int64_t width, int64_t head, int64_t used, int64_t n, int64_t min_rows) {
  const int64_t rows = static_cast<int64_t>(buf.size()) / width;
  const bool oversized = rows > 8 * std::max<int64_t>(used + n, min_rows);
  if (head + used + n <= rows && !oversized) return false;
  if (used + n <= rows && !oversized) {  // room at the front: move the pending rows there
    std::copy(buf.begin() + head * width, buf.begin() + (head + used) * width, buf.begin());
    return true;
  }
  const int64_t next_rows = used + n <= min_rows ? min_rows : 2 * (used + n);
  std::vector<float> next(static_cast<size_t>(next_rows * width));
  std::copy(buf.begin() + head * width, buf.begin() + (head + used) * width, next.begin());
  buf.swap(next);
  return true;
}

}  // namespace

int64_t LcBlstmState::Capacity() const {
  return h.empty() ? 0 : static_cast<int64_t>(fwd.size() / h.size());
}

LcBlstm::LcBlstm(const LcBlstmWeights& w, const LcBlstmOptions& opts) : w_(w), opts_(opts) {
  const int64_t d = w.input_dim, h = w.hidden, o = w.num_outputs;
  if (d < 1 || h < 1 || o < 1) throw std::invalid_argument("LcBlstm: sizes must be positive");
  if (static_cast<int64_t>(w.w_in.size()) != d * 8 * h || static_cast<int64_t>(w.b_in.size()) != 8 * h ||
      static_cast<int64_t>(w.w_hh_fwd.size()) != h * 4 * h || static_cast<int64_t>(w.w_hh_bwd.size()) != h * 4 * h ||
      static_cast<int64_t>(w.w_out.size()) != 2 * h * o || static_cast<int64_t>(w.b_out.size()) != o)
    throw std::invalid_argument("LcBlstm: a weight has the wrong size");
  if (opts.chunk_frames < 0 || opts.right_context_frames < 0)
    throw std::invalid_argument("LcBlstm: chunk_frames and right_context_frames must be >= 0");
  w_in_packed_ = Packed(w.w_in, d, 8 * h);
  w_hh_fwd_packed_ = Packed(w.w_hh_fwd, h, 4 * h);
  w_hh_bwd_packed_ = Packed(w.w_hh_bwd, h, 4 * h);
  w_out_packed_ = Packed(w.w_out, 2 * h, o);
}

LcBlstmState LcBlstm::NewState() const {
  LcBlstmState st;
  ResetState(&st);
  return st;
}

void LcBlstm::ResetState(LcBlstmState* st) const {
  st->h.assign(w_.hidden, 0.0f);
  st->c.assign(w_.hidden, 0.0f);
  st->fwd.clear();
  st->gates.clear();
  st->fwd.shrink_to_fit();
  st->gates.shrink_to_fit();
  st->head = st->frames_in = st->frames_out = 0;
}

void LcBlstm::Step(std::vector<LcBlstmInput>& inputs, ThreadPool* pool) const {
  for (auto& in : inputs) {
    if (!in.state || !in.logits) throw std::invalid_argument("LcBlstm::Step: missing state or logits");
    if (in.num_frames < 0 || (in.num_frames > 0 && !in.frames))
      throw std::invalid_argument("LcBlstm::Step: bad frames");
    in.logits->clear();
  }
  // Streams are independent: blocks of them bound the scratch grids (and keep them in cache)
  // without changing a bit of any stream's output.
  for (size_t lo = 0; lo < inputs.size(); lo += kStreamsPerBlock) {
    const size_t hi = std::min(inputs.size(), lo + kStreamsPerBlock);
    std::vector<LcBlstmInput> block(inputs.begin() + lo, inputs.begin() + hi);
    Forward(block, pool);
    std::vector<Window> windows;
    for (size_t i = 0; i < block.size(); ++i) Windows(block[i], static_cast<int64_t>(i), &windows);
    Backward(block, windows, pool);
  }
  for (auto& in : inputs)
    if (in.finish) ResetState(in.state);
}

void LcBlstm::Recur(const float* gates_x, int64_t stream_stride, const std::vector<int64_t>& lengths_desc,
                    const std::vector<float>& w_hh_packed, float* h, float* c, float* out, ThreadPool* pool) const {
  const std::vector<int64_t> counts = StepCounts(lengths_desc);
  LstmRecurArgs a;
  a.num_steps = lengths_desc[0];
  a.num_streams = static_cast<int64_t>(lengths_desc.size());
  a.hidden = w_.hidden;
  a.gates_x = gates_x;
  a.gates_step_stride = a.num_streams * stream_stride;
  a.gates_stream_stride = stream_stride;
  a.counts = counts.data();
  a.w_hh_t = WeightMatrix::Packed(w_hh_packed.data(), w_.hidden);
  a.h = h;
  a.c = c;
  a.out = out;
  RecurSplit(a, pool);
}

void LcBlstm::RecurSplit(const LstmRecurArgs& a, ThreadPool* pool) const {
  const int64_t groups = Groups(pool, a.num_streams, kMinStreamsPerThread);
  if (groups == 1) {
    LstmRecur(a);
    return;
  }
  // Contiguous groups of streams, each its own recurrence (the streams are independent).
  const int64_t s = a.num_streams, h = a.hidden;
  pool->ParallelFor(groups, [&](int64_t g) {
    const int64_t lo = s * g / groups, hi = s * (g + 1) / groups, n = hi - lo;
    std::vector<int64_t> counts;
    for (int64_t t = 0; t < a.num_steps; ++t) {
      const int64_t k = std::clamp<int64_t>(a.counts[t] - lo, 0, n);
      if (k == 0) break;
      counts.push_back(k);
    }
    const int64_t steps = static_cast<int64_t>(counts.size());
    const auto out = Scratch(steps * n * h);
    LstmRecurArgs b = a;
    b.num_steps = steps;
    b.num_streams = n;
    b.gates_x = a.gates_x + lo * a.gates_stream_stride;
    b.counts = counts.data();
    b.h = a.h + lo * h;
    b.c = a.c + lo * h;
    b.out = out.get();
    LstmRecur(b);
    for (int64_t t = 0; t < steps; ++t)
      std::memcpy(a.out + (t * s + lo) * h, out.get() + t * n * h, sizeof(float) * counts[t] * h);
  });
}

void LcBlstm::Forward(std::vector<LcBlstmInput>& inputs, ThreadPool* pool) const {
  const int64_t d = w_.input_dim, h = w_.hidden, g4 = 4 * h, g8 = 8 * h;
  // Offline (one chunk at the end): at least 64 rows, grown geometrically.
  const int64_t c = opts_.chunk_frames, min_rows = c > 0 ? 2 * c + opts_.right_context_frames : 64;
  std::vector<int64_t> order;
  for (size_t i = 0; i < inputs.size(); ++i)
    if (inputs[i].num_frames > 0) order.push_back(static_cast<int64_t>(i));
  if (order.empty()) return;
  std::stable_sort(order.begin(), order.end(),
                   [&](int64_t a, int64_t b) { return inputs[a].num_frames > inputs[b].num_frames; });
  const int64_t s = static_cast<int64_t>(order.size()), n_max = inputs[order[0]].num_frames;
  std::vector<int64_t> lens;
  for (int64_t i : order) lens.push_back(inputs[i].num_frames);
  // Time-major input grid (n_max, s, D), zero-padded, then the projections of both directions.
  const auto x_buf = Scratch(n_max * s * d);
  float* x = x_buf.get();
  for (int64_t k = 0; k < s; ++k) {
    const LcBlstmInput& in = inputs[order[k]];
    for (int64_t t = 0; t < n_max; ++t) {
      float* row = x + (t * s + k) * d;
      if (t < in.num_frames) std::memcpy(row, in.frames + t * d, sizeof(float) * d);
      else std::fill(row, row + d, 0.0f);  // padding: projected, never read
    }
  }
  const int64_t rows = n_max * s;
  const auto gates_buf = Scratch(rows * g8);
  float* gates = gates_buf.get();
  const int64_t groups = Groups(pool, rows, kMinRowsPerThread);
  auto project = [&](int64_t g) {
    const int64_t lo = rows * g / groups, hi = rows * (g + 1) / groups;
    LstmAffineArgs a;
    a.rows = hi - lo;
    a.in_dim = d;
    a.out_dim = g8;
    a.x = x + lo * d;
    a.w = WeightMatrix::Packed(w_in_packed_.data(), d);
    a.b = w_.b_in.data();
    a.out = gates + lo * g8;
    LstmAffine(a);
  };
  if (groups == 1) project(0);
  else pool->ParallelFor(groups, project);

  std::vector<float> hs(static_cast<size_t>(s * h)), cs(static_cast<size_t>(s * h));
  for (int64_t k = 0; k < s; ++k) {
    const LcBlstmState& st = *inputs[order[k]].state;
    std::copy(st.h.begin(), st.h.end(), hs.begin() + k * h);
    std::copy(st.c.begin(), st.c.end(), cs.begin() + k * h);
  }
  const auto out_buf = Scratch(n_max * s * h);
  float* out = out_buf.get();
  Recur(gates, g8, lens, w_hh_fwd_packed_, hs.data(), cs.data(), out, pool);
  for (int64_t k = 0; k < s; ++k) {
    LcBlstmState& st = *inputs[order[k]].state;
    const int64_t n = lens[k], used = st.Pending();
    std::copy(hs.begin() + k * h, hs.begin() + (k + 1) * h, st.h.begin());
    std::copy(cs.begin() + k * h, cs.begin() + (k + 1) * h, st.c.begin());
    const bool moved = MakeRoom(st.fwd, h, st.head, used, n, min_rows);
    MakeRoom(st.gates, g4, st.head, used, n, min_rows);  // same rows as fwd, so the same decision
    if (moved) st.head = 0;
    float* fwd = st.fwd.data() + (st.head + used) * h;
    float* gx = st.gates.data() + (st.head + used) * g4;
    for (int64_t t = 0; t < n; ++t) {
      std::memcpy(fwd + t * h, out + (t * s + k) * h, sizeof(float) * h);
      std::memcpy(gx + t * g4, gates + (t * s + k) * g8 + g4, sizeof(float) * g4);
    }
    st.frames_in += n;
  }
}

void LcBlstm::Windows(const LcBlstmInput& in, int64_t index, std::vector<Window>* out) const {
  const int64_t n = in.state->Pending(), right = opts_.right_context_frames;
  const bool offline = opts_.chunk_frames == 0;
  const int64_t c = offline ? std::max<int64_t>(n, 1) : opts_.chunk_frames;
  int64_t pos = 0;
  while (!offline && n - pos >= c + right) {
    out->push_back({index, pos, c + right, c});
    pos += c;
  }
  if (!in.finish) return;
  for (; pos < n; pos += c) out->push_back({index, pos, std::min(c + right, n - pos), std::min(c, n - pos)});
}

void LcBlstm::Backward(std::vector<LcBlstmInput>& inputs, std::vector<Window>& windows, ThreadPool* pool) const {
  if (windows.empty()) return;
  const int64_t h = w_.hidden, g4 = 4 * h, o = w_.num_outputs;
  std::stable_sort(windows.begin(), windows.end(), [](const Window& a, const Window& b) { return a.length > b.length; });
  const int64_t nw = static_cast<int64_t>(windows.size()), n_max = windows[0].length;
  // The windows' gates, time-reversed, time-major (n_max, nw, 4H); rows past a window's end unread.
  const auto grid_buf = Scratch(n_max * nw * g4);
  float* grid = grid_buf.get();
  std::vector<int64_t> lens;
  for (int64_t k = 0; k < nw; ++k) {
    const Window& win = windows[k];
    const LcBlstmState& st = *inputs[win.input].state;
    const float* src = st.gates.data() + (st.head + win.pos) * g4;
    for (int64_t t = 0; t < win.length; ++t)
      std::memcpy(grid + (t * nw + k) * g4, src + (win.length - 1 - t) * g4, sizeof(float) * g4);
    lens.push_back(win.length);
  }
  std::vector<float> hs(static_cast<size_t>(nw * h), 0.0f), cs(hs);
  const auto out_buf = Scratch(n_max * nw * h);
  float* out = out_buf.get();
  Recur(grid, g4, lens, w_hh_bwd_packed_, hs.data(), cs.data(), out, pool);
  // Output layer over [h_fwd, h_bwd] of every kept row, in time order per stream.
  std::vector<int64_t> by_time(static_cast<size_t>(nw));
  std::iota(by_time.begin(), by_time.end(), 0);
  std::stable_sort(by_time.begin(), by_time.end(), [&](int64_t x, int64_t y) {
    return windows[x].input != windows[y].input ? windows[x].input < windows[y].input : windows[x].pos < windows[y].pos;
  });
  int64_t rows = 0;
  for (const Window& win : windows) rows += win.chunk;
  std::vector<float> hcat(static_cast<size_t>(rows * 2 * h)), logits(static_cast<size_t>(rows * o));
  int64_t r = 0;
  for (int64_t k : by_time) {
    const Window& win = windows[k];
    const LcBlstmState& st = *inputs[win.input].state;
    for (int64_t j = 0; j < win.chunk; ++j, ++r) {
      std::memcpy(hcat.data() + r * 2 * h, st.fwd.data() + (st.head + win.pos + j) * h, sizeof(float) * h);
      std::memcpy(hcat.data() + r * 2 * h + h, out + ((win.length - 1 - j) * nw + k) * h, sizeof(float) * h);
    }
  }
  LstmAffineArgs lin;
  lin.rows = rows;
  lin.in_dim = 2 * h;
  lin.out_dim = o;
  lin.x = hcat.data();
  lin.w = WeightMatrix::Packed(w_out_packed_.data(), 2 * h);
  lin.b = w_.b_out.data();
  lin.out = logits.data();
  LstmAffine(lin);
  r = 0;
  for (int64_t k : by_time) {
    const Window& win = windows[k];
    LcBlstmInput& in = inputs[win.input];
    in.logits->insert(in.logits->end(), logits.begin() + r * o, logits.begin() + (r + win.chunk) * o);
    r += win.chunk;
    in.state->head += win.chunk;
    in.state->frames_out += win.chunk;
  }
}

int64_t LcBlstmState::HeapBytes() const { return ser::HeapBytes(h, c, fwd, gates); }

}  // namespace ser
