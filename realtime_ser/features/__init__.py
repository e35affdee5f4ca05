"""Frame-level low-level descriptors (LLDs): the recognizer's input.

The native core (C++, csrc/ser/online_features.h) computes the base descriptors per 10 ms
frame and their first and second differences, and decides when a frame is final.
`OnlineFeatures` streams; `extract` is the same pipeline fed once, so both give identical frames.
The batch path (whole files, many files: the features CLI, `stream --offline`) takes the base
descriptors of a whole signal from `base_frames` and adds the deltas with the numba kernel
(realtime_ser.features.kernels.extract, tested equal to `extract`); serving never imports it.

    feats = extract(samples, sample_rate)          # float32 (frames, DIM)
    stream = OnlineFeatures()
    stream.accept_waveform(sample_rate, chunk)     # any chunk length, any rate
    frames = stream.pop_frames()                   # (n, DIM), possibly n == 0
    stream.input_finished(); frames = stream.pop_frames()
"""

from __future__ import annotations

import numpy as np

from realtime_ser import _native
from realtime_ser.audio import SAMPLE_RATE, AudioInput

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
assert DIM == _native.FEATURE_DIM, "feature names and the native layout disagree"
DELTA_WINDOW = _native.DELTA_WINDOW  # regression window N of the deltas
DELTA_LOOKAHEAD = _native.DELTA_LOOKAHEAD  # frames of lookahead they need: 2N
VERSION = f"{_native.LLD_VERSION}+delta{DELTA_WINDOW}"

# Samples past a frame's end needed before it is final: pitch window plus delta frames.
LOOKAHEAD_S = (_native.PITCH_LOOKAHEAD + DELTA_LOOKAHEAD * _native.FRAME_SHIFT) / SAMPLE_RATE


class OnlineFeatures:
    """Streaming feature extractor for one audio stream (not thread-safe)."""

    def __init__(self) -> None:
        self._native = _native.OnlineFeatures()
        self._audio = AudioInput()

    @property
    def num_frames_emitted(self) -> int:
        return self._native.num_frames_emitted

    @property
    def history_frames(self) -> int:
        """Base frames kept for the deltas (bounded)."""
        return self._native.history_frames

    def accept_waveform(self, sample_rate: int, samples: np.ndarray) -> None:
        """Append samples (1-D, or (n, channels) which are downmixed) at sample_rate."""
        x = self._audio.convert(sample_rate, samples)
        if x.size:
            self._native.accept_waveform(x)

    def input_finished(self) -> None:
        tail = self._audio.flush()
        if tail.size:
            self._native.accept_waveform(tail)
        self._native.input_finished()

    def pop_frames(self) -> np.ndarray:
        """Frames that are final now, as float32 (n, DIM)."""
        return self._native.pop_frames()

    def reset(self) -> None:
        self._native.reset()
        self._audio = AudioInput()


def base_frames(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """Base descriptors (no deltas) of a whole signal: float32 (frames, len(BASE_NAMES))."""
    audio, lld = AudioInput(), _native.OnlineLld()
    for x in (audio.convert(sample_rate, samples), audio.flush()):
        if x.size:
            lld.accept_waveform(x)
    lld.input_finished()
    return lld.pop_frames()


def extract(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """Features of a whole signal: float32 (frames, DIM), one frame per 10 ms."""
    stream = OnlineFeatures()
    stream.accept_waveform(sample_rate, samples)
    stream.input_finished()
    return stream.pop_frames()


__all__ = [
    "BASE_NAMES", "DIM", "FRAME_LENGTH_S", "FRAME_SHIFT_S", "LOOKAHEAD_S", "NAMES",
    "OnlineFeatures", "VERSION", "base_frames", "extract",
]
