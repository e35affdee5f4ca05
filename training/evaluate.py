"""Speaker-independent evaluation of one system.

    python -m training.evaluate --corpus emodb --data ../shared/corpora/emodb --system ctc --target pn --out runs/emodb-ctc-pn

Leave-one-speaker-out by default. Each fold's result is saved as soon as it ends, so an
interrupted run resumes where it stopped. Writes results.json, table.md and confusion.png;
the last stdout line is one JSON object with system, target, uar, war and folds.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict
from pathlib import Path

import numpy as np
from tqdm import tqdm

from realtime_ser.timebase import ms_arg, ms_to_frames
from training import adaptation, augment, dataset, metrics, report
from training.corpora import EMOTIONS
from training.dataset import CTC_SYSTEMS, SYSTEMS
from training.fit import FitConfig, fit

CORPORA = ("emodb", "ravdess", "nemo", "iemocap", "manifest")
_CORPUS: dataset.Corpus | None = None  # set before forking the fold workers


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m training.evaluate", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--corpus", choices=CORPORA, action="append", required=True,
                   help="repeat for several corpora (their speakers are kept apart)")
    p.add_argument("--data", type=Path, action="append", required=True,
                   help="corpus root (or CSV file for manifest), one per --corpus")
    p.add_argument("--protocol", choices=("loso", "loco"), default="loso",
                   help="folds: leave one speaker out, or leave one corpus out (train on the others)")
    p.add_argument("--system", choices=SYSTEMS, required=True)
    p.add_argument("--target", choices=("wn", "pn", "pn2"), default="pn", help="CTC label-sequence length")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--folds", type=int, default=0, help="speaker folds (default 0: leave one speaker out)")
    p.add_argument("--epochs", type=int, default=None, help="training epochs (default: the system's)")
    p.add_argument("--chunk-ms", type=ms_arg, default=None,
                   help="ctc/lee: train latency-controlled (backward LSTM over chunks); default whole utterances")
    p.add_argument("--right-context-ms", type=ms_arg, default=0, help="with --chunk-ms: backward lookahead")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1), help="folds trained in parallel")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N")
    p.add_argument("--cache-dir", type=Path, default=dataset.cache.DEFAULT_CACHE)
    p.add_argument("--limit-folds", type=int, default=0, help="run only the first N folds (quick checks)")
    p.add_argument("--restart", action="store_true", help="discard saved folds of a different run")
    p.add_argument("--quiet", action="store_true")
    p.add_argument("--average", type=int, default=0,
                   help="average the weights of the K epochs with the best validation UAR (0: keep the best one)")
    p.add_argument("--augment", default="", help="training copies, comma-separated: " + ",".join(augment.KINDS))
    adaptation.add_args(p)
    args = p.parse_args(argv)
    if len(args.corpus) != len(args.data):
        p.error("give one --data per --corpus")
    args.corpora, args.datas = args.corpus, args.data
    args.corpus, args.data = "+".join(args.corpus), args.data[0] if len(args.data) == 1 else args.data
    return args


def fit_config(args) -> FitConfig:
    chunk = ms_to_frames(args.chunk_ms, "--chunk-ms") if args.chunk_ms else None
    cfg = FitConfig(system=args.system, seed=args.seed, device=args.device, threads=1, chunk_frames=chunk,
                    right_context_frames=ms_to_frames(args.right_context_ms, "--right-context-ms") if chunk else 0)
    if args.epochs is not None:
        cfg.epochs = args.epochs
    cfg.average = args.average
    return cfg


def run_fold(index: int, test_speakers: list[str], args: argparse.Namespace) -> dict:
    import torch

    torch.set_num_threads(1)
    corpus = _CORPUS
    train_utts = [u for u in corpus.utterances if u.speaker not in test_speakers]
    test_utts = [u for u in corpus.utterances if u.speaker in test_speakers]
    norm = dataset.Normalizer.fit([corpus.inputs[u.utt_id] for u in train_utts])
    ncfg = norm_config(args, corpus, train_utts)
    if args.augment and args.system != "dnn":  # statistics from clean speech only; copies join training
        train_utts = train_utts + dataset.augmented(corpus, train_utts, augment.parse(args.augment),
                                                    args.cache_dir, args.seed)
    stats = dataset.TargetStats()
    target = args.target if args.system in CTC_SYSTEMS else None
    frames = None
    if args.system != "dnn":
        frames = adaptation.normalise_train(train_utts, corpus.inputs, ncfg, norm.mean, norm.std, args.seed)
    train = dataset.samples(corpus, train_utts, args.system, target, norm, stats, frames)
    t0 = time.perf_counter()
    fitted = fit(fit_config(args), train, progress=False)
    seconds = time.perf_counter() - t0
    conditions = {}
    for cond in test_conditions(args):
        frames = None if args.system == "dnn" else adaptation.normalise(
            test_utts, corpus.inputs, ncfg, norm.mean, norm.std, cond, args.seed)
        test = dataset.samples(corpus, test_utts, "eval", None, norm, frames=frames)
        conditions[cond] = (test, *fitted.predict(test))
    test, pred, scores = conditions[test_conditions(args)[0]]
    y = np.array([s.label for s in test])
    if args.system == "ctc":  # frame posteriors of held-out speech, for the alignment analysis
        posts = {u.utt_id: fitted.frame_posteriors(s.feats).astype(np.float16) for u, s in zip(test_utts, test)}
        np.savez_compressed(args.out / "folds" / f"fold_{index:02d}_posteriors.npz", **posts)
        save_fold_model(args.out / "folds" / f"fold_{index:02d}_model", fitted, norm, ncfg, args, test_speakers)
    return {
        "fold": index, "test_speakers": test_speakers,
        "utt_ids": [u.utt_id for u in test_utts], "y_true": y.tolist(), "y_pred": pred.tolist(),
        "scores": np.round(scores, 5).tolist(),
        "uar": metrics.uar(y, pred), "war": metrics.war(y, pred),
        "n_train": len(train), "n_test": len(test), "train_seconds": round(seconds, 2),
        "targets": stats.as_dict() if target else None,
        "conditions": {c: {"y_pred": p.tolist(), "uar": metrics.uar(y, p), "war": metrics.war(y, p)}
                       for c, (_, p, _) in conditions.items()},
    }


def norm_config(args, corpus, train_utts):
    """The fold's normalisation; an adaptive prior from the training speakers' speech."""
    cfg = adaptation.config_from_args(args)
    if cfg.mode == "adaptive":
        cfg = adaptation.prior(cfg, [corpus.inputs[u.utt_id] for u in train_utts])
    return cfg


def test_conditions(args) -> list[str]:
    """Held-out streams to score; the first is the headline (one stream per utterance, as files are served)."""
    if args.norm == "global" or args.system == "dnn":
        return ["global"]
    return ["utterance", "session", "emotion"]


def save_fold_model(path: Path, fitted, norm, ncfg, args, test_speakers) -> None:
    """The fold's model as a runtime model directory (for streaming/latency studies on held-out speakers)."""
    from realtime_ser import features, model

    config = model.ModelConfig(
        system="ctc", feature_version=features.VERSION, feature_names=list(features.NAMES),
        norm_mean=norm.mean.tolist(), norm_std=norm.std.tolist(), hidden=fitted.cfg.hidden, target=args.target,
        chunk_frames=fitted.chunking["chunk_frames"], right_context_frames=fitted.chunking["right_context_frames"],
        normalization=ncfg.to_dict() if ncfg.mode == "adaptive" else {},
        training={"corpora": [f"{c}:{d}" for c, d in zip(args.corpora, args.datas)],
                  "held_out_speakers": test_speakers})
    model.save(path, config, fitted.state_dict_numpy(), f"Fold model of an evaluation run; held out: {test_speakers}\n")


def fingerprint(args) -> dict:
    keys = ("corpus", "system", "target", "folds", "epochs", "seed", "chunk_ms", "right_context_ms", "protocol")
    run = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items() if k in keys}
    run["data"] = [str(Path(d).resolve()) for d in args.datas]
    if args.norm != "global":
        run["norm"] = adaptation.config_from_args(args).to_dict()
    if args.augment:
        run["augment"] = args.augment
    run["fit"] = asdict(fit_config(args))
    run["fit"].pop("device", None)
    return run


def prepare_out(args) -> dict:
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "folds").mkdir(exist_ok=True)
    run = json.loads(json.dumps(fingerprint(args)))  # as it reads back from disk
    run_file = args.out / "run.json"
    if run_file.exists():
        old = json.loads(run_file.read_text())
        if old != run:
            if not args.restart:
                raise SystemExit(f"error: {args.out}: holds a different run; use another --out or --restart")
            for f in (args.out / "folds").glob("*.json"):
                f.unlink()
    run_file.write_text(json.dumps(run, indent=1) + "\n")
    return run


def main(argv=None) -> int:
    global _CORPUS
    args = parse_args(argv)
    if args.system in CTC_SYSTEMS and args.target is None:
        args.target = "pn"
    if args.system not in CTC_SYSTEMS:
        args.target = None
    run = prepare_out(args)
    kind = "egemaps" if args.system == "dnn" else "lld"
    try:
        adaptation.config_from_args(args)
        augment.parse(args.augment)
        _CORPUS = dataset.load(list(zip(args.corpora, args.datas)), kind, args.cache_dir, progress=not args.quiet)
        folds = (dataset.corpus_folds(_CORPUS) if args.protocol == "loco"
                 else dataset.speaker_folds(_CORPUS.speakers, args.folds))
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.limit_folds:
        folds = folds[: args.limit_folds]
    results = run_folds(folds, args)
    summary = report.summarize(args, run, results, _CORPUS)
    report.write(args.out, summary, results)
    line = {k: summary[k] for k in ("system", "target", "corpus", "uar", "war", "folds", "uar_folds_mean",
                                     "seconds")}
    print(json.dumps(line))
    return 0


def run_folds(folds: list[list[str]], args) -> list[dict]:
    done = {}
    for f in (args.out / "folds").glob("fold_*.json"):
        r = json.loads(f.read_text())
        done[r["fold"]] = r
    todo = [(i, spk) for i, spk in enumerate(folds) if i not in done]
    bar = tqdm(total=len(folds), initial=len(folds) - len(todo), desc=f"{args.system} folds", unit="fold",
               disable=args.quiet, file=sys.stderr)
    if todo:
        jobs = max(1, min(args.jobs, len(todo)))
        ctx = mp.get_context("fork") if jobs > 1 else None
        if ctx is None:
            for i, spk in todo:
                _save_fold(args, run_fold(i, spk, args), done, bar)
        else:
            with ProcessPoolExecutor(jobs, mp_context=ctx) as pool:
                futures = [pool.submit(run_fold, i, spk, args) for i, spk in todo]
                for fut in as_completed(futures):
                    _save_fold(args, fut.result(), done, bar)
    bar.close()
    return [done[i] for i in sorted(done) if i < len(folds)]


def _save_fold(args, result: dict, done: dict, bar) -> None:
    path = args.out / "folds" / f"fold_{result['fold']:02d}.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(result) + "\n")
    os.replace(tmp, path)
    done[result["fold"]] = result
    bar.set_postfix(uar=f"{result['uar']:.1f}")
    bar.update(1)


if __name__ == "__main__":
    sys.exit(main())
