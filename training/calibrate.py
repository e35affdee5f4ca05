"""Fit the score temperature on held-out speakers; report ECE and a reliability diagram.

    python -m training.calibrate runs/emodb-ctc-pn runs/ravdess-ctc-pn --out runs/calibration [--model DIR]

Reads the per-fold held-out scores of evaluation runs. The calibration has two parameters,
the temperature T and the score floor (realtime_ser.calibration), fitted together by least
negative log-likelihood on a grid. ECE "after" is cross-validated: each fold's scores are
calibrated with the parameters fitted on all the other folds, so no utterance is scored with
parameters it helped fit. The parameters fitted on every fold are written to calibration.json,
and into the model directory's config.json with --model.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from realtime_ser.calibration import FLOOR, calibrate

BINS = 10
TEMPERATURES = np.exp(np.linspace(np.log(0.05), np.log(20.0), 200))
FLOORS = (1e-5, 1e-4, 1e-3, 3e-3, 0.01, 0.03, 0.1, 0.3, 1.0)


def nll(scores: np.ndarray, y: np.ndarray, t: float, floor: float = FLOOR) -> float:
    p = calibrate(scores, t, floor)
    return float(-np.mean(np.log(np.maximum(p[np.arange(len(y)), y], 1e-12))))


def fit(scores: np.ndarray, y: np.ndarray, floors=FLOORS) -> tuple[float, float]:
    """(T, floor) on a grid (T log-spaced over [0.05, 20]) with the least negative log-likelihood."""
    best = min((nll(scores, y, t, f), i, j) for j, f in enumerate(floors) for i, t in enumerate(TEMPERATURES))
    return float(TEMPERATURES[best[1]]), float(floors[best[2]])


def fit_temperature(scores: np.ndarray, y: np.ndarray) -> float:
    """Temperature scaling alone (the default floor)."""
    return fit(scores, y, floors=(FLOOR,))[0]


def ece(probs: np.ndarray, y: np.ndarray, bins: int = BINS) -> float:
    """Expected calibration error of the top class, equal-width confidence bins."""
    conf = probs.max(1)
    correct = probs.argmax(1) == y
    edges = np.linspace(0, 1, bins + 1)
    idx = np.clip(np.digitize(conf, edges[1:-1], right=True), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        m = idx == b
        if m.any():
            total += m.mean() * abs(correct[m].mean() - conf[m].mean())
    return float(total)


def reliability(probs: np.ndarray, y: np.ndarray, bins: int = BINS):
    """(bin centres, accuracy, mean confidence, count) per non-empty bin."""
    conf, correct = probs.max(1), probs.argmax(1) == y
    edges = np.linspace(0, 1, bins + 1)
    idx = np.clip(np.digitize(conf, edges[1:-1], right=True), 0, bins - 1)
    rows = [((edges[b] + edges[b + 1]) / 2, correct[idx == b].mean(), conf[idx == b].mean(), int((idx == b).sum()))
            for b in range(bins) if (idx == b).any()]
    return [np.array(c) for c in zip(*rows)]


def load_folds(run_dirs: list[Path]) -> list[tuple[np.ndarray, np.ndarray]]:
    """(scores, labels) per group of held-out speakers, over every run.

    Runs of several seeds hold out the same speakers in the same fold: those folds are one
    group, so that cross-validation never fits on the speakers it scores.
    """
    groups: dict[tuple, list] = {}
    for d in run_dirs:
        files = sorted((d / "folds").glob("fold_*.json"))
        if not files:
            raise ValueError(f"{d}: no fold results (folds/fold_*.json)")
        for f in files:
            r = json.loads(f.read_text())
            key = tuple(sorted(r.get("test_speakers", [f"{d}/{f.name}"])))
            groups.setdefault(key, []).append((np.array(r["scores"], np.float64), np.array(r["y_true"], int)))
    return [(np.concatenate([s for s, _ in g]), np.concatenate([y for _, y in g])) for g in groups.values()]


def cross_validated(folds) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[tuple[float, float]]]:
    """Held-out probabilities before and after (T, floor from the other folds), labels, each fold's (T, floor)."""
    before, after, labels, params = [], [], [], []
    for i, (s, y) in enumerate(folds):
        rest_s = np.concatenate([f[0] for j, f in enumerate(folds) if j != i])
        rest_y = np.concatenate([f[1] for j, f in enumerate(folds) if j != i])
        t, floor = fit(rest_s, rest_y)
        before.append(calibrate(s, 1.0))
        after.append(calibrate(s, t, floor))
        labels.append(y)
        params.append((t, floor))
    return np.concatenate(before), np.concatenate(after), np.concatenate(labels), params


def plot(path: Path, curves: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.4, 4.2))
    ax.plot([0, 1], [0, 1], color="grey", lw=0.8, ls="--")
    for name, (probs, y) in curves.items():
        _, acc, conf, _ = reliability(probs, y)
        ax.plot(conf, acc, marker="o", label=f"{name} (ECE {ece(probs, y):.3f})")
    ax.set_xlabel("confidence (top score)")
    ax.set_ylabel("accuracy")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8, loc="upper left")
    ax.set_title("Reliability on held-out speakers", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.calibrate", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", nargs="+", type=Path, help="training.evaluate output directories")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--model", type=Path, help="write the fitted temperature and floor into this model directory")
    args = p.parse_args(argv)
    try:
        folds = load_folds(args.runs)
    except (ValueError, OSError, KeyError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    before, after, y, params = cross_validated(folds)
    t_all, floor_all = fit(np.concatenate([f[0] for f in folds]), np.concatenate([f[1] for f in folds]))
    args.out.mkdir(parents=True, exist_ok=True)
    result = {"runs": [str(r) for r in args.runs], "utterances": int(len(y)), "folds": len(folds),
              "ece_before": round(ece(before, y), 4), "ece_after": round(ece(after, y), 4),
              "temperature": round(t_all, 4), "score_floor": floor_all,
              "fold_parameters": [[round(t, 4), f] for t, f in params],
              "bins": BINS}
    (args.out / "calibration.json").write_text(json.dumps(result, indent=1) + "\n")
    plot(args.out / "reliability.png", {"before": (before, y), "after (T, floor; cross-validated)": (after, y)})
    if args.model:
        cfg_path = args.model / "config.json"
        cfg = json.loads(cfg_path.read_text())
        cfg["temperature"], cfg["score_floor"] = result["temperature"], result["score_floor"]
        cfg_path.write_text(json.dumps(cfg, indent=1) + "\n")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
