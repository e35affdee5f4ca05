"""The alignment hypothesis, measured: where does the CTC model emit Null?

    python -m training.alignment --run runs/emodb-ctc-pn --data ../shared/corpora/emodb --out runs/emodb-ctc-pn/alignment

Reads the held-out frame posteriors an `evaluate --system ctc` run saved per fold, marks each
frame as silence/pause, unvoiced phone or voiced phone from EmoDB's phone labels, and reports
per class the share of frames on which the model's best path is Null. Also draws a few
Fig. 2-style plots: waveform, phone boundaries, and the target emotion's and Null's posteriors.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from realtime_ser import audio
from training import phones
from training.corpora import EMOTIONS, load_corpus

HOP_S = 0.01


def load_posteriors(run: Path) -> dict[str, np.ndarray]:
    out = {}
    for f in sorted((run / "folds").glob("fold_*_posteriors.npz")):
        with np.load(f) as z:
            out.update({k: z[k].astype(np.float32) for k in z.files})
    if not out:
        raise SystemExit(f"error: {run}: no fold posteriors (run training.evaluate --system ctc first)")
    return out


def null_shares(utts, posts) -> tuple[dict, int]:
    """counts[label][kind] = [null frames, frames, target-label frames, summed target posterior]."""
    counts = {e: {k: [0, 0, 0, 0.0] for k in phones.KINDS} for e in EMOTIONS}
    skipped = 0
    for u in utts:
        p = posts.get(u.utt_id)
        if p is None or u.phones_path is None or not phones.has_labels(u.phones_path):
            skipped += 1
            continue
        kinds = phones.frame_kinds(u.phones_path, p.shape[0])
        best = p.argmax(axis=1)
        target = EMOTIONS.index(u.label) + 1
        for k in phones.KINDS:
            m = kinds == k
            c = counts[u.label][k]
            c[0] += int((best[m] == 0).sum())
            c[1] += int(m.sum())
            c[2] += int((best[m] == target).sum())
            c[3] += float(p[m, target].sum())
    return counts, skipped


def table(counts: dict) -> str:
    lines = ["| class | silence/pause: Null % | unvoiced: Null % | voiced: Null % | voiced: target % "
             "| mean target posterior: silence / unvoiced / voiced |",
             "|---|---|---|---|---|---|"]
    rows = list(EMOTIONS) + ["all"]
    for e in rows:
        c = counts[e] if e != "all" else {k: np.sum([counts[x][k] for x in EMOTIONS], axis=0) for k in phones.KINDS}
        share = lambda k, i=0: 100.0 * c[k][i] / max(c[k][1], 1)  # noqa: E731
        lines.append(f"| {e} | {share('silence'):.1f} | {share('unvoiced'):.1f} | {share('voiced'):.1f} | "
                     f"{share('voiced', 2):.1f} | {share('silence', 3) / 100:.3f} / {share('unvoiced', 3) / 100:.3f} / "
                     f"{share('voiced', 3) / 100:.3f} |")
    return "\n".join(lines) + "\n"


def plot_utterance(path: Path, u, post: np.ndarray) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = audio.load(u.path)
    t_audio = np.arange(len(x)) / audio.SAMPLE_RATE
    t_frames = np.arange(post.shape[0]) * HOP_S + 0.0125
    target = EMOTIONS.index(u.label) + 1
    fig, (a0, a1) = plt.subplots(2, 1, figsize=(9, 4.2), sharex=True, gridspec_kw={"height_ratios": [1, 1.3]})
    a0.plot(t_audio, x, lw=0.4, color="0.3")
    a0.set_ylabel("waveform")
    colours = {"silence": "0.9", "unvoiced": "#f6d7a7", "voiced": "#bfe3c0"}
    for seg in phones.segments(u.phones_path):
        for ax in (a0, a1):
            ax.axvspan(seg.start, seg.end, color=colours[seg.kind], lw=0)
            ax.axvline(seg.start, color="0.6", lw=0.4)
        a0.text((seg.start + seg.end) / 2, 0.92 * np.abs(x).max(), seg.phone, ha="center", fontsize=6)
    a1.plot(t_frames, post[:, target], color="C3", label=f"{u.label} (target)")
    a1.plot(t_frames, post[:, 0], color="C0", lw=0.8, label="Null")
    a1.set_ylim(0, 1.02)
    a1.set_ylabel("posterior")
    a1.set_xlabel("time (s); green voiced, orange unvoiced, grey silence")
    a1.legend(loc="upper right", fontsize=7)
    a0.set_title(f"{u.utt_id} ({u.label}): CTC output over time", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.alignment", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run", type=Path, required=True, help="an evaluate output dir of --system ctc on EmoDB")
    p.add_argument("--data", type=Path, required=True, help="EmoDB root")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--examples", type=int, default=4, help="Fig. 2-style plots to draw (one per class first)")
    args = p.parse_args(argv)
    posts = load_posteriors(args.run)
    utts = [u for u in load_corpus("emodb", args.data) if u.utt_id in posts]
    counts, skipped = null_shares(utts, posts)
    args.out.mkdir(parents=True, exist_ok=True)
    text = table(counts)
    (args.out / "alignment.md").write_text(
        f"Share of held-out frames whose best-path output is Null, by frame kind ({len(utts) - skipped} "
        f"utterances; {skipped} without phone labels skipped).\n\n" + text)
    (args.out / "alignment.json").write_text(json.dumps({"counts": counts, "skipped": skipped}, indent=1) + "\n")
    drawn = 0
    for e in EMOTIONS:
        for u in utts:
            if drawn >= args.examples:
                break
            if u.label == e and u.phones_path is not None and phones.has_labels(u.phones_path):
                plot_utterance(args.out / f"fig2_{u.utt_id}.png", u, posts[u.utt_id])
                drawn += 1
                break
    print(text, end="")
    print(json.dumps({"utterances": len(utts) - skipped, "skipped": skipped, "plots": drawn}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
