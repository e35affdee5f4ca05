"""Latency-controlled BiLSTM (LC-BLSTM) for streaming, without torch.

Frames are cut into consecutive chunks of C frames. The forward LSTM runs over the
whole stream with its (h, c) carried across chunks. For each chunk the backward LSTM
starts from zero state at the end of the chunk's R right-context frames (or at the end
of the stream, once finished) and runs back over [chunk + right context]; only the
outputs on the chunk's own frames are kept. C = None is the ordinary (offline) BiLSTM.
A chunk's outputs are final once its R right-context frames have arrived.
training/models.py (BiLstm.chunked_backward) computes the same thing in torch.

    lstm = StreamingBiLstm.for_model(model)          # C, R from the model's config
    out = lstm.accept(model.normalize(feats))         # logits of frames now final
    out = lstm.finish()                               # the rest; the stream restarts

Many streams: keep one state each (`lstm.new_state()`) and advance them together with
`lstm.step_batch(states, inputs)`; the input projection, the recurrences and the output
layer then run as matrix products over all streams at once.

backend="native" (the default) is the C++ LC-BLSTM (_native.LcBlstm, csrc/ser/lc_blstm.h),
the one the engine's streams and `stream --offline` (C = None) run. "numpy" is the same
algorithm written here in numpy with recur_numpy: the reference the native one is tested
against (tests/test_lstm.py). (The numba recurrence had no user and was removed: measured on
EmoDB it ran 2-5x slower than the native one and was not bit-identical to it.)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from realtime_ser import _native
from realtime_ser.timebase import Chunking

BACKENDS = ("native", "numpy")


# ---------------------------------------------------------------- weights

@dataclass
class LstmWeights:
    """Weights of a 1-layer BiLSTM + linear output, laid out for the serving arithmetic."""

    w_in: np.ndarray      # (D, 8H): input -> [forward gates | backward gates], each (i, f, g, o)
    b_in: np.ndarray      # (8H,): bias_ih + bias_hh, forward then backward
    w_hh_fwd: np.ndarray  # (H, 4H): h -> forward gates
    w_hh_bwd: np.ndarray  # (H, 4H)
    w_out_t: np.ndarray   # (2H, n_outputs): [h_fwd, h_bwd] -> logits
    b_out: np.ndarray     # (n_outputs,)

    @property
    def hidden(self) -> int:
        return self.w_hh_fwd.shape[0]

    @property
    def input_dim(self) -> int:
        return self.w_in.shape[0]

    @property
    def n_outputs(self) -> int:
        return self.b_out.shape[0]

    @property
    def w_in_fwd(self) -> np.ndarray:
        return self.w_in[:, :4 * self.hidden]

    @property
    def w_in_bwd(self) -> np.ndarray:
        return self.w_in[:, 4 * self.hidden:]

    @property
    def b_fwd(self) -> np.ndarray:
        return self.b_in[:4 * self.hidden]

    @property
    def b_bwd(self) -> np.ndarray:
        return self.b_in[4 * self.hidden:]

    @classmethod
    def from_dict(cls, weights: dict) -> "LstmWeights":
        """From torch-named weights (lstm.weight_ih_l0, ..._reverse, out.weight, out.bias)."""
        def get(name):
            return np.asarray(weights[name], np.float32)

        def bias(sfx):
            return get(f"lstm.bias_ih_l0{sfx}") + get(f"lstm.bias_hh_l0{sfx}")

        return cls._build(get("lstm.weight_ih_l0"), get("lstm.weight_ih_l0_reverse"),
                          bias(""), bias("_reverse"),
                          get("lstm.weight_hh_l0"), get("lstm.weight_hh_l0_reverse"),
                          get("out.weight"), get("out.bias"))

    @classmethod
    def from_model(cls, model) -> "LstmWeights":
        """From a realtime_ser.model.Model."""
        f, b = model.fwd, model.bwd
        return cls._build(f.w_ih, b.w_ih, f.bias, b.bias, f.w_hh, b.w_hh,
                          model.out_w, model.out_b)

    @classmethod
    def of(cls, source) -> "LstmWeights":
        if isinstance(source, LstmWeights):
            return source
        if isinstance(source, dict):
            return cls.from_dict(source)
        return cls.from_model(source)

    @classmethod
    def _build(cls, w_ih_f, w_ih_b, b_f, b_b, w_hh_f, w_hh_b, out_w, out_b):
        c = np.ascontiguousarray
        f32 = np.float32
        w_in = np.concatenate([np.asarray(w_ih_f, f32).T, np.asarray(w_ih_b, f32).T], axis=1)
        b_in = np.concatenate([np.asarray(b_f, f32), np.asarray(b_b, f32)])
        return cls(c(w_in), c(b_in), c(np.asarray(w_hh_f).T, f32), c(np.asarray(w_hh_b).T, f32),
                   c(np.asarray(out_w).T, f32), c(out_b, f32))


# ---------------------------------------------------------------- per-stream state

class BiLstmState:
    """One stream: forward (h, c) and the frames whose outputs are not final yet.

    For frames frames_out .. frames_in - 1 it keeps the forward outputs (pending_fwd) and
    the backward direction's input gates x @ W_ih + b (pending_gates), in buffers that
    grow and compact as needed.
    """

    def __init__(self, hidden: int):
        self.h = np.zeros(hidden, np.float32)
        self.c = np.zeros(hidden, np.float32)
        self._fwd = np.zeros((0, hidden), np.float32)
        self._gates = np.zeros((0, 4 * hidden), np.float32)
        self._start = self._end = 0
        self.frames_in = 0   # frames accepted since the stream (re)started
        self.frames_out = 0  # frames whose outputs have been returned

    @property
    def pending(self) -> int:
        return self._end - self._start

    @property
    def pending_fwd(self) -> np.ndarray:
        return self._fwd[self._start:self._end]

    @property
    def pending_gates(self) -> np.ndarray:
        return self._gates[self._start:self._end]

    def append(self, fwd_rows: np.ndarray, gate_rows: np.ndarray) -> None:
        n = len(fwd_rows)
        # grow when full; shrink once a big input has gone (bounded memory)
        if self._end + n > len(self._fwd) or len(self._fwd) > 8 * max(self.pending + n, 64):
            self._make_room(n)
        self._fwd[self._end:self._end + n] = fwd_rows
        self._gates[self._end:self._end + n] = gate_rows
        self._end += n
        self.frames_in += n

    def drop(self, n: int) -> None:
        """The first n pending frames have been output."""
        self._start += n
        self.frames_out += n

    def _make_room(self, n: int) -> None:
        keep = self.pending
        cap = max(2 * (keep + n), 64)
        fwd = np.empty((cap, self._fwd.shape[1]), np.float32)
        gates = np.empty((cap, self._gates.shape[1]), np.float32)
        fwd[:keep], gates[:keep] = self.pending_fwd, self.pending_gates
        self._fwd, self._gates, self._start, self._end = fwd, gates, 0, keep


# ---------------------------------------------------------------- recurrence kernels

def recur_numpy(gates_x, counts, w_hh_t, h, c, out):
    """LSTM over time-major gates_x (T, S, 4H); at step t only streams [0, counts[t]) step.

    Gate order i, f, g, o (torch's); gates_x holds x @ W_ih + b. h, c (S, H) are the initial
    states and are updated in place; out (T, S, H) gets h_t. counts must not increase, so a
    stream's final state stays in h, c. w_hh_t is (H, 4H). All float32. _native.lstm_recur
    has the same contract; this is one matmul and a few vector
    operations per step.
    """
    n_h = w_hh_t.shape[0]
    scale = np.full(4 * n_h, 0.5, np.float32)  # sigmoid(v) = 0.5 + 0.5 tanh(v / 2)
    scale[2 * n_h:3 * n_h] = 1.0
    for t in range(gates_x.shape[0]):
        k = counts[t]
        g = h[:k] @ w_hh_t
        g += gates_x[t, :k]
        g *= scale
        np.tanh(g, out=g)
        g[:, :2 * n_h] = 0.5 * g[:, :2 * n_h] + 0.5
        g[:, 3 * n_h:] = 0.5 * g[:, 3 * n_h:] + 0.5
        c[:k] *= g[:, n_h:2 * n_h]
        c[:k] += g[:, :n_h] * g[:, 2 * n_h:3 * n_h]
        np.multiply(g[:, 3 * n_h:], np.tanh(c[:k]), out=h[:k])
        out[t, :k] = h[:k]


def recurrence(backend: str):
    """The recurrence function of a backend."""
    if backend == "native":
        return _native.lstm_recur
    if backend == "numpy":
        return recur_numpy
    raise ValueError(f"backend must be one of {BACKENDS}, not {backend!r}")


# ---------------------------------------------------------------- streaming model

class StreamingBiLstm:
    """LC-BLSTM over normalised features; one built-in stream, or many via step_batch.

    threads: native threads of a batched step (0: one per core; native backend only).
    """

    def __init__(self, model, chunk_frames: int | None, right_context_frames: int = 0,
                 backend: str = "native", threads: int = 1):
        chunking = Chunking(chunk_frames, right_context_frames)
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, not {backend!r}")
        self.weights = LstmWeights.of(model)
        self.chunking = chunking
        self.chunk, self.right = chunking.chunk_frames, chunking.right_context_frames
        self.backend = backend
        w = self.weights
        self._core = None
        if backend == "native":
            self._core = _native.LcBlstm(w.w_in, w.b_in, w.w_hh_fwd, w.w_hh_bwd, w.w_out_t, w.b_out,
                                         0 if self.chunk is None else self.chunk, self.right, threads)
        else:
            self.recur = recurrence(backend)
            self._w_in, self._w_hh = w.w_in, (w.w_hh_fwd, w.w_hh_bwd)
        self._ones = np.ones(64, np.int64)  # counts of a single stream
        self.state = self.new_state()

    @classmethod
    def for_model(cls, model, backend: str = "native") -> "StreamingBiLstm":
        """Chunking as the model was trained (model.config.chunk_frames / right_context_frames)."""
        cfg = model.config
        return cls(model, cfg.chunk_frames, cfg.right_context_frames or 0, backend)

    @property
    def latency_frames(self) -> int | None:
        """Worst-case frames a frame waits for its output (None: until the end)."""
        return self.chunking.latency_frames

    def new_state(self):
        """A stream's state: _native.LcBlstmState, or BiLstmState for the numpy forms."""
        if self._core is not None:
            return self._core.new_state()
        return BiLstmState(self.weights.hidden)

    # one stream
    def accept(self, feats: np.ndarray) -> np.ndarray:
        """Normalised frames (n, D) -> logits (m, n_outputs) of the frames that became final."""
        return self.step_batch([self.state], [feats])[0]

    def finish(self) -> np.ndarray:
        """Logits of all remaining frames; the stream then starts again from zero."""
        return self.step_batch([self.state], [None], finish=True)[0]

    def reset(self) -> None:
        """Drop the stream's state and pending frames."""
        self.state = self.new_state()

    # many streams
    def step_batch(self, states: list[BiLstmState], inputs: list, finish=False) -> list[np.ndarray]:
        """Advance many streams at once.

        inputs[i]: normalised frames (n_i, D) for states[i] (n_i may be 0, or None).
        finish: bool, or one bool per stream; finished streams return all their remaining
        frames and are reset in place. Returns logits (m_i, n_outputs) per stream.
        """
        finish = [finish] * len(states) if isinstance(finish, bool) else list(finish)
        if self._core is not None:
            return self._core.step(list(states), [None if x is None else self._frames(x) for x in inputs], finish)
        self._forward(states, inputs)
        windows = [w for i, st in enumerate(states) for w in self._windows(i, st, finish[i])]
        outs = self._backward_and_output(states, windows)
        for st, done in zip(states, finish):
            if done:
                self._reset_in_place(st)
        return outs


    # ------------------------------------------------------------ internals

    def _forward(self, states, inputs) -> None:
        """Input projections of all new frames, forward LSTM, append to the pending frames."""
        w = self.weights
        d, n_h = w.input_dim, w.hidden
        g4 = 4 * n_h
        active = [i for i, x in enumerate(inputs) if x is not None and len(x) > 0]
        if not active:
            return
        if len(active) == 1:  # one stream: no batching grids
            st = states[active[0]]
            x = self._frames(inputs[active[0]])
            n = len(x)
            gates = self._project(x)
            out = np.empty((n, 1, n_h), np.float32)
            self.recur(gates[:, None, :g4], self._unit_counts(n), self._w_hh[0], st.h[None], st.c[None], out)
            st.append(out[:, 0], gates[:, g4:])
            return
        xs = sorted(((self._frames(inputs[i]), i) for i in active), key=lambda v: -len(v[0]))
        lens = [len(x) for x, _ in xs]
        n_max, n_s = lens[0], len(xs)
        if lens[-1] == n_max:
            x = np.stack([x for x, _ in xs], axis=1)  # time-major (n_max, n_s, D)
        else:
            x = np.empty((n_max, n_s, d), np.float32)
            for s, (xi, _) in enumerate(xs):
                x[:len(xi), s] = xi
                x[len(xi):, s] = 0.0
        gates = self._project(x.reshape(n_max * n_s, d)).reshape(n_max, n_s, 2 * g4)
        h = np.stack([states[i].h for _, i in xs])
        c = np.stack([states[i].c for _, i in xs])
        out = np.empty((n_max, n_s, n_h), np.float32)
        self.recur(gates[:, :, :g4], _counts(lens, n_max), self._w_hh[0], h, c, out)
        for s, (n, (_, i)) in enumerate(zip(lens, xs)):
            st = states[i]
            st.h, st.c = h[s], c[s]
            st.append(out[:n, s], gates[:n, s, g4:])

    def _project(self, x: np.ndarray) -> np.ndarray:
        """Input gates of both directions, x (n, D) -> (n, 8H)."""
        out = x @ self._w_in
        out += self.weights.b_in
        return out

    def _frames(self, x) -> np.ndarray:
        x = np.asarray(x, np.float32)
        if x.ndim != 2 or x.shape[1] != self.weights.input_dim:
            raise ValueError(f"expected features (n, {self.weights.input_dim}), got {x.shape}")
        return x

    def _unit_counts(self, n: int) -> np.ndarray:
        if len(self._ones) < n:
            self._ones = np.ones(2 * n, np.int64)
        return self._ones[:n]

    def _windows(self, i, st: BiLstmState, finish: bool):
        """(stream, first pending row, window length, chunk length) of each chunk now final."""
        pos, n = 0, st.pending
        c = max(n, 1) if self.chunk is None else self.chunk  # offline: one chunk, on finish
        while self.chunk is not None and n - pos >= c + self.right:
            yield i, pos, c + self.right, c
            pos += c
        if finish:
            while pos < n:
                yield i, pos, min(c + self.right, n - pos), min(c, n - pos)
                pos += c

    def _backward_and_output(self, states, windows) -> list[np.ndarray]:
        w = self.weights
        n_h = w.hidden
        outs = [np.zeros((0, w.n_outputs), np.float32) for _ in states]
        if not windows:
            return outs
        if len(windows) == 1:  # the gates, time-reversed, are a view of the stream's buffer
            i, pos, length, chunk = windows[0]
            st = states[i]
            grid = st.pending_gates[pos:pos + length][::-1, None]
            h = np.zeros((2, 1, n_h), np.float32)
            out = np.empty((length, 1, n_h), np.float32)
            self.recur(grid, self._unit_counts(length), self._w_hh[1], h[0], h[1], out)
            logits = st.pending_fwd[pos:pos + chunk] @ w.w_out_t[:n_h]
            logits += out[length - chunk:length, 0][::-1] @ w.w_out_t[n_h:]
            logits += w.b_out
            outs[i] = logits
            st.drop(chunk)
            return outs
        windows.sort(key=lambda v: -v[2])
        n_max, n_w = windows[0][2], len(windows)
        grid = np.empty((n_max, n_w, 4 * n_h), np.float32)  # rows past a window's end are not read
        for s, (i, pos, length, _) in enumerate(windows):
            grid[:length, s] = states[i].pending_gates[pos:pos + length][::-1]
        h = np.zeros((2, n_w, n_h), np.float32)
        out = np.empty((n_max, n_w, n_h), np.float32)
        self.recur(grid, _counts([v[2] for v in windows], n_max), self._w_hh[1], h[0], h[1], out)
        rows_f, rows_b, owners = [], [], []
        for s, (i, pos, length, chunk) in enumerate(windows):
            rows_f.append(states[i].pending_fwd[pos:pos + chunk])
            rows_b.append(out[length - chunk:length, s][::-1])
            owners.append((i, pos, chunk))
        logits = np.concatenate(rows_f) @ w.w_out_t[:n_h]
        logits += np.concatenate(rows_b) @ w.w_out_t[n_h:]
        logits += w.b_out
        return self._collect(states, owners, logits, outs)

    def _collect(self, states, owners, logits, outs):
        """Split logits per stream (chunks in time order) and drop the emitted frames."""
        start, parts = 0, {}
        for i, pos, chunk in owners:
            parts.setdefault(i, []).append((pos, logits[start:start + chunk]))
            start += chunk
        for i, chunks in parts.items():
            chunks.sort(key=lambda v: v[0])
            outs[i] = np.concatenate([v[1] for v in chunks])
            states[i].drop(len(outs[i]))
        return outs

    def _reset_in_place(self, st: BiLstmState) -> None:
        st.__init__(self.weights.hidden)


def _counts(lengths_desc, n_max) -> np.ndarray:
    """Active streams per step for lengths sorted in decreasing order."""
    ascending = np.asarray(lengths_desc[::-1], np.int64)
    return len(ascending) - np.searchsorted(ascending, np.arange(n_max), side="right")
