"""Results of evaluation runs: per-run summaries, and the paper's Table 2 across runs.

    python -m training.report runs/emodb-* --reference runs/emodb-ctc-pn --out runs/emodb-table.md
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from training import metrics
from training.corpora import EMOTIONS

NAMES = {
    "dnn": "DNN (eGeMAPS functionals)", "framewise": "LSTM frame-wise", "finalpool": "LSTM final-pooling",
    "meanpool": "LSTM mean-pooling", "attnpool": "LSTM attention-pooling", "lee": "Lee & Tashev (BiLSTM-CTC + ELM)",
    "ctc": "BiLSTM-CTC",
}


def system_name(system: str, target: str | None) -> str:
    name = NAMES.get(system, system)
    return f"{name} ({target.upper().replace('PN2', '2·PN')})" if target else name


def summarize(args, run: dict, results: list[dict], corpus) -> dict:
    y = np.concatenate([r["y_true"] for r in results])
    p = np.concatenate([r["y_pred"] for r in results])
    targets = [r["targets"] for r in results if r.get("targets")]
    return {
        "system": args.system, "target": args.target, "corpus": args.corpus, "run": run,
        "uar": round(metrics.uar(y, p), 2), "war": round(metrics.war(y, p), 2),
        "folds": len(results),
        "uar_per_fold": [round(r["uar"], 2) for r in results],
        "war_per_fold": [round(r["war"], 2) for r in results],
        "uar_folds_mean": round(float(np.mean([r["uar"] for r in results])), 2),
        "confusion": metrics.confusion(y, p).tolist(), "labels": list(EMOTIONS),
        "utterances": int(len(y)), "skipped_files": corpus.errors,
        "too_short_clamped": sum(t["clamped_too_short"] for t in targets) if targets else None,
        "seconds": round(sum(r["train_seconds"] for r in results), 1),
        "conditions": conditions(results),
    }


def conditions(results: list[dict]) -> dict:
    """UAR/WAR of each held-out stream condition (adaptive runs score several)."""
    names = results[0].get("conditions", {}) if results else {}
    out = {}
    for c in names:
        y = np.concatenate([r["y_true"] for r in results])
        p = np.concatenate([r["conditions"][c]["y_pred"] for r in results])
        out[c] = {"uar": round(metrics.uar(y, p), 2), "war": round(metrics.war(y, p), 2),
                  "uar_per_fold": [round(r["conditions"][c]["uar"], 2) for r in results]}
    return out


def write(out: Path, summary: dict, results: list[dict]) -> None:
    (out / "results.json").write_text(json.dumps(summary, indent=1) + "\n")
    name = system_name(summary["system"], summary["target"])
    rows = [f"| {name} | {summary['uar']:.1f} | {summary['war']:.1f} |"]
    lines = [f"# {summary['corpus']}: {summary['folds']} speaker-independent folds", "",
             "| system | UAR % | WAR % |", "|---|---|---|", *rows, "",
             "Per fold UAR: " + ", ".join(f"{u:.1f}" for u in summary["uar_per_fold"]), ""]
    if summary["too_short_clamped"] is not None:
        lines.append(f"CTC targets clamped for too-short utterances: {summary['too_short_clamped']} "
                     "(counted over training folds)")
    (out / "table.md").write_text("\n".join(lines) + "\n")
    plot_confusion(out / "confusion.png", np.array(summary["confusion"]), summary["labels"], name)


def plot_confusion(path: Path, cm: np.ndarray, labels: list[str], title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rates = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(4.6, 4))
    ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    for i in range(len(labels)):
        for j in range(len(labels)):
            ax.text(j, i, f"{cm[i, j]}\n{100 * rates[i, j]:.0f}%", ha="center", va="center",
                    color="white" if rates[i, j] > 0.5 else "black", fontsize=8)
    ax.set_xticks(range(len(labels)), labels, rotation=30)
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def table(run_dirs: list[Path], reference: Path | None) -> str:
    """Table 2 analogue: every run's UAR/WAR, with a paired t-test on per-fold UAR against the reference."""
    runs = [json.loads((d / "results.json").read_text()) for d in run_dirs]
    ref = json.loads((reference / "results.json").read_text()) if reference else None
    lines = ["| system | UAR % | WAR % | p (UAR vs reference) |", "|---|---|---|---|"]
    for r in runs:
        p = ""
        if ref is not None and r is not ref and r["uar_per_fold"] != ref["uar_per_fold"]:
            if len(r["uar_per_fold"]) == len(ref["uar_per_fold"]):
                _, pv = metrics.paired_ttest(r["uar_per_fold"], ref["uar_per_fold"])
                p = f"{pv:.3f}"
        lines.append(f"| {system_name(r['system'], r['target'])} | {r['uar']:.1f} | {r['war']:.1f} | {p} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.report", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", nargs="+", type=Path, help="evaluation output directories")
    p.add_argument("--reference", type=Path, help="run to test the others against (e.g. CTC-PN)")
    p.add_argument("--out", type=Path, help="write the markdown table here too")
    args = p.parse_args(argv)
    runs = [d for d in args.runs if (d / "results.json").exists()]
    missing = [d for d in args.runs if d not in runs]
    for d in missing:
        print(f"error: {d}: no results.json", file=sys.stderr)
    text = table(runs, args.reference)
    print(text, end="")
    if args.out:
        args.out.write_text(text)
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
