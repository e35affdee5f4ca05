"""Streaming emotion recognition engine (lifecycle after sherpa-onnx's online recognizer).

    engine = Engine(EngineConfig())                  # loads the model once
    s = engine.create_stream("mic")
    s.accept_waveform(48000, samples)                # any rate, any chunk length
    while engine.ready([s]):
        engine.decode([s])                           # many streams: one batched BiLSTM step
    for event in s.events(): print(event.to_json())
    s.input_finished(); engine.decode([s])           # final Segment + the Utterance

Pipeline per stream: OnlineFeatures -> normalisation with the model's statistics ->
latency-controlled BiLSTM (chunks of chunk_ms/10 frames + right_context_ms/10 frames)
-> the native SegmentTracker (_native.SegmentTracker): softmax and argmax once per frame, the
best-path statistics of the whole input (Utterance, Spikes, Partials) and of each segment (Segment).

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
from dataclasses import dataclass

import numpy as np

from realtime_ser import _native
from realtime_ser import model as model_lib
from realtime_ser.audio import AudioError, check_rate
from realtime_ser.calibration import calibrate, is_identity
from realtime_ser.decoder import decision_from_stats
from realtime_ser.events import Error, Event, Partial, Posteriors, Segment, Spike, Utterance
from realtime_ser.features import DIM, OnlineFeatures
from realtime_ser.lstm import StreamingBiLstm
from realtime_ser.normalize import Normalizer
from realtime_ser.timebase import FRAME_S, ms_to_frames

DEFAULT_RIGHT_CONTEXT_MS = 200
MAX_SEGMENT_MS = 3_600_000  # upper bound of EngineConfig.max_segment_ms (1 h)
SEGMENT_MODES = ("speech", "spikes")
NO_SPEECH = "no speech"
NO_SPIKE = "no spike"


@dataclass
class EngineConfig:
    """Engine settings. Times are in ms and must be whole multiples of 10 ms (one frame)."""

    model: str | None = None              # model directory; None = the bundled default
    chunk_ms: int = 100                   # BiLSTM chunk
    right_context_ms: int | None = None   # None = the model's trained right context, else 200
    endpoint_ms: int = 500                # Null run that closes a segment
    max_segment_ms: int = 30000           # a segment this long is closed and a new one started
    posteriors: bool = False              # emit Posteriors events
    partials: bool = False                # emit Partial events
    spikes: bool = True                   # emit Spike events
    segments: str = "speech"              # "speech": speech regions; "spikes": runs of spikes

    def validate(self) -> None:
        """Raise ValueError with a one-line message if a setting is out of range."""
        _check_ms("chunk_ms", self.chunk_ms, minimum=10)
        if self.right_context_ms is not None:
            _check_ms("right_context_ms", self.right_context_ms, minimum=0)
        _check_ms("endpoint_ms", self.endpoint_ms, minimum=10)
        _check_ms("max_segment_ms", self.max_segment_ms, minimum=100, maximum=MAX_SEGMENT_MS)
        if self.segments not in SEGMENT_MODES:
            raise ValueError(f"segments must be one of {', '.join(SEGMENT_MODES)}, got {self.segments!r}")

    def __str__(self) -> str:
        right = "model's" if self.right_context_ms is None else f"{self.right_context_ms} ms"
        flags = [name for name in ("posteriors", "partials", "spikes") if getattr(self, name)]
        return (f"model={self.model or 'default'} chunk={self.chunk_ms} ms right_context={right} "
                f"endpoint={self.endpoint_ms} ms max_segment={self.max_segment_ms} ms segments={self.segments} events=segment,utterance"
                + "".join("," + f for f in flags))


def _check_ms(name: str, value, minimum: int, maximum: int | None = None) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be a whole number of ms, got {value!r}")
    if value < minimum or value % 10:
        raise ValueError(f"{name} must be a multiple of 10 ms and at least {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be at most {maximum} ms, got {value}")


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
        self.lstm = StreamingBiLstm(self.model, self.chunk_frames, self.right_context_frames)
        self.endpoint_frames = ms_to_frames(self.config.endpoint_ms)
        self.norm_config = cfg.norm_config

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
        """Advance every given stream with what it has; one batched BiLSTM step for all.

        A stream listed twice is decoded once; a stream of another Engine is a ValueError.
        """
        work = [(s, s._decode_input()) for s in self._own(streams, "decode")]
        work = [(s, w) for s, w in work if w is not None]
        if not work:
            return
        states, inputs, finish = zip(*(w for _, w in work))
        logits = self.lstm.step_batch(list(states), list(inputs), finish=list(finish))
        for (s, _), z in zip(work, logits):
            s._decode_output(z)

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
        """A stream's native softmax / best-path / spike / segment tracker."""
        return _native.SegmentTracker(len(self.outputs), self.blank, self.endpoint_frames,
                                      ms_to_frames(self.config.max_segment_ms), self.config.spikes,
                                      self.config.segments == "speech")

    def decide(self, counts, post_sum, num_frames: int) -> tuple[str, dict[str, float]]:
        """(emotion, calibrated scores) by the utterance rule from best-path statistics."""
        decision, scores = decision_from_stats(counts, post_sum, num_frames, self.blank)
        return self.labels[decision], self.scores(scores)

    def scores(self, scores: np.ndarray) -> dict[str, float]:
        """Decision scores as the events carry them: calibrated with the model's temperature and floor."""
        t, floor = self.model.config.temperature, self.model.config.score_floor
        if not is_identity(t, floor):
            scores = calibrate(scores, t, floor)
        return {label: round(float(p), 6) for label, p in zip(self.labels, scores)}


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row softmax (computed in float64), float32: the native one the streams use."""
    return _native.softmax(np.asarray(logits))


class Stream:
    """One audio input: its features, BiLSTM state, CTC decoders and pending events."""

    def __init__(self, engine: Engine, source: str = "<stream>") -> None:
        self.engine = engine
        self.source = str(source)
        self._norm = engine.new_normalizer()
        self.reset()

    # ------------------------------------------------------------ public

    def reset(self, adaptation: bool = False) -> None:
        """Drop everything and start a new input (same source name).

        The speaker adaptation carries on (the same speaker goes on talking) unless adaptation=True.
        """
        if adaptation:
            self._norm.reset()
        e = self.engine
        self._features = OnlineFeatures()
        self._feats: list[np.ndarray] = []  # popped, not yet decoded
        self._detector = _native.SpeechDetector()
        self._speech: list[np.ndarray] = []  # speech flags of frames not yet given to the tracker
        self._lstm = e.lstm.new_state()
        self._tracker = e.new_tracker()  # softmax, best path, spikes, segments (native)
        self._events: list[Event] = []
        self._rate: int | None = None
        self._samples_in = 0
        self._arrivals: deque[tuple[float, float]] = deque()  # (source seconds, monotonic)
        self._finished = False
        self._finishing = False
        self._done = False
        self._final: Utterance | None = None

    def accept_waveform(self, sample_rate: int, samples: np.ndarray) -> None:
        """Append samples ((n,) or (n, channels), int or float) at sample_rate Hz."""
        now = time.monotonic()
        if self._finished:
            raise ValueError(f"{self.source}: accept_waveform() after input_finished()")
        rate = check_rate(sample_rate, self.source)
        try:
            self._features.accept_waveform(rate, samples)
        except AudioError as err:
            raise AudioError(self.source, err.problem) from None
        except ValueError as err:
            raise ValueError(f"{self.source}: {str(err).split(': ', 1)[-1]}") from None
        self._rate = rate
        n = int(np.shape(samples)[0]) if np.ndim(samples) else 0
        if n:
            self._samples_in += n
            self._arrivals.append((self._samples_in / rate, now))

    def input_finished(self) -> None:
        """No more audio: the next decode() flushes it and produces the final events."""
        if not self._finished:
            self._finished = True
            self._features.input_finished()

    def is_ready(self) -> bool:
        if self._done:
            return False
        if self._finished:
            return True
        return self._features_pending()

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
        return self._tracker.is_endpoint

    @property
    def duration(self) -> float:
        """Seconds of audio accepted so far."""
        return self._samples_in / self._rate if self._rate else 0.0

    @property
    def num_frames(self) -> int:
        """Frames decoded so far."""
        return self._tracker.num_frames

    # ------------------------------------------------------------ engine side

    def _features_pending(self) -> bool:
        self._poll_features()
        return bool(self._feats)

    def _poll_features(self) -> None:
        new = self._features.pop_frames()
        if len(new):
            self._feats.append(new)
            self._speech.append(self._detector.accept_frames(new))

    def _take_frames(self) -> np.ndarray:
        """Normalised feature frames not yet given to the BiLSTM."""
        self._poll_features()
        if not self._feats:
            return np.zeros((0, DIM), np.float32)
        feats = np.concatenate(self._feats) if len(self._feats) > 1 else self._feats[0]
        self._feats = []
        return self._norm.process(feats)

    def _decode_input(self):
        """(BiLSTM state, new normalised frames, input finished) for Engine.decode; None once done."""
        if self._done:
            return None
        self._finishing = self._finished  # as the BiLSTM step sees it
        return self._lstm, self._take_frames(), self._finishing

    def _decode_output(self, logits: np.ndarray) -> None:
        """Logits of newly final frames -> native tracker -> events, in audio-time order."""
        e, tr = self.engine, self._tracker
        first_new = len(self._events)
        if len(logits):
            t0 = tr.num_frames
            post = tr.accept_logits(logits, self._take_speech(len(logits)))
            if e.config.posteriors:
                self._emit(Posteriors(self.source, _sec(t0), _sec(tr.num_frames), list(e.outputs),
                                      np.round(post, 6).tolist()))
            self._emit_tracked()
            if e.config.partials and not self._finishing:
                self._emit(self._running(Partial))
        if self._finishing:
            self._finish()
        self._sort_new_events(first_new)
        self._forget_arrivals()

    def _take_speech(self, n: int) -> np.ndarray:
        """Speech flags of the next n frames (known before the BiLSTM's output for them)."""
        flags = np.concatenate(self._speech) if len(self._speech) > 1 else self._speech[0]
        self._speech = [flags[n:]] if len(flags) > n else []
        return flags[:n]

    def _emit_tracked(self) -> None:
        """The tracker's queued spikes, then its closed segments."""
        e = self.engine
        for k, t in self._tracker.pop_spikes():
            self._emit(Spike(self.source, e.outputs[k], _sec(t)))
        for start, end, counts, post_sum in self._tracker.pop_segments():
            emotion, scores = e.decide(counts, post_sum, end - start)
            reason = NO_SPIKE if not np.delete(counts, e.blank).any() else None
            self._emit(Segment(self.source, _sec(start), _sec(end), emotion, scores, reason))

    def _sort_new_events(self, first: int) -> None:
        """Order this decode's events by audio time (stable), whatever the chunking."""
        new = self._events[first:]
        if len(new) > 1:
            self._events[first:] = sorted(new, key=lambda ev: ev.audio_time)

    def _finish(self) -> None:
        self._done = True
        if self._samples_in == 0:
            self._emit(Error(self.source, f"{self.source}: no samples (zero length)"))
            return
        if self._tracker.num_frames == 0:
            self._emit(Error(self.source, f"{self.source}: too short (less than one 10 ms frame)"))
            return
        self._tracker.close()
        self._emit_tracked()
        self._final = self._running(Utterance)
        self._emit(self._final)

    def _running(self, kind):
        tr = self._tracker
        end = self.duration if kind is Utterance else _sec(tr.num_frames)
        if tr.num_speech_frames == 0:
            return kind(self.source, 0.0, round(end, 6), None, {}, NO_SPEECH)
        emotion, scores = self.engine.decide(tr.counts, tr.post_sum, tr.num_frames)
        return kind(self.source, 0.0, round(end, 6), emotion, scores)

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
        keep_from = _sec(self._tracker.oldest_open_frame) - FRAME_S
        while len(self._arrivals) > 1 and self._arrivals[0][0] < keep_from:
            self._arrivals.popleft()


def _sec(frame: int) -> float:
    return round(frame * FRAME_S, 6)


__all__ = ["Engine", "EngineConfig", "Stream", "softmax"]
