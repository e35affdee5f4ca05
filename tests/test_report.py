"""training.report on constructed runs: pooled and per-fold figures, and the paired t-test."""

import json
import math
from types import SimpleNamespace

import numpy as np
import pytest

from training import metrics, report


def fold(i, y_true, y_pred, uar):
    return {"fold": i, "y_true": y_true, "y_pred": y_pred, "uar": uar,
            "war": 100.0 * np.mean(np.equal(y_true, y_pred)), "train_seconds": 1.5,
            "targets": {"clamped_too_short": i}, "conditions": {}}


# Class counts differ between truth and prediction, so uar(y, pred) != uar(pred, y).
FOLDS = [fold(0, [0, 0, 0, 1], [0, 0, 1, 1], 100 * (2 / 3 + 1) / 2),   # swapped: 75
         fold(1, [2, 2, 3], [3, 3, 3], 100 * (0 + 1) / 2)]               # swapped: 33.3


def test_uar_per_fold_by_hand():
    for f, swapped in zip(FOLDS, (75.0, 100 / 3)):
        assert metrics.uar(f["y_true"], f["y_pred"]) == pytest.approx(f["uar"])
        assert metrics.uar(f["y_pred"], f["y_true"]) == pytest.approx(swapped)


def test_summarize_pools_the_folds(tmp_path):
    args = SimpleNamespace(system="ctc", target="pn", corpus="emodb")
    s = report.summarize(args, {"run": 1}, FOLDS, SimpleNamespace(errors=["bad.wav: unreadable"]))
    # pooled: recalls 2/3, 1, 0, 1; accuracy 4 of 7
    assert s["uar"] == round(100 * (2 / 3 + 1 + 0 + 1) / 4, 2) == 66.67
    assert s["war"] == round(100 * 4 / 7, 2)
    assert s["uar_per_fold"] == [83.33, 50.0] and s["uar_folds_mean"] == 66.67
    assert s["confusion"] == [[2, 1, 0, 0], [0, 1, 0, 0], [0, 0, 0, 2], [0, 0, 0, 1]]
    assert s["folds"] == 2 and s["utterances"] == 7 and s["too_short_clamped"] == 1
    assert s["seconds"] == 3.0 and s["skipped_files"] == ["bad.wav: unreadable"]
    report.write(tmp_path, s, FOLDS)
    assert "Per fold UAR: 83.3, 50.0" in (tmp_path / "table.md").read_text()
    assert (tmp_path / "confusion.png").read_bytes()[:4] == b"\x89PNG"


def t_test_by_hand(a, b):
    """Paired t and two-sided p for 4 folds (3 degrees of freedom: closed-form t CDF)."""
    d = np.subtract(a, b, dtype=float)
    t = d.mean() / (d.std(ddof=1) / math.sqrt(len(d)))
    cdf = 0.5 + (t / (math.sqrt(3) * (1 + t * t / 3)) + math.atan(t / math.sqrt(3))) / math.pi
    return t, 2 * (1 - cdf)


def write_run(path, system, target, per_fold):
    path.mkdir()
    (path / "results.json").write_text(json.dumps(
        {"system": system, "target": target, "uar": float(np.mean(per_fold)), "war": 50.0,
         "uar_per_fold": per_fold}))
    return path


def test_table_paired_t_test_on_a_constructed_case(tmp_path, capsys):
    a, ref = [60.0, 70.0, 80.0, 65.0], [55.0, 68.0, 71.0, 60.0]
    t, p = t_test_by_hand(a, ref)
    assert (t, p) == (pytest.approx(3.6556307750696546), pytest.approx(0.0353528470025))
    assert metrics.paired_ttest(a, ref) == (pytest.approx(t), pytest.approx(p))
    runs = [write_run(tmp_path / "ref", "ctc", "pn", ref), write_run(tmp_path / "a", "dnn", None, a),
            write_run(tmp_path / "short", "meanpool", None, [50.0, 60.0])]
    text = report.table(runs, tmp_path / "ref")
    rows = {line.split(" | ")[0].lstrip("| "): line for line in text.splitlines()[2:]}
    assert rows["BiLSTM-CTC (PN)"].endswith("| 63.5 | 50.0 |  |")           # the reference itself
    assert rows["DNN (eGeMAPS functionals)"].endswith(f"| 68.8 | 50.0 | {p:.3f} |") and f"{p:.3f}" == "0.035"
    assert rows["LSTM mean-pooling"].endswith("|  |")                      # fold counts differ
    out = tmp_path / "table.md"
    assert report.main([str(r) for r in runs] + [str(tmp_path / "none"), "--reference", str(runs[0]),
                                                  "--out", str(out)]) == 1
    printed = capsys.readouterr()
    assert printed.out == text == out.read_text()
    assert printed.err == f"error: {tmp_path / 'none'}: no results.json\n"
