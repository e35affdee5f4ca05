"""Capacity: concurrent real-time streams in one process, and the cost of a stream vs batching.

    python -m bench.capacity [--quick] [--out DIR] [--ticks K] [--max-streams N]

N streams share one engine. A tick is 100 ms of real time: every stream receives its next
100 ms of audio (accept_waveform), then one engine.decode() advances all ready streams in a
single batched BiLSTM step, then each stream's events are collected. The tick's compute is
timed. N streams are sustained when the p99 tick compute is ≤ 50 ms (half the real-time
budget, leaving room for I/O). Capacity is found on a grid of N, then by bisection.

Batching: the same ticks with decode() called once per stream show what batching saves.

Threads: the engine's native thread pool (EngineConfig.threads): decode() computes the
streams' features in the pool and splits the batched recurrences over it, with the GIL
released; the Python loop stays on one thread.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from bench import common

import numpy as np  # noqa: E402

from bench.latency import _engine  # noqa: E402

CHUNK_MS = 100
P99_BUDGET_MS = 50.0
TARGET_STREAMS = 400
GRID = (1, 10, 25, 50, 100, 150, 200, 250, 300, 400, 500, 650, 800, 1000)


class Fleet:
    """N streams over one engine, each reading the shared audio from its own offset."""

    def __init__(self, engine, x: np.ndarray, n_streams: int, ticks: int):
        self.engine, self.x = engine, x
        self.n = common.SAMPLE_RATE * CHUNK_MS // 1000
        span = x.size - (ticks + 1) * self.n
        if span <= 0:
            raise ValueError("audio shorter than the ticks asked for")
        step = int(1.37 * common.SAMPLE_RATE)
        self.offsets = [(i * step) % span for i in range(n_streams)]
        self.streams = [engine.create_stream(f"s{i}") for i in range(n_streams)]
        self.k = 0

    def tick(self, batched: bool = True) -> float:
        """One tick; returns its compute in ms."""
        t = time.perf_counter()
        self._advance(range(len(self.streams)), batched)
        self.k += 1
        return 1000.0 * (time.perf_counter() - t)

    def _advance(self, which, batched: bool) -> None:
        e, n, k = self.engine, self.n, self.k
        streams = [self.streams[i] for i in which]
        for i, s in zip(which, streams):
            off = self.offsets[i]
            s.accept_waveform(common.SAMPLE_RATE, self.x[off + k * n: off + (k + 1) * n])
        ready = e.ready(streams)
        if batched:
            e.decode(ready)
        else:
            for s in ready:
                e.decode([s])
        for s in streams:
            s.events()


def measure(engine, x, n_streams: int, ticks: int, batched: bool = True, warm: int = 3) -> dict:
    fleet = Fleet(engine, x, n_streams, ticks + warm)
    for _ in range(warm):
        fleet.tick(batched)
    ms = [fleet.tick(batched) for _ in range(ticks)]
    stats = common.percentiles(ms)
    per_stream = stats["p50"] / n_streams / (CHUNK_MS / 1000.0)  # ms per stream per s of audio
    return {"streams": n_streams, "ticks": ticks, "batched": batched, "threads": engine.threads, **stats,
            "ms_per_stream_per_s": per_stream, "sustained": stats["p99"] <= P99_BUDGET_MS}


def capacity(engine, x, ticks: int, max_streams: int) -> tuple[list[dict], int]:
    """Grid until the budget is blown, then bisection between the last pass and first fail."""
    rows, best, fail = [], 0, None
    for n in [g for g in GRID if g <= max_streams]:
        r = measure(engine, x, n, ticks)
        rows.append(r)
        print(f"capacity: {engine.threads} thread(s), {n} streams p99 {r['p99']:.1f} ms", file=sys.stderr)
        if r["sustained"]:
            best = n
        else:
            fail = n
            break
    while fail is not None and fail - best > max(2, best // 20):
        mid = (best + fail) // 2
        r = measure(engine, x, mid, ticks)
        rows.append(r)
        print(f"capacity: {engine.threads} thread(s), {mid} streams p99 {r['p99']:.1f} ms", file=sys.stderr)
        best, fail = (mid, fail) if r["sustained"] else (best, mid)
    return sorted(rows, key=lambda r: r["streams"]), best


def batching_curve(engine, x, ticks: int, sizes) -> list[dict]:
    rows = []
    for n in sizes:
        for batched in (True, False):
            rows.append(measure(engine, x, n, ticks, batched))
    return rows


def plot(out_dir: Path, data: dict) -> str:
    plt = common.pyplot()
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.4))
    for threads, res in data["by_threads"].items():
        rows = res["grid"]
        a.plot([r["streams"] for r in rows], [r["p99"] for r in rows], "o-", label=f"p99, {threads} thread(s)")
    a.axhline(P99_BUDGET_MS, color="0.5", ls="--", lw=0.8, label="p99 budget")
    a.axvline(TARGET_STREAMS, color="0.7", ls=":", lw=0.8, label="target streams")
    a.set_xlabel("concurrent streams")
    a.set_ylabel("compute per 100 ms tick (ms)")
    a.legend(fontsize=7)
    for batched, style in ((True, "o-"), (False, "x--")):
        pts = [r for r in data["batching"] if r["batched"] == batched]
        b.plot([r["streams"] for r in pts], [r["ms_per_stream_per_s"] for r in pts], style,
               label="one decode() for all" if batched else "decode() per stream")
    b.set_xscale("log")
    b.set_xlabel("concurrent streams (one thread)")
    b.set_ylabel("ms per stream per s of audio")
    b.legend(fontsize=7)
    return common.save_figure(fig, out_dir / "capacity.png")


def _verdict(cap: int) -> str:
    return "meets" if cap >= TARGET_STREAMS else f"MISSES ({cap}/{TARGET_STREAMS} = {cap / TARGET_STREAMS:.2f})"


def report(data: dict) -> str:
    lines = [f"## Capacity (one process, {CHUNK_MS} ms ticks)", "",
             f"{data['ticks']} timed ticks per point. Sustained = p99 tick compute ≤ {P99_BUDGET_MS:.0f} ms.", ""]
    for threads, res in data["by_threads"].items():
        rows = [[r["streams"], r["p50"], r["p99"], r["max"], r["ms_per_stream_per_s"],
                 "yes" if r["sustained"] else "no"] for r in res["grid"]]
        lines += [f"### {threads} thread(s)", "",
                  common.md_table(["streams", "p50 ms", "p99 ms", "max ms", "ms per stream per s", "sustained"], rows),
                  "", f"- **{res['capacity_streams']} concurrent real-time streams** with {threads} thread(s); "
                  f"target ≥ {TARGET_STREAMS}: {_verdict(res['capacity_streams'])}.", ""]
    brows = []
    for n in sorted({r["streams"] for r in data["batching"]}):
        on = next(r for r in data["batching"] if r["streams"] == n and r["batched"])
        off = next(r for r in data["batching"] if r["streams"] == n and not r["batched"])
        brows.append([n, on["ms_per_stream_per_s"], off["ms_per_stream_per_s"],
                      off["ms_per_stream_per_s"] / on["ms_per_stream_per_s"]])
    lines += ["### Cost per stream vs batching (one thread)", "",
              common.md_table(["streams", "batched ms/stream/s", "per-stream decode ms/stream/s", "batching gain ×"],
                              brows)]
    return "\n".join(lines)


def run(quick: bool, out_dir: Path, ticks: int | None = None, max_streams: int | None = None,
        threads: tuple[int, ...] = (1, 2)) -> dict:
    ticks = ticks or (3 if quick else 40)
    max_streams = max_streams or (4 if quick else GRID[-1])
    x = common.session_audio(8.0 if quick else 90.0)
    print(f"capacity: {ticks} ticks per point, up to {max_streams} streams", file=sys.stderr)
    by_threads = {}
    for t in threads:
        grid, cap = capacity(_engine(CHUNK_MS, threads=t), x, ticks, max_streams)
        by_threads[str(t)] = {"grid": grid, "capacity_streams": cap}
    engine = _engine(CHUNK_MS, threads=1)
    sizes = (1, 100) if quick else (1, 10, 50, 100, 200)
    data = {"ticks": ticks, "chunk_ms": CHUNK_MS, "p99_budget_ms": P99_BUDGET_MS, "by_threads": by_threads,
            "capacity_streams": max(r["capacity_streams"] for r in by_threads.values()),
            "capacity_streams_one_thread": by_threads.get("1", {}).get("capacity_streams"),
            "batching": batching_curve(engine, x, ticks, sizes), "target_streams": TARGET_STREAMS}
    data["plots"] = [plot(out_dir, data)]
    data["markdown"] = report(data)
    common.write_outputs(out_dir, "capacity", data, data["markdown"])
    return data


def main(argv=None) -> int:
    ap = common.arg_parser("capacity", __doc__)
    ap.add_argument("--ticks", type=int, default=None, help="timed ticks per point (default 40)")
    ap.add_argument("--max-streams", type=int, default=None)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="worker threads to try (default 1 2)")
    args = ap.parse_args(argv)
    data = run(args.quick, args.out, args.ticks, args.max_streams, tuple(args.threads))
    print(data["markdown"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
