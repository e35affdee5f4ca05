"""Temperature scaling: the serving function, the fit, ECE, and the engine applying a model's temperature."""
import json
import shutil

import numpy as np
import pytest

from realtime_ser import model as model_lib
from realtime_ser.calibration import calibrate
from realtime_ser.decoder import decision_from_stats
from realtime_ser.engine import Engine, EngineConfig
from tests.conftest import ROOT
from training import calibrate as cal


def test_calibrate_keeps_the_decision():
    s = np.array([[0.7, 0.2, 0.1, 0.0], [0.25, 0.25, 0.4, 0.1]])
    for t in (0.5, 1.0, 3.0):
        p = calibrate(s, t)
        np.testing.assert_allclose(p.sum(1), 1.0)
        assert (p.argmax(1) == s.argmax(1)).all()
    np.testing.assert_allclose(calibrate(s[1:], 1.0), s[1:], rtol=1e-9)
    assert calibrate(s, 4.0)[0, 0] < calibrate(s, 1.0)[0, 0]  # a higher temperature is less sure


def test_fit_recovers_a_known_temperature():
    rng = np.random.default_rng(0)
    s = rng.dirichlet([0.3] * 4, size=20000)
    p = calibrate(s, 2.5)
    y = np.array([rng.choice(4, p=row) for row in p])
    assert abs(cal.fit_temperature(s, y) - 2.5) < 0.15


def test_ece_constructed_case():
    probs = np.tile([0.8, 0.1, 0.05, 0.05], (10, 1))
    y = np.array([0] * 6 + [1] * 4)  # confidence 0.8, accuracy 0.6
    assert cal.ece(probs, y) == pytest.approx(0.2)
    probs2 = np.vstack([np.tile([0.95, 0.05, 0, 0], (10, 1)), np.tile([0.55, 0.45, 0, 0], (10, 1))])
    y2 = np.array([0] * 9 + [1] + [0] * 5 + [1] * 5)  # bin 0.95: acc 0.9; bin 0.55: acc 0.5
    assert cal.ece(probs2, y2) == pytest.approx(0.5 * 0.05 + 0.5 * 0.05)


def test_cross_validated_uses_other_folds_only():
    rng = np.random.default_rng(1)
    folds = [(rng.dirichlet([0.5] * 4, size=50), rng.integers(0, 4, 50)) for _ in range(3)]
    _, _, _, temps = cal.cross_validated(folds)
    for i, t in enumerate(temps):
        rest = [f for j, f in enumerate(folds) if j != i]
        assert t == cal.fit_temperature(np.concatenate([f[0] for f in rest]), np.concatenate([f[1] for f in rest]))


def test_engine_serves_calibrated_scores(tmp_path):
    path = tmp_path / "hot"
    shutil.copytree(model_lib.DEFAULT_DIR, path)
    cfg = json.loads((path / "config.json").read_text())
    cfg["temperature"] = 3.0
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
        d = s._decoder
        _, shares = decision_from_stats(d.counts, d.post_sum, d.num_frames, engine.blank)
        results[name] = (s.result(), shares)
    (plain, shares_p), (hot, shares_h) = results["plain"], results["hot"]
    t = model_lib.load().config.temperature
    np.testing.assert_allclose(list(plain.scores.values()), shares_p if t == 1.0 else calibrate(shares_p, t),
                               atol=1e-6)
    want = calibrate(shares_h, 3.0)
    np.testing.assert_allclose(list(hot.scores.values()), want, atol=1e-6)
    assert hot.emotion == plain.emotion
