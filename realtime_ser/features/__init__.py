"""Frame-level low-level descriptors (LLDs): the recognizer's input.

The native core (C++) computes the base descriptors per 10 ms frame and their first and
second differences (realtime_ser.features.kernels keeps the numba twin of the delta kernel
as the reference it is tested against; serving does not import it). `OnlineFeatures`
streams; `extract` is the same pipeline fed once, so both give identical frames.

    feats = extract(samples, sample_rate)          # float32 (frames, DIM)
    stream = OnlineFeatures()
    stream.accept_waveform(sample_rate, chunk)     # any chunk length, any rate
    frames = stream.pop_frames()                   # (n, DIM), possibly n == 0
    stream.input_finished(); frames = stream.pop_frames()
"""

from __future__ import annotations

import numpy as np

from realtime_ser import _native
from realtime_ser.audio import SAMPLE_RATE, Resampler, check_rate, to_mono_float

FRAME_SHIFT_S = _native.FRAME_SHIFT / _native.SAMPLE_RATE
FRAME_LENGTH_S = _native.FRAME_LENGTH / _native.SAMPLE_RATE

_BASE = _native.lld_descriptors()
BASE_NAMES: list[str] = [name for name, _ in _BASE]
_D_COLS = np.array([i for i, (_, order) in enumerate(_BASE) if order >= 1], np.int64)
# Second differences, as positions within the first-difference block.
_DD_COLS = np.array([j for j, i in enumerate(_D_COLS) if _BASE[i][1] >= 2], np.int64)

NAMES: list[str] = (
    BASE_NAMES
    + [BASE_NAMES[i] + "_d" for i in _D_COLS]
    + [BASE_NAMES[_D_COLS[j]] + "_dd" for j in _DD_COLS]
)
DIM = len(NAMES)
DELTA_WINDOW = _native.DELTA_WINDOW  # regression window N of the deltas
DELTA_LOOKAHEAD = _native.DELTA_LOOKAHEAD  # frames of lookahead they need: 2N
VERSION = f"{_native.LLD_VERSION}+delta{DELTA_WINDOW}"

# Samples past a frame's end needed before it is final: pitch window plus delta frames.
LOOKAHEAD_S = (_native.PITCH_LOOKAHEAD + DELTA_LOOKAHEAD * _native.FRAME_SHIFT) / SAMPLE_RATE


class OnlineFeatures:
    """Streaming feature extractor for one audio stream (not thread-safe)."""

    def __init__(self) -> None:
        self._lld = _native.OnlineLld()
        self._resampler: Resampler | None = None
        self._rate: int | None = None
        self._hist = np.zeros((0, len(BASE_NAMES)), np.float32)
        self._hist_start = 0  # absolute index of self._hist[0]
        self._emitted = 0

    @property
    def num_frames_emitted(self) -> int:
        return self._emitted

    def accept_waveform(self, sample_rate: int, samples: np.ndarray) -> None:
        """Append samples (1-D, or (n, channels) which are downmixed) at sample_rate."""
        if self._rate is None:
            check_rate(sample_rate, "<stream>")
            self._rate = int(sample_rate)
            self._resampler = Resampler(self._rate)
        elif sample_rate != self._rate:
            raise ValueError(f"<stream>: sample rate changed from {self._rate} to {sample_rate} Hz")
        if np.size(samples) == 0:
            return
        x = to_mono_float(samples, "<stream>")
        self._lld.accept_waveform(self._resampler.process(x))

    def input_finished(self) -> None:
        if self._resampler is not None:
            tail = self._resampler.process(np.zeros(0, np.float32), last=True)
            if tail.size:
                self._lld.accept_waveform(tail)
        self._lld.input_finished()

    def pop_frames(self) -> np.ndarray:
        """Frames that are final now, as float32 (n, DIM)."""
        new = self._lld.pop_frames()
        if new.shape[0]:
            self._hist = np.concatenate([self._hist, new]) if self._hist.shape[0] else new
        total = self._hist_start + self._hist.shape[0]
        stop = total if self._lld.is_finished else total - DELTA_LOOKAHEAD
        t0 = self._emitted
        if stop <= t0:
            return np.zeros((0, DIM), np.float32)
        out = np.empty((stop - t0, DIM), np.float32)
        nb = len(BASE_NAMES)
        out[:, :nb] = self._hist[t0 - self._hist_start : stop - self._hist_start]
        _native.delta_block(self._hist, self._hist_start, total, t0, stop, _D_COLS, _DD_COLS, out[:, nb:])
        self._emitted = stop
        self._trim_history()
        return out

    def reset(self) -> None:
        self._lld.reset()
        self._resampler = None
        self._rate = None
        self._hist = self._hist[:0]
        self._hist_start = self._emitted = 0

    def _trim_history(self) -> None:
        keep_from = max(0, self._emitted - DELTA_LOOKAHEAD)
        drop = keep_from - self._hist_start
        if drop > 0:
            self._hist = self._hist[drop:].copy()
            self._hist_start = keep_from


def extract(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """Features of a whole signal: float32 (frames, DIM), one frame per 10 ms."""
    stream = OnlineFeatures()
    stream.accept_waveform(sample_rate, samples)
    first = stream.pop_frames()
    stream.input_finished()
    return np.concatenate([first, stream.pop_frames()])


__all__ = [
    "BASE_NAMES", "DIM", "FRAME_LENGTH_S", "FRAME_SHIFT_S", "LOOKAHEAD_S", "NAMES",
    "OnlineFeatures", "VERSION", "extract",
]
