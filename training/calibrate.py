"""Fit the score temperature on held-out speakers; report ECE and a reliability diagram.

    python -m training.calibrate runs/emodb-ctc-pn runs/ravdess-ctc-pn --out runs/calibration [--model DIR]

Reads the per-fold held-out scores of evaluation runs. The calibration has two parameters,
the temperature T and the score floor (realtime_ser.calibration), fitted together by least
negative log-likelihood on a grid: one pair for decisions by votes (vote shares), one for
decisions without votes (no frame's best label is an emotion: the rule falls back to the mean
posterior, a score of another kind). Which is which comes from each fold's frame posteriors
(fold_*_posteriors.npz; without them every decision counts as voted). ECE "after" is
cross-validated: each fold's scores are calibrated with the parameters fitted on all the other
folds, so no utterance is scored with parameters it helped fit. The parameters fitted on every
fold are written to calibration.json, and into the model directory's config.json with --model.
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
    return mean_nll(calibrate(scores, t, floor), y)


def mean_nll(probs: np.ndarray, y: np.ndarray) -> float:
    return float(-np.mean(np.log(np.maximum(probs[np.arange(len(y)), y], 1e-12))))


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


def voted(fold_json: Path, fold: dict) -> np.ndarray:
    """Per utterance, whether some frame's best output is an emotion (blank = output 0)."""
    npz = fold_json.with_name(fold_json.stem + "_posteriors.npz")
    if not npz.is_file():
        return np.ones(len(fold["y_true"]), bool)
    with np.load(npz) as post:
        return np.array([bool((post[u].argmax(1) != 0).any()) for u in fold["utt_ids"]], bool)


def load_folds(run_dirs: list[Path]) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(scores, labels, voted) per group of held-out speakers, over every run.

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
            groups.setdefault(key, []).append((np.array(r["scores"], np.float64), np.array(r["y_true"], int),
                                               voted(f, r)))
    return [tuple(np.concatenate([part[k] for part in g]) for k in range(3)) for g in groups.values()]


def fit_regimes(scores: np.ndarray, y: np.ndarray, votes: np.ndarray) -> dict[str, tuple[float, float]]:
    """(T, floor) for decisions by votes and by the mean posterior; a regime without data takes the other's."""
    pairs = {name: fit(scores[m], y[m]) for name, m in (("votes", votes), ("posterior", ~votes)) if m.any()}
    return {"votes": pairs.get("votes", pairs.get("posterior")), "posterior": pairs.get("posterior", pairs.get("votes"))}


def apply_regimes(scores: np.ndarray, votes: np.ndarray, pairs: dict) -> np.ndarray:
    out = np.empty_like(scores)
    out[votes] = calibrate(scores[votes], *pairs["votes"])
    out[~votes] = calibrate(scores[~votes], *pairs["posterior"])
    return out


def cross_validated(folds) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[dict]]:
    """Held-out probabilities before, after one (T, floor) and after one per regime (fitted on the
    other folds), labels, each fold's regime parameters."""
    before, single, after, labels, params = [], [], [], [], []
    for i, (s, y, v) in enumerate(folds):
        rest = [f for j, f in enumerate(folds) if j != i]
        rest_s, rest_y, rest_v = (np.concatenate([f[k] for f in rest]) for k in range(3))
        pairs = fit_regimes(rest_s, rest_y, rest_v)
        before.append(calibrate(s, 1.0))
        single.append(calibrate(s, *fit(rest_s, rest_y)))
        after.append(apply_regimes(s, v, pairs))
        labels.append(y)
        params.append(pairs)
    return (np.concatenate(before), np.concatenate(single), np.concatenate(after), np.concatenate(labels),
            params)


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
    before, single, after, y, params = cross_validated(folds)
    pairs = fit_regimes(*(np.concatenate([f[k] for f in folds]) for k in range(3)))
    votes = np.concatenate([f[2] for f in folds])
    args.out.mkdir(parents=True, exist_ok=True)
    result = {"runs": [str(r) for r in args.runs], "utterances": int(len(y)), "folds": len(folds),
              "voted_share": round(float(votes.mean()), 4),
              "ece_before": round(ece(before, y), 4), "ece_one_pair": round(ece(single, y), 4),
              "ece_after": round(ece(after, y), 4),
              "nll_before": round(mean_nll(before, y), 4), "nll_one_pair": round(mean_nll(single, y), 4),
              "nll_after": round(mean_nll(after, y), 4),
              "temperature": round(pairs["votes"][0], 4), "score_floor": pairs["votes"][1],
              "posterior_temperature": round(pairs["posterior"][0], 4), "posterior_floor": pairs["posterior"][1],
              "fold_parameters": [{k: [round(t, 4), f] for k, (t, f) in p.items()} for p in params],
              "bins": BINS}
    (args.out / "calibration.json").write_text(json.dumps(result, indent=1) + "\n")
    plot(args.out / "reliability.png", {"before": (before, y), "one (T, floor)": (single, y),
                                        "(T, floor) per regime": (after, y)})
    if args.model:
        cfg_path = args.model / "config.json"
        cfg = json.loads(cfg_path.read_text())
        for k in ("temperature", "score_floor", "posterior_temperature", "posterior_floor"):
            cfg[k] = result[k]
        cfg_path.write_text(json.dumps(cfg, indent=1) + "\n")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
