"""Torch modules for the training side.

Output conventions:
- CtcModel: 5 logits, index 0 = Null (CTC blank), 1..4 = anger, happiness, neutral, sadness.
- PoolingModel / Dnn: 4 logits, 0..3 = anger, happiness, neutral, sadness.

CtcModel's parameters are named exactly ``lstm.*`` and ``out.*`` so that a
torch-free runtime can load them (see CTC_WEIGHT_NAMES).
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from realtime_ser.timebase import Chunking

N_EMOTIONS = 4
CTC_WEIGHT_NAMES = (
    "lstm.weight_ih_l0", "lstm.weight_hh_l0", "lstm.bias_ih_l0", "lstm.bias_hh_l0",
    "lstm.weight_ih_l0_reverse", "lstm.weight_hh_l0_reverse",
    "lstm.bias_ih_l0_reverse", "lstm.bias_hh_l0_reverse",
    "out.weight", "out.bias",
)
POOLING_KINDS = ("framewise", "finalpool", "meanpool", "attnpool")


def time_mask(lengths: torch.Tensor, max_len: int) -> torch.Tensor:
    """(B, T) bool mask, True on valid frames."""
    steps = torch.arange(max_len, device=lengths.device)
    return steps[None, :] < lengths[:, None]


def reverse_index(lengths: torch.Tensor, max_len: int) -> torch.Tensor:
    """(B, T) time index reversing each row's first lengths[b] frames; padding stays."""
    t = torch.arange(max_len, device=lengths.device)[None, :]
    n = lengths[:, None]
    return torch.where(t < n, n - 1 - t, t)


def flip_within(x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """Apply reverse_index along time of (B, T, F) x (an involution)."""
    return x.gather(1, index.unsqueeze(-1).expand(-1, -1, x.shape[-1]))


def check_chunking(chunk_frames, right_context_frames) -> None:
    """chunk_frames: None (whole utterances) or >= 1; right_context_frames >= 0 (the runtime's Chunking)."""
    Chunking(chunk_frames, right_context_frames)


class BiLstm(nn.Module):
    """Shared encoder: 1-layer BiLSTM over padded batch_first input.

    Subclasses add heads; the LSTM itself lives in ``self.lstm`` so that the
    parameter names stay ``lstm.*``.
    """

    def __init__(self, input_dim: int, hidden: int = 128, dropout: float = 0.2,
                 chunk_frames: int | None = None, right_context_frames: int = 0):
        super().__init__()
        check_chunking(chunk_frames, right_context_frames)
        self.hidden = hidden
        self.chunk_frames = chunk_frames
        self.right_context_frames = right_context_frames
        self.lstm = nn.LSTM(input_dim, hidden, num_layers=1, batch_first=True,
                            bidirectional=True)
        self.drop = nn.Dropout(dropout)

    def encode(self, x: torch.Tensor, lengths: torch.Tensor):
        """x (B, T, D) right-padded, lengths (B,) -> (outputs (B, T, 2H), h_n (2, B, H)).

        Same result as nn.LSTM on a packed sequence, but each direction runs
        as an unpacked one-direction LSTM (the backward one on sequences
        reversed within their lengths), which takes the much faster oneDNN
        kernels on cpu (5x faster than packed training there). On cuda the
        usual packed cuDNN path is used. Padded output frames are zero.

        With chunk_frames set, the backward direction is latency-controlled
        (see chunked_backward); h_n[1] is then the backward state at frame 0
        of the first chunk.
        """
        if self.chunk_frames is not None:
            return self._encode_chunked(x, lengths)
        if x.device.type == "cuda":
            return self._encode_packed(x, lengths)
        lengths = lengths.to(x.device)
        mask = time_mask(lengths, x.shape[1]).unsqueeze(-1).to(x.dtype)
        rev = reverse_index(lengths, x.shape[1])
        fwd = self._direction(x, "")
        bwd = flip_within(self._direction(flip_within(x, rev), "_reverse"), rev)
        out = torch.cat([fwd, bwd], dim=-1) * mask
        last = (lengths - 1).clamp_min(0)
        batch = torch.arange(x.shape[0], device=x.device)
        h_n = torch.stack([fwd[batch, last], bwd[:, 0]])
        return out, h_n

    def _encode_chunked(self, x, lengths):
        lengths = lengths.to(x.device)
        mask = time_mask(lengths, x.shape[1]).unsqueeze(-1).to(x.dtype)
        fwd = self._direction(x, "")
        bwd = self.chunked_backward(x, lengths)
        out = torch.cat([fwd, bwd], dim=-1) * mask
        last = (lengths - 1).clamp_min(0)
        batch = torch.arange(x.shape[0], device=x.device)
        return out, torch.stack([fwd[batch, last], bwd[:, 0]])

    def chunked_backward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Latency-controlled backward outputs (B, T, H) of padded x (B, T, D).

        Frames are cut into chunks of C frames; for each chunk the backward
        LSTM starts from zero state at the end of [chunk + R right-context
        frames] (clipped to the sequence length) and only the chunk's own
        outputs are kept. All chunks of the batch run as one batch of windows.
        """
        c, r = self.chunk_frames, self.right_context_frames
        b, t, d = x.shape
        n_chunks = -(-t // c)
        padded = F.pad(x, (0, 0, 0, n_chunks * c + r - t))
        windows = padded.unfold(1, c + r, c)[:, :n_chunks].transpose(2, 3)  # (B, K, C+R, D)
        starts = torch.arange(n_chunks, device=x.device) * c
        win_len = (lengths[:, None] - starts[None]).clamp(0, c + r)          # (B, K)
        keep = (win_len > 0).reshape(-1)
        windows = windows.reshape(b * n_chunks, c + r, d)[keep]
        win_len = win_len.reshape(-1)[keep]
        rev = reverse_index(win_len, c + r)
        out = flip_within(self._direction(flip_within(windows, rev), "_reverse"), rev)
        full = out.new_zeros(b * n_chunks, c, self.hidden)
        full[keep] = out[:, :c]
        return full.reshape(b, n_chunks * c, self.hidden)[:, :t]

    def _encode_packed(self, x, lengths):
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        out, (h_n, _) = self.lstm(packed)
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])
        return out, h_n

    def _direction(self, x: torch.Tensor, suffix: str) -> torch.Tensor:
        lstm = self.lstm
        params = [getattr(lstm, n + "_l0" + suffix)
                  for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
        h0 = x.new_zeros(1, x.shape[0], self.hidden)
        out, _, _ = torch.lstm(x, (h0, h0), params, True, 1, 0.0, self.training,
                               False, True)
        return out

    def forward(self, x, lengths):
        return self.encode(x, lengths)[0]


class CtcModel(BiLstm):
    """BiLSTM + linear to 5 frame-level logits (blank first)."""

    def __init__(self, input_dim: int, hidden: int = 128, dropout: float = 0.2,
                 chunk_frames: int | None = None, right_context_frames: int = 0):
        super().__init__(input_dim, hidden, dropout, chunk_frames, right_context_frames)
        self.out = nn.Linear(2 * hidden, N_EMOTIONS + 1)

    def forward(self, x, lengths):
        """-> frame logits (B, T, 5)."""
        return self.out(self.drop(self.encode(x, lengths)[0]))

    def hidden_states(self, x, lengths):
        """BiLSTM outputs (B, T, 2H), used by the Lee & Tashev system."""
        return self.encode(x, lengths)[0]


class PoolingModel(BiLstm):
    """BiLSTM + 4-way classifier; ``kind`` picks how frames become a decision.

    framewise: forward returns frame logits (B, T, 4); the others return (B, 4).
    """

    def __init__(self, input_dim: int, kind: str, hidden: int = 128, dropout: float = 0.2):
        if kind not in POOLING_KINDS:
            raise ValueError(f"unknown pooling kind {kind!r}")
        super().__init__(input_dim, hidden, dropout)
        self.kind = kind
        if kind == "attnpool":
            self.attn = nn.Linear(2 * hidden, 1)
        self.out = nn.Linear(2 * hidden, N_EMOTIONS)

    @property
    def framewise(self) -> bool:
        return self.kind == "framewise"

    def pool(self, out, h_n, lengths):
        mask = time_mask(lengths.to(out.device), out.shape[1])
        if self.kind == "finalpool":
            # h_n[0]: forward state at each sequence's last frame; h_n[1]:
            # backward state at frame 0. Their concatenation is the same as
            # out[b, len-1, :H] ++ out[b, 0, H:].
            return torch.cat([h_n[0], h_n[1]], dim=-1)
        if self.kind == "meanpool":
            m = mask.unsqueeze(-1).to(out.dtype)
            return (out * m).sum(1) / m.sum(1).clamp_min(1.0)
        # attnpool
        scores = self.attn(out).squeeze(-1).float()
        scores = scores.masked_fill(~mask, float("-inf"))
        weights = torch.softmax(scores, dim=1).to(out.dtype)
        return (weights.unsqueeze(-1) * out).sum(1)

    def forward(self, x, lengths):
        out, h_n = self.encode(x, lengths)
        if self.framewise:
            return self.out(self.drop(out))
        return self.out(self.drop(self.pool(out, h_n, lengths)))


class Dnn(nn.Module):
    """Utterance-level MLP on the 88 eGeMAPS functionals: 88 -> 4x256 ReLU -> 4."""

    def __init__(self, input_dim: int = 88, hidden: int = 256, layers: int = 4,
                 dropout: float = 0.2):
        super().__init__()
        blocks, dim = [], input_dim
        for _ in range(layers):
            blocks += [nn.Linear(dim, hidden), nn.ReLU(), nn.Dropout(dropout)]
            dim = hidden
        self.body = nn.Sequential(*blocks)
        self.out = nn.Linear(dim, N_EMOTIONS)

    def forward(self, x, lengths=None):
        return self.out(self.body(x))


def utterance_stats(h: np.ndarray) -> np.ndarray:
    """(T, F) hidden states -> (4F,) mean, std, max, min over time."""
    return np.concatenate([h.mean(0), h.std(0), h.max(0), h.min(0)]).astype(np.float64)


class Elm:
    """Extreme learning machine (numpy).

    Inputs are standardised with training statistics; one hidden layer of
    random, fixed sigmoid units; output weights by ridge regression in closed
    form onto one-hot targets, optionally with per-sample weights.
    """

    def __init__(self, hidden: int = 1000, reg: float = 1.0, seed: int = 0):
        self.hidden, self.reg, self.seed = hidden, reg, seed
        self.mean = self.std = self.w = self.b = self.beta = None

    def _hidden(self, x: np.ndarray) -> np.ndarray:
        z = ((x - self.mean) / self.std) @ self.w + self.b
        return 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))

    def init_hidden(self, x: np.ndarray) -> None:
        """Draw the random layer and input normalisation from training data x."""
        x = np.asarray(x, np.float64)
        rng = np.random.default_rng(self.seed)
        self.mean, self.std = x.mean(0), x.std(0) + 1e-8
        self.w = rng.standard_normal((x.shape[1], self.hidden)) / np.sqrt(x.shape[1])
        self.b = rng.standard_normal(self.hidden) * 0.5

    def fit(self, x, y, sample_weight=None, n_classes: int = N_EMOTIONS) -> "Elm":
        x = np.asarray(x, np.float64)
        if self.w is None or self.w.shape[0] != x.shape[1]:
            self.init_hidden(x)
        h = self._hidden(x)
        t = np.eye(n_classes)[np.asarray(y, int)]
        sw = np.ones(len(x)) if sample_weight is None else np.asarray(sample_weight, np.float64)
        hw = h * sw[:, None]
        a = h.T @ hw + self.reg * np.eye(self.hidden)
        self.beta = np.linalg.solve(a, hw.T @ t)
        return self

    def decision_function(self, x) -> np.ndarray:
        return self._hidden(np.asarray(x, np.float64)) @ self.beta

    def predict(self, x) -> np.ndarray:
        return self.decision_function(x).argmax(1)

    def state_numpy(self, prefix: str = "elm.") -> dict:
        names = ("mean", "std", "w", "b", "beta")
        return {prefix + n: np.asarray(getattr(self, n), np.float32) for n in names}
