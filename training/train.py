"""Train a BiLSTM-CTC model on whole corpora and write a model directory the runtime serves.

    python -m training.train --corpus emodb --data ../shared/corpora/emodb \\
        --corpus ravdess --data ../shared/corpora/ravdess-16k --target pn --out MODEL_DIR \\
        --metrics runs/emodb-ctc-pn/results.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict
from pathlib import Path

from realtime_ser import features, model
from realtime_ser.calibration import FLOOR, is_identity
from realtime_ser.timebase import ms_arg, ms_to_frames
from training import adaptation, augment, dataset
from training.corpora import EMOTIONS
from training.fit import FitConfig, fit

LICENCES = {
    "emodb": "EmoDB (Burkhardt et al., Interspeech 2005): made freely available by its authors for research; "
             "check its terms before any other use.",
    "ravdess": "RAVDESS (Livingstone & Russo, PLoS ONE 2018, Zenodo 1188976): CC BY-NC-SA 4.0. A model trained "
               "on it carries those terms: attribution, non-commercial use only, and derivatives shared alike.",
    "iemocap": "IEMOCAP (Busso et al., 2008): licensed by USC SAIL for research; check its licence agreement.",
    "nemo": "nEMO (Christop, LREC-COLING 2024): CC BY-NC-SA 4.0. A model trained on it carries those terms: "
            "attribution, non-commercial use only, and derivatives shared alike.",
    "manifest": "A user-supplied corpus: its own licence applies.",
}


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="python -m training.train", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--corpus", action="append", default=[], choices=("emodb", "ravdess", "nemo", "iemocap", "manifest"))
    p.add_argument("--data", action="append", default=[], type=Path, help="one per --corpus, in order")
    p.add_argument("--target", choices=("wn", "pn", "pn2"), default="pn")
    p.add_argument("--out", type=Path, required=True, help="model directory to write")
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--chunk-ms", type=ms_arg, default=None,
                   help="train latency-controlled: backward LSTM over chunks of this length (default: whole utterances)")
    p.add_argument("--right-context-ms", type=ms_arg, default=0, help="with --chunk-ms: backward lookahead")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--metrics", type=Path, action="append", default=[],
                   help="results.json of evaluation runs to quote in the model card")
    p.add_argument("--cache-dir", type=Path, default=dataset.cache.DEFAULT_CACHE)
    p.add_argument("--average", type=int, default=0,
                   help="average the weights of the K epochs with the best validation UAR (0: keep the best one)")
    p.add_argument("--augment", default="", help="training copies, comma-separated: " + ",".join(augment.KINDS))
    p.add_argument("--calibration", type=Path, default=None,
                   help="calibration.json of training.calibrate: its (temperature, floor) pairs calibrate the served scores")
    adaptation.add_args(p)
    p.add_argument("--card-extra", type=Path, default=None, help="markdown appended to the model card")
    p.add_argument("--card-only", action="store_true",
                   help="do not train: rewrite the card and figures of the model in --out from --metrics")
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args(argv)
    if len(args.corpus) != len(args.data) or (not args.corpus and not args.card_only):
        p.error("give one or more --corpus, each with its --data")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.card_only:
        return update_card(args.out, [json.loads(p.read_text()) for p in args.metrics],
                           args.card_extra.read_text() if args.card_extra else "")
    try:
        adaptation.config_from_args(args)
        augment.parse(args.augment)
        corpus = dataset.load(list(zip(args.corpus, args.data)), "lld", args.cache_dir, progress=not args.quiet)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    clean = list(corpus.utterances)
    norm = dataset.Normalizer.fit([corpus.inputs[u.utt_id] for u in clean])
    ncfg = adaptation.config_from_args(args)
    if ncfg.mode == "adaptive":
        ncfg = adaptation.prior(ncfg, [corpus.inputs[u.utt_id] for u in clean])
    utts = clean + dataset.augmented(corpus, clean, augment.parse(args.augment), args.cache_dir, args.seed,
                                     progress=not args.quiet)
    frames = adaptation.normalise_train(utts, corpus.inputs, ncfg, norm.mean, norm.std, args.seed)
    stats = dataset.TargetStats()
    train = dataset.samples(corpus, utts, "ctc", args.target, norm, stats, frames)
    calibration = {"temperature": 1.0, "score_floor": FLOOR}
    if args.calibration:
        cal = json.loads(args.calibration.read_text())
        calibration = {"temperature": float(cal["temperature"]), "score_floor": float(cal.get("score_floor", FLOOR))}
        if cal.get("posterior_temperature") is not None:
            calibration.update(posterior_temperature=float(cal["posterior_temperature"]),
                               posterior_floor=float(cal["posterior_floor"]))
    chunk = ms_to_frames(args.chunk_ms, "--chunk-ms") if args.chunk_ms else None
    cfg = FitConfig(system="ctc", seed=args.seed, device=args.device, threads=args.threads, chunk_frames=chunk,
                    right_context_frames=ms_to_frames(args.right_context_ms, "--right-context-ms") if chunk else 0)
    if args.epochs is not None:
        cfg.epochs = args.epochs
    cfg.average = args.average
    t0 = time.perf_counter()
    fitted = fit(cfg, train, progress=not args.quiet)
    seconds = time.perf_counter() - t0
    evaluations = [json.loads(p.read_text()) for p in args.metrics]
    config = model.ModelConfig(
        system="ctc", labels=list(EMOTIONS), blank=0,
        feature_version=features.VERSION, feature_names=list(features.NAMES),
        norm_mean=norm.mean.tolist(), norm_std=norm.std.tolist(), hidden=cfg.hidden, target=args.target,
        **fitted.chunking, normalization=ncfg.to_dict() if ncfg.mode == "adaptive" else {},
        **calibration,
        training={"corpora": [f"{c}:{d}" for c, d in zip(args.corpus, args.data)],
                  "utterances": len(clean), "augmented_copies": len(utts) - len(clean),
                  "augment": args.augment, "speakers": len(corpus.speakers), "fit": asdict(cfg),
                  "targets": stats.as_dict(), "seconds": round(seconds, 1), "skipped_files": corpus.errors},
        metrics=figures(evaluations),
    )
    extra = args.card_extra.read_text() if args.card_extra else ""
    model.save(args.out, config, fitted.state_dict_numpy(), model_card(config, evaluations, extra))
    model.load(args.out)  # the runtime must be able to serve what we wrote
    print(json.dumps({"out": str(args.out), "utterances": len(train), "seconds": round(seconds, 1)}))
    return 0


def figures(evaluations: list[dict]) -> dict:
    return {f"{e['corpus']}/{e['system']}/{e['target']}": {"uar": e["uar"], "war": e["war"], "folds": e["folds"]}
            for e in evaluations}


def update_card(out: Path, evaluations: list[dict], extra: str = "") -> int:
    """Record new measured figures in an existing model directory, weights untouched."""
    try:
        m = model.load(out, check_features=False)
    except model.ModelError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    m.config.metrics = figures(evaluations)
    (out / model.CONFIG_FILE).write_text(m.config.to_json() + "\n")
    (out / model.CARD_FILE).write_text(model_card(m.config, evaluations, extra))
    print(json.dumps({"out": str(out), "figures": len(evaluations)}))
    return 0


def model_card(config: model.ModelConfig, evaluations: list[dict], extra: str = "") -> str:
    corpora = [c.split(":", 1) for c in config.training["corpora"]]
    names = sorted({c for c, _ in corpora})
    fit_cfg = config.training.get("fit", {})
    stopping = f"patience {fit_cfg['patience']}" if fit_cfg.get("patience") else "no early stopping"
    chunk = ("whole utterances" if config.chunk_frames is None else
             f"chunks of {config.chunk_frames * 10} ms + {config.right_context_frames * 10} ms right context")
    lines = [
        "# realtime_ser model card", "",
        f"- **System:** BiLSTM-CTC after Han et al. (Interspeech 2018): one bidirectional LSTM layer "
        f"({config.hidden}+{config.hidden} cells), 5 outputs ({', '.join(config.outputs)}; null is the CTC blank), "
        f"trained on label sequences of length {config.target.upper()}, on {chunk}.",
        f"- **Input:** {config.input_dim} frame descriptors, feature set `{config.feature_version}`, 10 ms hop.",
        f"- **Classes:** {', '.join(config.labels)}.",
        f"- **Recipe:** Adam lr {fit_cfg.get('lr')}, batch {fit_cfg.get('batch_size')}, up to {fit_cfg.get('epochs')} "
        f"epochs ({stopping}), dropout {fit_cfg.get('dropout')}, class-balanced, seed "
        f"{fit_cfg.get('seed')}; the epoch with the best UAR on a 10% stratified hold-out is kept."
        + (f" Augmented copies: {config.training['augment']}." if config.training.get("augment") else ""),
        f"- **Normalisation:** {config.norm_config}.",
        f"- **Scores:** " + (f"calibrated probabilities, temperature {config.temperature:g} and floor "
                             f"{config.score_floor:g} for decisions by votes"
                             + (f", {config.posterior_temperature:g} and {config.posterior_floor:g} for decisions "
                                "without votes (mean posterior)" if config.posterior_temperature is not None else "")
                             + ", fitted on held-out speakers (training.calibrate)."
                             if not is_identity(config.temperature, config.score_floor) else
                             "the decoder's vote shares (uncalibrated)."), "",
        "## Training data", "",
        *[f"- {c} ({d}): {LICENCES[c]}" for c, d in corpora],
        f"- {config.training['utterances']} utterances, {config.training['speakers']} speakers, "
        f"acted speech; {config.training['targets']['clamped_too_short']} utterances had their CTC target clamped "
        "because they were too short.", "",
        "## Licence", "",
    ]
    if "ravdess" in names:
        lines.append("This model was trained on RAVDESS and is therefore distributed under "
                     "**CC BY-NC-SA 4.0**: credit RAVDESS (Livingstone & Russo 2018), non-commercial use only, "
                     "share derivatives under the same terms.")
    if "nemo" in names:
        lines.append("This model was trained on nEMO and is therefore distributed under **CC BY-NC-SA 4.0**: credit "
                     "nEMO (Christop 2024), non-commercial use only, share derivatives under the same terms.")
    if "emodb" in names:
        lines.append("EmoDB was made available by its authors for research; check its terms for other uses.")
    lines += ["", "## Measured figures (held-out speakers)", ""]
    if evaluations:
        lines += ["| corpus | system | target | UAR % | WAR % | folds |", "|---|---|---|---|---|---|"]
        lines += [f"| {e['corpus']} | {e['system']} | {e['target']} | {e['uar']:.1f} | {e['war']:.1f} | {e['folds']} |"
                  for e in evaluations]
        lines.append("")
        lines.append("Figures of `python -m training.evaluate` runs (the same architecture and target, held-out "
                     "speakers); the bundled weights themselves are trained on all speakers of the corpora above.")
    elif not extra:
        lines.append("None recorded (trained without --metrics).")
    if extra:
        lines += ["", extra.rstrip()]
    lines += ["", "## Limits", "",
              "Acted emotions of a few dozen speakers (German, English, Polish); expect lower accuracy on "
              "spontaneous speech, other languages and noisy microphones."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
