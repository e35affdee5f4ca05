"""Command line: frame features of audio files.

    python -m realtime_ser.features FILE|DIR|- ... --out DIR [--csv] [--quiet]

Writes <out>/<name>.npy (float32, (frames, DIM)) per input file, optionally
<out>/<name>.csv, and <out>/features.json describing the run. A file of at most
WHOLE_FILE_MAX_S seconds is read whole and takes the batch path (native descriptors, numba
deltas of the whole signal: realtime_ser.features.kernels.extract, equal to the streamed
frames to the bit); stdin, pipes and longer files are streamed in blocks with frames written
as they are computed, so memory stays bounded for any length.
A bad input gives one ``error: ...`` line on stderr and the run goes on; a damaged but
usable one (a truncated WAV) or one too short for a single frame gives a ``warning: ...``
line. Exit status: 0 all good, 1 some input failed, 2 bad usage, 130 on Ctrl-C (after
writing features.json for the files finished).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import struct
import sys
import tempfile
from pathlib import Path, PurePath

import numpy as np
from tqdm import tqdm

from realtime_ser.audio import (SAMPLE_RATE, AudioError, display_name, duration, find_audio_files, iter_blocks,
                                iter_stdin_blocks)
from realtime_ser.features import DIM, FRAME_LENGTH_S, FRAME_SHIFT_S, NAMES, VERSION, OnlineFeatures

INDEX_NAME = "features.json"
WHOLE_FILE_MAX_S = 600.0  # longer files are streamed (bounded memory)
STDIN = "-"
STDIN_OUTPUT = "stdin"  # output name of `-`

_DESCRIPTION = """\
Compute the frame-level features (one frame per 10 ms, 25 ms window) of audio files.

Every input file (wav, flac, ogg, mp3, ...; any sample rate or channel count) is
downmixed to mono, resampled to 16 kHz and written as OUT/<name>.npy, a float32 array
of shape (frames, D). <name> is the file's stem; when two inputs share a stem, the path
relative to the input directory is used instead, with '/' replaced by '__'.
OUT/features.json lists the feature names, the feature version and every file written.
`-` reads one audio stream from stdin (written as OUT/stdin.npy).
"""

_EPILOG = """\
Directories are searched recursively for .wav .flac .ogg .mp3 .aiff .aif .au .opus files.
A file that cannot be read gives one 'error: <file>: <problem>' line on stderr and is
skipped; the exit status is then 1 (0 when every file succeeded). A truncated WAV, or a
file shorter than one 25 ms frame (written as an empty (0, D) array), gives one
'warning: <file>: <problem>' line. Ctrl-C stops the run (exit status 130); features.json
then lists the files finished.

examples:
  python -m realtime_ser.features speech.wav --out feats
  python -m realtime_ser.features corpus/ extra.flac --out feats --csv
"""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m realtime_ser.features",
        description=_DESCRIPTION,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("inputs", nargs="+", metavar="FILE|DIR|-",
                   help="audio files and/or directories to search, or - for stdin")
    p.add_argument("--out", "-o", required=True, metavar="DIR", type=Path,
                   help="output directory (created if missing)")
    p.add_argument("--csv", action="store_true",
                   help="also write OUT/<name>.csv with a header row 'time_s,<feature names>'")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # --help, or a usage error already printed by argparse
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 2)
    try:
        return _run(args)
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130


def _run(args: argparse.Namespace) -> int:
    failures = 0
    jobs: list[tuple[Path, Path | None]] = []  # (file, the input directory it was found in)
    for item in args.inputs:
        p = Path(item)
        if item == STDIN:
            jobs.append((p, None))
        elif p.is_dir():
            found = find_audio_files([p])
            if not found:
                _error(f"{item}: no audio files found in directory")
                failures += 1
            jobs.extend((f, p) for f in found)
        else:
            jobs.append((p, None))
    jobs = _dedupe(jobs)

    out: Path = args.out
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        _error(f"{out}: cannot create output directory ({e.strerror or e})")
        return 1

    names = _output_names(jobs)
    index_files: dict[str, dict] = {}
    show_bar = not args.quiet and len(jobs) > 1
    bar = tqdm(total=len(jobs), file=sys.stderr, disable=not show_bar, unit="file", dynamic_ncols=True)
    interrupted = False
    try:
        for (path, _), name in zip(jobs, names):
            bar.set_postfix_str(display_name(path.name), refresh=False)
            source = _source(path)
            try:
                index_files[name] = _process(path, name, out, args.csv, lambda m: _warn(m, bar))
            except AudioError as e:
                _error(str(e), bar)
                failures += 1
            except KeyboardInterrupt:
                _error(f"{source}: interrupted", bar)
                interrupted = True
                break
            except Exception as e:  # noqa: BLE001 - a bad input must never end the run
                _error(f"{source}: {type(e).__name__}: {display_name(str(e))}", bar)
                failures += 1
            bar.update(1)
    finally:
        bar.close()

    index = {
        "version": VERSION,
        "names": list(NAMES),
        "dim": int(DIM),
        "frame_shift_s": FRAME_SHIFT_S,
        "frame_length_s": FRAME_LENGTH_S,
        "sample_rate": SAMPLE_RATE,
        "files": index_files,
    }
    try:
        _atomic_write(out / INDEX_NAME, json.dumps(index, indent=2).encode() + b"\n")
    except OSError as e:
        _error(f"{out / INDEX_NAME}: cannot write ({e.strerror or e})")
        return 1
    if interrupted:
        return 130
    return 1 if failures else 0


def _source(path: Path) -> str:
    return "<stdin>" if str(path) == STDIN else display_name(path)


def _process(path: Path, name: str, out: Path, csv: bool, warn) -> dict:
    """Stream one input's features into OUT/<name>.npy (and .csv); its index entry."""
    source = _source(path)
    if str(path) == STDIN:
        blocks = iter_stdin_blocks()
    else:
        blocks = iter_blocks(path, on_warning=warn)
    writers = [_NpyWriter(out / f"{name}.npy")] + ([_CsvWriter(out / f"{name}.csv")] if csv else [])
    try:
        samples = frames = 0
        for n, feats in _feature_pieces(path, blocks):
            feats = _checked(feats)
            for w in writers:
                w.write(feats, frames)
            samples += n
            frames += feats.shape[0]
        for w in writers:
            w.commit()
    finally:
        for w in writers:
            w.discard()
    if frames == 0:
        warn(f"{source}: shorter than one {FRAME_LENGTH_S * 1000:.0f} ms frame; wrote an empty (0, {DIM}) array")
    return {"source": source, "frames": frames, "duration_s": round(samples / SAMPLE_RATE, 6)}


def _feature_pieces(path: Path, blocks):
    """(samples, frames) pieces of one input: one piece by the batch path for a regular file of at
    most WHOLE_FILE_MAX_S, else one per block from the streaming extractor."""
    if str(path) != STDIN and path.is_file() and duration(path) <= WHOLE_FILE_MAX_S:
        from realtime_ser.features import kernels  # numba: the batch path only

        parts = list(blocks)
        x = np.concatenate(parts) if parts else np.zeros(0, np.float32)
        yield len(x), kernels.extract(x, SAMPLE_RATE)
        return
    stream = OnlineFeatures()
    for block in itertools.chain(blocks, [None]):  # None: the end
        if block is None:
            stream.input_finished()
            yield 0, stream.pop_frames()
        else:
            stream.accept_waveform(SAMPLE_RATE, block)
            yield len(block), stream.pop_frames()


def _checked(feats) -> np.ndarray:
    feats = np.asarray(feats, dtype=np.float32)
    if feats.ndim != 2 or feats.shape[1] != DIM:
        raise RuntimeError(f"feature extractor returned shape {feats.shape}, expected (frames, {DIM})")
    return feats


def _file_mode() -> int:
    """The mode a plain open() would give a new file (0666 less the umask)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


class _TempOutput:
    """A temporary file beside `target` that replaces it on commit() (never half-written)."""

    def __init__(self, target: Path) -> None:
        self.target = target
        fd, self.tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        os.fchmod(fd, _file_mode())  # mkstemp makes 0600
        self.fh = os.fdopen(fd, "wb")

    def commit(self) -> None:
        self.fh.close()
        os.replace(self.tmp, self.target)
        self.tmp = None

    def discard(self) -> None:
        """Remove the temporary file unless committed."""
        if self.tmp is None:
            return
        self.fh.close()
        try:
            os.unlink(self.tmp)
        except OSError:
            pass
        self.tmp = None


class _NpyWriter(_TempOutput):
    """A float32 (frames, DIM) .npy written row block by row block: a fixed-size header,
    rewritten with the final frame count on commit."""

    HEADER_BYTES = 128

    def __init__(self, target: Path) -> None:
        super().__init__(target)
        self.rows = 0
        self.fh.write(_npy_header(0))

    def write(self, feats: np.ndarray, start: int) -> None:
        self.fh.write(np.ascontiguousarray(feats, dtype="<f4").tobytes())
        self.rows += feats.shape[0]

    def commit(self) -> None:
        self.fh.seek(0)
        self.fh.write(_npy_header(self.rows))
        super().commit()


def _npy_header(rows: int) -> bytes:
    """A .npy (format 1.0) header for float32 (rows, DIM), padded to _NpyWriter.HEADER_BYTES."""
    text = "{'descr': '<f4', 'fortran_order': False, 'shape': (%d, %d), }" % (rows, DIM)
    body = text.ljust(_NpyWriter.HEADER_BYTES - 10 - 1) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(body)) + body.encode("latin1")


class _CsvWriter(_TempOutput):
    def __init__(self, target: Path) -> None:
        super().__init__(target)
        self.fh.write((",".join(["time_s", *NAMES]) + "\n").encode())

    def write(self, feats: np.ndarray, start: int) -> None:
        lines = []
        for i, row in enumerate(feats):
            t = (start + i) * FRAME_SHIFT_S
            lines.append(f"{float(t):.6g}," + ",".join(f"{float(v):.9g}" for v in row) + "\n")
        self.fh.write("".join(lines).encode())


def _atomic_write(target: Path, data: bytes) -> None:
    """Write via a temporary file in the same directory, so no half-written output remains."""
    out = _TempOutput(target)
    try:
        out.fh.write(data)
        out.commit()
    finally:
        out.discard()


def _error(message: str, bar: tqdm | None = None) -> None:
    _say("error: " + " ".join(message.split()), bar)


def _warn(message: str, bar: tqdm | None = None) -> None:
    _say("warning: " + " ".join(message.split()), bar)


def _say(line: str, bar: tqdm | None) -> None:
    if bar is not None and not bar.disable:
        bar.write(line, file=sys.stderr)
    else:
        print(line, file=sys.stderr, flush=True)


def _dedupe(jobs: list[tuple[Path, Path | None]]) -> list[tuple[Path, Path | None]]:
    seen: set[str] = set()
    unique = []
    for path, root in jobs:
        key = os.path.abspath(path)
        if key not in seen:
            seen.add(key)
            unique.append((path, root))
    return unique


def _output_names(jobs: list[tuple[Path, Path | None]]) -> list[str]:
    """A unique output name per input (unique ignoring case, for case-insensitive disks).

    The stem where it is unique; else the path relative to its input directory (for a
    file given directly: the path as given), without the extension, '/' -> '__'; else the
    same with the extension kept; else a numeric suffix.
    """

    def joined(parts: tuple[str, ...]) -> str:
        return "__".join(p for p in parts if p not in ("", ".", "/", "\\"))

    def relative(path: Path, root: Path | None, keep_ext: bool) -> str:
        rel = PurePath(os.path.relpath(path, root)) if root is not None else path
        if not keep_ext:
            rel = rel.with_suffix("")
        parts = tuple("up" if p == ".." else p for p in rel.parts if p != rel.anchor)
        return joined(parts) or path.stem

    candidates = [
        [STDIN_OUTPUT] * 3 if str(path) == STDIN and root is None else
        [display_name(c) for c in (path.stem or path.name, relative(path, root, False), relative(path, root, True))]
        for path, root in jobs
    ]
    names = [c[0] for c in candidates]
    for level in (1, 2):
        counts = _counts(names)
        names = [cands[level] if counts[n.casefold()] > 1 else n for n, cands in zip(names, candidates)]
    # Last resort: numeric suffixes, avoiding every name already taken.
    taken = {n.casefold() for n in names}
    used: set[str] = set()
    final = []
    for n in names:
        if n.casefold() in used:
            i = 2
            while f"{n}__{i}".casefold() in taken:
                i += 1
            n = f"{n}__{i}"
            taken.add(n.casefold())
        used.add(n.casefold())
        final.append(n)
    return final


def _counts(names: list[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for n in names:
        counts[n.casefold()] = counts.get(n.casefold(), 0) + 1
    return counts


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
