"""Stream audio files through the engine and print events as JSON Lines.

    python -m realtime_ser.stream FILE|DIR|FIFO|- ... [--model DIR] [--chunk-ms 100]
        [--right-context-ms MS] [--endpoint-ms 500] [--segments speech|spikes] [--partials] [--posteriors]
        [--no-spikes] [--latency] [--realtime] [--quiet]
    python -m realtime_ser.stream --offline FILE|DIR ... [--model DIR] [--endpoint-ms 500]
        [--segments speech|spikes] [--no-spikes] [--batch-files 32]

Each input is read in blocks (bounded memory, any length) and fed to one stream; its events
go to stdout as they are produced, one JSON object a line (see realtime_ser.events):
spike / segment / utterance (exactly one per good input), partial and posteriors on request.
Directories are searched recursively for audio files. `-` reads one audio stream from stdin,
and a named pipe (FIFO) is read the same way: any format libsndfile reads, decoded as it
arrives; FLAC, MP3 and CAF (which libsndfile cannot decode from a pipe) are first spooled
to a temporary file. Raw PCM is not accepted.

--offline (archives, many files): each input is read whole and recognised in batches of files
with the batch path (realtime_ser.offline: numba deltas and speech flags, offline BiLSTM, numba
batch decoder); it prints spike, segment and utterance events (no partials or posteriors), the
same JSON as streaming with the same --segments (default speech) and a chunk covering the whole
input.

Exit status: 0 all inputs good; 1 some input failed (each gave one {"type": "error", ...}
line and the others went on), or stdout was closed early (e.g. `| head`: the run stops
quietly); 2 bad usage or a missing/invalid model (one line on stderr, nothing on stdout);
130 on Ctrl-C (an "interrupted" error event for the input in flight, after everything
finished so far). A damaged but usable input (a WAV shorter than its header says) gives a
{"type": "warning", ...} line and is processed; it does not fail the run.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from collections.abc import Iterator

import numpy as np

from realtime_ser.audio import (SAMPLE_RATE, STDIN_NAME, AudioError, display_name, find_audio_files,
                                iter_blocks, iter_stdin_blocks)
from realtime_ser.engine import Engine, EngineConfig, Stream
from realtime_ser.events import Error, Event, InputWarning
from realtime_ser.model import ModelError

PROG = "python -m realtime_ser.stream"
STDIN = "-"
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class Parser(argparse.ArgumentParser):
    """argparse with one-line usage errors (exit 2)."""

    def error(self, message: str):
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see --help)\n")


def add_engine_options(p: argparse.ArgumentParser) -> None:
    """The engine's flags (--model, --chunk-ms, --right-context-ms, --endpoint-ms, --max-segment-ms,
    --threads), generated from EngineConfig; shared with realtime_ser.live and realtime_ser.serve."""
    EngineConfig.add_arguments(p)


def parse_args(argv=None) -> argparse.Namespace:
    p = Parser(prog=PROG, description="Real-time speech emotion recognition "
               "of audio files, as JSON Lines events on stdout.")
    p.add_argument("inputs", nargs="+", metavar="FILE|DIR|-",
                   help="audio files, directories, named pipes, or - for stdin")
    add_engine_options(p)
    EngineConfig.add_arguments(p, ("partials", "posteriors", "spikes"))
    p.add_argument("--latency", action="store_true", help="add latency_s (seconds) to every event")
    p.add_argument("--realtime", action="store_true", help="feed audio at real-time pace")
    p.add_argument("--quiet", action="store_true", help="no progress bar or messages on stderr")
    p.add_argument("--offline", action="store_true",
                   help="batch mode for archives: whole files, offline BiLSTM, numba batch decoder; "
                        "spike, segment and utterance events as streaming with the same --segments and a "
                        "chunk covering each whole file; --chunk-ms and --right-context-ms do not apply")
    p.add_argument("--batch-files", type=int, default=32, metavar="N",
                   help="--offline: files decoded together (default 32)")
    args = p.parse_args(argv)
    if args.offline:
        clash = [f for f in ("partials", "posteriors", "realtime") if getattr(args, f)]
        if clash:
            p.error(f"--offline prints no partials or posteriors and does not pace; drop --{clash[0]}")
    if args.batch_files < 1:
        p.error(f"--batch-files must be at least 1, got {args.batch_files}")
    return args


class OutputClosed(Exception):
    """stdout was closed by its reader (a broken pipe)."""


class Output:
    """Events to stdout as UTF-8 JSON Lines, flushed after each."""

    def __init__(self, timing: bool) -> None:
        self.timing = timing

    def write(self, event: Event) -> None:
        line = event.to_json(timing=self.timing) + "\n"
        try:
            target = getattr(sys.stdout, "buffer", None)
            if target is not None:
                target.write(line.encode("utf-8"))
            else:
                sys.stdout.write(line)
            (target or sys.stdout).flush()
        except BrokenPipeError:
            raise OutputClosed() from None


def main(argv=None) -> int:
    try:
        args = parse_args(argv)
    except SystemExit as e:  # --help, or a usage error already printed (one line)
        return e.code if isinstance(e.code, int) else EXIT_USAGE
    if sys.stdout is None:
        print(f"{PROG}: error: stdout is closed", file=sys.stderr)
        return EXIT_USAGE
    try:
        engine = _load_engine(args)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    if engine is None:
        return EXIT_USAGE
    out = Output(args.latency)
    try:
        return (_run_offline if args.offline else _run_all)(engine, args, out)
    except OutputClosed:
        discard_stdout()
        return EXIT_FAILED


def _load_engine(args) -> Engine | None:
    """The engine, or None after one line on stderr."""
    config = EngineConfig.from_args(args)
    try:
        return Engine(config)
    except (ModelError, ValueError, OSError) as err:
        print(f"{PROG}: error: {_one_line(err)}", file=sys.stderr)
    except Exception as err:  # noqa: BLE001 - still one line and exit 2
        print(f"{PROG}: error: cannot load the model ({type(err).__name__}: {_one_line(err)})", file=sys.stderr)
    return None


def _run_all(engine: Engine, args, out: Output) -> int:
    inputs = _expand(args.inputs)
    bar = _progress(len(inputs), args.quiet)
    failed = False
    current = None
    try:
        for item in inputs:
            if isinstance(item, AudioError):
                out.write(Error(item.source, str(item)))
                failed = True
            else:
                current = _name(item)
                failed |= not run_one(engine, item, args, out)
                current = None
            if bar is not None:
                bar.update(1)
    except KeyboardInterrupt:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the last line
        if current is not None:
            try:
                out.write(Error(current, f"{current}: interrupted"))
            except OutputClosed:
                discard_stdout()
        return EXIT_INTERRUPTED
    finally:
        if bar is not None:
            bar.close()
    return EXIT_FAILED if failed else EXIT_OK


def _run_offline(engine: Engine, args, out: Output) -> int:
    """--offline: read a batch of inputs whole, recognise them together, print in input order."""
    from concurrent.futures import ThreadPoolExecutor

    from realtime_ser import offline  # loads numba: the batch path only

    inputs = _expand(args.inputs)
    recognizer = offline.Recognizer(engine, engine.threads)
    bar = _progress(len(inputs), args.quiet)
    failed = False
    try:
        with ThreadPoolExecutor(max(1, engine.threads)) as pool:  # the native calls release the GIL
            for first in range(0, len(inputs), args.batch_files):
                batch = inputs[first:first + args.batch_files]
                items = list(pool.map(lambda source: _offline_item(recognizer, source), batch))
                recognizer.decide(items)
                for item in items:
                    for event in item.events:
                        failed |= isinstance(event, Error)
                        out.write(event)
                if bar is not None:
                    bar.update(len(items))
    except KeyboardInterrupt:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        return EXIT_INTERRUPTED
    finally:
        if bar is not None:
            bar.close()
    return EXIT_FAILED if failed else EXIT_OK


def _offline_item(recognizer, source):
    """One --offline input read whole, with its features, or its error event."""
    from realtime_ser import offline

    if isinstance(source, AudioError):
        item = offline.Item(source.source)
        item.fail(str(source))
        return item
    item = offline.Item(_name(source))
    try:
        offline.read(item, _blocks(source, 1.0, offline.warning(item)))
        recognizer.features(item)
    except Exception as err:  # noqa: BLE001 - every problem becomes one error event
        item.fail(_message(item.name, err))
    return item


def discard_stdout() -> None:
    """After a broken pipe: send what is left in stdout's buffer to /dev/null, quietly."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass


def _expand(inputs: list[str]) -> list[str | AudioError]:
    """Directories expanded to their audio files ('-' kept where it stands); a directory
    without audio becomes an AudioError."""
    out: list[str | AudioError] = []
    for item in inputs:
        if item == STDIN:
            out.append(STDIN)
        elif os.path.isdir(item):
            found = find_audio_files([item])
            if not found:
                out.append(AudioError(item, "no audio files in this directory"))
            out.extend(str(p) for p in found)
        else:
            out.append(item)
    return out


def _progress(total: int, quiet: bool):
    if quiet or total < 2:
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc="streaming", unit="file", file=sys.stderr)


def _name(source: str) -> str:
    return STDIN_NAME if source == STDIN else display_name(source)


def run_one(engine: Engine, source: str, args: argparse.Namespace, out: Output) -> bool:
    """Stream one input and print its events; False if it gave an error event."""
    name = _name(source)
    stream = engine.create_stream(name)
    ok = True
    try:
        pace = _Pacer() if args.realtime else None
        warn = lambda message: out.write(InputWarning(name, message))  # noqa: E731
        for block in _blocks(source, 0.1 if args.realtime else 1.0, warn):
            if pace:
                pace.wait(len(block) / SAMPLE_RATE)
            stream.accept_waveform(SAMPLE_RATE, block)
            ok &= _drain(engine, stream, out)
        stream.input_finished()
        ok &= _drain(engine, stream, out)
    except OutputClosed:
        raise
    except Exception as err:  # noqa: BLE001 - every problem becomes one error event
        out.write(Error(name, _message(name, err)))
        ok = False
    return ok


def _drain(engine: Engine, stream: Stream, out: Output) -> bool:
    """Decode what the stream has and print its events; False if one was an error."""
    if engine.ready([stream]):
        engine.decode([stream])
    ok = True
    for event in stream.events():
        ok &= not isinstance(event, Error)
        out.write(event)
    return ok


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


def _blocks(source: str, block_seconds: float, warn) -> Iterator[np.ndarray]:
    if source == STDIN:
        return iter_stdin_blocks(block_seconds)
    return iter_blocks(source, block_seconds, on_warning=warn)


def _message(source: str, err: BaseException) -> str:
    """One line naming the input."""
    text = display_name(_one_line(err))
    if isinstance(err, AudioError) or text.startswith(f"{source}:"):
        return text
    if not isinstance(err, ValueError):
        text = f"{type(err).__name__}: {text}"
    return f"{source}: {text}"


def _one_line(err: object) -> str:
    return " ".join(str(err).split()) or type(err).__name__


if __name__ == "__main__":
    sys.exit(main())
