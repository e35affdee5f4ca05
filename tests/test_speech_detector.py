"""The native SpeechDetector, speech-bounded segments and "no speech" as an answer.

Frame-exact checks use constructed descriptor rows (only log_energy, voicing_prob and f0_hz
are read); signal checks use silence, noise, tones and the bundled speech sample.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from realtime_ser import _native
from realtime_ser.engine import Engine, EngineConfig
from realtime_ser.events import Segment
from realtime_ser.features import BASE_NAMES, OnlineFeatures, extract

SPEECH_WAV = Path(__file__).resolve().parents[1] / "realtime_ser" / "samples" / "speech.wav"
RATE = 16000
COL = {name: BASE_NAMES.index(name) for name in ("log_energy", "voicing_prob", "f0_hz")}


def rows(candidate):
    """Descriptor rows: 1 = a voiced frame 10 (natural log) above the quiet ones, 0 = quiet."""
    candidate = np.asarray(candidate, bool)
    x = np.zeros((len(candidate), len(BASE_NAMES)), np.float32)
    x[:, COL["log_energy"]] = np.where(candidate, 0.0, -10.0)
    x[:, COL["voicing_prob"]] = np.where(candidate, 0.9, 0.1)
    # f0 moves from frame to frame, as in speech (a steady f0 is a tone)
    x[:, COL["f0_hz"]] = np.where(candidate, 100.0 + 10.0 * (np.arange(len(candidate)) % 2), 0.0)
    return x


def detect(x, options=None, cut=None):
    det = _native.SpeechDetector(options or _native.SpeechDetectorOptions())
    cut = cut or max(len(x), 1)
    return np.concatenate([det.accept_frames(x[a:a + cut]) for a in range(0, len(x), cut)] or [[]])


def signal_flags(x):
    return detect(extract(x.astype(np.float32), RATE))


@pytest.fixture(scope="module")
def speech():
    x, rate = sf.read(SPEECH_WAV, dtype="float32")
    assert rate == RATE
    return x


def test_options_defaults_and_validation():
    o = _native.SpeechDetectorOptions()
    assert (o.onset_frames, o.hangover_frames, o.steady_frames) == (5, 40, 3)
    assert "hangover_frames=40" in str(o)
    for name, value in [("onset_frames", 0), ("hangover_frames", 0), ("min_voicing", 1.5),
                        ("snr", -1.0), ("floor_rise", float("nan")), ("steady_frames", 0)]:
        bad = _native.SpeechDetectorOptions()
        setattr(bad, name, value)
        with pytest.raises(ValueError, match=f"^{name}"):
            _native.SpeechDetector(bad)


def test_onset_drops_short_bursts_and_hangover_bridges_short_gaps():
    o = _native.SpeechDetectorOptions()
    o.onset_frames, o.hangover_frames = 5, 10
    cand = [0] * 10 + [1] * 4 + [0] * 10 + [1] * 20 + [0] * 9 + [1] * 6 + [0] * 15
    expected = ([0] * 10 + [0] * 4 + [0] * 10          # a burst of 4 < onset 5: dropped
                + [0] * 4 + [1] * 16                    # speech from the 5th candidate on
                + [1] * 9 + [1] * 6                     # a gap of 9 < hangover 10: bridged
                + [1] * 9 + [0] * 6)                    # the 10th gap frame ends it
    x = rows(cand)
    for cut in (1, 3, 7, len(cand)):
        got = detect(x, o, cut)
        assert got.tolist() == expected, cut


def test_steady_tone_rows_are_not_speech():
    x = rows([1] * 50)
    x[:, COL["f0_hz"]] = 200.0  # steady f0 and energy: a tone
    assert detect(x).sum() == 0
    x[:, COL["f0_hz"]] = 200.0 + 5.0 * (np.arange(50) % 2)
    assert detect(x).sum() == 50 - 4


def test_no_speech_in_silence_noise_and_tones():
    t = np.arange(5 * RATE) / RATE
    rng = np.random.default_rng(0)
    for name, x in [("silence", np.zeros(5 * RATE)),
                    ("white noise full scale", rng.uniform(-1, 1, 5 * RATE)),
                    ("quiet noise", 0.01 * rng.standard_normal(5 * RATE)),
                    ("200 Hz sine", 0.5 * np.sin(2 * np.pi * 200 * t)),
                    ("440 Hz sine full scale", np.sin(2 * np.pi * 440 * t))]:
        assert signal_flags(x).sum() == 0, name


def test_speech_sample_is_mostly_speech_whatever_the_gain(speech):
    flags = signal_flags(speech)
    assert 0.7 < flags.mean() < 0.97  # the pauses at the start and end are not speech
    assert flags[:20].sum() == 0
    for gain in (0.01, 0.3):
        other = signal_flags(speech * gain)
        assert np.mean(other != flags) < 0.03, gain
    noisy = speech + 0.003 * np.random.default_rng(1).standard_normal(len(speech)).astype(np.float32)
    assert np.mean(signal_flags(noisy) != flags) < 0.05


def test_streaming_decisions_do_not_depend_on_the_chunks(speech):
    whole = signal_flags(speech)
    for size in (160, 999, 4800):
        f = OnlineFeatures()
        det = _native.SpeechDetector()
        got = []
        for a in range(0, len(speech), size):
            f.accept_waveform(RATE, speech[a:a + size])
            got.append(det.accept_frames(f.pop_frames()))
        f.input_finished()
        got.append(det.accept_frames(f.pop_frames()))
        assert np.array_equal(np.concatenate(got), whole), size


# ------------------------------------------------------------------ tracker and engine

def one_hot(path, c=5):
    post = np.full((len(path), c), 0.05, np.float32)
    post[np.arange(len(path)), path] = 0.8
    return post


def test_tracker_speech_segments_are_speech_runs():
    path = [0, 1, 1, 0, 0, 2, 0, 0, 0, 0, 3, 3, 0, 0, 0, 0]
    speech = [0, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1, 1]
    for cut in (1, 4, len(path)):
        tr = _native.SegmentTracker(5, 0, 50, 3000, True, True)
        made = []
        for a in range(0, len(path), cut):
            tr.accept_posteriors(one_hot(path[a:a + cut]), np.array(speech[a:a + cut], np.uint8))
            made += tr.pop_segments()
        tr.close()
        made += tr.pop_segments()
        assert [(a, b, c.tolist()) for a, b, c, _ in made] == [(1, 7, [0, 1, 1, 0, 0]), (9, 16, [0, 0, 0, 1, 0])]
        assert tr.num_speech_frames == sum(speech)
        np.testing.assert_allclose(made[1][3], one_hot(path[9:]).sum(0), rtol=1e-6)


def test_tracker_speech_segments_keep_the_maximum_length():
    tr = _native.SegmentTracker(5, 0, 50, 10, False, True)
    tr.accept_posteriors(one_hot([1] * 25), np.ones(25, np.uint8))
    tr.close()
    assert [(a, b) for a, b, _, _ in tr.pop_segments()] == [(0, 10), (10, 20), (20, 25)]


def test_tracker_rejects_speech_flags_of_the_wrong_length():
    tr = _native.SegmentTracker(5, 0, 50, 3000, True, True)
    with pytest.raises(ValueError, match="one flag per frame"):
        tr.accept_posteriors(one_hot([0, 0]), np.ones(3, np.uint8))


@pytest.fixture(scope="module")
def engine():
    return Engine(EngineConfig())


def decode(engine, x, cut=None):
    s = engine.create_stream("x")
    events = []
    cut = cut or len(x)
    for a in range(0, len(x), cut):
        s.accept_waveform(RATE, x[a:a + cut])
        while engine.ready([s]):
            engine.decode([s])
        events += s.events()
    s.input_finished()
    engine.decode([s])
    return events + s.events()


def test_no_speech_is_an_answer(engine):
    t = np.arange(10 * RATE) / RATE
    for x in (np.zeros(10 * RATE, np.float32), (0.5 * np.sin(2 * np.pi * 200 * t)).astype(np.float32)):
        events = decode(engine, x)
        assert [e.type for e in events if e.type != "spike"] == ["utterance"]
        utt = json.loads(events[-1].to_json())
        assert utt["emotion"] is None and utt["reason"] == "no speech" and utt["scores"] == {}
    s = engine.create_stream("live")
    s.accept_waveform(RATE, np.zeros(RATE, np.float32))
    engine.decode([s])
    assert s.result().emotion is None and s.result().reason == "no speech"  # the running decision


def test_speech_sample_segments_follow_speech(engine, speech):
    events = decode(engine, speech)
    segs = [e for e in events if e.type == "segment"]
    spikes_mode = [e for e in decode(Engine(EngineConfig(segments="spikes")), speech) if e.type == "segment"]
    assert sum(s.end - s.start for s in segs) > 2 * sum(s.end - s.start for s in spikes_mode)
    flags = signal_flags(speech)
    for s in segs:
        assert flags[round(s.start * 100):round(s.end * 100)].all()
    assert events[-1].type == "utterance" and events[-1].emotion is not None
    assert "reason" not in json.loads(segs[0].to_json())
    for cut in (1600, 7777):
        assert [(e.type, e.start, e.end, e.emotion) for e in decode(engine, speech, cut) if e.type == "segment"] \
            == [(e.type, e.start, e.end, e.emotion) for e in segs], cut


def test_a_speech_segment_without_a_spike_says_so(engine):
    s = engine.create_stream("x")
    post = one_hot([0] * 30)
    post[:, 3] = 0.1  # the highest non-Null summed posterior: neutral (output 3)
    s._native.tracker.accept_posteriors(post.astype(np.float32), np.r_[np.ones(20), np.zeros(10)].astype(np.uint8))
    s._emit_tracked()
    (seg,) = s.events()
    assert isinstance(seg, Segment) and (seg.start, seg.end) == (0.0, 0.2)
    assert seg.reason == "no spike" and seg.emotion == engine.labels[3 - 1]
    assert json.loads(seg.to_json())["reason"] == "no spike"


def test_segments_option_is_validated():
    with pytest.raises(ValueError, match="^segments must be one of speech, spikes"):
        EngineConfig(segments="words").validate()
    assert "segments=speech" in str(EngineConfig())
