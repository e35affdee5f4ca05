"""Per-chunk compute latency and end-to-end latency of one stream.

    python -m bench.latency [--quick] [--out DIR] [--seconds S] [--repeats R]

Compute: EmoDB utterances back to back are fed to one stream in chunks of 10/20/50/100 ms
(the engine's BiLSTM chunk equals the audio chunk); each chunk's accept_waveform + decode +
events() is timed. Percentiles are taken per repeat and the median over repeats is reported.

End to end: the same audio is fed at real-time pace (each chunk handed over when its last
sample would have been captured). Every event carries latency_s, stamped inside the engine:
from the arrival of the chunk holding the event's audio to the event. Algorithmic latency is
the worst case the design imposes: chunk + BiLSTM right context + feature lookahead.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from bench import common

import numpy as np  # noqa: E402

CHUNKS_MS = (10, 20, 50, 100)
TARGET_P99_MS = 5.0  # at 100 ms chunks


def _engine(chunk_ms: int, threads: int = 1):
    """The bundled model's engine; one native thread unless asked (per-stream costs)."""
    from realtime_ser.engine import Engine, EngineConfig

    return Engine(EngineConfig(chunk_ms=chunk_ms, threads=threads))


def chunk_times(engine, x: np.ndarray, chunk_ms: int, flush: bool = False) -> np.ndarray:
    """Milliseconds of compute for each chunk of x pushed through a fresh stream; with
    flush=True the final input_finished() + decode() is timed too, as the last entry."""
    n = common.SAMPLE_RATE * chunk_ms // 1000
    s = engine.create_stream("bench")
    out = []
    for i in range(0, x.size, n):
        t = time.perf_counter()
        s.accept_waveform(common.SAMPLE_RATE, x[i:i + n])
        if engine.ready([s]):
            engine.decode([s])
        s.events()
        out.append(time.perf_counter() - t)
    t = time.perf_counter()
    s.input_finished()
    engine.decode([s])
    s.events()
    if flush:
        out.append(time.perf_counter() - t)
    return 1000.0 * np.asarray(out)


def compute_latency(x: np.ndarray, repeats: int, chunks=CHUNKS_MS) -> dict:
    seconds = x.size / common.SAMPLE_RATE
    out = {}
    for chunk_ms in chunks:
        engine = _engine(chunk_ms)
        chunk_times(engine, x[: common.SAMPLE_RATE], chunk_ms)  # warm: page in, allocate
        runs = []
        for _ in range(repeats):
            ms = chunk_times(engine, x, chunk_ms)
            runs.append({**common.percentiles(ms), "ms_per_s": float(ms.sum() / seconds)})
        out[str(chunk_ms)] = {**common.median_of(runs), "chunks": int(np.ceil(x.size / (16 * chunk_ms)))}
    return out


def algorithmic_ms(engine) -> dict:
    from realtime_ser import features

    chunk = engine.config.chunk_ms
    right = 10 * engine.right_context_frames
    look = 1000.0 * features.LOOKAHEAD_S
    return {"chunk_ms": chunk, "right_context_ms": right, "feature_lookahead_ms": look,
            "algorithmic_ms": chunk + right + look}


def end_to_end(x: np.ndarray, chunk_ms: int) -> dict:
    """Real-time paced feed; latency_s of every event, by type."""
    engine = _engine(chunk_ms)
    chunk_times(engine, x[: common.SAMPLE_RATE], chunk_ms)
    s = engine.create_stream("bench")
    n = common.SAMPLE_RATE * chunk_ms // 1000
    lat: dict[str, list[float]] = {}
    t0 = time.monotonic()
    for k, i in enumerate(range(0, x.size, n)):
        due = t0 + (i + min(n, x.size - i)) / common.SAMPLE_RATE
        time.sleep(max(0.0, due - time.monotonic()))
        s.accept_waveform(common.SAMPLE_RATE, x[i:i + n])
        if engine.ready([s]):
            engine.decode([s])
        for ev in s.events():
            if ev.latency_s is not None:
                lat.setdefault(ev.type, []).append(1000.0 * ev.latency_s)
    s.input_finished()
    engine.decode([s])
    for ev in s.events():
        if ev.latency_s is not None:
            lat.setdefault(ev.type, []).append(1000.0 * ev.latency_s)
    by_type = {t: {**common.percentiles(v), "events": len(v)} for t, v in sorted(lat.items())}
    return {**algorithmic_ms(engine), "audio_s": x.size / common.SAMPLE_RATE, "events": by_type}


def plot(out_dir: Path, compute: dict, e2e: dict) -> list[str]:
    plt = common.pyplot()
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.4))
    chunks = [int(c) for c in compute]
    for key, style in (("p50", "o-"), ("p95", "s-"), ("p99", "^-"), ("max", "x:")):
        a.plot(chunks, [compute[str(c)][key] for c in chunks], style, label=key)
    a.axhline(TARGET_P99_MS, color="0.5", ls="--", lw=0.8, label="p99 target @100 ms")
    a.set_xscale("log")
    a.set_xticks(chunks, [str(c) for c in chunks])
    a.set_xlabel("chunk (ms)")
    a.set_ylabel("compute per chunk (ms)")
    a.set_title("per-chunk compute, one stream")
    a.legend(fontsize=7)
    chunks_e = [int(c) for c in e2e]
    spikes = [e2e[str(c)]["events"].get("spike", {}) for c in chunks_e]
    b.plot(chunks_e, [e2e[str(c)]["algorithmic_ms"] for c in chunks_e], "k--", label="algorithmic")
    b.plot(chunks_e, [s.get("p50", np.nan) for s in spikes], "o-", label="spike p50 (measured)")
    b.plot(chunks_e, [s.get("max", np.nan) for s in spikes], "x:", label="spike max (measured)")
    b.set_xscale("log")
    b.set_xticks(chunks_e, [str(c) for c in chunks_e])
    b.set_xlabel("chunk (ms)")
    b.set_ylabel("latency (ms)")
    b.set_title("end to end, real-time pace")
    b.legend(fontsize=7)
    return [common.save_figure(fig, out_dir / "latency.png")]


def report(data: dict) -> str:
    c = data["compute"]
    rows = [[f"{k} ms", v["chunks"], v["p50"], v["p95"], v["p99"], v["max"], v["ms_per_s"]] for k, v in c.items()]
    lines = [
        "## Per-chunk compute latency (one stream, single thread)",
        "",
        f"{data['audio_s']:.1f} s of EmoDB speech back to back, median over {data['repeats']} repeats.",
        "",
        common.md_table(["chunk", "chunks", "p50 ms", "p95 ms", "p99 ms", "max ms", "ms per s audio"], rows),
        "",
        "## End-to-end latency (real-time pace, stamped inside the engine)",
        "",
        f"{data['e2e_audio_s']:.1f} s of audio per chunk size. Algorithmic = chunk + right context + "
        "feature lookahead (pitch window + delta frames). Measured: from the arrival of the chunk "
        "holding the event's audio (spike: its frame; segment/utterance: its end) to the event.",
        "",
    ]
    rows = []
    for k, v in data["e2e"].items():
        for t, s in v["events"].items():
            rows.append([f"{k} ms", f"{v['algorithmic_ms']:.0f}", t, s["events"], s["p50"], s["p95"], s["max"]])
    lines.append(common.md_table(["chunk", "algorithmic ms", "event", "n", "p50 ms", "p95 ms", "max ms"], rows))
    return "\n".join(lines)


def run(quick: bool, out_dir: Path, seconds: float | None = None, repeats: int | None = None) -> dict:
    seconds = seconds or (3.0 if quick else 120.0)
    repeats = repeats or (1 if quick else 5)
    e2e_s = 2.0 if quick else 20.0
    x = common.session_audio(seconds)
    print(f"latency: {seconds:.0f} s of audio, {repeats} repeats", file=sys.stderr)
    compute = compute_latency(x, repeats)
    e2e_chunks = (100,) if quick else CHUNKS_MS
    e2e = {}
    for c in e2e_chunks:
        print(f"latency: real-time pace, {c} ms chunks, {e2e_s:.0f} s", file=sys.stderr)
        e2e[str(c)] = end_to_end(x[: int(e2e_s * common.SAMPLE_RATE)], c)
    data = {"audio_s": x.size / common.SAMPLE_RATE, "repeats": repeats, "compute": compute,
            "e2e_audio_s": e2e_s, "e2e": e2e, "target_p99_ms_at_100ms": TARGET_P99_MS}
    data["plots"] = plot(out_dir, compute, e2e)
    data["markdown"] = report(data)
    common.write_outputs(out_dir, "latency", data, data["markdown"])
    return data


def main(argv=None) -> int:
    ap = common.arg_parser("latency", __doc__)
    ap.add_argument("--seconds", type=float, default=None, help="seconds of audio (default 120)")
    ap.add_argument("--repeats", type=int, default=None, help="repeats (default 5)")
    args = ap.parse_args(argv)
    data = run(args.quick, args.out, args.seconds, args.repeats)
    print(data["markdown"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
