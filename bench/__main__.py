"""The benchmark suite: `python -m bench [--quick] [--out DIR] [--only NAME ...]`.

Runs the sub-benchmarks in one process, one after the other (each is also callable alone as
`python -m bench.NAME`), then writes DIR/report.md (targets first, then every section),
DIR/results.json and the PNG plots. A sub-benchmark that fails is reported and the rest go on;
the exit status is then 1. --quick uses tiny settings (CI smoke run; its figures mean nothing).
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import json
import sys
import time
import traceback
from pathlib import Path

from bench import common

SUITE = ("latency", "rtf", "capacity", "startup", "peers", "profile")


def run_suite(names, quick: bool, out_dir: Path) -> dict:
    results = {}
    for name in names:
        print(f"== bench.{name}", file=sys.stderr)
        t = time.perf_counter()
        try:
            results[name] = importlib.import_module(f"bench.{name}").run(quick, out_dir)
        except Exception as err:  # one failed benchmark must not lose the others
            traceback.print_exc(file=sys.stderr)
            line = (str(err).splitlines() or [type(err).__name__])[0]
            results[name] = {"error": f"{type(err).__name__}: {line}", "markdown": f"## {name}\n\nFAILED: {line}"}
        results[name]["elapsed_s"] = time.perf_counter() - t
    return results


def _get(data: dict, *keys):
    for k in keys:
        if not isinstance(data, dict) or k not in data:
            return None
        data = data[k]
    return data


def targets(results: dict) -> list[dict]:
    """The issue's targets, each with its measured value (None when not measured)."""
    def row(what, goal, value, unit, ok):
        return {"target": what, "goal": goal, "measured": value, "unit": unit,
                "met": None if value is None else bool(ok(value))}

    cap = {t: _get(results, "capacity", "by_threads", t, "capacity_streams") for t in ("1", "2")}
    return [
        row("one stream, 100 ms chunks, whole engine", "≤ 2.0 ms per s of audio",
            _get(results, "rtf", "ms_per_s", "engine"), "ms/s", lambda v: v <= 2.0),
        row("p99 chunk compute at 100 ms chunks", "≤ 1 ms",
            _get(results, "latency", "compute", "100", "p99"), "ms", lambda v: v <= 1.0),
        row("concurrent real-time streams (best thread count)", "≥ 400",
            _get(results, "capacity", "capacity_streams"), "streams", lambda v: v >= 400),
        row("two threads vs one (capacity)", "≥ ×1.8",
            cap["2"] / cap["1"] if cap["1"] and cap["2"] else None, "×", lambda v: v >= 1.8),
        row("cost per stream at 100 batched streams vs one alone", "≤ 50 %",
            _batched_share(results, 100), "%", lambda v: v <= 50.0),
        row("RSS per extra stream", "≤ 100 kB",
            _get(results, "startup", "streams", "kb_per_stream"), "kB", lambda v: v <= 100.0),
        row("start-up to first event", "≤ 0.15 s",
            _get(results, "startup", "cold", "cli", "first_line_s"), "s", lambda v: v <= 0.15),
        row("peak RSS of the stream CLI (one stream)", "≤ 50 MB",
            _get(results, "startup", "cold", "cli", "peak_rss_mb"), "MB", lambda v: v <= 50.0),
    ]


def _batched_share(results: dict, n: int) -> float | None:
    """Per-stream cost with n streams in one decode(), as % of one stream alone."""
    rows = _get(results, "capacity", "batching") or []
    one = next((r for r in rows if r["streams"] == 1 and r["batched"]), None)
    many = next((r for r in rows if r["streams"] == n and r["batched"]), None)
    if not one or not many:
        return None
    return 100.0 * many["ms_per_stream_per_s"] / one["ms_per_stream_per_s"]


def summary_markdown(rows: list[dict], results: dict, quick: bool) -> str:
    def cell(r):
        return "not measured" if r["measured"] is None else f"{r['measured']:.3g} {r['unit']}"

    table = common.md_table(["target", "goal", "measured", "status"],
                            [[r["target"], r["goal"], cell(r),
                              "—" if r["met"] is None else ("met" if r["met"] else "**missed**")] for r in rows])
    one = _get(results, "capacity", "capacity_streams_one_thread")
    lines = ["# realtime_ser benchmark report", "",
             f"{datetime.datetime.now().isoformat(timespec='seconds')}, "
             + ("QUICK smoke settings: figures are not meaningful." if quick else "full settings."), "",
             "## Targets", "", table, ""]
    if one is not None:
        lines.append(f"Capacity with one thread: {one} streams.")
    failed = [n for n, r in results.items() if "error" in r and n != "profile"]
    if failed:
        lines.append(f"Failed sub-benchmarks: {', '.join(failed)}.")
    return "\n".join(lines)


def write_report(results: dict, quick: bool, out_dir: Path) -> str:
    """Writes report.md and results.json; returns the summary (targets) markdown."""
    rows = targets(results)
    sections = [summary_markdown(rows, results, quick)]
    for name, r in results.items():
        sections.append(r.get("markdown", f"## {name}"))
        sections += [f"![{p}]({p})" for p in r.get("plots", [])]
    sections.append(_environment_line())
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "report.md").write_text("\n\n".join(sections) + "\n")
    data = {"quick": quick, "targets": rows, "environment": _environment(), "results": results}
    (out_dir / "results.json").write_text(json.dumps(data, indent=1, default=float) + "\n")
    return sections[0]


def _environment() -> dict:
    try:
        return common.environment()
    except ImportError as err:
        return {"error": str(err)}


def _environment_line() -> str:
    e = _environment()
    return ("Environment: " + ", ".join(f"{k} {v}" for k, v in e.items() if k != "threads")
            + ". Single thread (OMP/OpenBLAS/numba) unless a section says otherwise.")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="tiny settings: a smoke run, not a measurement")
    ap.add_argument("--out", type=Path, default=common.DEFAULT_OUT, help=f"results folder (default {common.DEFAULT_OUT})")
    ap.add_argument("--only", nargs="+", choices=SUITE, default=None, help="run only these sub-benchmarks")
    args = ap.parse_args(argv)
    results = run_suite(args.only or SUITE, args.quick, args.out)
    print(write_report(results, args.quick, args.out))
    print(f"\nwrote {args.out / 'report.md'}, {args.out / 'results.json'} and the plots", file=sys.stderr)
    return 1 if any("error" in r for n, r in results.items() if n != "profile") else 0


if __name__ == "__main__":
    raise SystemExit(main())
