"""Events a stream produces; each serialises to one JSON object (one JSON Lines line).

Times (`time`, `start`, `end`) are seconds of the source audio: frame t starts at t * 0.01 s
(frames are 10 ms apart). Every event also carries, outside its JSON by default, the
wall-clock time it was produced (`produced_at`, time.monotonic()) and `latency_s`: how long
after the audio at its reference time (`audio_time`) arrived in the engine it was produced.
`to_dict(timing=True)` adds `latency_s` to the JSON.

The JSON is always valid UTF-8 and strict JSON: text that is not valid Unicode (a file name
with undecodable bytes) gets \\xNN escapes, and an event holding NaN or infinity raises
ValueError rather than printing a non-JSON `NaN`. Posteriors are rounded to 6 decimals.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, fields

import numpy as np

from realtime_ser.audio import display_name

DECIMALS = 6


@dataclass
class Event:
    """Base class: `type` names the event in its JSON."""

    type = "event"
    # Timing, kept out of the JSON unless asked for (results must not depend on the clock).
    produced_at: float | None = field(default=None, kw_only=True, repr=False, compare=False)
    latency_s: float | None = field(default=None, kw_only=True, repr=False, compare=False)

    @property
    def audio_time(self) -> float:
        """Source time whose arrival this event's latency is measured from."""
        return getattr(self, "end", 0.0)

    def to_dict(self, timing: bool = False) -> dict:
        out = {"type": self.type}
        for f in fields(self):
            if f.name not in ("produced_at", "latency_s"):
                out[f.name] = _plain(getattr(self, f.name))
        if out.get("reason", "") is None:
            del out["reason"]  # only decisions that are not the plain rule say why
        if timing:
            out["latency_s"] = None if self.latency_s is None else round(self.latency_s, DECIMALS)
        return out

    def to_json(self, timing: bool = False) -> str:
        """One line of strict JSON (no NaN/Infinity: ValueError naming the source instead)."""
        data = self.to_dict(timing)
        try:
            return json.dumps(data, ensure_ascii=False, allow_nan=False)
        except ValueError:
            raise ValueError(f"{data.get('source', '<stream>')}: {self.type} event holds NaN or "
                             f"infinite values") from None


def _plain(value):
    """numpy values -> JSON-able Python values."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, str):
        return display_name(value)
    return value


def _rounded(rows) -> list[list[float]]:
    out = []
    for row in rows:
        out.append([round(v, DECIMALS) if math.isfinite(v) else v for v in map(float, row)])
    return out


@dataclass
class Spike(Event):
    """A decoded CTC label: an emotion spike starting at `time` (s)."""

    type = "spike"
    source: str
    emotion: str
    time: float

    @property
    def audio_time(self) -> float:
        return self.time + 0.01


@dataclass
class _Decision(Event):
    """An emotion decision over a stretch of one source, with scores over the model's labels.

    emotion is None (JSON null, scores {}) when the stretch holds no speech: reason "no speech".
    reason "no spike": a speech segment without a spike, decided by its highest summed
    non-Null posterior. The JSON has `reason` only when it is set.
    """

    source: str
    start: float
    end: float
    emotion: str | None
    scores: dict[str, float]
    reason: str | None = None


@dataclass
class Segment(_Decision):
    """A stretch of emotional speech: one speech region (EngineConfig.segments="speech"), or
    a run of spikes closed by `endpoint_ms` of Null (segments="spikes"), or the end of input.

    start/end: first speech (or active) frame's start, last one's end. emotion and scores by
    the utterance rule over the segment's frames.
    """

    type = "segment"


@dataclass
class Utterance(_Decision):
    """The decision for a whole input (exactly one per input, at its end)."""

    type = "utterance"


@dataclass
class Partial(_Decision):
    """The running decision over the input so far (from 0.0 to `end`)."""

    type = "partial"


@dataclass
class Posteriors(Event):
    """Frame posteriors of frames start/0.01 ... (one row per 10 ms frame, columns = outputs)."""

    type = "posteriors"
    source: str
    start: float
    end: float
    outputs: list[str]
    posteriors: list[list[float]]

    def to_dict(self, timing: bool = False) -> dict:
        out = super().to_dict(timing)
        out["posteriors"] = _rounded(out["posteriors"])
        return out


@dataclass
class Error(Event):
    """A problem with one input; `error` is one line."""

    type = "error"
    source: str
    error: str


@dataclass
class InputWarning(Event):
    """A damaged but usable input (e.g. a WAV shorter than its header says); `warning` is one line.

    The input is still processed (its events and utterance follow) and does not count as failed.
    """

    type = "warning"
    source: str
    warning: str


__all__ = ["Error", "Event", "InputWarning", "Partial", "Posteriors", "Segment", "Spike", "Utterance"]
