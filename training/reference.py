"""Linear-SVM references, and the cheap protocol for choosing the normalisation.

    python -m training.reference --corpus emodb --data ../shared/corpora/emodb --features lld \\
        --norm adaptive --tau-s 60 --weight 1 --out runs/ref-emodb.json

* ``--features lld``: utterance functionals (mean, std, 10/50/90th percentiles over frames)
  of our 238 frame descriptors, after the frame normalisation under test;
* ``--features egemaps``: openSMILE's 88 eGeMAPSv02 functionals (reference only);
  ``--speaker-norm`` z-normalises them per speaker with all of that speaker's audio (upper bound).

A linear SVM (C=0.01, standardised, class-balanced) per fold; folds leave one speaker out
(``--protocol loso``; ``--folds N`` groups speakers as training.evaluate does) or one corpus out (``--protocol loco``). With ``--norm adaptive`` every
condition of training.adaptation is scored on the same folds. Writes one JSON with per-fold
UAR per condition; prints a table.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from realtime_ser.normalize import NormConfig
from training import adaptation, dataset, metrics
from training.corpora import EMOTIONS

PERCENTILES = (10, 50, 90)


def functionals(frames: np.ndarray) -> np.ndarray:
    """(T, D) -> (5 D,): mean, std and percentiles over time."""
    x = np.asarray(frames, np.float64)
    return np.concatenate([x.mean(0), x.std(0), *np.percentile(x, PERCENTILES, axis=0)]).astype(np.float32)


def svm_predict(x_train, y_train, x_test) -> np.ndarray:
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    clf = make_pipeline(StandardScaler(), SVC(kernel="linear", C=0.01, class_weight="balanced"))
    clf.fit(x_train, y_train)
    return clf.predict(x_test)


def lld_fold(corpus, train_utts, test_utts, cfg: NormConfig, conditions, seed) -> dict:
    inputs = corpus.inputs
    norm = dataset.Normalizer.fit([inputs[u.utt_id] for u in train_utts])
    if cfg.mode == "adaptive":
        cfg = adaptation.prior(cfg, [inputs[u.utt_id] for u in train_utts])
    train = adaptation.normalise_train(train_utts, inputs, cfg, norm.mean, norm.std, seed)
    x_tr = np.stack([functionals(train[u.utt_id]) for u in train_utts])
    y_tr = np.array([EMOTIONS.index(u.label) for u in train_utts])
    y_te = np.array([EMOTIONS.index(u.label) for u in test_utts])
    out = {}
    for cond in conditions:
        x_fit = x_tr
        if cond == "speaker":  # the upper bound is trained the same way: each speaker with their own statistics
            own = adaptation.normalise(train_utts, inputs, cfg, norm.mean, norm.std, "speaker", seed)
            x_fit = np.stack([functionals(own[u.utt_id]) for u in train_utts])
        test = adaptation.normalise(test_utts, inputs, cfg, norm.mean, norm.std, cond, seed)
        pred = svm_predict(x_fit, y_tr, np.stack([functionals(test[u.utt_id]) for u in test_utts]))
        out[cond] = {"uar": metrics.uar(y_te, pred), "war": metrics.war(y_te, pred),
                     "y_true": y_te.tolist(), "y_pred": pred.tolist()}
    return out


def egemaps_fold(corpus, train_utts, test_utts, speaker_norm: bool) -> dict:
    def matrix(utts):
        x = np.stack([corpus.inputs[u.utt_id] for u in utts]).astype(np.float64)
        if speaker_norm:
            for spk in {u.speaker for u in utts}:
                rows = [i for i, u in enumerate(utts) if u.speaker == spk]
                x[rows] = (x[rows] - x[rows].mean(0)) / (x[rows].std(0) + 1e-8)
        return x

    y_tr = np.array([EMOTIONS.index(u.label) for u in train_utts])
    y_te = np.array([EMOTIONS.index(u.label) for u in test_utts])
    pred = svm_predict(matrix(train_utts), y_tr, matrix(test_utts))
    key = "speaker" if speaker_norm else "global"
    return {key: {"uar": metrics.uar(y_te, pred), "war": metrics.war(y_te, pred),
                  "y_true": y_te.tolist(), "y_pred": pred.tolist()}}


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="python -m training.reference", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--corpus", action="append", required=True, choices=("emodb", "ravdess", "nemo", "iemocap",
                                                                        "manifest"))
    p.add_argument("--data", action="append", required=True, type=Path)
    p.add_argument("--features", choices=("lld", "egemaps"), default="lld")
    p.add_argument("--protocol", choices=("loso", "loco"), default="loso")
    p.add_argument("--folds", type=int, default=0, help="loso: speaker folds as training.evaluate's (0: one per speaker)")
    adaptation.add_args(p)
    p.add_argument("--speaker-norm", action="store_true", help="egemaps: per-speaker z-norm (upper bound)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--cache-dir", type=Path, default=dataset.cache.DEFAULT_CACHE)
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args(argv)
    if len(args.corpus) != len(args.data):
        p.error("give one --data per --corpus")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    t0 = time.perf_counter()
    try:
        cfg = adaptation.config_from_args(args)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    try:
        corpus = dataset.load(list(zip(args.corpus, args.data)), args.features, args.cache_dir, progress=False)
        folds = (dataset.corpus_folds(corpus) if args.protocol == "loco"
                 else dataset.speaker_folds(corpus.speakers, args.folds))
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    conditions = ["global"] if args.norm == "global" else [c for c in adaptation.CONDITIONS if c != "global"]
    results = []
    for held in folds:
        train_utts = [u for u in corpus.utterances if u.speaker not in held]
        test_utts = [u for u in corpus.utterances if u.speaker in held]
        if args.features == "egemaps":
            res = egemaps_fold(corpus, train_utts, test_utts, args.speaker_norm)
        else:
            res = lld_fold(corpus, train_utts, test_utts, cfg, conditions, args.seed)
        results.append({"held_out": held, **res})
    summary = summarize(results)
    out = {"args": json.loads(json.dumps(vars(args), default=str)),
           "norm": str(cfg), "summary": summary, "folds": results,
           "seconds": round(time.perf_counter() - t0, 1)}
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(out) + "\n")
    label = "+".join(args.corpus) + f" {args.protocol} {args.features} {cfg}"
    for cond, s in summary.items():
        print(f"{label} | {cond:9s} | UAR {s['uar']:.1f} (pooled) | fold mean {s['uar_folds_mean']:.1f} "
              f"| WAR {s['war']:.1f}")
    return 0


def summarize(results: list[dict]) -> dict:
    """Per condition: UAR/WAR pooled over all held-out utterances, and the mean of fold UARs."""
    out = {}
    for cond in [k for k in results[0] if k != "held_out"]:
        y = np.concatenate([r[cond]["y_true"] for r in results])
        p = np.concatenate([r[cond]["y_pred"] for r in results])
        out[cond] = {"uar": metrics.uar(y, p), "war": metrics.war(y, p),
                     "uar_folds_mean": float(np.mean([r[cond]["uar"] for r in results])),
                     "uar_folds": [round(r[cond]["uar"], 2) for r in results]}
    return out


if __name__ == "__main__":
    sys.exit(main())
