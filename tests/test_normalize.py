"""Per-stream adaptive normalisation: native core vs a numpy reference, and serving == training."""
import json
import shutil

import numpy as np
import pytest

from realtime_ser import _native, audio, features
from realtime_ser import model as model_lib
from realtime_ser.engine import Engine, EngineConfig
from realtime_ser.normalize import NormConfig, Normalizer, group_of, speech_stats
from tests.conftest import EMODB
from training import adaptation
from training.corpora import load_corpus


def reference(x, mean, var, adapt, gate, tau, prior, weight, scale):
    """The update rule of csrc/ser/adaptive_norm.h, written out in float64."""
    m, v = np.array(mean, np.float64), np.array(var, np.float64)
    m0, v0 = m.copy(), v.copy()
    n, out = 0, []
    for row in np.asarray(x, np.float64):
        if row[gate] > 0:
            n += 1
            a = max(1.0 / (prior + n), 1.0 / tau)
            m = np.where(adapt, m + a * (row - m), m)
            v = np.where(adapt, v + a * ((row - m) ** 2 - v), v)
        mu = np.where(adapt, m0 + weight * (m - m0), m0)
        var_used = np.where(adapt & scale, np.maximum(v0 + weight * (v - v0), 1e-6 * v0), v0)
        out.append((row - mu) / np.sqrt(var_used))
    return np.array(out)


def frames(n=400, d=6, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(2.0, 3.0, size=(n, d)).astype(np.float32)
    x[:, 0] = np.where(rng.random(n) < 0.6, rng.uniform(80, 300, n), 0.0)  # gate: F0, 0 = unvoiced
    return x


def adaptive(mean, var, adapt, **kw):
    """The stream normaliser of serving and training (_native.Normalizer), adaptive, gate column 0."""
    opts = dict(gate_column=0, gate_threshold=0.0, tau_frames=3000.0, prior_frames=300.0, weight=1.0,
                adapt_scale=True)
    opts.update(kw)
    d = len(mean)
    return _native.Normalizer(mean=[0.0] * d, std=[1.0] * d, adaptive=True, speech_mean=list(mean),
                              speech_var=list(var), adapt=list(adapt), **opts)


@pytest.mark.parametrize("weight, scale, tau", [(1.0, True, 50), (0.5, True, 50), (1.0, False, 50),
                                                (1.0, True, 1e6)])
def test_native_matches_reference(weight, scale, tau):
    x = frames()
    mean, var = [0.0] * 6, [4.0] * 6
    adapt = np.array([1, 1, 0, 1, 1, 1], bool)
    a = adaptive(mean, var, adapt.astype(np.uint8).tolist(), tau_frames=tau, prior_frames=20, weight=weight,
                 adapt_scale=scale)
    assert a.is_adaptive
    got = a.process(x)
    want = reference(x, mean, var, adapt, 0, tau, 20, weight, scale)
    np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-5)
    assert a.speech_frames == int((x[:, 0] > 0).sum())
    assert not np.allclose(got[:, 1], (x[:, 1] - 0.0) / 2.0)  # it did adapt
    np.testing.assert_allclose(got[:, 2], x[:, 2] / 2.0, rtol=1e-6)  # a column outside the mask did not


def test_tau_sets_how_fast_the_statistics_follow():
    x = frames(1000)
    x[500:, 1:] += 10.0  # the speaker changes half way
    late = [adaptive([0.0] * 6, [9.0] * 6, [1] * 6, tau_frames=tau, prior_frames=20).process(x)[-100:, 1:]
            for tau in (50, 5000)]
    assert np.abs(late[0].mean()) < 0.5 < np.abs(late[1].mean())  # short tau: re-centred on the new speaker


def test_silence_never_moves_the_statistics():
    x = frames()
    a = adaptive([0.0] * 6, [1.0] * 6, [1] * 6)
    quiet = x.copy()
    quiet[:, 0] = 0.0
    np.testing.assert_array_equal(a.process(quiet), quiet)  # prior N(0, 1): identity
    assert a.speech_frames == 0
    np.testing.assert_array_equal(a.process(x), adaptive([0.0] * 6, [1.0] * 6, [1] * 6).process(x))


def test_weight_zero_is_the_prior_and_reset_restarts():
    x = frames()
    a = adaptive([1.0] * 6, [4.0] * 6, [1] * 6, weight=0.0)
    np.testing.assert_allclose(a.process(x), (x - 1.0) / 2.0, rtol=1e-6)
    fixed = _native.Normalizer(mean=[1.0] * 6, std=[2.0] * 6)  # the global mode with the same statistics
    assert not fixed.is_adaptive
    np.testing.assert_allclose(a.process(x), fixed.process(x), rtol=1e-6)
    b = adaptive([1.0] * 6, [4.0] * 6, [1] * 6, tau_frames=30)
    first = b.process(x)
    b.reset()
    assert b.speech_frames == 0
    np.testing.assert_array_equal(b.process(x), first)


def test_chunks_give_the_same_frames():
    x = frames(1000)
    whole = adaptive([0.0] * 6, [9.0] * 6, [1] * 6, tau_frames=100).process(x)
    a = adaptive([0.0] * 6, [9.0] * 6, [1] * 6, tau_frames=100)
    parts = [a.process(x[i:i + k]) for i, k in zip(range(0, 1000, 37), [37] * 28)]
    np.testing.assert_array_equal(np.concatenate(parts), whole)


def test_bad_arguments_are_one_line_errors():
    with pytest.raises(ValueError, match="positive"):
        adaptive([0.0], [0.0], [1])
    with pytest.raises(ValueError, match="same non-zero length"):
        adaptive([0.0, 1.0], [1.0], [1])
    with pytest.raises(ValueError, match="weight"):
        adaptive([0.0], [1.0], [1], weight=2.0)
    with pytest.raises(ValueError, match="one value per feature"):
        _native.Normalizer(mean=[0.0, 0.0], std=[1.0, 1.0], adaptive=True, speech_mean=[0.0], speech_var=[1.0],
                           adapt=[1], gate_column=0, gate_threshold=0.0, tau_frames=50.0, prior_frames=0.0,
                           weight=1.0, adapt_scale=True)
    with pytest.raises(ValueError, match=r"\(n, 1\)"):
        adaptive([0.0], [1.0], [1]).process(np.zeros((3, 2), np.float32))


def test_config_validates_and_prints():
    cfg = NormConfig(mode="adaptive", speech_mean=[0.0] * 3, speech_std=[1.0] * 3)
    cfg.validate(3)
    assert "tau 60 s" in str(cfg) and "f0_hz" in str(cfg)
    for bad in (dict(mode="x"), dict(weight=1.5), dict(groups=["level", "nope"]), dict(tau_s="60"),
                dict(speech_std=[1.0, 0.0, 1.0])):
        with pytest.raises(ValueError, match="^normalization: "):
            NormConfig(**{**cfg.to_dict(), **bad}).validate(3)
    with pytest.raises(ValueError, match="unknown fields"):
        NormConfig.from_dict({"mode": "global", "tau": 3})
    assert {group_of(n) for n in features.NAMES} == {"level", "pitch", "spectral", "delta"}
    assert group_of("f0_hz") == "pitch" and group_of("loudness") == "level" and group_of("mfcc_3_d") == "delta"


@pytest.fixture(scope="module")
def adaptive_model(tmp_path_factory):
    """The bundled model, served with adaptive statistics (a prior from three EmoDB files)."""
    path = tmp_path_factory.mktemp("models") / "adaptive"
    shutil.copytree(model_lib.DEFAULT_DIR, path)
    wavs = sorted((EMODB / "wav").glob("03a0*.wav"))[:3]
    mean, std = speech_stats([features.extract(audio.load(w), 16000) for w in wavs], features.NAMES)
    cfg = json.loads((path / "config.json").read_text())
    cfg["normalization"] = NormConfig(mode="adaptive", tau_s=5.0, prior_s=0.5, speech_mean=mean.tolist(),
                                      speech_std=std.tolist()).to_dict()
    (path / "config.json").write_text(json.dumps(cfg))
    return path


def test_serving_equals_training(adaptive_model):
    """Same frames in, same normalised frames out: the engine's stream vs training.adaptation."""
    m = model_lib.load(adaptive_model)
    assert m.config.norm_config.mode == "adaptive"
    engine = Engine(EngineConfig(model=str(adaptive_model)))
    utts = [u for u in load_corpus("emodb", EMODB) if u.speaker == "11"][:4]
    inputs = {u.utt_id: features.extract(audio.load(u.path), 16000) for u in utts}
    ncfg = m.config.norm_config
    for condition in ("utterance", "session"):
        want = adaptation.normalise(utts, inputs, ncfg, m.config.norm_mean, m.config.norm_std, condition, seed=3)
        stream = engine.create_stream("s")
        order = sorted(utts, key=lambda u: list(want).index(u.utt_id))  # the order training streamed them
        for u in order:
            if condition == "utterance":
                stream.reset(adaptation=True)
            else:
                stream.reset()
            x = audio.load(u.path)
            got = []
            for i in range(0, len(x), 1600):
                stream.accept_waveform(16000, x[i:i + 1600])
                engine.decode([stream])
                got.append(stream._native.last_frames)  # what the stream's BiLSTM got
            stream.input_finished()
            engine.decode([stream])
            got.append(stream._native.last_frames)
            np.testing.assert_array_equal(np.concatenate(got), want[u.utt_id])
    assert stream._native.speech_frames > 0


def test_offline_model_normalises_as_one_stream(adaptive_model):
    m = model_lib.load(adaptive_model)
    x = features.extract(audio.load(sorted((EMODB / "wav").glob("11*.wav"))[0]), 16000)
    fresh = Normalizer(m.config.norm_config, features.NAMES, m.config.norm_mean, m.config.norm_std).process(x)
    np.testing.assert_array_equal(m.normalize(x), fresh)
    np.testing.assert_array_equal(m.normalize(x), m.normalize(x))  # no state kept between calls
