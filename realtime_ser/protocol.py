"""The WebSocket protocol of realtime_ser.serve, shared by the server and realtime_ser.client.

    client -> {"sample_rate": 16000, "format": "s16le", "channels": 1, ...engine options}
    server -> {"type": "ready", "stream": "3", ...}
    client -> binary audio messages (whole sample frames, interleaved channels), any size
    server -> spike / segment / partial / posteriors events, each with "stream"
    client -> {"eof": true}
    server -> the last segment and the utterance, then a close (1000)

Problems are one `error` event, then a close with one of the codes below and a reason.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields

import numpy as np

from realtime_ser.engine import EngineConfig

# Close codes (RFC 6455) and what this server means by them.
NORMAL = 1000          # the utterance was sent
GOING_AWAY = 1001      # the server is shutting down (after the utterance of what it had)
UNSUPPORTED = 1003     # text where audio belongs, or audio where the config belongs
INVALID_DATA = 1007    # malformed JSON, odd byte counts, bad samples
POLICY = 1008          # bad config values, idle timeout, slow reader, unknown path
TOO_BIG = 1009         # a message over the size limit
INTERNAL = 1011        # the engine failed on this stream
TRY_LATER = 1013       # the server is full

FORMATS = {"f32le": np.dtype("<f4"), "s16le": np.dtype("<i2")}
RATE_RANGE = (8000, 192000)
MAX_CHANNELS = 32
MAX_SOURCE_CHARS = 200

# Engine options a client may set: JSON key -> (range, or None for a bool).
MS_OPTIONS = {"chunk_ms": (10, 10000), "right_context_ms": (0, 5000), "endpoint_ms": (10, 60000)}
BOOL_OPTIONS = ("partials", "posteriors", "spikes", "latency")


class ProtocolError(ValueError):
    """A client mistake: one line for the error event, and the close code to use."""

    def __init__(self, message: str, code: int = POLICY) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class StreamConfig:
    """The client's first message, validated. None = the server's default."""

    sample_rate: int
    format: str = "f32le"
    channels: int = 1
    chunk_ms: int | None = None
    right_context_ms: int | None = None
    endpoint_ms: int | None = None
    partials: bool | None = None
    posteriors: bool | None = None
    spikes: bool | None = None
    latency: bool = False            # add latency_s (server side) to every event
    source: str | None = None        # a name for the events' "source" (default: the stream id)

    @classmethod
    def from_message(cls, message) -> "StreamConfig":
        """Parse and validate the first message (text); ProtocolError says what is wrong."""
        if isinstance(message, (bytes, bytearray, memoryview)):
            raise ProtocolError("expected a JSON config message first, got binary data", UNSUPPORTED)
        try:
            data = json.loads(message)
        except ValueError:
            raise ProtocolError("config is not valid JSON", INVALID_DATA) from None
        if not isinstance(data, dict):
            raise ProtocolError("config must be a JSON object", INVALID_DATA)
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ProtocolError(f"unknown config field {unknown[0]!r} (known: {', '.join(sorted(known))})")
        if "sample_rate" not in data:
            raise ProtocolError("config needs sample_rate (Hz)")
        config = cls(**data)
        config.validate()
        return config

    def validate(self) -> None:
        low, high = RATE_RANGE
        if not _is_int(self.sample_rate) or not low <= self.sample_rate <= high:
            raise ProtocolError(f"sample_rate must be a whole number of Hz from {low} to {high}, "
                                f"got {self.sample_rate!r}")
        if self.format not in FORMATS:
            raise ProtocolError(f"format must be one of {', '.join(FORMATS)}, got {self.format!r}")
        if not _is_int(self.channels) or not 1 <= self.channels <= MAX_CHANNELS:
            raise ProtocolError(f"channels must be 1 to {MAX_CHANNELS}, got {self.channels!r}")
        for name, (low, high) in MS_OPTIONS.items():
            value = getattr(self, name)
            if value is not None and (not _is_int(value) or not low <= value <= high or value % 10):
                raise ProtocolError(f"{name} must be a multiple of 10 from {low} to {high}, got {value!r}")
        for name in BOOL_OPTIONS:
            value = getattr(self, name)
            if value is not None and not isinstance(value, bool):
                raise ProtocolError(f"{name} must be true or false, got {value!r}")
        if self.source is not None and (not isinstance(self.source, str) or len(self.source) > MAX_SOURCE_CHARS):
            raise ProtocolError(f"source must be a string of at most {MAX_SOURCE_CHARS} characters")

    @property
    def frame_bytes(self) -> int:
        """Bytes of one sample frame (all channels)."""
        return FORMATS[self.format].itemsize * self.channels

    def engine_config(self, default: EngineConfig) -> EngineConfig:
        """The server's engine settings with this client's overrides."""
        values = {f.name: getattr(default, f.name) for f in fields(EngineConfig)}
        for name in (*MS_OPTIONS, "partials", "posteriors", "spikes"):
            if getattr(self, name) is not None:
                values[name] = getattr(self, name)
        return EngineConfig(**values)

    def samples(self, data: bytes) -> np.ndarray:
        """One binary message as samples, (n,) or (n, channels); ProtocolError on odd sizes."""
        if len(data) % self.frame_bytes:
            raise ProtocolError(f"audio message of {len(data)} bytes is not a whole number of "
                                f"{self.format} frames ({self.frame_bytes} bytes each)", INVALID_DATA)
        x = np.frombuffer(data, FORMATS[self.format])
        return x if self.channels == 1 else x.reshape(-1, self.channels)


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_eof(message) -> bool:
    """True for the text message {"eof": true}; ProtocolError for any other text."""
    try:
        data = json.loads(message)
    except ValueError:
        raise ProtocolError("text message is not JSON (audio must be binary)", UNSUPPORTED) from None
    if data == {"eof": True}:
        return True
    raise ProtocolError('expected binary audio or {"eof": true}, got another text message', UNSUPPORTED)


def error_event(stream_id: str, source: str, message: str) -> str:
    """An error event as the server sends it."""
    return json.dumps({"type": "error", "source": source, "error": message, "stream": stream_id},
                      ensure_ascii=False)


__all__ = ["ProtocolError", "StreamConfig", "is_eof", "error_event", "FORMATS"]
