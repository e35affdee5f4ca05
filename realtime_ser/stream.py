"""Stream audio files through the engine and print events as JSON Lines.

    python -m realtime_ser.stream FILE|DIR|- ... [--model DIR] [--chunk-ms 100]
        [--right-context-ms MS] [--endpoint-ms 500] [--partials] [--posteriors]
        [--no-spikes] [--latency] [--realtime] [--quiet]

Each input is read in blocks (bounded memory, any length) and fed to one stream; its events
go to stdout as they are produced, one JSON object a line (see realtime_ser.events):
spike / segment / utterance (exactly one per good input), partial and posteriors on request.
Directories are searched recursively for audio files. `-` reads one audio stream from stdin
through libsndfile: WAV (any rate, channels, PCM/float) works from a pipe; FLAC does not
(libsndfile cannot decode FLAC from a pipe: pass the file's path); raw PCM is not accepted.

A bad input gives one {"type": "error", ...} line, the other inputs go on, and the exit
status is 1. A missing or invalid model (or bad options) gives one line on stderr and exit 2.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterator

import numpy as np

from realtime_ser.audio import SAMPLE_RATE, AudioError, Resampler, check_rate, find_audio_files, iter_blocks
from realtime_ser.engine import Engine, EngineConfig, Stream
from realtime_ser.events import Error
from realtime_ser.model import ModelError

PROG = "python -m realtime_ser.stream"
STDIN = "-"


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog=PROG, description="Real-time speech emotion recognition "
                                "of audio files, as JSON Lines events on stdout.")
    p.add_argument("inputs", nargs="+", metavar="FILE|DIR|-", help="audio files, directories, or - for stdin")
    p.add_argument("--model", default=None, metavar="DIR", help="model directory (default: bundled)")
    p.add_argument("--chunk-ms", type=int, default=100, help="BiLSTM chunk, ms (default 100)")
    p.add_argument("--right-context-ms", type=int, default=None,
                   help="BiLSTM right context, ms (default: the model's, else 200)")
    p.add_argument("--endpoint-ms", type=int, default=500, help="Null run that ends a segment, ms (default 500)")
    p.add_argument("--partials", action="store_true", help="also print the running decision")
    p.add_argument("--posteriors", action="store_true", help="also print frame posteriors")
    p.add_argument("--no-spikes", action="store_true", help="do not print spike events")
    p.add_argument("--latency", action="store_true", help="add latency_s (seconds) to every event")
    p.add_argument("--realtime", action="store_true", help="feed audio at real-time pace")
    p.add_argument("--quiet", action="store_true", help="no progress bar or messages on stderr")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    config = EngineConfig(model=args.model, chunk_ms=args.chunk_ms, right_context_ms=args.right_context_ms,
                          endpoint_ms=args.endpoint_ms, posteriors=args.posteriors,
                          partials=args.partials, spikes=not args.no_spikes)
    try:
        engine = Engine(config)
    except (ModelError, ValueError, OSError) as err:
        print(f"{PROG}: error: {_one_line(err)}", file=sys.stderr)
        return 2
    inputs = _expand(args.inputs)
    ok = True
    for source in _progress(inputs, args.quiet):
        ok &= run_one(engine, source, args)
    return 0 if ok else 1


def _expand(inputs: list[str]) -> list[str]:
    """Directories expanded to their audio files; '-' kept where it stands."""
    out: list[str] = []
    for item in inputs:
        out.extend([STDIN] if item == STDIN else [str(p) for p in find_audio_files([item])])
    return out


def _progress(inputs: list[str], quiet: bool):
    if quiet or len(inputs) < 2:
        return inputs
    from tqdm import tqdm

    return tqdm(inputs, desc="streaming", unit="file", file=sys.stderr)


def run_one(engine: Engine, source: str, args: argparse.Namespace) -> bool:
    """Stream one input and print its events; False if it gave an error event."""
    name = "<stdin>" if source == STDIN else source
    stream = engine.create_stream(name)
    ok = True
    try:
        pace = _Pacer() if args.realtime else None
        for block in _blocks(source, 0.1 if args.realtime else 1.0):
            if pace:
                pace.wait(len(block) / SAMPLE_RATE)
            stream.accept_waveform(SAMPLE_RATE, block)
            ok &= _drain(engine, stream, args)
        stream.input_finished()
        ok &= _drain(engine, stream, args)
    except Exception as err:  # noqa: BLE001 - every problem becomes one error event
        _write(Error(name, _message(name, err)), args)
        ok = False
    return ok


def _drain(engine: Engine, stream: Stream, args) -> bool:
    """Decode what the stream has and print its events; False if one was an error."""
    if engine.ready([stream]):
        engine.decode([stream])
    ok = True
    for event in stream.events():
        ok &= not isinstance(event, Error)
        _write(event, args)
    return ok


def _write(event, args) -> None:
    sys.stdout.write(event.to_json(timing=args.latency) + "\n")
    sys.stdout.flush()


class _Pacer:
    """Sleeps so that audio is fed no faster than real time."""

    def __init__(self) -> None:
        self.start = time.monotonic()
        self.fed = 0.0

    def wait(self, seconds: float) -> None:
        self.fed += seconds
        delay = self.start + self.fed - time.monotonic()
        if delay > 0:
            time.sleep(delay)


def _blocks(source: str, block_seconds: float) -> Iterator[np.ndarray]:
    if source == STDIN:
        return _stdin_blocks(block_seconds)
    return iter_blocks(source, block_seconds)


def _stdin_blocks(block_seconds: float) -> Iterator[np.ndarray]:
    """stdin (a WAV/FLAC/... stream) as float32 mono 16 kHz blocks."""
    import soundfile as sf

    try:
        f = sf.SoundFile(sys.stdin.buffer.fileno(), closefd=False)
    except (sf.SoundFileError, RuntimeError, OSError) as err:
        reason = getattr(err, "error_string", "") or _one_line(err)
        raise AudioError("<stdin>", f"not a WAV stream ({reason})") from None
    with f:
        rate = check_rate(f.samplerate, "<stdin>")
        resampler = Resampler(rate, "<stdin>")
        block = max(1, int(block_seconds * rate))
        while True:
            data = f.read(block, dtype="float32", always_2d=True)
            if not len(data):
                break
            out = resampler.process(data)
            if out.size:
                yield out
        tail = resampler.process(np.zeros(0, np.float32), last=True)
        if tail.size:
            yield tail


def _message(source: str, err: BaseException) -> str:
    """One line naming the input."""
    text = _one_line(err)
    if isinstance(err, AudioError) or text.startswith(f"{source}:"):
        return text
    if not isinstance(err, ValueError):
        text = f"{type(err).__name__}: {text}"
    return f"{source}: {text}"


def _one_line(err: object) -> str:
    return " ".join(str(err).split()) or type(err).__name__


if __name__ == "__main__":
    sys.exit(main())
