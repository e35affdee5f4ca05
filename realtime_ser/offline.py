"""Batch recognition of whole files: `python -m realtime_ser.stream --offline`.

For archives and many files, where nothing waits on the first result. Each input is read
whole; its features are the native descriptors plus the numba deltas of the whole signal
(features.kernels.extract), and its speech flags the numba twin of the native SpeechDetector
over its raw descriptors (speech_kernels.flags); then the model's normalisation; the offline
BiLSTM (C = None: the native LC-BLSTM with no chunking) over a batch of files at once; then
the numba batch decoder (decoder_kernels.track_batch, prange over files: best path, spikes,
and segments bounded as the engine's `segments` says: speech regions by default, or runs of
spikes) and the engine's rules for its events (Engine.segment, Engine.utterance: the
decision rule, the "no spike" fallback, "no speech", calibration).

Output: per input its warnings, then its spike, segment and utterance events in audio-time
order (or one Error), inputs in the order given; no partials or posteriors. The events equal
the streaming ones, in either segments mode, whenever the streaming chunk covers the whole
input (chunk_ms >= its duration: then streaming runs the offline BiLSTM too and decodes every
frame at once), to the bit (tests/test_offline.py). With shorter chunks the streaming
backward pass sees less right context and decisions may differ (the speech flags do not:
they are causal and the same for any chunking).

Memory grows with the batch's total length (whole signals and features are held); stream
very long recordings instead. numba is imported here only, never by serving.
"""

from __future__ import annotations

import time

import numpy as np

from realtime_ser import decoder_kernels, speech_kernels
from realtime_ser.audio import SAMPLE_RATE
from realtime_ser.engine import _sec as seconds
from realtime_ser.events import Error, Event, InputWarning, Spike, Utterance
from realtime_ser.features import kernels
from realtime_ser.lstm import StreamingBiLstm
from realtime_ser.timebase import ms_to_frames

# Streams per native BiLSTM step, taken in length order: measured on EmoDB, 8 similar lengths
# run as fast as one at a time or faster; 40 at once run half as fast (cache).
LSTM_STREAMS = 8


class Item:
    """One input of a batch: its name, samples, features, speech flags and the events to print."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.events: list[Event] = []
        self.samples: np.ndarray | None = None
        self.feats: np.ndarray | None = None
        self.speech: np.ndarray | None = None
        self.read_at = 0.0

    def fail(self, message: str) -> None:
        self.events.append(Error(self.name, message))
        self.feats = None


class Recognizer:
    """The batch pipeline with an engine's model, decision rule and calibration."""

    def __init__(self, engine, threads: int = 1) -> None:
        self.engine = engine
        self.lstm = StreamingBiLstm(engine.model, None, threads=threads)
        kernels.warm_up()  # compile or load the numba kernels before the first file
        speech_kernels.warm_up()
        decoder_kernels.warm_up()

    def features(self, item: Item) -> None:
        """Whole-file features and speech flags; the error events streaming would give for an
        empty or short input."""
        if item.samples is None or len(item.samples) == 0:
            item.fail(f"{item.name}: no samples (zero length)")
            return
        item.feats = kernels.extract(item.samples, SAMPLE_RATE)
        if len(item.feats) == 0:
            item.fail(f"{item.name}: too short (less than one 10 ms frame)")
            return
        item.speech = speech_kernels.flags(item.feats)  # the raw descriptors, as the stream's detector

    def decide(self, items: list[Item]) -> None:
        """BiLSTM and decoder over the items with features; appends their events."""
        todo = [it for it in items if it.feats is not None]
        if not todo:
            return
        e = self.engine
        batch, lengths = decoder_kernels.pad(self.logits([it.feats for it in todo]))
        segments = (e.endpoint_frames, ms_to_frames(e.config.max_segment_ms))
        found = decoder_kernels.track_batch(batch, lengths, e.blank, True, segments, [it.speech for it in todo],
                                            e.config.segments == "speech")
        for b, it in enumerate(todo):
            events: list[Event] = []
            if e.config.spikes:
                events += [Spike(it.name, e.outputs[k], seconds(t))
                           for k, t in zip(found.labels[b, :found.n_labels[b]], found.frames[b])]
            events += [e.segment(it.name, start, end, c, p) for start, end, c, p in found.segments[b]]
            events.append(e.utterance(Utterance, it.name, len(it.samples) / SAMPLE_RATE, found.counts[b],
                                      found.post_sums[b], int(lengths[b]), int(found.speech_frames[b])))
            now = time.monotonic()
            for event in sorted(events, key=lambda ev: ev.audio_time):  # as the engine orders them
                event.produced_at, event.latency_s = now, now - it.read_at
                it.events.append(event)

    def logits(self, feats: list[np.ndarray]) -> list[np.ndarray]:
        """Offline BiLSTM outputs per input: normalised, stepped LSTM_STREAMS at a time by length."""
        order = sorted(range(len(feats)), key=lambda i: len(feats[i]))
        out: list[np.ndarray | None] = [None] * len(feats)
        for first in range(0, len(order), LSTM_STREAMS):
            group = order[first:first + LSTM_STREAMS]
            x = [self.engine.new_normalizer().process(feats[i]) for i in group]
            z = self.lstm.step_batch([self.lstm.new_state() for _ in group], x, finish=True)
            for i, zi in zip(group, z):
                out[i] = zi
        return out


def read(item: Item, blocks) -> None:
    """The whole input from its blocks (the ones streaming is fed), warnings kept in order."""
    parts = list(blocks)
    item.samples = np.concatenate(parts) if parts else np.zeros(0, np.float32)
    item.read_at = time.monotonic()


def warning(item: Item):
    return lambda message: item.events.append(InputWarning(item.name, message))
