"""Streaming emotion recognition engine (lifecycle after sherpa-onnx's online recognizer).

    engine = Engine(EngineConfig())                  # loads the model once
    s = engine.create_stream("mic")
    s.accept_waveform(48000, samples)                # any rate, any chunk length
    while engine.ready([s]):
        engine.decode([s])                           # many streams: one batched BiLSTM step
    for event in s.events(): print(event.to_json())
    s.input_finished(); engine.decode([s])           # final Segment + the Utterance

A stream's state lives in one native object (_native.OnlineStream, csrc/ser/online_stream.h):
features and their deltas -> normalisation with the model's statistics (global or adaptive) ->
latency-controlled BiLSTM (chunks of chunk_ms/10 frames + right_context_ms/10 frames) -> the
SegmentTracker: softmax and argmax once per frame, the best-path statistics of the whole input
(Utterance, Spikes, Partials) and of each segment (Segment). Engine.decode hands all the streams
to the native recognizer at once (features in its thread pool, one batched BiLSTM step, GIL
released); this module resamples the audio, stamps arrival times and builds the events.

Segments (`segments="speech"`, the default): the native SpeechDetector flags each feature
frame speech or not (voicing and energy over a running noise floor, onset and hangover); a
segment is one speech region, and the spikes inside it decide its emotion (a region without
a spike: its highest summed non-Null posterior, reason "no spike"). An input without any
speech frame gets an Utterance with emotion None and reason "no speech", never a guess.
With `segments="spikes"` a frame is active when its best-path label is not Null; a segment
runs from its first active frame to its last; it is closed once `endpoint_ms` of Null frames
follow it, or at the end of input. A segment spans at most `max_segment_ms` (default 30 s): one
that reaches it is closed there and the next starts at the next active frame. Segments are
handled inside the stream: unlike sherpa-onnx there is no need to call reset() at an
endpoint; reset() starts a new input.

Events of one decode() come in audio-time order (`audio_time`, stable), so their sequence
does not depend on the chunk sizes. Memory per stream is bounded however long the input:
the tracker keeps O(outputs) state and the events not yet popped, arrival times are kept only as far back as
a future event may refer, and segments have a maximum length.

Timestamps are seconds of the source audio, frame t <-> t * 0.01 s (its start).
Each event records `produced_at` (time.monotonic()) and `latency_s`: produced_at minus the
wall-clock arrival of the accept_waveform() call that brought the audio at the event's
reference time (spike: its frame's end; segment, partial, utterance: their end).
"""

from __future__ import annotations

import bisect
import time
from collections import deque
from dataclasses import dataclass, field, fields

import numpy as np

from realtime_ser import _native
from realtime_ser import model as model_lib
from realtime_ser.audio import AudioError, AudioInput, check_rate
from realtime_ser.calibration import calibrate, is_identity
from realtime_ser.decoder import decision_from_stats, has_votes
from realtime_ser.events import Error, Event, Partial, Posteriors, Segment, Spike, Utterance
from realtime_ser.lstm import LstmWeights
from realtime_ser.normalize import Normalizer, native_options
from realtime_ser.timebase import FRAME_S, ms_option, ms_to_frames

DEFAULT_RIGHT_CONTEXT_MS = 200
MAX_SEGMENT_MS = 3_600_000  # upper bound of EngineConfig.max_segment_ms (1 h)
SEGMENT_MODES = ("speech", "spikes")
NO_SPEECH = "no speech"
NO_SPIKE = "no spike"


def _option(default, help: str, ms: tuple[int, int] | None = None, flag: str | None = None,
            choices: tuple[str, ...] | None = None):
    """A config field with its command-line help, and for times its range in ms."""
    return field(default=default, metadata={"help": help, "ms": ms, "flag": flag, "choices": choices})


@dataclass
class EngineConfig:
    """Engine settings; the command lines (stream, live, serve) take their flags from here.

    Times are in ms and must be whole multiples of 10 ms (one frame)."""

    model: str | None = _option(None, "model directory (default: the bundled one)")
    chunk_ms: int = _option(100, "BiLSTM chunk, ms", ms=(10, 10000))
    right_context_ms: int | None = _option(None, "BiLSTM right context, ms (default: the model's, else 200)",
                                           ms=(0, 5000))
    endpoint_ms: int = _option(500, "Null run that ends a segment, ms", ms=(10, 60000))
    max_segment_ms: int = _option(30000, "longest segment, ms; a longer one is closed and a new one started",
                                  ms=(100, MAX_SEGMENT_MS))
    posteriors: bool = _option(False, "also emit frame posteriors")
    partials: bool = _option(False, "also emit the running decision")
    spikes: bool = _option(True, "do not emit spike events", flag="--no-spikes")
    threads: int = _option(0, "native threads of decode() (default 0: one per core)")
    segments: str = _option("speech", "what a segment is: a speech region, or a run of spikes closed by "
                            "endpoint_ms of Null (default speech)", choices=SEGMENT_MODES)

    def validate(self) -> None:
        """Raise ValueError with a one-line message if a setting is out of range."""
        for f in fields(self):
            if f.metadata["ms"] is not None and not (f.default is None and getattr(self, f.name) is None):
                _check_ms(f.name, getattr(self, f.name), *f.metadata["ms"])
        if isinstance(self.threads, bool) or not isinstance(self.threads, (int, np.integer)) or not 0 <= self.threads <= 64:
            raise ValueError(f"threads must be a whole number in [0, 64] (0: one per core), got {self.threads!r}")
        if self.segments not in SEGMENT_MODES:
            raise ValueError(f"segments must be one of {', '.join(SEGMENT_MODES)}, got {self.segments!r}")

    @classmethod
    def add_arguments(cls, parser, names: tuple[str, ...] = ("model", "chunk_ms", "right_context_ms",
                                                             "endpoint_ms", "max_segment_ms", "threads",
                                                             "segments")) -> None:
        """Command-line flags for the named fields (help, defaults and ranges from the fields)."""
        for f in fields(cls):
            if f.name not in names:
                continue
            flag = f.metadata["flag"] or "--" + f.name.replace("_", "-")
            if f.type in ("bool", bool):
                parser.add_argument(flag, dest=f.name, action="store_false" if f.default else "store_true",
                                    help=f.metadata["help"])
            elif f.metadata["ms"] is not None:
                low, high = f.metadata["ms"]
                default = "" if f.default is None else f"default {f.default}; "
                parser.add_argument(flag, dest=f.name, type=ms_option(low, high), default=f.default,
                                    help=f"{f.metadata['help']} ({default}{low}..{high})")
            elif f.metadata["choices"]:
                parser.add_argument(flag, dest=f.name, choices=f.metadata["choices"], default=f.default,
                                    help=f.metadata["help"])
            elif f.name == "threads":
                parser.add_argument(flag, dest=f.name, type=int, default=f.default, metavar="N",
                                    help=f.metadata["help"])
            else:
                parser.add_argument(flag, dest=f.name, default=f.default, metavar="DIR", help=f.metadata["help"])

    @classmethod
    def range_ms(cls, name: str) -> tuple[int, int]:
        """(low, high) ms of a time field."""
        return next(f.metadata["ms"] for f in fields(cls) if f.name == name)

    @classmethod
    def from_args(cls, args, **fixed) -> "EngineConfig":
        """The config of parsed flags (fields without a flag keep their defaults, or `fixed`)."""
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in vars(args).items() if k in known}
        return cls(**(values | fixed))

    def __str__(self) -> str:
        right = "model's" if self.right_context_ms is None else f"{self.right_context_ms} ms"
        flags = [name for name in ("posteriors", "partials", "spikes") if getattr(self, name)]
        return (f"model={self.model or 'default'} chunk={self.chunk_ms} ms right_context={right} "
                f"endpoint={self.endpoint_ms} ms max_segment={self.max_segment_ms} ms segments={self.segments} "
                f"threads={self.threads or 'auto'} "
                f"events=segment,utterance" + "".join("," + f for f in flags))


def _check_ms(name: str, value, minimum: int, maximum: int) -> None:
    try:
        ms_to_frames(value, name)
    except ValueError as err:
        raise ValueError(f"{err} (range {minimum}..{maximum} ms)") from None
    if not minimum <= value <= maximum:
        raise ValueError(f"{name} must lie in {minimum}..{maximum} ms, got {value}")


class Engine:
    """One loaded model serving any number of streams."""

    def __init__(self, config: EngineConfig | None = None) -> None:
        self.config = config or EngineConfig()
        self.config.validate()
        self.model = model_lib.load(self.config.model)
        cfg = self.model.config
        if cfg.blank is None:
            raise model_lib.ModelError(f"{self.model.path}: not a CTC model (no Null output)")
        self.outputs: list[str] = cfg.outputs
        self.labels: list[str] = list(cfg.labels)
        self.blank: int = cfg.blank
        self.chunk_frames = ms_to_frames(self.config.chunk_ms)
        self.right_context_frames = ms_to_frames(self._right_context_ms())
        self.endpoint_frames = ms_to_frames(self.config.endpoint_ms)
        self.norm_config = cfg.norm_config
        self._recognizer = self._new_recognizer()

    def _new_recognizer(self) -> "_native.OnlineRecognizer":
        """The native core: model weights, chunking, normalisation and tracking options, threads."""
        w, c = LstmWeights.of(self.model), self.model.config
        try:
            return _native.OnlineRecognizer(
                w.w_in, w.b_in, w.w_hh_fwd, w.w_hh_bwd, w.w_out_t, w.b_out,
                chunk_frames=self.chunk_frames, right_context_frames=self.right_context_frames,
                blank=self.blank, endpoint_frames=self.endpoint_frames,
                max_frames=ms_to_frames(self.config.max_segment_ms), spikes=self.config.spikes,
                speech_segments=self.config.segments == "speech",
                keep_posteriors=self.config.posteriors, num_threads=self.config.threads,
                normalizer=native_options(c.norm_config, c.feature_names, c.norm_mean, c.norm_std))
        except ValueError as err:
            raise model_lib.ModelError(f"{self.model.path}: {err}") from None

    @property
    def threads(self) -> int:
        """Threads the native core uses in decode()."""
        return self._recognizer.num_threads

    def _right_context_ms(self) -> int:
        if self.config.right_context_ms is not None:
            return self.config.right_context_ms
        trained = self.model.config.right_context_frames
        return DEFAULT_RIGHT_CONTEXT_MS if trained is None else 10 * int(trained)

    def create_stream(self, source: str = "<stream>") -> "Stream":
        return Stream(self, source)

    def ready(self, streams: list["Stream"]) -> list["Stream"]:
        """The streams that decode() would advance (new frames, or input finished)."""
        return [s for s in self._own(streams, "ready") if s.is_ready()]

    def decode(self, streams: list["Stream"]) -> None:
        """Advance every given stream with what it has: the native core computes their features
        in its thread pool, runs one batched BiLSTM step for all, then tracks each stream's output.

        A stream listed twice is decoded once; a stream of another Engine is a ValueError.
        """
        work = [s for s in self._own(streams, "decode") if not s._native.is_done]
        if not work:
            return
        before = [s.num_frames for s in work]
        self._recognizer.decode_streams([s._native for s in work])
        for s, n in zip(work, before):
            s._after_decode(n)

    def _own(self, streams, caller: str) -> list["Stream"]:
        """streams without repeats, each checked to be a Stream of this Engine."""
        if isinstance(streams, Stream):
            raise TypeError(f"{caller}() takes a list of streams, not one Stream")
        unique: dict[int, Stream] = {}
        for s in streams:
            if not isinstance(s, Stream):
                raise TypeError(f"{caller}() takes Stream objects, got {type(s).__name__}")
            if s.engine is not self:
                raise ValueError(f"{s.source}: stream was created by another Engine")
            unique.setdefault(id(s), s)
        return list(unique.values())

    def new_normalizer(self) -> Normalizer:
        """A stream's input normalisation: the model's global or per-stream adaptive statistics."""
        return self.model.new_normalizer()

    def new_tracker(self) -> "_native.SegmentTracker":
        """A native softmax / best-path / spike / segment tracker with this engine's options."""
        return _native.SegmentTracker(len(self.outputs), self.blank, self.endpoint_frames,
                                      ms_to_frames(self.config.max_segment_ms), self.config.spikes,
                                      self.config.segments == "speech")

    def decide(self, counts, post_sum, num_frames: int) -> tuple[str, dict[str, float]]:
        """(emotion, calibrated scores) by the utterance rule from best-path statistics."""
        decision, scores = decision_from_stats(counts, post_sum, num_frames, self.blank)
        return self.labels[decision], self.scores(scores, has_votes(counts, self.blank))

    def segment(self, source: str, start: int, end: int, counts, post_sum) -> Segment:
        """The Segment event of a tracker segment (frames [start, end), its label counts and
        posterior sums): the rule over its spikes; without a spike (a speech region) the
        fallback, reason "no spike"."""
        emotion, scores = self.decide(counts, post_sum, end - start)
        reason = NO_SPIKE if not has_votes(counts, self.blank) else None
        return Segment(source, _sec(start), _sec(end), emotion, scores, reason)

    def utterance(self, kind, source: str, end: float, counts, post_sum, num_frames: int,
                  speech_frames: int):
        """The Utterance (or Partial, kind) of the whole input so far, ending at end seconds:
        the rule over its statistics; emotion None, reason "no speech", when no frame is speech."""
        if speech_frames == 0:
            return kind(source, 0.0, round(end, 6), None, {}, NO_SPEECH)
        emotion, scores = self.decide(counts, post_sum, num_frames)
        return kind(source, 0.0, round(end, 6), emotion, scores)

    def scores(self, scores: np.ndarray, voted: bool = True) -> dict[str, float]:
        """Decision scores as the events carry them: calibrated with the model's (temperature, floor)
        for a decision by votes or by the mean posterior."""
        t, floor = self.model.config.calibration(voted)
        if not is_identity(t, floor):
            scores = calibrate(scores, t, floor)
        return {label: round(float(p), 6) for label, p in zip(self.labels, scores)}


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row softmax (computed in float64), float32: the native one the streams use."""
    return _native.softmax(np.asarray(logits))


class Stream:
    """One audio input. Its state lives in one native object (features, normalisation, BiLSTM
    state, CTC tracking); this face converts audio, stamps arrival times and builds the events."""

    def __init__(self, engine: Engine, source: str = "<stream>") -> None:
        self.engine = engine
        self.source = str(source)
        self._native = engine._recognizer.create_stream()
        self._start()

    # ------------------------------------------------------------ public

    def reset(self, adaptation: bool = False) -> None:
        """Drop everything and start a new input (same source name).

        The speaker adaptation carries on (the same speaker goes on talking) unless adaptation=True.
        """
        self._native.reset(adaptation)
        self._start()

    def _start(self) -> None:
        self._audio = AudioInput(self.source)
        self._events: list[Event] = []
        self._samples_in = 0
        self._arrivals: deque[tuple[float, float]] = deque()  # (source seconds, monotonic)
        self._final: Utterance | None = None

    def accept_waveform(self, sample_rate: int, samples: np.ndarray) -> None:
        """Append samples ((n,) or (n, channels), int or float) at sample_rate Hz."""
        now = time.monotonic()
        if self._native.is_finished:
            raise ValueError(f"{self.source}: accept_waveform() after input_finished()")
        rate = check_rate(sample_rate, self.source)
        try:
            x = self._audio.convert(rate, samples)
        except AudioError as err:
            raise AudioError(self.source, err.problem) from None
        except ValueError as err:
            raise ValueError(f"{self.source}: {str(err).split(': ', 1)[-1]}") from None
        if x.size:
            self._native.accept_waveform(x)
        n = int(np.shape(samples)[0]) if np.ndim(samples) else 0
        if n:
            self._samples_in += n
            self._arrivals.append((self._samples_in / rate, now))

    def input_finished(self) -> None:
        """No more audio: the next decode() flushes it and produces the final events."""
        if not self._native.is_finished:
            tail = self._audio.flush()
            if tail.size:
                self._native.accept_waveform(tail)
            self._native.input_finished()

    def is_ready(self) -> bool:
        return self._native.is_ready

    def events(self) -> list[Event]:
        """Events produced since the last call, in order."""
        out, self._events = self._events, []
        return out

    def result(self) -> Partial | Utterance:
        """The Utterance once the input is done; before that the running decision (Partial)."""
        if self._final is not None:
            return self._final
        return self._running(Partial)

    def is_endpoint(self) -> bool:
        """True while at least endpoint_ms of Null (segments="speech": of non-speech) followed the last segment."""
        return self._native.tracker.is_endpoint

    @property
    def duration(self) -> float:
        """Seconds of audio accepted so far."""
        rate = self._audio.rate
        return self._samples_in / rate if rate else 0.0

    @property
    def num_frames(self) -> int:
        """Frames decoded so far."""
        return self._native.tracker.num_frames

    # ------------------------------------------------------------ engine side

    def _after_decode(self, frames_before: int) -> None:
        """Events of what the native core just decoded, in audio-time order."""
        e, nat = self.engine, self._native
        first_new = len(self._events)
        if self.num_frames > frames_before:
            if e.config.posteriors:
                self._emit(Posteriors(self.source, _sec(nat.posteriors_start), _sec(self.num_frames),
                                      list(e.outputs), np.round(nat.posteriors, 6).tolist()))
            self._emit_tracked()
            if e.config.partials and not nat.finishing:
                self._emit(self._running(Partial))
        if nat.finishing:
            self._finish()
        self._sort_new_events(first_new)
        self._forget_arrivals()

    def _emit_tracked(self) -> None:
        """The tracker's queued spikes, then its closed segments."""
        e, tr = self.engine, self._native.tracker
        for k, t in tr.pop_spikes():
            self._emit(Spike(self.source, e.outputs[k], _sec(t)))
        for start, end, counts, post_sum in tr.pop_segments():
            self._emit(e.segment(self.source, start, end, counts, post_sum))

    def _sort_new_events(self, first: int) -> None:
        """Order this decode's events by audio time (stable), whatever the chunking."""
        new = self._events[first:]
        if len(new) > 1:
            self._events[first:] = sorted(new, key=lambda ev: ev.audio_time)

    def _finish(self) -> None:
        if self._samples_in == 0:
            self._emit(Error(self.source, f"{self.source}: no samples (zero length)"))
            return
        if self.num_frames == 0:
            self._emit(Error(self.source, f"{self.source}: too short (less than one 10 ms frame)"))
            return
        self._emit_tracked()
        self._final = self._running(Utterance)
        self._emit(self._final)

    def _running(self, kind):
        tr = self._native.tracker
        end = self.duration if kind is Utterance else _sec(tr.num_frames)
        return self.engine.utterance(kind, self.source, end, tr.counts, tr.post_sum, tr.num_frames,
                                     tr.num_speech_frames)

    def _emit(self, event: Event) -> None:
        event.produced_at = now = time.monotonic()
        arrived = self._arrival_of(event.audio_time)
        event.latency_s = None if arrived is None else now - arrived
        self._events.append(event)

    def _arrival_of(self, t: float) -> float | None:
        """Wall-clock arrival of the audio at source time t (the call that brought it)."""
        if not self._arrivals:
            return None
        i = bisect.bisect_left(self._arrivals, t - 1e-9, key=lambda a: a[0])
        return self._arrivals[min(i, len(self._arrivals) - 1)][1]

    def _forget_arrivals(self) -> None:
        """Keep arrivals only from where a future event may still refer to (bounded memory)."""
        keep_from = _sec(self._native.tracker.oldest_open_frame) - FRAME_S
        while len(self._arrivals) > 1 and self._arrivals[0][0] < keep_from:
            self._arrivals.popleft()


def _sec(frame: int) -> float:
    return round(frame * FRAME_S, 6)


__all__ = ["Engine", "EngineConfig", "Stream", "softmax"]
