"""Accuracy against latency: the held-out speakers of an evaluation run, served chunk by chunk.

    python -m training.latency --run runs/emodb-ctc-pn-c100r200 --out runs/latency

Every fold model of a `training.evaluate --system ctc` run decodes its own held-out speakers
through the runtime's latency-controlled BiLSTM (realtime_ser.lstm) at each chunk size and
right context, and once offline (whole utterances). Algorithmic latency = chunk + right
context + the feature front end's lookahead.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from realtime_ser import features, model
from realtime_ser.decoder import best_path_decision
from realtime_ser.engine import softmax
from realtime_ser.lstm import StreamingBiLstm
from realtime_ser.timebase import ms_arg, ms_to_frames
from training import cache, dataset, metrics


def decide(m: model.Model, feats: np.ndarray, chunk: int | None, right: int) -> int:
    lstm = StreamingBiLstm(m, chunk, right)
    x = m.normalize(feats)
    logits = np.concatenate([lstm.accept(x), lstm.finish()])
    return best_path_decision(softmax(logits), blank=m.config.blank)[0]


def algorithmic_latency_ms(chunk_ms: int | None, right_ms: int) -> float | None:
    if chunk_ms is None:
        return None
    return chunk_ms + right_ms + 1000 * features.LOOKAHEAD_S


def evaluate(run: Path, configs: list[tuple[int | None, int]], cache_dir: Path) -> list[dict]:
    info = json.loads((run / "run.json").read_text())
    data = info["data"] if isinstance(info["data"], list) else [info["data"]]
    specs = list(zip(info["corpus"].split("+"), data))
    utts = {u.utt_id: u for u in dataset.load(specs, "lld", cache_dir, progress=False).utterances}
    truth, preds = [], {c: [] for c in configs}
    folds = sorted((run / "folds").glob("fold_*.json"))
    if not folds:
        raise SystemExit(f"error: {run}: no folds")
    for fold_file in folds:
        fold = json.loads(fold_file.read_text())
        m = model.load(fold_file.with_name(fold_file.stem + "_model"))
        for utt_id, y in zip(fold["utt_ids"], fold["y_true"]):
            feats = cache.cached(utts[utt_id].path, "lld", cache_dir)
            truth.append(y)
            for c in configs:
                preds[c].append(decide(m, feats, ms_to_frames(c[0]) if c[0] else None, ms_to_frames(c[1])))
        print(f"fold {fold['fold']}: {len(fold['utt_ids'])} utterances", file=sys.stderr)
    y = np.array(truth)
    return [{"chunk_ms": c[0], "right_context_ms": c[1], "algorithmic_latency_ms": algorithmic_latency_ms(*c),
             "uar": round(metrics.uar(y, np.array(p)), 2), "war": round(metrics.war(y, np.array(p)), 2)}
            for c, p in preds.items()]


def table(rows: list[dict]) -> str:
    offline = next(r for r in rows if r["chunk_ms"] is None)
    lines = ["| chunk ms | right context ms | algorithmic latency ms | UAR % | WAR % | UAR vs offline |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        lat = "offline" if r["chunk_ms"] is None else f"{r['algorithmic_latency_ms']:.0f}"
        lines.append(f"| {r['chunk_ms'] or 'whole'} | {r['right_context_ms'] if r['chunk_ms'] else '-'} | {lat} | "
                     f"{r['uar']:.1f} | {r['war']:.1f} | {r['uar'] - offline['uar']:+.1f} |")
    return "\n".join(lines) + "\n"


def plot(path: Path, rows: list[dict]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    for chunk in sorted({r["chunk_ms"] for r in rows if r["chunk_ms"]}):
        pts = sorted((r["algorithmic_latency_ms"], r["uar"]) for r in rows if r["chunk_ms"] == chunk)
        ax.plot(*zip(*pts), marker="o", label=f"chunk {chunk} ms")
    offline = next(r for r in rows if r["chunk_ms"] is None)
    ax.axhline(offline["uar"], color="0.4", ls="--", label="offline")
    ax.axhline(offline["uar"] - 1, color="0.7", ls=":", label="offline - 1 point")
    ax.set_xlabel("algorithmic latency (ms)")
    ax.set_ylabel("UAR (%)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.latency", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--chunks-ms", type=ms_arg, nargs="+", default=[20, 100])
    p.add_argument("--right-context-ms", type=ms_arg, nargs="+", default=[0, 100, 200, 400])
    p.add_argument("--cache-dir", type=Path, default=cache.DEFAULT_CACHE)
    args = p.parse_args(argv)
    configs = [(None, 0)] + [(c, r) for c in args.chunks_ms for r in args.right_context_ms]
    rows = evaluate(args.run, configs, args.cache_dir)
    args.out.mkdir(parents=True, exist_ok=True)
    text = table(rows)
    (args.out / "latency.md").write_text(text)
    (args.out / "latency.json").write_text(json.dumps(rows, indent=1) + "\n")
    plot(args.out / "latency.png", rows)
    print(text, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
