"""Streaming engine: lifecycle, chunking invariance, batching, parity with the offline path."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from realtime_ser import features, model
from realtime_ser.audio import AudioError, load
from realtime_ser.decoder import best_path_decision
from realtime_ser.engine import Engine, EngineConfig
from realtime_ser.lstm import StreamingBiLstm

CHUNK_MS, RIGHT_MS, ENDPOINT_MS = 100, 200, 100


def write_model(path, wavs, seed=0, null_bias=1.0):
    """A model directory with small random weights (hidden 128) and real feature statistics.
    A large null_bias makes a mute model: Null wins every frame, so no spike ever."""
    rng = np.random.default_rng(seed)
    hidden, dim = 128, features.DIM
    feats = np.concatenate([features.extract(load(w), 16000) for w in wavs])
    cfg = model.ModelConfig(
        feature_version=features.VERSION, feature_names=list(features.NAMES),
        norm_mean=feats.mean(0).tolist(), norm_std=(feats.std(0) + 1e-3).tolist(),
        hidden=hidden, chunk_frames=10, right_context_frames=20)
    w = {}
    for sfx in ("", "_reverse"):
        w[f"lstm.weight_ih_l0{sfx}"] = rng.normal(0, 0.5 / np.sqrt(dim), (4 * hidden, dim))
        w[f"lstm.weight_hh_l0{sfx}"] = rng.normal(0, 1 / np.sqrt(hidden), (4 * hidden, hidden))
        w[f"lstm.bias_ih_l0{sfx}"] = np.zeros(4 * hidden)
        w[f"lstm.bias_hh_l0{sfx}"] = np.zeros(4 * hidden)
    w["out.weight"] = rng.normal(0, 3 / np.sqrt(2 * hidden), (5, 2 * hidden))
    w["out.bias"] = np.array([null_bias, 0, 0, 0, 0])  # Null favoured: Null runs, hence segments
    return model.save(path, cfg, w, "random test model\n")


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory, emodb_wavs):
    return write_model(tmp_path_factory.mktemp("model") / "m", emodb_wavs[:2])


@pytest.fixture(scope="module")
def engine(model_dir):
    return Engine(EngineConfig(model=str(model_dir), chunk_ms=CHUNK_MS, right_context_ms=RIGHT_MS,
                               endpoint_ms=ENDPOINT_MS, posteriors=True, segments="spikes"))


@pytest.fixture(scope="module")
def audio(emodb_wavs):
    return [load(w) for w in emodb_wavs[:3]]


def run(engine, samples, splits, source="x", rate=16000):
    """Feed samples cut at `splits` (decoding after every piece); all events."""
    s = engine.create_stream(source)
    events = []
    for piece in np.split(samples, splits):
        s.accept_waveform(rate, piece)
        engine.decode(engine.ready([s]))
        events += s.events()
    s.input_finished()
    engine.decode([s])
    return events + s.events()


def chunked(n, size):
    return np.arange(size, n, size)


def random_cuts(n, seed):
    rng = np.random.default_rng(seed)
    return np.cumsum(rng.integers(1, 4000, n // 500 + 1))


def summary(events, types=("spike", "segment", "utterance")):
    return [e.to_dict() for e in events if e.type in types]


def same_events(a, b):
    """Same events of each type, in order (how types interleave depends on the chunking)."""
    def key(e):
        return (e["type"], e.get("emotion"), e.get("start"), e.get("end"), e.get("time"))

    for kind in ("spike", "segment", "utterance"):
        xs = [e for e in a if e["type"] == kind]
        ys = [e for e in b if e["type"] == kind]
        assert [key(e) for e in xs] == [key(e) for e in ys]
        for x, y in zip(xs, ys):
            if "scores" in x:
                assert x["scores"] == pytest.approx(y["scores"], abs=1e-5)


def posteriors_of(events):
    return np.concatenate([np.asarray(e.posteriors) for e in events if e.type == "posteriors"])


# ---------------------------------------------------------------- config


def test_config_validate_and_str():
    EngineConfig().validate()
    for bad in (dict(chunk_ms=0), dict(chunk_ms=15), dict(right_context_ms=-10),
                dict(endpoint_ms=5), dict(chunk_ms=1.5), dict(endpoint_ms=True),
                dict(max_segment_ms=50), dict(max_segment_ms=30005), dict(max_segment_ms=3_600_010),
                dict(max_segment_ms=None)):
        with pytest.raises(ValueError) as err:
            EngineConfig(**bad).validate()
        assert "\n" not in str(err.value) and next(iter(bad)) in str(err.value)
    text = str(EngineConfig(chunk_ms=50, endpoint_ms=300))
    assert "chunk=50 ms" in text and "endpoint=300 ms" in text and "right_context=model's" in text
    assert "max_segment=30000 ms" in text
    EngineConfig(max_segment_ms=100).validate()
    EngineConfig(max_segment_ms=3_600_000).validate()


def test_engine_geometry(model_dir):
    e = Engine(EngineConfig(model=str(model_dir)))
    assert (e.chunk_frames, e.right_context_frames) == (10, 20)  # right context from the model
    e = Engine(EngineConfig(model=str(model_dir), chunk_ms=40, right_context_ms=0))
    assert (e.chunk_frames, e.right_context_frames) == (4, 0)
    assert e.outputs == ["null", "anger", "happiness", "neutral", "sadness"]


def test_missing_model_is_one_line(tmp_path):
    with pytest.raises(model.ModelError) as err:
        Engine(EngineConfig(model=str(tmp_path / "nope")))
    assert "\n" not in str(err.value)


# ---------------------------------------------------------------- lifecycle


def test_lifecycle(engine, audio):
    x = audio[0]
    s = engine.create_stream("utt")
    assert not engine.ready([s]) and s.events() == []
    s.accept_waveform(16000, x[:8000])
    assert engine.ready([s]) == [s]
    engine.decode([s])
    assert not engine.ready([s])
    first = s.events()
    assert first and all(e.type in ("posteriors", "spike", "segment") for e in first)
    running = s.result()
    assert running.type == "partial" and running.end == s.num_frames * 0.01
    s.accept_waveform(16000, x[8000:])
    s.input_finished()
    assert engine.ready([s]) == [s]
    engine.decode([s])
    rest = s.events()
    assert [e.type for e in rest].count("utterance") == 1 and rest[-1].type == "utterance"
    final = s.result()
    assert final is rest[-1] and final.end == pytest.approx(len(x) / 16000)
    assert set(final.scores) == set(engine.labels) and sum(final.scores.values()) == pytest.approx(1, abs=1e-4)
    assert not engine.ready([s])
    engine.decode([s])  # a finished stream is left alone
    assert s.events() == []
    with pytest.raises(ValueError):
        s.accept_waveform(16000, x[:100])
    # reset: a fresh input, same results
    s.reset()
    again = run_stream(engine, s, x)
    same_events(summary(first + rest), summary(again))


def run_stream(engine, s, x):
    s.accept_waveform(16000, x)
    s.input_finished()
    engine.decode([s])
    return s.events()


class FakeClock:
    """Stands in for the engine's `time` module: monotonic() is whatever the test set."""

    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now


def test_latency_against_a_known_arrival_schedule(engine, audio, monkeypatch):
    """latency_s = produced_at - arrival of the piece that brought the event's reference time."""
    import realtime_ser.engine as engine_module

    clock = FakeClock()
    monkeypatch.setattr(engine_module, "time", clock)
    x, piece = audio[0], 1600
    starts = list(range(0, len(x), piece))
    ends = [min(a + piece, len(x)) / 16000 for a in starts]  # piece j arrives at 100 j s
    s = engine.create_stream("clock")
    events = []
    for j, a in enumerate(starts):
        clock.now = 100.0 * j
        s.accept_waveform(16000, x[a:a + piece])
        if j % 3 == 2:  # decode every third piece, 7 s after it came
            clock.now += 7.0
            engine.decode([s])
            events += s.events()
    s.input_finished()
    clock.now = 100.0 * len(starts) + 3.0
    engine.decode([s])
    events += s.events()
    kinds = {e.type for e in events}
    assert {"spike", "segment", "posteriors", "utterance"} <= kinds
    for e in events:
        j = next(j for j, end in enumerate(ends) if end >= e.audio_time - 1e-9)
        assert e.latency_s == pytest.approx(e.produced_at - 100.0 * j, abs=1e-9), e.to_dict()
        assert e.produced_at % 100.0 in (pytest.approx(7.0), pytest.approx(3.0))
    assert len({round(e.latency_s, 6) for e in events if e.type == "spike"}) > 1
    assert events[-1].type == "utterance" and events[-1].latency_s == pytest.approx(103.0)


def test_endpoint_reached_after_speech_and_silence(emodb_wavs):
    """A real utterance then 1.5 s of silence: is_endpoint() turns True endpoint_ms after a segment."""
    e = Engine(EngineConfig())
    x = np.concatenate([load(emodb_wavs[0]), np.zeros(24000, np.float32)])
    s = e.create_stream("endpoint")
    last_segment, seen = None, []
    for a in range(0, len(x), 1600):
        s.accept_waveform(16000, x[a:a + 1600])
        e.decode([s])
        segs = [ev for ev in s.events() if ev.type == "segment"]
        last_segment = segs[-1] if segs else last_segment
        if s.is_endpoint():
            assert last_segment is not None, "an endpoint before any segment"
            assert s.num_frames * 0.01 - last_segment.end >= e.config.endpoint_ms / 1000 - 1e-9
        seen.append(s.is_endpoint())
    assert seen[-1], "1.5 s of silence after speech must be an endpoint"
    assert not seen[0]
    s.input_finished()
    e.decode([s])
    assert s.is_endpoint()


def test_events_carry_latency(engine, audio):
    events = run(engine, audio[1], chunked(len(audio[1]), 1600))
    assert all(e.latency_s is not None and e.latency_s >= 0 and e.produced_at for e in events)
    assert "latency_s" in events[-1].to_dict(timing=True) and "latency_s" not in events[-1].to_dict()


def test_segments_are_ordered_and_apart(engine, audio):
    for x in audio:
        events = run(engine, x, chunked(len(x), 1600))
        segs = [e for e in events if e.type == "segment"]
        assert segs, "the test model should produce segments"
        for a in segs:
            assert 0 <= a.start < a.end <= len(x) / 16000 + 0.01
            assert a.emotion in engine.labels and a.emotion == max(a.scores, key=a.scores.get)
        for a, b in zip(segs, segs[1:]):
            assert b.start - a.end >= ENDPOINT_MS / 1000 - 1e-9
        assert [e.type for e in events].count("utterance") == 1


def test_is_endpoint(engine):
    s = engine.create_stream()
    s.accept_waveform(16000, np.zeros(16000, np.float32))  # silence
    engine.decode([s])
    assert not s.is_endpoint()  # no segment before it, so no endpoint


def test_decode_dedupes_and_checks_its_streams(engine, model_dir, audio):
    x = audio[1]
    alone = run_stream(engine, engine.create_stream("s"), x)
    s = engine.create_stream("s")
    s.accept_waveform(16000, x)
    s.input_finished()
    assert engine.ready([s, s]) == [s]
    engine.decode([s, s])  # listed twice, decoded once
    same_events(summary(alone), summary(s.events()))
    other = Engine(EngineConfig(model=str(model_dir))).create_stream("theirs")
    other.accept_waveform(16000, x[:1600])
    for call in (engine.decode, engine.ready):
        with pytest.raises(ValueError, match="^theirs: stream was created by another Engine$"):
            call([other])
        with pytest.raises(TypeError, match="takes Stream objects, got str"):
            call(["x"])
        with pytest.raises(TypeError, match="takes a list of streams"):
            call(s)
    assert other.events() == [] and other.num_frames == 0  # left untouched


def event_order(events):
    """The whole sequence, types interleaved (posteriors and partials are per decode)."""
    return [(e.type, e.emotion if hasattr(e, "emotion") else None, e.audio_time)
            for e in events if e.type in ("spike", "segment", "utterance")]


def test_event_order_is_audio_time_whatever_the_chunking(engine, audio):
    for x in audio:
        at_10ms = run(engine, x, chunked(len(x), 160))
        at_100ms = run(engine, x, chunked(len(x), 1600))
        whole = run(engine, x, [])
        assert event_order(at_10ms) == event_order(at_100ms) == event_order(whole)
        times = [t for _, _, t in event_order(whole)]
        assert times == sorted(times)
        kinds = [k for k, _, _ in event_order(whole)]
        assert "segment" in kinds[:-2] and kinds.index("segment") < len(kinds) - 1 - kinds[::-1].index("spike")


def test_empty_and_bad_input(engine):
    s = engine.create_stream("empty")
    s.input_finished()
    engine.decode([s])
    (event,) = s.events()
    assert event.type == "error" and event.source == "empty" and "no samples" in event.error
    s = engine.create_stream("nan")
    with pytest.raises(AudioError, match="^nan: .*NaN"):
        s.accept_waveform(16000, np.array([0.0, np.nan], np.float32))
    with pytest.raises(AudioError, match="^nan: .*below"):
        s.accept_waveform(4000, np.zeros(10, np.float32))


# ---------------------------------------------------------------- invariance and parity


@pytest.mark.parametrize("cut", ["1ms", "7ms", "100ms", "random"])
def test_results_independent_of_chunking(engine, audio, cut):
    x = audio[0]
    reference = run(engine, x, [])
    splits = {"1ms": chunked(len(x), 16), "7ms": chunked(len(x), 112),
              "100ms": chunked(len(x), 1600), "random": random_cuts(len(x), 3)}[cut]
    events = run(engine, x, splits[splits < len(x)])
    same_events(summary(reference), summary(events))
    np.testing.assert_allclose(posteriors_of(reference), posteriors_of(events), atol=1e-5)


def test_other_rates_and_channels(engine, audio):
    """44.1 kHz int16 stereo: the same events however it is cut."""
    import soxr

    x = soxr.resample(audio[1], 16000, 44100)
    stereo = (np.stack([x, 0.5 * x], 1) * 32767).astype(np.int16)
    whole = run(engine, stereo, [], rate=44100)
    cut = run(engine, stereo, chunked(len(stereo), 441), rate=44100)
    same_events(summary(whole), summary(cut))
    (utt,) = [e for e in cut if e.type == "utterance"]
    assert utt.end == pytest.approx(len(x) / 44100)


def test_batched_decode_equals_alone(engine, audio, monkeypatch):
    alone = [run(engine, x, chunked(len(x), 1600), source=str(i)) for i, x in enumerate(audio)]
    calls = []
    native = engine._recognizer

    class Spy:  # counts the streams of each native batch
        def create_stream(self):
            return native.create_stream()

        def decode_streams(self, streams):
            calls.append(len(streams))
            native.decode_streams(streams)

    monkeypatch.setattr(engine, "_recognizer", Spy())
    streams = [engine.create_stream(str(i)) for i in range(len(audio))]
    events = [[] for _ in audio]
    sizes = [160, 700, 1600]  # each stream its own piece size
    pos = [0] * len(audio)
    while any(p < len(x) for p, x in zip(pos, audio)):
        for i, (s, x) in enumerate(zip(streams, audio)):
            if pos[i] < len(x):
                s.accept_waveform(16000, x[pos[i]:pos[i] + sizes[i]])
                pos[i] += sizes[i]
                if pos[i] >= len(x):
                    s.input_finished()
        engine.decode(streams)
        for i, s in enumerate(streams):
            events[i] += s.events()
    engine.decode(streams)
    for i, s in enumerate(streams):
        events[i] += s.events()
    assert calls and max(calls) == len(audio)  # one BiLSTM step for all streams
    for a, b in zip(alone, events):
        same_events(summary(a), summary(b))
        assert [e.type for e in b].count("utterance") == 1


def test_utterance_equals_offline_decision(engine, audio):
    m = engine.model
    for x in audio:
        events = run(engine, x, random_cuts(len(x), 7))
        (utt,) = [e for e in events if e.type == "utterance"]
        lstm = StreamingBiLstm(m, CHUNK_MS // 10, RIGHT_MS // 10)
        feats = m.normalize(features.extract(x, 16000))
        logits = np.concatenate([lstm.accept(feats), lstm.finish()])
        z = np.exp(logits - logits.max(1, keepdims=True))
        post = z / z.sum(1, keepdims=True)
        decision, info = best_path_decision(post, m.config.blank)
        assert utt.emotion == m.config.labels[decision]
        assert list(utt.scores.values()) == pytest.approx(info["scores"].tolist(), abs=1e-5)
        np.testing.assert_allclose(posteriors_of(events), post, atol=1e-5)
        segs = [(e.start, e.end, e.emotion) for e in events if e.type == "segment"]
        assert segs == offline_segments(post, m.config, ENDPOINT_MS // 10)


def offline_segments(post, cfg, endpoint):
    """Reference: active frames grouped where fewer than `endpoint` Null frames part them."""
    active = np.flatnonzero(post.argmax(1) != cfg.blank)
    if not active.size:
        return []
    breaks = np.flatnonzero(np.diff(active) > endpoint) + 1
    out = []
    for group in np.split(active, breaks):
        a, b = group[0], group[-1] + 1
        decision, _ = best_path_decision(post[a:b], cfg.blank)
        out.append((round(a * 0.01, 6), round(b * 0.01, 6), cfg.labels[decision]))
    return out


def test_bundled_default_model(audio):
    e = Engine(EngineConfig())
    assert e.labels == ["anger", "happiness", "neutral", "sadness"]
    events = run(e, audio[0], chunked(len(audio[0]), 1600))
    assert [ev.type for ev in events].count("utterance") == 1


def test_segment_boundaries_on_synthetic_posteriors(engine):
    """A Null gap of endpoint frames splits; one frame fewer does not; repeats merge."""
    n = ENDPOINT_MS // 10

    def rows(path):
        post = np.full((len(path), 5), 0.05, np.float32)
        post[np.arange(len(path)), path] = 0.8
        return post

    path = [0] * 3 + [1, 1, 0, 1] + [0] * (n - 1) + [2] + [0] * n + [4, 4] + [0] * 2
    post = rows(path)
    for cut in (1, 4, len(path)):
        tracker = engine.new_tracker()
        made = []
        for a in range(0, len(path), cut):
            tracker.accept_posteriors(post[a:a + cut])
            made += tracker.pop_segments()
        tracker.close()
        made += tracker.pop_segments()
        segs = tracked_segments(engine, made)
        assert segs == [(0.03, round(0.01 * (7 + n), 6), "anger"),
                        (round(0.01 * (7 + 2 * n), 6), round(0.01 * (9 + 2 * n), 6), "sadness")]
        tracker.close()
        assert tracker.pop_segments() == []


def tracked_segments(engine, made):
    """(start s, end s, emotion) of the native tracker's segment tuples."""
    return [(round(a * 0.01, 6), round(b * 0.01, 6), engine.decide(counts, post_sum, b - a)[0])
            for a, b, counts, post_sum in made]


def test_segments_have_a_maximum_length(model_dir):
    """max_segment_ms closes a segment that never meets an endpoint, however it is cut."""
    e = Engine(EngineConfig(model=str(model_dir), endpoint_ms=50, max_segment_ms=100, segments="spikes"))
    n = 10  # max_segment_ms in frames
    path = ([0] * 2 + [1] * 25 + [0] * 3 + [2] * 4 + [0] * 2 + [2] * 2 + [0] * 9
            + [3] * 6 + [0] * 4 + [4] * 3 + [0] * 6)
    post = np.full((len(path), 5), 0.05, np.float32)
    post[np.arange(len(path)), path] = 0.8
    # a long run is cut every n frames; a segment full during Nulls ends at its last active frame
    expected = [(2, 12, "anger"), (12, 22, "anger"), (22, 32, "anger"), (32, 38, "happiness"),
                (47, 53, "neutral"), (57, 60, "sadness")]
    expected = [(round(a * 0.01, 6), round(b * 0.01, 6), emo) for a, b, emo in expected]
    for cut in (1, 3, 7, len(path)):
        tracker = e.new_tracker()
        made = []
        for a in range(0, len(path), cut):
            tracker.accept_posteriors(post[a:a + cut])
            made += tracker.pop_segments()
            assert tracker.open_start is None or a + cut - tracker.open_start <= n + cut
        tracker.close()
        assert tracker.pop_segments() == []  # the last one was closed by its endpoint
        assert tracked_segments(e, made) == expected, cut


SERVE_ONE_SECOND = """
import sys
import numpy as np
from realtime_ser.engine import Engine, EngineConfig
engine = Engine(EngineConfig())
s = engine.create_stream("synthetic")
t = np.arange(16000) / 16000
x = (0.3 * np.sin(2 * np.pi * (150 + 50 * t) * t) * (1 + np.sin(2 * np.pi * 3 * t))).astype(np.float32)
for i in range(0, len(x), 1600):
    s.accept_waveform(16000, x[i:i + 1600])
    if engine.ready([s]):
        engine.decode([s])
s.input_finished()
engine.decode([s])
events = s.events()
assert [e.type for e in events].count("utterance") == 1, events
print("numba" in sys.modules, "llvmlite" in sys.modules)
"""


def test_serving_does_not_import_numba():
    """numba + llvmlite cost ~125 MB and ~0.5 s of start-up; serving runs without them."""
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-c", SERVE_ONE_SECOND], capture_output=True, text=True,
                          env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["False", "False"]


def test_command_line_flags_come_from_the_config():
    """stream, live and serve take the engine's flags, defaults and ranges from EngineConfig."""
    import argparse
    from dataclasses import fields

    from realtime_ser import live, serve, stream

    for parse in (stream.parse_args, live.parse_args, serve.parse_args):
        argv = ["x.wav"] if parse is stream.parse_args else []
        args = parse(argv + ["--chunk-ms", "50", "--max-segment-ms", "1000", "--threads", "1"])
        cfg = EngineConfig.from_args(args)
        assert (cfg.chunk_ms, cfg.max_segment_ms, cfg.threads) == (50, 1000, 1)
        assert cfg.endpoint_ms == EngineConfig().endpoint_ms
    p = argparse.ArgumentParser()
    EngineConfig.add_arguments(p, tuple(f.name for f in fields(EngineConfig)))
    assert EngineConfig.from_args(p.parse_args([])) == EngineConfig()
    assert EngineConfig.from_args(p.parse_args(["--no-spikes", "--posteriors"])).spikes is False
    for name in ("chunk_ms", "right_context_ms", "endpoint_ms", "max_segment_ms"):
        low, high = EngineConfig.range_ms(name)
        flag = "--" + name.replace("_", "-")
        for value, ok in ((low, True), (high, True), (high + 10, False), (low + 5, False)):
            try:
                p.parse_args([flag, str(value)])
                parsed = True
            except SystemExit:
                parsed = False
            assert parsed == ok, (name, value)
            try:
                EngineConfig(**{name: value}).validate()
                valid = True
            except ValueError:
                valid = False
            assert valid == ok, (name, value)


def test_model_weights_read_without_safetensors_equal_safetensors():
    """The bundled weights, read with numpy (sparing the safetensors import at start-up), are
    safe_open's arrays exactly, in its order; anything not plainly well-formed is left to it."""
    from safetensors import safe_open

    from realtime_ser import model as model_lib

    file = model_lib.DEFAULT_DIR / model_lib.WEIGHTS_FILE
    ours = model_lib._read_plain_safetensors(file)
    with safe_open(file, framework="np") as f:
        theirs = {name: f.get_tensor(name) for name in f.keys()}
    assert list(ours) == list(theirs)
    for name in ours:
        assert ours[name].dtype == theirs[name].dtype == np.float32 and ours[name].flags.writeable
        np.testing.assert_array_equal(ours[name], theirs[name])
    assert model_lib._read_weights(file).keys() == theirs.keys()


def test_odd_safetensors_files_are_left_to_safetensors(tmp_path):
    from safetensors.numpy import save_file

    from realtime_ser import model as model_lib

    good = tmp_path / "good.safetensors"
    save_file({"b": np.arange(3, dtype=np.float32), "a": np.ones((2, 2), np.float32)}, str(good))
    ours = model_lib._read_plain_safetensors(good)
    assert list(ours) == ["a", "b"] and ours["b"].tolist() == [0, 1, 2]
    data = good.read_bytes()
    cases = {
        "f64": None, "truncated": data[:-4], "empty": b"", "garbage": bytes(range(256)) * 8,
        "trailing byte": data + b"\0", "short header": data[:8] + b"{",
    }
    save_file({"x": np.ones(2, np.float64)}, str(tmp_path / "f64.safetensors"))
    for name, payload in cases.items():
        path = tmp_path / f"{name}.safetensors"
        if payload is not None:
            path.write_bytes(payload)
        assert model_lib._read_plain_safetensors(path) is None, name
