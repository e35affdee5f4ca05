"""Command line: frame features of audio files.

    python -m realtime_ser.features FILE|DIR ... --out DIR [--csv] [--quiet]

Writes <out>/<name>.npy (float32, (frames, DIM)) per input file, optionally
<out>/<name>.csv, and <out>/features.json describing the run. A bad input gives one
``error: ...`` line on stderr and the run goes on; the exit status is 1 if any input
failed, 0 otherwise.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import tempfile
from pathlib import Path, PurePath

import numpy as np
from tqdm import tqdm

from realtime_ser.audio import SAMPLE_RATE, AudioError, find_audio_files, load
from realtime_ser.features import DIM, FRAME_LENGTH_S, FRAME_SHIFT_S, NAMES, VERSION, extract

INDEX_NAME = "features.json"

_DESCRIPTION = """\
Compute the frame-level features (one frame per 10 ms, 25 ms window) of audio files.

Every input file (wav, flac, ogg, mp3, ...; any sample rate or channel count) is
downmixed to mono, resampled to 16 kHz and written as OUT/<name>.npy, a float32 array
of shape (frames, D). <name> is the file's stem; when two inputs share a stem, the path
relative to the input directory is used instead, with '/' replaced by '__'.
OUT/features.json lists the feature names, the feature version and every file written.
"""

_EPILOG = """\
Directories are searched recursively for .wav .flac .ogg .mp3 .aiff .aif .au .opus files.
A file that cannot be read gives one 'error: <file>: <problem>' line on stderr and is
skipped; the exit status is then 1 (0 when every file succeeded).

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
    p.add_argument("inputs", nargs="+", metavar="FILE|DIR", help="audio files and/or directories to search")
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
        if p.is_dir():
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
    try:
        for (path, _), name in zip(jobs, names):
            bar.set_postfix_str(path.name, refresh=False)
            try:
                index_files[name] = _process(path, name, out, args.csv)
            except AudioError as e:
                _error(str(e), bar)
                failures += 1
            except Exception as e:  # noqa: BLE001 - a bad input must never end the run
                _error(f"{path}: {type(e).__name__}: {e}", bar)
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
    return 1 if failures else 0


def _process(path: Path, name: str, out: Path, csv: bool) -> dict:
    samples = load(path)
    feats = np.asarray(extract(samples, SAMPLE_RATE), dtype=np.float32)
    if feats.ndim != 2 or feats.shape[1] != DIM:
        raise RuntimeError(f"feature extractor returned shape {feats.shape}, expected (frames, {DIM})")
    _atomic_write(out / f"{name}.npy", _npy_bytes(feats))
    if csv:
        _atomic_write(out / f"{name}.csv", _csv_bytes(feats))
    return {
        "source": str(path),
        "frames": int(feats.shape[0]),
        "duration_s": round(samples.shape[0] / SAMPLE_RATE, 6),
    }


def _npy_bytes(feats: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(feats, dtype=np.float32))
    return buf.getvalue()


def _csv_bytes(feats: np.ndarray) -> bytes:
    buf = io.StringIO()
    buf.write(",".join(["time_s", *NAMES]) + "\n")
    times = np.arange(feats.shape[0]) * FRAME_SHIFT_S
    for t, row in zip(times, feats):
        buf.write(f"{float(t):.6g}," + ",".join(f"{float(v):.9g}" for v in row) + "\n")
    return buf.getvalue().encode()


def _atomic_write(target: Path, data: bytes) -> None:
    """Write via a temporary file in the same directory, so no half-written output remains."""
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _error(message: str, bar: tqdm | None = None) -> None:
    line = "error: " + " ".join(message.split())
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
        [path.stem or path.name, relative(path, root, False), relative(path, root, True)]
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
