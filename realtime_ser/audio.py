"""Audio input: any file libsndfile reads, or any buffer, to mono float32 at 16 kHz.

    samples = load("speech.flac")                # whole file, float32 mono 16 kHz
    for block in iter_blocks("long.wav"):         # bounded memory, same samples as load()
        ...
    rs = Resampler(48000)                         # streaming (microphone) input
    out = rs.process(chunk)                       # ...; rs.process(empty, last=True) flushes

Every problem with an input raises `AudioError`, whose message is one line
``"<source>: <problem>"`` (e.g. ``"a.wav: file not found"``).
"""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

SAMPLE_RATE = 16000
MIN_SAMPLE_RATE = 8000
RESAMPLE_QUALITY = "HQ"

AUDIO_EXTENSIONS = frozenset({".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif", ".au", ".opus"})

# Leading bytes of container formats libsndfile reads: a file that starts with one of these
# but cannot be opened has a damaged header rather than being some other kind of file.
_MAGICS = (
    b"RIFF", b"RIFX", b"RF64", b"BW64", b"FORM", b"fLaC", b"OggS", b".snd", b"ID3",
    b"caff", b"riff", b"NIST_1A",
)

_NOT_FOUND = "file not found"
_EMPTY = "no samples (zero length)"
_NON_FINITE = "contains NaN or infinite samples"


class AudioError(ValueError):
    """A bad audio input. ``str(err)`` is one line: ``"<source>: <problem>"``."""

    def __init__(self, source: object, problem: str) -> None:
        self.source = _one_line(str(source))
        self.problem = _one_line(str(problem))
        super().__init__(f"{self.source}: {self.problem}")


def _one_line(text: str) -> str:
    return " ".join(text.split())


# --------------------------------------------------------------------------- buffers


def to_mono_float(samples: np.ndarray, source: str = "<buffer>") -> np.ndarray:
    """Samples of shape (n,) or (n, channels) as 1-D float32, channels averaged.

    Integer samples are scaled to [-1, 1): int8/int16/int32 by 2**(bits-1); uint8 is
    offset-binary (128 is silence). Float samples keep their values.
    """
    x = np.asarray(samples)
    if x.ndim not in (1, 2):
        raise AudioError(source, f"expected samples of shape (n,) or (n, channels), got shape {x.shape}")
    if x.size == 0:
        raise AudioError(source, _EMPTY)
    kind, size = x.dtype.kind, x.dtype.itemsize
    if kind == "f":
        with np.errstate(over="ignore", invalid="ignore"):
            y = x.astype(np.float32, copy=False)
    elif kind == "i" and size in (1, 2, 4):
        y = x.astype(np.float32) * np.float32(1.0 / (1 << (8 * size - 1)))
    elif kind == "u" and size == 1:
        y = (x.astype(np.float32) - np.float32(128.0)) * np.float32(1.0 / 128.0)
    else:
        raise AudioError(source, f"unsupported sample type {x.dtype}")
    if y.ndim == 2:
        y = y[:, 0] if y.shape[1] == 1 else y.mean(axis=1, dtype=np.float32)
    y = np.ascontiguousarray(y, dtype=np.float32)
    if kind == "f" and not np.isfinite(y).all():
        raise AudioError(source, _NON_FINITE)
    return y


def check_rate(sample_rate: object, source: str = "<buffer>") -> int:
    """The sample rate as an int; AudioError unless it is a whole number >= MIN_SAMPLE_RATE."""
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, numbers.Real):
        raise AudioError(source, f"invalid sample rate {sample_rate!r}")
    rate = float(sample_rate)
    if not math.isfinite(rate) or rate <= 0:
        raise AudioError(source, f"invalid sample rate {sample_rate} Hz")
    if rate != int(rate):
        raise AudioError(source, f"sample rate {sample_rate} Hz is not a whole number")
    if rate < MIN_SAMPLE_RATE:
        raise AudioError(source, f"sample rate {int(rate)} Hz is below the {MIN_SAMPLE_RATE} Hz minimum")
    return int(rate)


class Resampler:
    """Streaming resampler from `in_rate` to 16 kHz (mono).

    Any split of a signal into chunks gives the same output as one call. Pass
    ``last=True`` with the final chunk (it may be empty) to flush; the resampler is then
    ready for a new, unrelated signal.
    """

    def __init__(self, in_rate: int, source: str = "<stream>") -> None:
        self.in_rate = check_rate(in_rate, source)
        self.source = source
        self._stream = None
        if self.in_rate != SAMPLE_RATE:
            self._stream = soxr.ResampleStream(
                self.in_rate, SAMPLE_RATE, 1, dtype="float32", quality=RESAMPLE_QUALITY
            )

    def process(self, chunk: np.ndarray, last: bool = False) -> np.ndarray:
        x = np.asarray(chunk)
        if x.size == 0:
            x = np.zeros(0, np.float32)
        elif x.dtype != np.float32 or x.ndim != 1:
            x = to_mono_float(x, self.source)
        x = np.ascontiguousarray(x)
        if self._stream is None:
            return x.copy()
        out = self._stream.resample_chunk(x, last=last)
        if last:
            self._stream.clear()
        return np.ascontiguousarray(out, dtype=np.float32)


def to_16k(samples: np.ndarray, sample_rate: int, source: str = "<buffer>") -> np.ndarray:
    """A whole buffer ((n,) or (n, channels), int or float) as float32 mono at 16 kHz."""
    rate = check_rate(sample_rate, source)
    x = to_mono_float(samples, source)
    if rate == SAMPLE_RATE:
        return x
    return Resampler(rate, source).process(x, last=True)


# --------------------------------------------------------------------------- files


def _open(path: str | os.PathLike) -> tuple[sf.SoundFile, str]:
    """Open an audio file for reading, with every check that needs no sample data."""
    source = str(path)
    p = Path(path)
    if not p.exists():
        raise AudioError(source, _NOT_FOUND)
    if p.is_dir():
        raise AudioError(source, "is a directory, not an audio file")
    try:
        size = p.stat().st_size
    except OSError as e:
        raise AudioError(source, f"cannot read ({e.strerror or e})") from None
    if size == 0:
        raise AudioError(source, _EMPTY)
    try:
        f = sf.SoundFile(p)
    except sf.LibsndfileError as e:
        raise AudioError(source, _open_problem(p, e)) from None
    except (sf.SoundFileError, OSError, RuntimeError) as e:
        raise AudioError(source, f"cannot open ({_short(e)})") from None
    try:
        check_rate(f.samplerate, source)
        if f.channels < 1:
            raise AudioError(source, f"invalid channel count {f.channels}")
        if f.frames == 0:
            raise AudioError(source, _EMPTY)
    except BaseException:
        f.close()
        raise
    return f, source


def _open_problem(p: Path, e: sf.LibsndfileError) -> str:
    reason = _short(getattr(e, "error_string", "") or e)
    try:
        with open(p, "rb") as fh:
            head = fh.read(16)
    except OSError as oe:
        return f"cannot read ({oe.strerror or oe})"
    if head.startswith(_MAGICS) or _is_mpeg_sync(head):
        return f"truncated or corrupt header ({reason})"
    return f"not an audio file ({reason})"


def _is_mpeg_sync(head: bytes) -> bool:
    return len(head) >= 2 and head[0] == 0xFF and (head[1] & 0xE0) == 0xE0


def _short(e: object, limit: int = 100) -> str:
    text = _one_line(str(e)).rstrip(".")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _read(f: sf.SoundFile, source: str, frames: int = -1) -> np.ndarray:
    try:
        return f.read(frames, dtype="float32", always_2d=True)
    except (sf.SoundFileError, RuntimeError, OSError) as e:
        raise AudioError(source, f"read error ({_short(e)})") from None


def load(path: str | os.PathLike) -> np.ndarray:
    """A whole audio file as float32 mono at 16 kHz."""
    f, source = _open(path)
    with f:
        rate = f.samplerate
        data = _read(f, source)
    if data.shape[0] == 0:
        raise AudioError(source, _EMPTY)
    return to_16k(data, rate, source)


def iter_blocks(path: str | os.PathLike, block_seconds: float = 1.0) -> Iterator[np.ndarray]:
    """Stream a file as float32 mono 16 kHz blocks of about `block_seconds` each.

    Memory is bounded by the block size. The file is opened and its header checked when
    this is called; NaN/inf samples and read errors surface from the block that has them.
    The concatenated blocks equal `load(path)` to float tolerance.
    """
    if not (isinstance(block_seconds, numbers.Real) and math.isfinite(block_seconds) and block_seconds > 0):
        raise ValueError(f"block_seconds must be a positive number, got {block_seconds!r}")
    f, source = _open(path)
    block = max(1, int(round(block_seconds * f.samplerate)))
    return _blocks(f, source, block)


def _blocks(f: sf.SoundFile, source: str, block: int) -> Iterator[np.ndarray]:
    with f:
        resampler = Resampler(f.samplerate, source)
        total = 0
        while True:
            data = _read(f, source, block)
            if data.shape[0] == 0:
                break
            total += data.shape[0]
            out = resampler.process(to_mono_float(data, source))
            if out.size:
                yield out
        if total == 0:
            raise AudioError(source, _EMPTY)
        tail = resampler.process(np.zeros(0, np.float32), last=True)
        if tail.size:
            yield tail


def duration(path: str | os.PathLike) -> float:
    """Duration in seconds from the file's header (the same checks as `load`)."""
    f, _ = _open(path)
    with f:
        return f.frames / f.samplerate


def find_audio_files(inputs: Iterable[str | os.PathLike] | str | os.PathLike) -> list[Path]:
    """Files as given; directories expanded recursively to audio files, sorted.

    Hidden entries (names starting with '.') inside a directory are skipped. An input
    that does not exist is returned as is, so that loading it reports the error. A file
    reached twice is listed once.
    """
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    out: list[Path] = []
    seen: set[Path] = set()

    def add(p: Path) -> None:
        key = Path(os.path.abspath(p))
        if key not in seen:
            seen.add(key)
            out.append(p)

    for item in inputs:
        p = Path(item)
        if p.is_dir():
            for f in _walk_audio(p):
                add(f)
        else:
            add(p)
    return out


def _walk_audio(root: Path) -> list[Path]:
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for name in filenames:
            if not name.startswith(".") and os.path.splitext(name)[1].lower() in AUDIO_EXTENSIONS:
                found.append(Path(dirpath) / name)
    return sorted(found)


__all__ = [
    "AUDIO_EXTENSIONS", "AudioError", "MIN_SAMPLE_RATE", "Resampler", "SAMPLE_RATE",
    "check_rate", "duration", "find_audio_files", "iter_blocks", "load", "to_16k", "to_mono_float",
]
