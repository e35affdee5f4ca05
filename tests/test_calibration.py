"""Calibration: the serving function, the fit of temperature and floor, ECE, and the engine applying them."""
import json
import shutil

import numpy as np
import pytest

from realtime_ser import model as model_lib
from realtime_ser.calibration import calibrate, is_identity
from realtime_ser.decoder import decision_from_stats, has_votes
from realtime_ser.engine import Engine, EngineConfig
from tests.conftest import ROOT
from training import calibrate as cal


def test_calibrate_keeps_the_decision():
    s = np.array([[0.7, 0.2, 0.1, 0.0], [0.25, 0.25, 0.4, 0.1]])
    for t in (0.5, 1.0, 3.0):
        p = calibrate(s, t)
        np.testing.assert_allclose(p.sum(1), 1.0)
        assert (p.argmax(1) == s.argmax(1)).all()
    np.testing.assert_allclose(calibrate(s[1:], 1.0), s[1:], atol=2e-5)  # identity up to the default floor
    assert calibrate(s, 4.0)[0, 0] < calibrate(s, 1.0)[0, 0]  # a higher temperature is less sure


def test_fit_recovers_a_known_temperature():
    rng = np.random.default_rng(0)
    s = rng.dirichlet([0.3] * 4, size=20000)
    p = calibrate(s, 2.5)
    y = np.array([rng.choice(4, p=row) for row in p])
    assert abs(cal.fit_temperature(s, y) - 2.5) < 0.15


def test_fit_recovers_a_known_temperature_and_floor():
    rng = np.random.default_rng(2)
    s = rng.dirichlet([0.2] * 4, size=20000)
    p = calibrate(s, 1.5, 0.03)
    y = np.array([rng.choice(4, p=row) for row in p])
    t, floor = cal.fit(s, y)
    assert floor == 0.03 and abs(t - 1.5) < 0.1
    for f in cal.FLOORS:  # every floor keeps the decision
        assert (calibrate(s[:50], 2.0, f).argmax(1) == s[:50].argmax(1)).all()


def test_ece_constructed_case():
    probs = np.tile([0.8, 0.1, 0.05, 0.05], (10, 1))
    y = np.array([0] * 6 + [1] * 4)  # confidence 0.8, accuracy 0.6
    assert cal.ece(probs, y) == pytest.approx(0.2)
    probs2 = np.vstack([np.tile([0.95, 0.05, 0, 0], (10, 1)), np.tile([0.55, 0.45, 0, 0], (10, 1))])
    y2 = np.array([0] * 9 + [1] + [0] * 5 + [1] * 5)  # bin 0.95: acc 0.9; bin 0.55: acc 0.5
    assert cal.ece(probs2, y2) == pytest.approx(0.5 * 0.05 + 0.5 * 0.05)


def test_cross_validated_uses_other_folds_only():
    rng = np.random.default_rng(1)
    folds = [(rng.dirichlet([0.5] * 4, size=50), rng.integers(0, 4, 50), rng.random(50) < 0.4) for _ in range(3)]
    *_, params = cal.cross_validated(folds)
    for i, p in enumerate(params):
        rest = [f for j, f in enumerate(folds) if j != i]
        s, y, v = (np.concatenate([f[k] for f in rest]) for k in range(3))
        assert p == {"votes": cal.fit(s[v], y[v]), "posterior": cal.fit(s[~v], y[~v])}


def test_each_regime_gets_its_own_temperature():
    rng = np.random.default_rng(4)
    s = rng.dirichlet([0.3] * 4, size=30000)
    v = rng.random(len(s)) < 0.5
    p = np.where(v[:, None], calibrate(s, 4.0, 0.01), calibrate(s, 1.5, 0.01))
    y = np.array([rng.choice(4, p=row) for row in p])
    pairs = cal.fit_regimes(s, y, v)
    assert abs(pairs["votes"][0] - 4.0) < 0.4 and abs(pairs["posterior"][0] - 1.5) < 0.15
    assert cal.mean_nll(cal.apply_regimes(s, v, pairs), y) < cal.mean_nll(calibrate(s, *cal.fit(s, y)), y)
    only = cal.fit_regimes(s, y, np.ones(len(s), bool))  # no decision without votes: one pair for both
    assert only["votes"] == only["posterior"]


def test_regimes_come_from_the_fold_posteriors(tmp_path):
    (tmp_path / "folds").mkdir()
    post = {"a": np.array([[0.9, 0.05, 0.02, 0.02, 0.01], [0.3, 0.6, 0.05, 0.03, 0.02]]),  # a frame says anger
            "b": np.array([[0.9, 0.05, 0.02, 0.02, 0.01]] * 2)}  # all blank: no votes
    np.savez(tmp_path / "folds" / "fold_00_posteriors.npz", **post)
    fold = {"test_speakers": ["x"], "utt_ids": ["a", "b"], "scores": [[1, 0, 0, 0], [0.4, 0.3, 0.2, 0.1]],
            "y_true": [0, 1]}
    (tmp_path / "folds" / "fold_00.json").write_text(json.dumps(fold))
    (_, _, v), = cal.load_folds([tmp_path])
    assert v.tolist() == [True, False]


def test_engine_serves_calibrated_scores(tmp_path):
    path = tmp_path / "hot"
    shutil.copytree(model_lib.DEFAULT_DIR, path)
    cfg = json.loads((path / "config.json").read_text())
    cfg["temperature"], cfg["score_floor"] = 3.0, 0.01
    cfg["posterior_temperature"], cfg["posterior_floor"] = 1.5, 0.001
    (path / "config.json").write_text(json.dumps(cfg))
    wav = ROOT / "realtime_ser" / "samples" / "speech.wav"
    import soundfile as sf

    x, rate = sf.read(wav, dtype="float32")
    results = {}
    for name in ("plain", "hot"):
        engine = Engine(EngineConfig(model=str(path) if name == "hot" else None))
        s = engine.create_stream(name)
        s.accept_waveform(rate, x)
        s.input_finished()
        engine.decode([s])
        d = s._native.tracker
        _, shares = decision_from_stats(d.counts, d.post_sum, d.num_frames, engine.blank)
        results[name] = (s.result(), shares, has_votes(d.counts, engine.blank))
    (plain, shares_p, voted), (hot, shares_h, _) = results["plain"], results["hot"]
    c = model_lib.load().config
    t, floor = c.calibration(voted)
    want_p = shares_p if is_identity(t, floor) else calibrate(shares_p, t, floor)
    np.testing.assert_allclose(list(plain.scores.values()), want_p, atol=1e-6)
    want = calibrate(shares_h, *((3.0, 0.01) if voted else (1.5, 0.001)))
    np.testing.assert_allclose(list(hot.scores.values()), want, atol=1e-6)
    assert hot.emotion == plain.emotion


def test_decisions_without_votes_take_the_posterior_pair():
    c = model_lib.load().config
    old = model_lib.ModelConfig(**{**c.__dict__, "posterior_temperature": None, "posterior_floor": None})
    assert old.calibration(False) == old.calibration(True) == (old.temperature, old.score_floor)
    new = model_lib.ModelConfig(**{**c.__dict__, "temperature": 4.0, "posterior_temperature": 1.5,
                                   "posterior_floor": 0.001})
    assert new.calibration(True) == (4.0, c.score_floor) and new.calibration(False) == (1.5, 0.001)
    half = model_lib.ModelConfig(**{**c.__dict__, "posterior_temperature": 1.5, "posterior_floor": None})
    with pytest.raises(ValueError, match="come together"):
        half.validate()


def test_folds_of_several_seeds_holding_out_the_same_speakers_are_one_group(tmp_path):
    rng = np.random.default_rng(3)
    for run in ("s0", "s1"):
        (tmp_path / run / "folds").mkdir(parents=True)
        for i, spk in enumerate((["03"], ["08", "09"])):
            fold = {"test_speakers": spk, "scores": rng.dirichlet([1] * 4, size=5).tolist(), "y_true": [0, 1, 2, 3, 0]}
            (tmp_path / run / "folds" / f"fold_0{i}.json").write_text(json.dumps(fold))
    folds = cal.load_folds([tmp_path / "s0", tmp_path / "s1"])
    assert len(folds) == 2 and all(len(s) == len(y) == len(v) == 10 and v.all() for s, y, v in folds)
