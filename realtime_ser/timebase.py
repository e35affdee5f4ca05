"""The time base shared by serving and training: one frame every 10 ms, and the BiLSTM's chunking."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

HOP_MS = 10
FRAME_S = HOP_MS / 1000


def _is_whole(v) -> bool:
    """An integer (numpy's included), not a bool."""
    return not isinstance(v, bool) and hasattr(v, "__index__")


def ms_to_frames(ms: int, name: str = "duration") -> int:
    """Frames in `ms`; a value that is not a whole, non-negative multiple of 10 ms is refused."""
    if not _is_whole(ms):
        raise ValueError(f"{name} must be a whole number of ms, got {ms!r}")
    ms = int(ms)
    if ms < 0 or ms % HOP_MS:
        raise ValueError(f"{name} must be a non-negative multiple of {HOP_MS} ms, got {ms}")
    return ms // HOP_MS


def ms_option(low: int, high: int):
    """An argparse type: a whole number of ms on the 10 ms hop, in [low, high]."""

    def parse(text: str) -> int:
        try:
            value = int(text, 10)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number of ms, got {text!r}") from None
        if not low <= value <= high or value % HOP_MS:
            raise argparse.ArgumentTypeError(
                f"expected a multiple of {HOP_MS} from {low} to {high} ms, got {value}")
        return value

    return parse


@dataclass(frozen=True)
class Chunking:
    """How the latency-controlled BiLSTM cuts a stream: chunks of `chunk_frames` frames (None:
    whole utterances, offline) whose backward pass also reads `right_context_frames` frames."""

    chunk_frames: int | None = 10
    right_context_frames: int = 20

    def __post_init__(self) -> None:
        c, r = self.chunk_frames, self.right_context_frames
        if c is not None and (not _is_whole(c) or c < 1):
            raise ValueError(f"chunk_frames must be None or a positive whole number, not {c!r}")
        if not _is_whole(r) or r < 0:
            raise ValueError(f"right_context_frames must be a whole number >= 0, not {r!r}")
        object.__setattr__(self, "chunk_frames", None if c is None else int(c))
        object.__setattr__(self, "right_context_frames", int(r))

    @classmethod
    def from_ms(cls, chunk_ms: int | None, right_context_ms: int = 0) -> "Chunking":
        chunk = None if chunk_ms is None else ms_to_frames(chunk_ms, "chunk_ms")
        return cls(chunk, ms_to_frames(right_context_ms, "right_context_ms") if chunk else 0)

    @property
    def offline(self) -> bool:
        return self.chunk_frames is None

    @property
    def latency_frames(self) -> int | None:
        """Worst-case frames a frame waits for its output (None: until the end of input)."""
        return None if self.offline else self.chunk_frames - 1 + self.right_context_frames

    def __str__(self) -> str:
        if self.offline:
            return "whole utterances"
        return f"chunks of {self.chunk_frames * HOP_MS} ms + {self.right_context_frames * HOP_MS} ms right context"


def ms_arg(text: str) -> int:
    """argparse type: a whole number of ms that is a multiple of the 10 ms hop."""
    try:
        value = int(text)
        ms_to_frames(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a multiple of {HOP_MS} ms, got {text!r}") from None
    return value
