"""Latency-controlled BiLSTM (LC-BLSTM) for streaming, in numpy + numba (no torch).

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

Many streams: keep one `BiLstmState` each (`lstm.new_state()`) and advance them together
with `lstm.step_batch(states, inputs)`; the input projection, the recurrences and the
output layer then run as matrix products over all streams at once.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numba
import numpy as np

BACKENDS = ("numba", "numpy")


# ---------------------------------------------------------------- weights

@dataclass
class LstmWeights:
    """Weights of a 1-layer BiLSTM + linear output, laid out for the serving arithmetic."""

    w_in_fwd: np.ndarray  # (D, 4H): input -> forward gates (i, f, g, o)
    w_in_bwd: np.ndarray  # (D, 4H): input -> backward gates
    b_fwd: np.ndarray     # (4H,): bias_ih + bias_hh
    b_bwd: np.ndarray     # (4H,)
    w_hh_fwd: np.ndarray  # (H, 4H): h -> forward gates
    w_hh_bwd: np.ndarray  # (H, 4H)
    w_out_t: np.ndarray   # (2H, n_outputs): [h_fwd, h_bwd] -> logits
    b_out: np.ndarray     # (n_outputs,)

    @property
    def hidden(self) -> int:
        return self.w_hh_fwd.shape[0]

    @property
    def input_dim(self) -> int:
        return self.w_in_fwd.shape[0]

    @property
    def n_outputs(self) -> int:
        return self.b_out.shape[0]

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
        return cls(c(np.asarray(w_ih_f).T, f32), c(np.asarray(w_ih_b).T, f32), c(b_f, f32), c(b_b, f32),
                   c(np.asarray(w_hh_f).T, f32), c(np.asarray(w_hh_b).T, f32),
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
        if self._end + n > len(self._fwd):
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
        cap = max(len(self._fwd), 2 * (keep + n), 64)
        fwd = np.empty((cap, self._fwd.shape[1]), np.float32)
        gates = np.empty((cap, self._gates.shape[1]), np.float32)
        fwd[:keep], gates[:keep] = self.pending_fwd, self.pending_gates
        self._fwd, self._gates, self._start, self._end = fwd, gates, 0, keep


# ---------------------------------------------------------------- recurrence kernels

_LOG2E = np.float32(1.4426950408889634)
_LN2_HI = np.float32(0.693359375)       # ln 2 split in two for the range reduction
_LN2_LO = np.float32(-2.12194440e-4)


@numba.njit(cache=True, nogil=True, fastmath=True)
def _exp_inplace(x, n, bits):
    """x[:n] = exp(x[:n]) in float32 (inputs clamped to +-80), in a loop that vectorises.

    exp(v) = 2^k exp(r), r = v - k ln 2 in [-ln2/2, ln2/2]; exp(r) by its degree-6 Taylor
    polynomial (relative error < 2e-7); 2^k built from its exponent bits.
    """
    for j in range(n):
        v = min(max(x[j], np.float32(-80.0)), np.float32(80.0))
        k = math.floor(v * _LOG2E + np.float32(0.5))
        r = v - k * _LN2_HI - k * _LN2_LO
        p = np.float32(1.0 / 720.0)
        p = p * r + np.float32(1.0 / 120.0)
        p = p * r + np.float32(1.0 / 24.0)
        p = p * r + np.float32(1.0 / 6.0)
        p = p * r + np.float32(0.5)
        p = p * r + np.float32(1.0)
        x[j] = p * r + np.float32(1.0)
        bits[j] = (np.int32(k) + np.int32(127)) << np.int32(23)
    scale = bits.view(np.float32)
    for j in range(n):
        x[j] *= scale[j]


@numba.njit(cache=True, nogil=True, fastmath=True)
def _cell(g, gx, c, h, out, z, y, bits):
    """One LSTM step for one stream: g = h_prev @ W_hh (4H,), gx input gates; updates c, h."""
    n_h = c.shape[0]
    for j in range(4 * n_h):  # sigmoid(v) = 1 / (1 + exp(-v)); tanh(v) = 2 sigmoid(2v) - 1
        z[j] = -(g[j] + gx[j])
    for j in range(2 * n_h, 3 * n_h):
        z[j] *= np.float32(2.0)
    _exp_inplace(z, 4 * n_h, bits)
    for j in range(4 * n_h):
        z[j] = np.float32(1.0) / (np.float32(1.0) + z[j])
    for j in range(n_h):
        cj = z[n_h + j] * c[j] + z[j] * (np.float32(2.0) * z[2 * n_h + j] - np.float32(1.0))
        c[j] = cj
        y[j] = np.float32(-2.0) * cj
    _exp_inplace(y, n_h, bits)
    for j in range(n_h):
        hj = z[3 * n_h + j] * (np.float32(2.0) / (np.float32(1.0) + y[j]) - np.float32(1.0))
        h[j] = hj
        out[j] = hj


@numba.njit(cache=True, nogil=True, fastmath=True)
def recur_numba(gates_x, counts, w_hh_t, h, c, out):
    """LSTM over time-major gates_x (T, S, 4H); at step t only streams [0, counts[t]) step.

    h, c (S, H) are the initial states and are updated in place; out (T, S, H) gets h_t.
    counts must not increase, so a stream's final state stays in h, c.
    The recurrent product of all active streams is one BLAS call per step.
    """
    n_h = w_hh_t.shape[0]
    z = np.empty(4 * n_h, np.float32)
    y = np.empty(n_h, np.float32)
    bits = np.empty(4 * n_h, np.int32)
    for t in range(gates_x.shape[0]):
        k = counts[t]
        g = np.dot(h[:k], w_hh_t)
        for s in range(k):
            _cell(g[s], gates_x[t, s], c[s], h[s], out[t, s], z, y, bits)


def recur_numpy(gates_x, counts, w_hh_t, h, c, out):
    """Same contract as recur_numba: one matmul and a few vector operations per step."""
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


RECUR = {"numba": recur_numba, "numpy": recur_numpy}


def warm_up() -> float:
    """Compile (or load from cache) the numba kernels; returns the seconds spent."""
    t0 = time.perf_counter()
    h = np.zeros((1, 2), np.float32)
    recur_numba(np.zeros((1, 1, 8), np.float32), np.ones(1, np.int64),
                np.zeros((2, 8), np.float32), h, h.copy(), np.zeros((1, 1, 2), np.float32))
    return time.perf_counter() - t0


# ---------------------------------------------------------------- streaming model

class StreamingBiLstm:
    """LC-BLSTM over normalised features; one built-in stream, or many via step_batch."""

    def __init__(self, model, chunk_frames: int | None, right_context_frames: int = 0,
                 backend: str = "numba"):
        if chunk_frames is not None and (int(chunk_frames) != chunk_frames or chunk_frames < 1):
            raise ValueError(f"chunk_frames must be None or >= 1, not {chunk_frames!r}")
        if int(right_context_frames) != right_context_frames or right_context_frames < 0:
            raise ValueError(f"right_context_frames must be >= 0, not {right_context_frames!r}")
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, not {backend!r}")
        self.weights = LstmWeights.of(model)
        self.chunk = None if chunk_frames is None else int(chunk_frames)
        self.right = int(right_context_frames)
        self.recur = RECUR[backend]
        if backend == "numba":
            warm_up()
        self.state = self.new_state()

    @classmethod
    def for_model(cls, model, backend: str = "numba") -> "StreamingBiLstm":
        """Chunking as the model was trained (model.config.chunk_frames / right_context_frames)."""
        cfg = model.config
        return cls(model, cfg.chunk_frames, cfg.right_context_frames or 0, backend)

    @property
    def latency_frames(self) -> int | None:
        """Worst-case frames a frame waits for its output (None: until the end)."""
        return None if self.chunk is None else self.chunk - 1 + self.right

    def new_state(self) -> BiLstmState:
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
        self._forward(states, inputs)
        windows = [w for i, st in enumerate(states) for w in self._windows(i, st, finish[i])]
        outs = self._backward_and_output(states, windows)
        for st, done in zip(states, finish):
            if done:
                self._reset_in_place(st)
        return outs

    def reset_state(self, state: BiLstmState) -> None:
        self._reset_in_place(state)

    # ------------------------------------------------------------ internals

    def _forward(self, states, inputs) -> None:
        """Input projections of all new frames, forward LSTM, append to the pending frames."""
        w = self.weights
        lens = [0 if x is None else len(x) for x in inputs]
        active = [i for i in np.argsort(lens, kind="stable")[::-1] if lens[i] > 0]
        if not active:
            return
        n_max, n_s, n_h = lens[active[0]], len(active), w.hidden
        x = np.zeros((n_max, n_s, w.input_dim), np.float32)  # time-major, streams by length
        for s, i in enumerate(active):
            xi = np.asarray(inputs[i], np.float32)
            if xi.ndim != 2 or xi.shape[1] != w.input_dim:
                raise ValueError(f"expected features (n, {w.input_dim}), got {xi.shape}")
            x[:lens[i], s] = xi
        x = x.reshape(n_max * n_s, w.input_dim)
        gates_f = (x @ w.w_in_fwd + w.b_fwd).reshape(n_max, n_s, 4 * n_h)
        gates_b = (x @ w.w_in_bwd + w.b_bwd).reshape(n_max, n_s, 4 * n_h)
        h = np.stack([states[i].h for i in active])
        c = np.stack([states[i].c for i in active])
        out = np.empty((n_max, n_s, n_h), np.float32)
        self.recur(gates_f, _counts([lens[i] for i in active], n_max), w.w_hh_fwd, h, c, out)
        for s, i in enumerate(active):
            st, n = states[i], lens[i]
            st.h, st.c = h[s], c[s]
            st.append(out[:n, s], gates_b[:n, s])

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
        windows.sort(key=lambda v: -v[2])
        n_max, n_w = windows[0][2], len(windows)
        grid = np.zeros((n_max, n_w, 4 * n_h), np.float32)
        for s, (i, pos, length, _) in enumerate(windows):
            grid[:length, s] = states[i].pending_gates[pos:pos + length][::-1]
        counts = _counts([v[2] for v in windows], n_max)
        h = np.zeros((n_w, n_h), np.float32)
        out = np.empty((n_max, n_w, n_h), np.float32)
        self.recur(grid, counts, w.w_hh_bwd, h, h.copy(), out)
        rows_f, rows_b, owners = [], [], []
        for s, (i, pos, length, chunk) in enumerate(windows):
            rows_f.append(states[i].pending_fwd[pos:pos + chunk])
            rows_b.append(out[length - chunk:length, s][::-1])
            owners.append((i, pos, chunk))
        logits = np.concatenate(rows_f) @ w.w_out_t[:n_h] + np.concatenate(rows_b) @ w.w_out_t[n_h:]
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
    lengths = np.asarray(lengths_desc, np.int64)
    return (lengths[None, :] > np.arange(n_max)[:, None]).sum(1).astype(np.int64)
