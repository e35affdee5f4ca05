"""Real-time factor of one stream, broken down into features, model and decoder.

    python -m bench.rtf [--quick] [--out DIR] [--seconds S] [--repeats R] [--chunk-ms 100]

The same audio goes chunk by chunk through (1) the feature front end alone, (2) the BiLSTM
alone (the native normalisation + LC-BLSTM the engine runs, fed the frames (1) produced per chunk),
(3) the CTC decoder alone (the native tracker: softmax, best path, spikes, segments;
fed (2)'s logits), and (4) the whole
engine. "Events and bookkeeping" is (4) minus the three parts. Figures are ms of compute per
second of audio (RTF x 1000), median over repeats.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from bench import common

import numpy as np  # noqa: E402

from bench.latency import _engine, chunk_times  # noqa: E402

TARGET_MS_PER_S = 2.0  # issue 10: whole engine, one stream, 100 ms chunks


def _timed(fn, items) -> tuple[float, list]:
    """Total seconds of fn(item) over items, and the outputs."""
    total, outs = 0.0, []
    for item in items:
        t = time.perf_counter()
        outs.append(fn(item))
        total += time.perf_counter() - t
    return total, outs


def features_pass(x: np.ndarray, n: int) -> tuple[float, list]:
    from realtime_ser.features import OnlineFeatures

    f = OnlineFeatures()

    def step(block):
        f.accept_waveform(common.SAMPLE_RATE, block)
        return f.pop_frames()

    return _timed(step, [x[i:i + n] for i in range(0, x.size, n)])


def model_pass(engine, frames: list) -> tuple[float, list]:
    from realtime_ser.lstm import StreamingBiLstm

    lstm = StreamingBiLstm(engine.model, engine.chunk_frames, engine.right_context_frames)
    norm = engine.new_normalizer()
    return _timed(lambda fr: lstm.accept(norm.process(fr)), frames)


def decoder_pass(engine, logits: list) -> tuple[float, list]:
    tracker = engine.new_tracker()

    def step(z):
        if len(z):
            tracker.accept_logits(z)
        return tracker.pop_spikes(), tracker.pop_segments()

    return _timed(step, logits)


def breakdown(x: np.ndarray, chunk_ms: int) -> dict:
    engine = _engine(chunk_ms)
    n = common.SAMPLE_RATE * chunk_ms // 1000
    t_feat, frames = features_pass(x, n)
    t_model, logits = model_pass(engine, frames)
    t_dec, _ = decoder_pass(engine, logits)
    t_total = chunk_times(engine, x, chunk_ms).sum() / 1000.0
    sec = x.size / common.SAMPLE_RATE
    parts = {"features": t_feat, "model": t_model, "decoder": t_dec}
    out = {k: 1000.0 * v / sec for k, v in parts.items()}
    out["engine"] = 1000.0 * t_total / sec
    out["events_and_bookkeeping"] = out["engine"] - sum(out[k] for k in parts)
    return out


def model_mflop_per_s(engine) -> dict:
    """Multiply-adds x 2 of the LC-BLSTM per second of audio (100 frames)."""
    from realtime_ser.lstm import LstmWeights

    w = LstmWeights.of(engine.model)
    d, h, k = w.input_dim, w.hidden, w.n_outputs
    c, r = engine.chunk_frames, engine.right_context_frames
    per_frame = {
        "input_projection": 2 * d * 8 * h,
        "forward_recurrence": 2 * h * 4 * h,
        "backward_recurrence": 2 * h * 4 * h * (c + r) / c,
        "output": 2 * 2 * h * k,
    }
    return {k2: 100 * v / 1e6 for k2, v in per_frame.items()} | {"total": 100 * sum(per_frame.values()) / 1e6}


def report(data: dict) -> str:
    m = data["ms_per_s"]
    rows = [[k.replace("_", " "), v, v / 1000.0, 100.0 * v / m["engine"]] for k, v in m.items() if k != "engine"]
    rows.append(["**engine total**", m["engine"], m["engine"] / 1000.0, 100.0])
    fl = data["model_mflop_per_s"]
    gflops = fl["total"] / m["model"] if m["model"] > 0 else float("nan")
    verdict = "meets" if m["engine"] <= TARGET_MS_PER_S else f"MISSES by {m['engine'] / TARGET_MS_PER_S:.2f}x"
    return "\n".join([
        f"## Real-time factor, one stream, {data['chunk_ms']} ms chunks (single thread)",
        "",
        f"{data['audio_s']:.1f} s of EmoDB speech, median over {data['repeats']} repeats.",
        "",
        common.md_table(["part", "ms per s audio", "RTF", "% of engine"], rows),
        "",
        f"- Target ≤ {TARGET_MS_PER_S} ms per s of audio: {verdict} ({m['engine']:.2f} ms/s).",
        f"- The LC-BLSTM does {fl['total']:.0f} MFLOP per s of audio (input projection {fl['input_projection']:.0f}, "
        f"forward {fl['forward_recurrence']:.0f}, backward incl. right-context recompute "
        f"{fl['backward_recurrence']:.0f}); measured {gflops:.1f} GFLOP/s.",
    ])


def run(quick: bool, out_dir: Path, seconds: float | None = None, repeats: int | None = None,
        chunk_ms: int = 100) -> dict:
    seconds = seconds or (3.0 if quick else 120.0)
    repeats = repeats or (1 if quick else 5)
    x = common.session_audio(seconds)
    print(f"rtf: {seconds:.0f} s of audio, {repeats} repeats", file=sys.stderr)
    breakdown(x[: common.SAMPLE_RATE], chunk_ms)  # warm
    runs = [breakdown(x, chunk_ms) for _ in range(repeats)]
    data = {"audio_s": x.size / common.SAMPLE_RATE, "repeats": repeats, "chunk_ms": chunk_ms,
            "ms_per_s": common.median_of(runs), "model_mflop_per_s": model_mflop_per_s(_engine(chunk_ms)),
            "target_ms_per_s": TARGET_MS_PER_S}
    data["plots"] = [plot(out_dir, data)]
    data["markdown"] = report(data)
    common.write_outputs(out_dir, "rtf", data, data["markdown"])
    return data


def plot(out_dir: Path, data: dict) -> str:
    plt = common.pyplot()
    m = data["ms_per_s"]
    parts = ["features", "model", "decoder", "events_and_bookkeeping"]
    fig, ax = plt.subplots(figsize=(6, 1.9))
    left = 0.0
    for p in parts:
        ax.barh([0], [m[p]], left=left, label=p.replace("_", " "))
        left += m[p]
    ax.axvline(TARGET_MS_PER_S, color="k", ls="--", lw=0.8, label="target")
    ax.set_yticks([])
    ax.set_xlabel("ms of compute per s of audio")
    ax.legend(fontsize=7, ncol=5, loc="upper center", bbox_to_anchor=(0.5, -0.45))
    return common.save_figure(fig, out_dir / "rtf.png")


def main(argv=None) -> int:
    ap = common.arg_parser("rtf", __doc__)
    ap.add_argument("--seconds", type=float, default=None, help="seconds of audio (default 120)")
    ap.add_argument("--repeats", type=int, default=None, help="repeats (default 5)")
    ap.add_argument("--chunk-ms", type=int, default=100)
    args = ap.parse_args(argv)
    data = run(args.quick, args.out, args.seconds, args.repeats, args.chunk_ms)
    print(data["markdown"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
