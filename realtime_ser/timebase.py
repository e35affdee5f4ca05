"""The time base shared by serving and training: one frame every 10 ms."""

from __future__ import annotations

import argparse

HOP_MS = 10
FRAME_S = HOP_MS / 1000


def ms_to_frames(ms: int, name: str = "duration") -> int:
    """Frames in `ms`; a value that is not a whole, non-negative multiple of 10 ms is refused."""
    if isinstance(ms, bool) or not isinstance(ms, int) and not hasattr(ms, "__index__"):
        raise ValueError(f"{name} must be a whole number of ms, got {ms!r}")
    ms = int(ms)
    if ms < 0 or ms % HOP_MS:
        raise ValueError(f"{name} must be a non-negative multiple of {HOP_MS} ms, got {ms}")
    return ms // HOP_MS


def ms_arg(text: str) -> int:
    """argparse type: a whole number of ms that is a multiple of the 10 ms hop."""
    try:
        value = int(text)
        ms_to_frames(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a multiple of {HOP_MS} ms, got {text!r}") from None
    return value
