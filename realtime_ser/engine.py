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
-> softmax -> a streaming CTC best-path decoder over the whole input (Utterance, Spikes,
Partials) and one per segment (Segment).

Segments: a frame is active when its best-path label is not Null. A segment runs from
its first active frame to its last; it is closed once `endpoint_ms` of Null frames follow
it, or at the end of input. A segment spans at most `max_segment_ms` (default 30 s): one
that reaches it is closed there and the next starts at the next active frame. Segments are
handled inside the stream: unlike sherpa-onnx there is no need to call reset() at an
endpoint; reset() starts a new input.

Events of one decode() come in audio-time order (`audio_time`, stable), so their sequence
does not depend on the chunk sizes. Memory per stream is bounded however long the input:
the decoders keep only spikes not yet returned, arrival times are kept only as far back as
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

FRAME_S = 0.01
DEFAULT_RIGHT_CONTEXT_MS = 200
MAX_SEGMENT_MS = 3_600_000  # upper bound of EngineConfig.max_segment_ms (1 h)


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

    def validate(self) -> None:
        """Raise ValueError with a one-line message if a setting is out of range."""
        _check_ms("chunk_ms", self.chunk_ms, minimum=10)
        if self.right_context_ms is not None:
            _check_ms("right_context_ms", self.right_context_ms, minimum=0)
        _check_ms("endpoint_ms", self.endpoint_ms, minimum=10)
        _check_ms("max_segment_ms", self.max_segment_ms, minimum=100, maximum=MAX_SEGMENT_MS)

    def __str__(self) -> str:
        right = "model's" if self.right_context_ms is None else f"{self.right_context_ms} ms"
        flags = [name for name in ("posteriors", "partials", "spikes") if getattr(self, name)]
        return (f"model={self.model or 'default'} chunk={self.chunk_ms} ms right_context={right} "
                f"endpoint={self.endpoint_ms} ms max_segment={self.max_segment_ms} ms events=segment,utterance"
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
        self.chunk_frames = self.config.chunk_ms // 10
        self.right_context_frames = self._right_context_ms() // 10
        self.lstm = StreamingBiLstm(self.model, self.chunk_frames, self.right_context_frames)
        self.endpoint_frames = self.config.endpoint_ms // 10
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
        active = [s for s in self._own(streams, "decode") if not s._done]
        if not active:
            return
        inputs = [s._take_frames() for s in active]
        finish = [s._finished for s in active]
        logits = self.lstm.step_batch([s._lstm for s in active], inputs, finish=finish)
        for s, z, done in zip(active, logits, finish):
            s._consume(z, done)

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

    def scores(self, scores: np.ndarray) -> dict[str, float]:
        """Decision scores as the events carry them: calibrated with the model's temperature and floor."""
        t, floor = self.model.config.temperature, self.model.config.score_floor
        if not is_identity(t, floor):
            scores = calibrate(scores, t, floor)
        return {label: round(float(p), 6) for label, p in zip(self.labels, scores)}


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row softmax, float32."""
    z = np.asarray(logits, np.float64)
    z = np.exp(z - z.max(axis=1, keepdims=True))
    return (z / z.sum(axis=1, keepdims=True)).astype(np.float32)


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
        self._lstm = e.lstm.new_state()
        self._decoder = _native.OnlineCtcDecoder(len(e.outputs), e.blank)
        self._segment = _SegmentTracker(e)
        self._events: list[Event] = []
        self._rate: int | None = None
        self._samples_in = 0
        self._arrivals: deque[tuple[float, float]] = deque()  # (source seconds, monotonic)
        self._frames_out = 0
        self._finished = False
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
        """True while at least endpoint_ms of Null has followed the last segment."""
        return self._segment.at_endpoint()

    @property
    def duration(self) -> float:
        """Seconds of audio accepted so far."""
        return self._samples_in / self._rate if self._rate else 0.0

    @property
    def num_frames(self) -> int:
        """Frames decoded so far."""
        return self._frames_out

    # ------------------------------------------------------------ engine side

    def _features_pending(self) -> bool:
        self._poll_features()
        return bool(self._feats)

    def _poll_features(self) -> None:
        new = self._features.pop_frames()
        if len(new):
            self._feats.append(new)

    def _take_frames(self) -> np.ndarray:
        """Normalised feature frames not yet given to the BiLSTM."""
        self._poll_features()
        if not self._feats:
            return np.zeros((0, DIM), np.float32)
        feats = np.concatenate(self._feats) if len(self._feats) > 1 else self._feats[0]
        self._feats = []
        return self._norm.process(feats)

    def _consume(self, logits: np.ndarray, finished: bool) -> None:
        """Posteriors of newly final frames -> decoders -> events, in audio-time order."""
        e = self.engine
        first_new = len(self._events)
        if len(logits):
            post = softmax(logits)
            t0 = self._frames_out
            self._frames_out += len(post)
            self._decoder.accept_posteriors(post)
            if e.config.posteriors:
                self._emit(Posteriors(self.source, _sec(t0), _sec(self._frames_out), list(e.outputs),
                                      np.round(post, 6).tolist()))
            spikes = self._decoder.pop_new_spikes()  # popped always: the decoder keeps only these
            if e.config.spikes:
                for k, t in spikes:
                    self._emit(Spike(self.source, e.outputs[k], _sec(t)))
            for seg in self._segment.accept(post, t0):
                self._emit(seg(self.source))
            if e.config.partials and not finished:
                self._emit(self._running(Partial))
        if finished:
            self._finish()
        self._sort_new_events(first_new)
        self._forget_arrivals()

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
        if self._frames_out == 0:
            self._emit(Error(self.source, f"{self.source}: too short (less than one 10 ms frame)"))
            return
        seg = self._segment.close()
        if seg is not None:
            self._emit(seg(self.source))
        self._final = self._running(Utterance)
        self._emit(self._final)

    def _running(self, kind):
        e = self.engine
        d = self._decoder
        decision, scores = decision_from_stats(d.counts, d.post_sum, d.num_frames, e.blank)
        end = self.duration if kind is Utterance else _sec(self._frames_out)
        return kind(self.source, 0.0, round(end, 6), e.labels[decision], e.scores(scores))

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
        keep_from = _sec(self._segment.oldest_open_frame(self._frames_out)) - FRAME_S
        while len(self._arrivals) > 1 and self._arrivals[0][0] < keep_from:
            self._arrivals.popleft()


def _sec(frame: int) -> float:
    return round(frame * FRAME_S, 6)


class _SegmentTracker:
    """Splits the best path into segments at runs of endpoint_frames Null frames.

    The segment's own CTC decoder is fed its frames from the first active one; Null frames
    after an active frame wait in a buffer (at most endpoint_frames) until the next active
    frame shows they are inside the segment. A segment spans at most max_frames frames:
    one that reaches start + max_frames is closed there (ending at its last active frame)
    and the next begins at the next active frame.
    """

    def __init__(self, engine: Engine) -> None:
        self.e = engine
        self.max_frames = engine.config.max_segment_ms // 10
        self.decoder = _native.OnlineCtcDecoder(len(engine.outputs), engine.blank)
        self.start: int | None = None   # first active frame of the open segment
        self.last_end = 0               # frame after its last active frame
        self.null_rows: list[np.ndarray] = []
        self.null_run = 0               # Null frames since the last active frame
        self.seen_active = False

    def accept(self, post: np.ndarray, t0: int) -> list:
        closed = []
        is_null = post.argmax(axis=1) == self.e.blank
        for a, b in _runs(is_null):
            if is_null[a]:
                seg = self._nulls(post[a:b], t0 + b)
                if seg is not None:
                    closed.append(seg)
            else:
                closed += self._active(post[a:b], t0 + a)
        return closed

    def _active(self, rows: np.ndarray, first: int) -> list:
        """Active frames first .. first + len(rows); closes segments that reach max_frames."""
        closed, end, pos = [], first + len(rows), first
        while pos < end:
            if self.start is None:
                self.start = pos
            limit = self.start + self.max_frames
            stop = min(end, limit)
            for pending in self.null_rows:
                self.decoder.accept_posteriors(pending)
            self.null_rows = []
            self.decoder.accept_posteriors(rows[pos - first:stop - first])
            self.decoder.pop_new_spikes()  # only counts and sums are used: keep no spikes
            self.last_end = pos = stop
            self.null_run = 0
            self.seen_active = True
            if stop == limit:
                closed.append(self.close())
        return closed

    def _nulls(self, rows: np.ndarray, end: int):
        self.null_run += len(rows)
        if self.start is None:
            return None
        if self.null_run >= self.e.endpoint_frames or end >= self.start + self.max_frames:
            return self.close()  # an endpoint, or the segment can grow no more
        self.null_rows.append(rows.copy())  # a copy: a view would keep the whole chunk alive
        return None

    def close(self):
        """The open segment as a factory source -> Segment, or None; starts a new one."""
        if self.start is None:
            return None
        d = self.decoder
        decision, scores = decision_from_stats(d.counts, d.post_sum, d.num_frames, self.e.blank)
        start, end = _sec(self.start), _sec(self.last_end)
        emotion, score_map = self.e.labels[decision], self.e.scores(scores)
        d.reset()
        self.start, self.null_rows = None, []

        def make(source: str) -> Segment:
            return Segment(source, start, end, emotion, score_map)
        return make

    def at_endpoint(self) -> bool:
        return self.seen_active and self.start is None and self.null_run >= self.e.endpoint_frames

    def oldest_open_frame(self, frames_out: int) -> int:
        return frames_out if self.start is None else min(self.last_end, frames_out)


def _runs(mask: np.ndarray):
    """(start, stop) of the runs of equal values in a 1-D bool array."""
    if not len(mask):
        return []
    edges = np.flatnonzero(mask[1:] != mask[:-1]) + 1
    bounds = np.concatenate([[0], edges, [len(mask)]])
    return list(zip(bounds[:-1].tolist(), bounds[1:].tolist()))


__all__ = ["Engine", "EngineConfig", "Stream", "softmax"]
