"""Audio input: any file libsndfile reads, or any buffer, to mono float32 at 16 kHz.

    samples = load("speech.flac")                # whole file, float32 mono 16 kHz
    for block in iter_blocks("long.wav"):         # bounded memory, same samples as load()
        ...
    rs = Resampler(48000)                         # streaming (microphone) input
    out = rs.process(chunk)                       # ...; rs.process(empty, last=True) flushes
    for block in iter_stdin_blocks():             # a WAV/FLAC/... stream on stdin (or a FIFO)
        ...

Every problem with an input raises `AudioError`, whose message is one line
``"<source>: <problem>"`` (e.g. ``"a.wav: file not found"``).
"""

from __future__ import annotations

import errno
import math
import numbers
import os
import re
import stat
import struct
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import numpy as np

# soundfile (libsndfile via cffi, ~12 ms to import), soxr, tempfile and queue are imported where
# used: a plain 16-bit PCM WAV at 16 kHz (the CLI's usual input) needs none of them (_PcmWav).

SAMPLE_RATE = 16000
MIN_SAMPLE_RATE = 8000
MAX_SAMPLE_RATE = 192000
MAX_CHANNELS = 64          # a 2-D buffer with more columns than this is taken as channels-first
MAX_FLOAT_AMPLITUDE = 1.5  # float samples beyond this are at integer scale, not [-1, 1]
MAX_SPOOL_BYTES = 2 << 30  # a FLAC stream read from a pipe is spooled to disk, up to this
STDIN_NAME = "<stdin>"
RESAMPLE_QUALITY = "HQ"

AUDIO_EXTENSIONS = frozenset({".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif", ".au", ".opus"})

# Leading bytes of container formats libsndfile reads: a file that starts with one of these
# but cannot be opened has a damaged header rather than being some other kind of file.
_MAGICS = (
    b"RIFF", b"RIFX", b"RF64", b"BW64", b"FORM", b"fLaC", b"OggS", b".snd", b"ID3",
    b"caff", b"riff", b"NIST_1A",
)

# Formats libsndfile cannot decode from a pipe (FLAC, MP3, CAF): spooled to a file first.
_SPOOLED = (b"fLaC", b"ID3", b"caff")

_NOT_FOUND = "file not found"
_EMPTY = "no samples (zero length)"
_NON_FINITE = "contains NaN or infinite samples"
# libsndfile's log for a WAV whose data chunk is longer than the file: "data : 64000 (should be 31978)"
_SHORT_DATA = re.compile(r"^data\s*:\s*(\d+)\s*\(should be (\d+)\)", re.MULTILINE)


class AudioError(ValueError):
    """A bad audio input. ``str(err)`` is one line: ``"<source>: <problem>"``."""

    def __init__(self, source: object, problem: str) -> None:
        self.source = _one_line(display_name(str(source)))
        self.problem = _one_line(display_name(str(problem)))
        super().__init__(f"{self.source}: {self.problem}")

    def __reduce__(self):  # picklable, so that worker processes can report it
        return type(self), (self.source, self.problem)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def display_name(path: str | os.PathLike | bytes) -> str:
    """A path (or any text) as valid UTF-8 text: undecodable bytes of a name become \\xNN escapes."""
    text = os.fsdecode(path) if isinstance(path, (bytes, os.PathLike)) else str(path)
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        pass
    try:
        raw = text.encode("utf-8", "surrogateescape")  # bytes os.fsdecode could not decode
    except UnicodeEncodeError:
        raw = text.encode("utf-8", "surrogatepass")  # any other lone surrogate
    return raw.decode("utf-8", "backslashreplace")


# --------------------------------------------------------------------------- buffers


def to_mono_float(samples: np.ndarray, source: str = "<buffer>", from_file: bool = False) -> np.ndarray:
    """Samples of shape (n,) or (n, channels) as 1-D float32, channels averaged.

    Integer samples are scaled to [-1, 1): int8/int16/int32 by 2**(bits-1); uint8 is
    offset-binary (128 is silence). Float samples keep their values, which must lie within
    +-MAX_FLOAT_AMPLITUDE (float samples at int16 scale are an error, not silently another
    signal). A buffer with more than MAX_CHANNELS columns is taken as channels-first and
    refused (`from_file`: the layout is known, no such check).
    """
    x = np.asarray(samples)
    if x.ndim not in (1, 2):
        raise AudioError(source, f"expected samples of shape (n,) or (n, channels), got shape {x.shape}")
    if x.size == 0:
        raise AudioError(source, _EMPTY)
    if x.ndim == 2 and not from_file and x.shape[1] > MAX_CHANNELS and x.shape[1] > x.shape[0]:
        raise AudioError(source, f"got shape {x.shape}, which looks channels-first; "
                                 f"pass (n, channels), e.g. samples.T")
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
    if kind == "f":
        _check_float_range(y, source)
    return y


def _check_float_range(y: np.ndarray, source: str) -> None:
    peak = float(np.max(np.abs(y)))  # NaN propagates
    if not math.isfinite(peak):
        raise AudioError(source, _NON_FINITE)
    if peak > MAX_FLOAT_AMPLITUDE:
        raise AudioError(source, f"float samples reach {peak:.6g}, expected [-1, 1] "
                                 f"(integer scale? divide by 32768, or pass int16 samples)")


def check_rate(sample_rate: object, source: str = "<buffer>") -> int:
    """The sample rate as an int; AudioError unless a whole number in [MIN_SAMPLE_RATE, MAX_SAMPLE_RATE]."""
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, numbers.Real):
        raise AudioError(source, f"invalid sample rate {sample_rate!r}")
    try:
        rate = float(sample_rate)
    except OverflowError:
        raise AudioError(source, f"sample rate too large (above the {MAX_SAMPLE_RATE} Hz maximum)") from None
    if not math.isfinite(rate) or rate <= 0:
        raise AudioError(source, f"invalid sample rate {sample_rate} Hz")
    if rate != int(rate):
        raise AudioError(source, f"sample rate {sample_rate} Hz is not a whole number")
    if rate < MIN_SAMPLE_RATE:
        raise AudioError(source, f"sample rate {int(rate)} Hz is below the {MIN_SAMPLE_RATE} Hz minimum")
    if rate > MAX_SAMPLE_RATE:
        raise AudioError(source, f"sample rate {rate:.0f} Hz is above the {MAX_SAMPLE_RATE} Hz maximum")
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
            import soxr

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


class AudioInput:
    """One stream's chunks as 16 kHz mono float32: rate fixed by the first chunk, downmix, resampling."""

    def __init__(self, source: str = "<stream>") -> None:
        self.source = source
        self.rate: int | None = None
        self._resampler: Resampler | None = None

    def convert(self, sample_rate: int, samples: np.ndarray) -> np.ndarray:
        """A chunk ((n,) or (n, channels), int or float) at sample_rate Hz -> 16 kHz samples."""
        if self.rate is None:
            check_rate(sample_rate, self.source)
            self.rate = int(sample_rate)
            self._resampler = Resampler(self.rate, self.source)
        elif sample_rate != self.rate:
            raise ValueError(f"{self.source}: sample rate changed from {self.rate} to {sample_rate} Hz")
        if np.size(samples) == 0:
            return np.zeros(0, np.float32)
        return self._resampler.process(to_mono_float(samples, self.source))

    def flush(self) -> np.ndarray:
        """The resampler's tail at the end of input."""
        if self._resampler is None:
            return np.zeros(0, np.float32)
        return self._resampler.process(np.zeros(0, np.float32), last=True)


def to_16k(samples: np.ndarray, sample_rate: int, source: str = "<buffer>") -> np.ndarray:
    """A whole buffer ((n,) or (n, channels), int or float) as float32 mono at 16 kHz."""
    rate = check_rate(sample_rate, source)
    x = to_mono_float(samples, source)
    if rate == SAMPLE_RATE:
        return x
    return Resampler(rate, source).process(x, last=True)


# --------------------------------------------------------------------------- files


def _open(path: str | os.PathLike, on_warning: Callable[[str], None] | None = None
          ) -> tuple[sf.SoundFile, str]:
    """Open an audio file for reading, with every check that needs no sample data."""
    source = str(path)
    p = Path(path)
    st = _stat(p, source)
    if stat.S_ISDIR(st.st_mode):
        raise AudioError(source, "is a directory, not an audio file")
    if stat.S_ISFIFO(st.st_mode):
        raise AudioError(source, "is a named pipe: stream it (iter_blocks), it cannot be loaded whole")
    if st.st_size == 0:
        raise AudioError(source, _EMPTY)
    wav = _PcmWav.open(p, st.st_size)
    if wav is not None:
        return wav, source
    import soundfile as sf

    try:
        f = sf.SoundFile(os.fsencode(p))  # bytes: any file name, UTF-8 or not
    except sf.LibsndfileError as e:
        raise AudioError(source, _open_problem(p, e)) from None
    except (sf.SoundFileError, OSError, RuntimeError) as e:
        raise AudioError(source, f"cannot open ({_short(e)})") from None
    try:
        _check_header(f, source)
        short = _short_data(f)
        if short and on_warning is not None:
            on_warning(f"{AudioError(source, short)}")
    except BaseException:
        f.close()
        raise
    return f, source


def _stat(p: Path, source: str) -> os.stat_result:
    """os.stat with one-line messages: not found, broken link, link loop, no permission."""
    try:
        return p.stat()
    except FileNotFoundError:
        problem = "broken symbolic link" if p.is_symlink() else _NOT_FOUND
    except OSError as e:
        if e.errno == errno.ELOOP:
            problem = "symbolic link loop"
        elif e.errno == errno.ENAMETOOLONG:
            problem = "file name too long"
        else:
            problem = f"cannot read ({e.strerror or e})"
    raise AudioError(source, problem)


def _check_header(f: sf.SoundFile, source: str) -> None:
    check_rate(f.samplerate, source)
    if f.channels < 1:
        raise AudioError(source, f"invalid channel count {f.channels}")
    if f.seekable() and f.frames == 0:
        raise AudioError(source, _EMPTY)


def _short_data(f: sf.SoundFile) -> str | None:
    """A warning if the header promises more audio than the file holds (a truncated WAV)."""
    try:
        log = f.extra_info
    except Exception:  # noqa: BLE001 - the log is a nicety
        return None
    m = _SHORT_DATA.search(log)
    if not m:
        return None
    said, has = int(m.group(1)), int(m.group(2))
    if has >= said or said in (0, 0xFFFFFFFF):  # 0 / max: "length unknown", written while streaming
        return None
    return (f"truncated: the header promises {said} bytes of audio, the file holds {has}; "
            f"only the first {f.frames / f.samplerate:.3f} s are used")


def _open_problem(p: Path, e) -> str:
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


def _read(f: sf.SoundFile | _PcmWav, source: str, frames: int = -1) -> np.ndarray:
    try:
        return f.read(frames, dtype="float32", always_2d=True)
    except Exception as e:  # noqa: BLE001 - soundfile's errors, RuntimeError, OSError
        if not isinstance(e, (RuntimeError, OSError)) and not _is_soundfile_error(e):
            raise
        raise AudioError(source, f"read error ({_short(e)})") from None


def _is_soundfile_error(e: BaseException) -> bool:
    sf = sys.modules.get("soundfile")  # only a SoundFile (soundfile imported) raises its errors
    return sf is not None and isinstance(e, sf.SoundFileError)


class _PcmWav:
    """A plain, well-formed 16-bit PCM WAV (RIFF/WAVE, format tag 1), read without libsndfile.

    Only files whose every header field is unambiguous are taken: the RIFF size matches the
    file, a 16-byte-or-longer `fmt ` chunk before the `data` chunk, block align 2 x channels, a
    valid sample rate, a non-empty data chunk of whole frames lying inside the file. Anything
    else (other encodings, WAVE_FORMAT_EXTENSIBLE, truncated or odd headers, errors) goes to
    soundfile, which then reads or reports it as before. The samples are libsndfile's exactly:
    int16 / 32768 as float32 (tests/test_audio.py compares the two).
    """

    def __init__(self, fh, samplerate: int, channels: int, frames: int) -> None:
        self._fh = fh
        self.samplerate, self.channels, self.frames = samplerate, channels, frames
        self._left = frames

    @classmethod
    def open(cls, p: Path, size: int) -> "_PcmWav | None":
        """The file as a _PcmWav, or None (soundfile's business: not a plain PCM16 WAV, or unreadable)."""
        try:
            fh = open(p, "rb")
        except (OSError, ValueError):
            return None
        try:
            layout = cls._layout(fh, size)
            if layout is not None:
                fh.seek(layout[3])
                return cls(fh, *layout[:3])
        except (OSError, ValueError, struct.error):
            pass
        fh.close()
        return None

    @staticmethod
    def _layout(fh, size: int) -> tuple[int, int, int, int] | None:
        """(rate, channels, frames, data offset) of a plain PCM16 WAV, else None."""
        head = fh.read(12)
        if len(head) != 12 or head[:4] != b"RIFF" or head[8:] != b"WAVE":
            return None
        if struct.unpack("<I", head[4:8])[0] + 8 != size:
            return None
        pos, fmt = 12, None
        while pos + 8 <= size:
            fh.seek(pos)
            chunk_id, length = struct.unpack("<4sI", fh.read(8))
            body = pos + 8
            if chunk_id == b"fmt ":
                if fmt is not None or length < 16 or body + length > size:
                    return None
                fmt = struct.unpack("<HHIIHH", fh.read(16))
            elif chunk_id == b"data":
                if fmt is None:
                    return None
                tag, channels, rate, _, align, bits = fmt
                if tag != 1 or bits != 16 or not 1 <= channels <= MAX_CHANNELS or align != 2 * channels:
                    return None
                if not MIN_SAMPLE_RATE <= rate <= MAX_SAMPLE_RATE:
                    return None
                if length == 0 or length % align or body + length > size:
                    return None
                return rate, channels, length // align, body
            pos = body + length + (length & 1)
        return None

    def read(self, frames: int = -1, dtype: str = "float32", always_2d: bool = True) -> np.ndarray:
        assert dtype == "float32" and always_2d
        n = self._left if frames < 0 else min(frames, self._left)
        raw = self._fh.read(2 * self.channels * n)
        if len(raw) != 2 * self.channels * n:
            raise OSError(errno.EIO, "file shorter than its header")
        self._left -= n
        x = np.frombuffer(raw, "<i2").reshape(n, self.channels)
        return x.astype(np.float32) * np.float32(1.0 / 32768)

    def seekable(self) -> bool:
        return True

    def close(self) -> None:
        self._fh.close()

    def __enter__(self) -> "_PcmWav":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def load(path: str | os.PathLike) -> np.ndarray:
    """A whole audio file as float32 mono at 16 kHz."""
    f, source = _open(path)
    with f:
        rate = f.samplerate
        data = _read(f, source)
    if data.shape[0] == 0:
        raise AudioError(source, _EMPTY)
    return to_16k(data, rate, source)


def iter_blocks(path: str | os.PathLike, block_seconds: float = 1.0,
                on_warning: Callable[[str], None] | None = None) -> Iterator[np.ndarray]:
    """Stream a file as float32 mono 16 kHz blocks of about `block_seconds` each.

    Memory is bounded by the block size. The file is opened and its header checked when
    this is called; NaN/inf samples and read errors surface from the block that has them.
    The concatenated blocks equal `load(path)` to float tolerance. A named pipe (FIFO) is
    read like stdin (see iter_stdin_blocks). `on_warning(message)` hears of a damaged but
    usable file (a WAV shorter than its header says), before the first block.
    """
    _check_block_seconds(block_seconds)
    if _is_fifo(path):
        return _fifo_blocks(path, block_seconds)
    f, source = _open(path, on_warning)
    block = max(1, int(round(block_seconds * f.samplerate)))
    return _blocks(f, source, block)


def _check_block_seconds(block_seconds) -> None:
    if not (isinstance(block_seconds, numbers.Real) and math.isfinite(block_seconds) and block_seconds > 0):
        raise ValueError(f"block_seconds must be a positive number, got {block_seconds!r}")


def _is_fifo(path) -> bool:
    try:
        return stat.S_ISFIFO(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False


def _fifo_blocks(path, block_seconds: float) -> Iterator[np.ndarray]:
    source = str(path)
    try:
        fd = os.open(path, os.O_RDONLY)  # waits for a writer, as reading a FIFO does
    except OSError as e:
        raise AudioError(source, f"cannot open ({e.strerror or e})") from None
    try:
        blocks = iter_fd_blocks(fd, source, block_seconds)
    except BaseException:
        os.close(fd)
        raise
    return _closing(blocks, fd)


def _closing(blocks: Iterator[np.ndarray], fd: int) -> Iterator[np.ndarray]:
    try:
        yield from blocks
    finally:
        os.close(fd)


def _blocks(f: sf.SoundFile | _PcmWav, source: str, block: int) -> Iterator[np.ndarray]:
    with f:
        resampler = Resampler(f.samplerate, source)
        total = 0
        while True:
            data = _read(f, source, block)
            if data.shape[0] == 0:
                break
            total += data.shape[0]
            out = resampler.process(to_mono_float(data, source, from_file=True))
            if out.size:
                yield out
        if total == 0:
            raise AudioError(source, _EMPTY)
        tail = resampler.process(np.zeros(0, np.float32), last=True)
        if tail.size:
            yield tail


# --------------------------------------------------------------------------- streams (stdin, FIFOs)


def iter_stdin_blocks(block_seconds: float = 1.0) -> Iterator[np.ndarray]:
    """stdin as float32 mono 16 kHz blocks (see iter_fd_blocks); AudioError if closed or a terminal."""
    _check_block_seconds(block_seconds)
    return iter_fd_blocks(_stdin_fd(), STDIN_NAME, block_seconds)


def _stdin_fd() -> int:
    try:
        fd = sys.stdin.fileno()
        os.fstat(fd)
    except (AttributeError, OSError, ValueError):  # None (<&-), no fd, or a closed one
        raise AudioError(STDIN_NAME, "stdin is closed (nothing to read)") from None
    if os.isatty(fd):
        raise AudioError(STDIN_NAME, "stdin is a terminal: pipe or redirect audio into it")
    return fd


def iter_fd_blocks(fd: int, source: str, block_seconds: float = 1.0) -> Iterator[np.ndarray]:
    """An audio stream on a file descriptor (a pipe, FIFO or file) as float32 mono 16 kHz blocks.

    Any format libsndfile reads. From a pipe, audio is decoded as it arrives (bounded memory),
    except FLAC, MP3 and CAF, which libsndfile cannot decode without seeking: such a stream is
    first spooled to a temporary file (at most MAX_SPOOL_BYTES). The fd is not closed.
    """
    _check_block_seconds(block_seconds)
    try:
        st = os.fstat(fd)
    except OSError as e:
        raise AudioError(source, f"cannot read ({e.strerror or e})") from None
    if stat.S_ISREG(st.st_mode):
        if st.st_size == 0:
            raise AudioError(source, _EMPTY)
        dup = _Dup(fd)  # libsndfile cannot decode FLAC from fd 0 itself, only from a copy
        return _fd_file_blocks(dup.fd, source, block_seconds, keep=dup)
    head = _read_head(fd, source, 4)
    if not head:
        raise AudioError(source, "no data (empty stream)")
    if head.startswith(_SPOOLED) or _is_mpeg_sync(head):
        spool = _spool(fd, head, source)
        return _fd_file_blocks(spool.fileno(), source, block_seconds, keep=spool)
    relay = _Relay(fd, head)
    return _in_thread(lambda: _fd_file_blocks(relay.fd, source, block_seconds, keep=relay))


def _in_thread(make_blocks: Callable[[], Iterator[np.ndarray]], size: int = 4) -> Iterator[np.ndarray]:
    """Decode in a daemon thread, handing blocks over through a bounded queue.

    libsndfile's reads from a pipe retry when a signal interrupts them, so a Ctrl-C would
    wait for the writer's next bytes; the caller here waits on the queue instead, and a
    KeyboardInterrupt reaches it within 0.1 s even while the writer is idle.
    """
    import queue

    handoff: queue.Queue = queue.Queue(size)
    stop = threading.Event()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                handoff.put(item, timeout=0.1)
                return True
            except queue.Full:
                pass
        return False

    def work() -> None:
        try:
            for block in make_blocks():
                if not put(("block", block)):
                    return
            put(("end", None))
        except BaseException as e:  # noqa: BLE001 - handed to the caller
            put(("error", e))

    threading.Thread(target=work, name="audio-decode", daemon=True).start()
    try:
        while True:
            try:
                kind, value = handoff.get(timeout=0.1)
            except queue.Empty:
                continue
            if kind == "end":
                return
            if kind == "error":
                raise value
            yield value
    finally:
        stop.set()


def _fd_file_blocks(fd: int, source: str, block_seconds: float, keep=None):
    """Blocks from an fd libsndfile reads (not closed); `keep` (spool file, relay) is closed at the end."""
    import soundfile as sf

    try:
        f = sf.SoundFile(fd, closefd=False)
    except (sf.SoundFileError, RuntimeError, OSError) as e:
        if keep is not None:
            keep.close()
        reason = _short(getattr(e, "error_string", "") or e)
        raise AudioError(source, f"not an audio stream libsndfile can read ({reason})") from None
    try:
        _check_header(f, source)
    except BaseException:
        f.close()
        if keep is not None:
            keep.close()
        raise
    block = max(1, int(round(block_seconds * f.samplerate)))
    return _kept(_blocks(f, source, block), keep, source)


def _kept(blocks: Iterator[np.ndarray], keep, source: str) -> Iterator[np.ndarray]:
    try:
        yield from blocks
        error = getattr(keep, "error", None)
        if error is not None:
            raise AudioError(source, f"read error ({error.strerror or error})")
    finally:
        if keep is not None:
            keep.close()


def _read_head(fd: int, source: str, n: int) -> bytes:
    head = b""
    try:
        while len(head) < n:
            chunk = os.read(fd, n - len(head))
            if not chunk:
                break
            head += chunk
    except OSError as e:
        raise AudioError(source, f"cannot read ({e.strerror or e})") from None
    return head


def _spool(fd: int, head: bytes, source: str):
    """The rest of the stream in a temporary file (deleted when closed), at most MAX_SPOOL_BYTES."""
    import tempfile

    spool = tempfile.TemporaryFile(prefix="realtime_ser-spool-")
    try:
        spool.write(head)
        total = len(head)
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            total += len(chunk)
            if total > MAX_SPOOL_BYTES:
                raise AudioError(source, f"FLAC/MP3 stream longer than {MAX_SPOOL_BYTES >> 30} GiB; "
                                         f"pass the file's path instead")
            spool.write(chunk)
        spool.flush()
        spool.seek(0)
    except OSError as e:
        spool.close()
        raise AudioError(source, f"cannot read ({e.strerror or e})") from None
    except BaseException:
        spool.close()
        raise
    return spool


class _Dup:
    """A duplicate of an fd, closed with close()."""

    def __init__(self, fd: int) -> None:
        self.fd = os.dup(fd)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


class _Relay:
    """A pipe that replays the bytes already read (`head`) and then copies the source fd.

    The format is known from the first bytes only after reading them; libsndfile gets
    this pipe's read end (`fd`) instead. A thread copies; it ends at the source's EOF, or
    when the read end is closed. A read error of the source is kept in `error`.
    """

    def __init__(self, src: int, head: bytes) -> None:
        self.fd, self._w = os.pipe()
        self.error: OSError | None = None
        self._src, self._head = src, head
        threading.Thread(target=self._copy, name="audio-relay", daemon=True).start()

    def _copy(self) -> None:
        try:
            chunk = self._head
            while chunk:
                _write_all(self._w, chunk)
                try:
                    chunk = os.read(self._src, 1 << 16)
                except OSError as e:
                    self.error = e
                    break
        except OSError:
            pass  # the reader closed its end: nothing more is wanted
        finally:
            os.close(self._w)

    def close(self) -> None:
        """Close the read end; a copy still running then ends (EPIPE)."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


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
    "AUDIO_EXTENSIONS", "AudioError", "MAX_SAMPLE_RATE", "MIN_SAMPLE_RATE", "Resampler", "SAMPLE_RATE",
    "check_rate", "display_name", "duration", "find_audio_files", "iter_blocks", "iter_fd_blocks",
    "iter_stdin_blocks", "load", "to_16k", "to_mono_float",
]
