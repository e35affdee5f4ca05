"""The library side of the same holes: events always strict UTF-8 JSON, buffers checked, rates bounded."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
from rel_common import SAMPLE

from realtime_ser.audio import AudioError, load
from realtime_ser.engine import Engine, EngineConfig
from realtime_ser.events import Error, InputWarning, Posteriors, Utterance


@pytest.fixture(scope="module")
def engine():
    return Engine(EngineConfig())


def test_huge_rate_does_not_hang(engine):
    """accept_waveform(10**20, x) used to hang inside soxr."""
    s = engine.create_stream("x")
    start = time.monotonic()
    with pytest.raises(AudioError, match="192000 Hz maximum"):
        s.accept_waveform(10**20, np.zeros(160, np.float32))
    assert time.monotonic() - start < 1.0


def test_int16_scale_floats_and_channels_first_refused(engine):
    x = load(SAMPLE)[:16000]
    s = engine.create_stream("buf")
    with pytest.raises(AudioError) as err:
        s.accept_waveform(16000, (x * 32767).astype(np.float64))
    assert str(err.value).startswith("buf: float samples reach") and "int16" in str(err.value)
    with pytest.raises(AudioError, match="channels-first"):
        s.accept_waveform(16000, np.stack([x, x]))
    s.accept_waveform(16000, np.stack([x, x], axis=1))  # (n, channels) is fine
    s.accept_waveform(16000, (x * 32767).astype(np.int16))  # int16 samples as int16 are fine
    s.input_finished()
    engine.decode([s])
    assert [e.type for e in s.events()][-1] == "utterance"


def test_events_are_strict_utf8_json():
    bad = "dir/bad\udcff\udcfe.wav"  # os.fsdecode of b"dir/bad\xff\xfe.wav"
    for event in (Error(bad, f"{bad}: file not found"), InputWarning(bad, f"{bad}: truncated"),
                  Utterance(bad, 0.0, 1.0, "anger", {"anger": 1.0})):
        line = event.to_json()
        line.encode("utf-8")  # no lone surrogates
        data = json.loads(line)
        assert data["source"] == "dir/bad\\xff\\xfe.wav"
    assert json.loads(InputWarning("a", "a: w").to_json()) == {"type": "warning", "source": "a", "warning": "a: w"}


def test_no_nan_in_json():
    with pytest.raises(ValueError, match="a.wav: utterance event holds NaN"):
        Utterance("a.wav", 0.0, 1.0, "anger", {"anger": float("nan")}).to_json()
    with pytest.raises(ValueError, match="infinite"):
        Posteriors("a.wav", 0.0, 0.01, ["null"], [[float("inf")]]).to_json()


def test_posteriors_six_decimals():
    row = np.array([0.9991260170936584, 0.0008739829063415527], np.float32)
    data = json.loads(Posteriors("a", 0.0, 0.01, ["null", "anger"], [row.tolist()]).to_json())
    assert data["posteriors"] == [[0.999126, 0.000874]]
