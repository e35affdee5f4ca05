"""Live emotion recognition from a microphone, shown in the terminal or as JSON Lines.

    python -m realtime_ser.live [--device N|NAME] [--list-devices] [--jsonl] [--model DIR]
        [--chunk-ms 100] [--right-context-ms MS] [--endpoint-ms 500] [--duration S]
        [--samplerate HZ]

The sounddevice callback only copies each block into a bounded queue (put_nowait; a full
queue counts a drop, PortAudio's input overflow flag counts an overflow). The main thread
takes blocks from the queue, feeds the engine at the device's own rate (the engine
resamples), decodes and redraws the display (rich, 12 Hz) or prints events.

--jsonl prints the events of `python -m realtime_ser.stream` (spike, segment, then exactly one
utterance when capture ends: Ctrl-C, SIGTERM or --duration), source "mic:<device name>".
Problems are one line on stderr: exit 2 before capture starts (model, options, device),
exit 1 when the device is lost during capture. While the display runs, whatever the audio
stack writes to stderr (PortAudio, ALSA) is held back and printed below the display at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import queue
import signal
import statistics
import sys
import tempfile
import time
from collections import deque

import numpy as np

from realtime_ser.audio import AudioError, check_rate
from realtime_ser.engine import Engine, EngineConfig, Stream
from realtime_ser.events import Error, Event, Segment, Spike
from realtime_ser.model import ModelError
from realtime_ser.stream import Parser, add_engine_options, discard_stdout

PROG = "python -m realtime_ser.live"
BLOCK_S = 0.02          # audio per callback block
QUEUE_S = 2.0           # audio the queue holds before blocks are dropped
STALL_S = 5.0           # no audio for this long while capturing: the device is lost
REFRESH_HZ = 12
TIMELINE_S = 10.0
LEVEL_DECAY_DB = 3.0    # how fast the level meter falls, dB per update
BAR_WIDTH = 34
STDERR_LINES = 20       # lines of the audio stack's stderr shown after the display


class LiveError(Exception):
    """A problem to report as one line; `code` is the exit status."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(" ".join(str(message).split()))
        self.code = code


class OutputClosed(LiveError):
    """The reader of stdout went away (`--jsonl | head`): stop quietly, exit 1."""

    def __init__(self) -> None:
        super().__init__("stdout closed", code=1)


# ------------------------------------------------------------------ options


def rate_option(text: str) -> int:
    """An argparse type: a capture rate in Hz that the engine accepts (8000..192000)."""
    try:
        return check_rate(int(text, 10))
    except ValueError as err:
        problem = err.problem if isinstance(err, AudioError) else f"expected a whole number of Hz, got {text!r}"
        raise argparse.ArgumentTypeError(problem) from None


def seconds_option(text: str) -> float:
    """An argparse type: a positive number of seconds."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text!r}")
    return value


def parse_args(argv=None) -> argparse.Namespace:
    p = Parser(prog=PROG, description="Real-time speech emotion recognition from a microphone.")
    p.add_argument("--device", default=None, metavar="N|NAME", help="input device (default: system default)")
    p.add_argument("--list-devices", action="store_true", help="list input devices and exit")
    p.add_argument("--jsonl", action="store_true", help="no display: events as JSON Lines on stdout")
    add_engine_options(p)
    p.add_argument("--duration", type=seconds_option, default=None, metavar="S", help="stop after S seconds")
    p.add_argument("--samplerate", type=rate_option, default=None, metavar="HZ",
                   help="capture rate, 8000..192000 (default: the device's default rate)")
    return p.parse_args(argv)


def main(argv=None) -> int:
    try:
        args = parse_args(argv)
    except SystemExit as e:  # --help, or a usage error already printed (one line)
        return e.code if isinstance(e.code, int) else 2
    try:
        engine = None if args.list_devices else load_engine(args)  # a bad model: exit 2 before any audio
        sd = load_sounddevice()
        if args.list_devices:
            return list_devices(sd)
        device = find_device(sd, args.device)
        rate = args.samplerate or device_rate(device)
        return run(sd, engine, device, rate, args)
    except OutputClosed as err:
        discard_stdout()
        return err.code
    except LiveError as err:
        print(f"{PROG}: error: {err}", file=sys.stderr)
        return err.code
    except KeyboardInterrupt:  # before capture started
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130


def load_sounddevice():
    try:
        import sounddevice
    except OSError as err:  # the PortAudio library itself is missing
        raise LiveError(f"cannot load PortAudio ({err}); install libportaudio2") from None
    except ImportError:
        raise LiveError("the sounddevice package is not installed (pip install sounddevice)") from None
    return sounddevice


def load_engine(args) -> Engine:
    config = EngineConfig.from_args(args)
    if args.duration is not None and not args.duration > 0:
        raise LiveError(f"--duration must be positive, got {args.duration}")
    try:
        return Engine(config)
    except (ModelError, ValueError, OSError) as err:
        raise LiveError(err) from None
    except Exception as err:  # noqa: BLE001 - still one line and exit 2
        raise LiveError(f"cannot load the model ({type(err).__name__}: {err})") from None


# ------------------------------------------------------------------ devices


def input_devices(sd) -> list[dict]:
    try:
        devices = list(sd.query_devices())
    except sd.PortAudioError as err:
        raise LiveError(f"cannot query audio devices ({err})") from None
    return [d for d in devices if d.get("max_input_channels", 0) > 0]


def list_devices(sd) -> int:
    devices = input_devices(sd)
    if not devices:
        print(f"{PROG}: error: no input device found", file=sys.stderr)
        return 2
    default = default_input_index(sd)
    for d in devices:
        mark = "*" if d["index"] == default else " "
        print(f"{mark} {d['index']:3d}  {d['name']}  ({d['max_input_channels']} in, "
              f"{d['default_samplerate']:.0f} Hz)")
    return 0


def default_input_index(sd):
    try:
        return sd.default.device[0]
    except (AttributeError, IndexError, TypeError):
        return None


def find_device(sd, spec: str | None) -> dict:
    """The input device's info for --device (index or name part), or the default one."""
    if not input_devices(sd):
        raise LiveError("no input device found (no microphone, or no sound server running)")
    key = int(spec) if spec is not None and spec.strip().isdigit() else spec
    try:
        return dict(sd.query_devices(key, kind="input"))
    except (ValueError, sd.PortAudioError) as err:
        what = "no default input device" if spec is None else f"bad --device {spec!r}"
        raise LiveError(f"{what}: {err}") from None


def device_rate(device: dict) -> int:
    """The device's default rate, if the engine accepts it."""
    try:
        return check_rate(device.get("default_samplerate"), f"device {device.get('name')!r}")
    except AudioError as err:
        raise LiveError(f"{err}; pass --samplerate") from None


# ------------------------------------------------------------------ capture


class Capture:
    """The audio callback's side: a bounded queue of (arrival time, mono block) and counters."""

    def __init__(self, maxsize: int) -> None:
        self.queue: queue.Queue = queue.Queue(maxsize=max(1, maxsize))
        self.drops = 0
        self.overflows = 0
        self.finished = False

    def callback(self, indata, frames, time_info, status) -> None:
        """Never blocks: copy, put_nowait, count what went wrong."""
        if status and getattr(status, "input_overflow", False):
            self.overflows += 1
        try:
            self.queue.put_nowait((time.monotonic(), np.array(indata[:, 0], np.float32)))
        except queue.Full:
            self.drops += 1

    def on_finished(self) -> None:
        self.finished = True

    def take(self, timeout: float) -> list:
        """Every queued block (waiting up to timeout for the first)."""
        try:
            blocks = [self.queue.get(timeout=timeout) if timeout > 0 else self.queue.get_nowait()]
        except queue.Empty:
            return []
        while True:
            try:
                blocks.append(self.queue.get_nowait())
            except queue.Empty:
                return blocks


def open_input(sd, device: dict, rate: int, capture: Capture):
    """A started mono InputStream feeding `capture`."""
    blocksize = max(1, int(rate * BLOCK_S))
    try:
        stream = sd.InputStream(device=device["index"], samplerate=rate, channels=1, dtype="float32",
                                blocksize=blocksize, callback=capture.callback,
                                finished_callback=capture.on_finished)
        stream.start()
    except (sd.PortAudioError, ValueError) as err:
        raise LiveError(f"cannot open input device {device['name']!r} at {rate} Hz: {err}") from None
    return stream


class StopFlag:
    """Set by SIGINT/SIGTERM; the capture loop then finishes the input cleanly."""

    def __init__(self) -> None:
        self.set = False
        self._old = {}

    def __enter__(self):
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                self._old[sig] = signal.signal(sig, self._handle)
            except ValueError:  # not the main thread
                pass
        return self

    def __exit__(self, *exc) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)

    def _handle(self, signum, frame) -> None:
        self.set = True


# ------------------------------------------------------------------ main loop


def run(sd, engine: Engine, device: dict, rate: int, args) -> int:
    capture = Capture(int(QUEUE_S / BLOCK_S))
    stream = engine.create_stream(f"mic:{device['name']}")
    view = None if args.jsonl else View(device["name"], rate, engine.labels, capture)
    out = JsonlOutput() if args.jsonl else view
    held = HeldStderr() if view is not None else contextlib.nullcontext()
    with StopFlag() as stop:
        mic = open_input(sd, device, rate, capture)
        if args.jsonl:
            print(f"{PROG}: listening on {device['name']!r} at {rate} Hz", file=sys.stderr, flush=True)
        try:
            with held:
                try:
                    lost = loop(engine, stream, capture, rate, args.duration, stop, view, out)
                finally:
                    close_quietly(mic)
        finally:
            if view is not None:
                view.end_line()
    rest = [] if lost else capture.take(timeout=0)
    if rest:
        feed(engine, stream, rest, rate, None)
    stream.input_finished()
    engine.decode([stream])
    ok = out.add(stream.events())
    if view is not None:
        view.print_final()
        held.print_lines()
    if lost:
        print(f"{PROG}: error: {lost}", file=sys.stderr)
        return 1
    return 0 if ok else 1


def loop(engine, stream, capture, rate, duration, stop, view, out) -> str | None:
    """Feed and decode until stopped; returns a message if the device was lost."""
    start = last_audio = time.monotonic()
    live = view.start() if view is not None else None
    try:
        while not stop.set:
            now = time.monotonic()
            if duration is not None and now - start >= duration:
                return None
            blocks = capture.take(timeout=0.05)
            if blocks:
                last_audio = now
                try:
                    feed(engine, stream, blocks, rate, view)
                except ValueError as err:  # AudioError: e.g. NaN samples from a broken device
                    return f"bad input from the device: {err}"
                out.add(stream.events())
            elif capture.finished:
                return "input device stopped (device lost?)"
            elif now - last_audio > STALL_S:
                return f"no audio from the input device for {STALL_S:.0f} s (device lost?)"
            if view is not None:
                view.refresh(live, stream)
        return None
    finally:
        if live is not None:
            live.stop()


def feed(engine: Engine, stream: Stream, blocks: list, rate: int, view) -> None:
    samples = np.concatenate([b for _, b in blocks])
    stream.accept_waveform(rate, samples)
    if view is not None:
        view.audio(samples, time.monotonic() - blocks[0][0])
    if engine.ready([stream]):
        engine.decode([stream])


class HeldStderr:
    """fd 2 goes to a temporary file while the display runs, so that lines the audio stack
    writes there (PortAudio, ALSA: "ALSA lib ... snd_pcm_recover() failed") cannot tear it.
    print_lines() shows them afterwards (the last STDERR_LINES, repeats merged)."""

    def __init__(self) -> None:
        self._saved = None
        self._file = None
        self.lines: list[str] = []

    def __enter__(self):
        try:
            sys.stderr.flush()
            self._file = tempfile.TemporaryFile()
            self._saved = os.dup(2)
            os.dup2(self._file.fileno(), 2)
        except (OSError, ValueError, AttributeError):  # no usable fd 2: nothing to hold
            self._restore()
        return self

    def __exit__(self, *exc) -> None:
        if self._saved is None:
            return
        try:
            sys.stderr.flush()
        except (OSError, ValueError, AttributeError):
            pass
        self._restore()

    def _restore(self) -> None:
        if self._saved is not None:
            os.dup2(self._saved, 2)
            os.close(self._saved)
            self._saved = None
        if self._file is not None:
            self._file.seek(0)
            text = self._file.read().decode("utf-8", "backslashreplace")
            self._file.close()
            self._file = None
            self.lines = _merged([ln.rstrip() for ln in text.splitlines() if ln.strip()])

    def print_lines(self) -> None:
        lines = self.lines[-STDERR_LINES:]
        skipped = len(self.lines) - len(lines)
        if skipped:
            lines.insert(0, f"({skipped} earlier lines not shown)")
        for line in lines:
            print(line, file=sys.stderr)


def _merged(lines: list[str]) -> list[str]:
    """Runs of one repeated line as one line with a count."""
    out: list[str] = []
    count = 0
    for i, line in enumerate(lines):
        count += 1
        if i + 1 == len(lines) or lines[i + 1] != line:
            out.append(line if count == 1 else f"{line} (x{count})")
            count = 0
    return out


def close_quietly(mic) -> None:
    try:
        mic.stop()
        mic.close()
    except Exception:  # noqa: BLE001 - the device may already be gone
        pass


class JsonlOutput:
    """Events to stdout, one JSON object a line, flushed."""

    def add(self, events: list[Event]) -> bool:
        ok = True
        try:
            for event in events:
                ok &= not isinstance(event, Error)
                sys.stdout.write(event.to_json() + "\n")
            sys.stdout.flush()
        except BrokenPipeError:
            raise OutputClosed() from None
        return ok


# ------------------------------------------------------------------ display


COLORS = {"anger": "red", "happiness": "yellow", "neutral": "white", "sadness": "blue"}


NO_SPEECH = "no speech"  # shown where a decision has no emotion (reason "no speech")


def color(emotion: str | None) -> str:
    return COLORS.get(emotion, "cyan") if emotion else "dim"



def dbfs(samples: np.ndarray) -> tuple[float, float]:
    """(RMS, peak) level in dBFS, floored at -90."""
    if not len(samples):
        return -90.0, -90.0
    rms = math.sqrt(float(np.mean(np.square(samples, dtype=np.float64))))
    peak = float(np.max(np.abs(samples)))
    return tuple(max(-90.0, 20 * math.log10(max(v, 1e-9))) for v in (rms, peak))


def bar(fraction: float, width: int) -> str:
    n = int(round(min(max(fraction, 0.0), 1.0) * width))
    return "█" * n + "·" * (width - n)


class View:
    """What the terminal shows; fed by the main loop, drawn with rich."""

    def __init__(self, device: str, rate: int, labels: list[str], capture: Capture) -> None:
        from rich.console import Console

        self.console = Console()
        self.device, self.rate, self.labels, self.capture = device, rate, labels, capture
        self.level = (-90.0, -90.0)
        self.queue_wait = deque(maxlen=50)
        self.latency = deque(maxlen=50)
        self.segments: deque[Segment] = deque(maxlen=200)
        self.spikes: deque[Spike] = deque(maxlen=500)
        self.running = None
        self.duration = 0.0
        self.final = None
        self.errors: list[str] = []
        self._next_draw = 0.0

    def start(self):
        from rich.live import Live

        live = Live(self.render(), console=self.console, auto_refresh=False, transient=False)
        live.start()
        return live

    def audio(self, samples: np.ndarray, waited: float) -> None:
        """New samples: level (falling back at most LEVEL_DECAY_DB per update) and queue wait."""
        new = dbfs(samples)
        self.level = tuple(max(n, old - LEVEL_DECAY_DB) for n, old in zip(new, self.level))
        self.queue_wait.append(waited)

    def add(self, events: list[Event]) -> bool:
        for e in events:
            if e.latency_s is not None:
                self.latency.append(e.latency_s)
            if isinstance(e, Segment):
                self.segments.append(e)
            elif isinstance(e, Spike):
                self.spikes.append(e)
            elif isinstance(e, Error):
                self.errors.append(e.error)
            elif e.type == "utterance":
                self.final = e
        return not self.errors

    def refresh(self, live, stream: Stream) -> None:
        now = time.monotonic()
        if now < self._next_draw:
            return
        self._next_draw = now + 1.0 / REFRESH_HZ
        self.running = stream.result()
        self.duration = stream.duration
        live.update(self.render(), refresh=True)

    def end_line(self) -> None:
        """End the display's last line: rich leaves it open when stdout is not a terminal."""
        if not self.console.is_terminal:
            self.console.line()

    def print_final(self) -> None:
        if self.final is not None:
            shown = self.final.emotion or NO_SPEECH
            self.console.print(f"utterance: [bold {color(self.final.emotion)}]{shown}[/] "
                               f"({self.final.end:.1f} s)")
        for message in self.errors:
            self.console.print(f"error: {message}")

    # -------------------------------------------------------------- drawing

    def render(self):
        from rich.console import Group
        from rich.panel import Panel

        parts = [self._level_line(), "", *self._score_lines(), "", self._timeline(), self._status_line()]
        return Panel(Group(*parts), title=f"realtime_ser live · {self.device} @ {self.rate} Hz",
                     title_align="left", width=78)

    def _level_line(self):
        from rich.text import Text

        rms, peak = self.level
        line = Text("level     ")
        style = "red" if peak > -1 else "green"
        line.append(bar((rms + 60) / 60, BAR_WIDTH), style=style)
        line.append(f" {rms:6.1f} dBFS, peak {peak:5.1f}")
        return line

    def _score_lines(self):
        from rich.text import Text

        result = self.running
        scores = result.scores if result is not None else {}
        head = Text("emotion   ")
        if result is not None and self.duration > 0 and result.emotion is None:
            head.append(NO_SPEECH, style="dim")
            head.append(f"   (over {self.duration:.1f} s)")
        elif result is not None and self.duration > 0:
            head.append(result.emotion.upper(), style=f"bold {color(result.emotion)}")
            head.append(f"   (running decision over {self.duration:.1f} s)")
        else:
            head.append("…waiting for audio", style="dim")
        lines = [head]
        for label in self.labels:
            p = float(scores.get(label, 0.0))
            line = Text(f"{label:<10}")
            line.append(bar(p, BAR_WIDTH), style=color(label))
            line.append(f" {p:5.2f}")
            lines.append(line)
        return lines

    def _timeline(self):
        """The last TIMELINE_S s of audio: segments as letters, spikes as bold marks."""
        from rich.text import Text

        width = 60
        end = max(self.duration, TIMELINE_S)
        t0 = end - TIMELINE_S
        cells = [("·", "dim")] * width

        def cell(t: float) -> int:
            return int((t - t0) / TIMELINE_S * width)

        for seg in self.segments:
            for i in range(max(0, cell(seg.start)), min(width, cell(seg.end) + 1)):
                cells[i] = (seg.emotion[:1].upper(), f"black on {color(seg.emotion)}")
        for spike in self.spikes:
            i = cell(spike.time)
            if 0 <= i < width:
                under = cells[i][1].partition(" on ")[2]
                cells[i] = ("|", f"bold {color(spike.emotion)}" + (f" on {under}" if under else ""))
        line = Text(f"last {TIMELINE_S:.0f} s ")
        for ch, style in cells:
            line.append(ch, style=style)
        return line

    def _status_line(self):
        from rich.text import Text

        lat = f"{statistics.median(self.latency) * 1000:.0f} ms" if self.latency else "—"
        wait = f"{statistics.median(self.queue_wait) * 1000:.0f} ms" if self.queue_wait else "—"
        lost = self.capture.drops or self.capture.overflows
        return Text.assemble(
            f"latency   {lat} (median of last {len(self.latency)} events), queue wait {wait}\n",
            (f"drops {self.capture.drops}  overflows {self.capture.overflows}", "bold red" if lost else ""),
            f"  segments {len(self.segments)}  audio {self.duration:.1f} s")


if __name__ == "__main__":
    sys.exit(main())
