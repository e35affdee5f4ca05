"""CI smoke run of the benchmark suite: `python -m bench --quick` must run and write a
well-formed report. No timing is checked: quick settings measure nothing meaningful."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from bench import __main__ as suite

REPO = Path(__file__).resolve().parents[1]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    proc = subprocess.run([sys.executable, "-m", "bench", "--quick", "--out", str(out)], cwd=REPO,
                          capture_output=True, text=True, timeout=600)
    return out, proc


def _finite(x) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x)


def test_suite_exits_cleanly_and_prints_targets(quick_run):
    _, proc = quick_run
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "## Targets" in proc.stdout
    assert "Traceback" not in proc.stderr


def test_every_target_is_measured(quick_run):
    out, _ = quick_run
    data = json.loads((out / "results.json").read_text())
    assert data["quick"] is True
    assert len(data["targets"]) == 5
    for row in data["targets"]:
        assert _finite(row["measured"]) and row["measured"] > 0, row
        assert row["met"] in (True, False)
    assert set(data["results"]) == set(suite.SUITE)
    for name, result in data["results"].items():
        assert "error" not in result, (name, result.get("error"))


def test_report_has_every_section_and_its_plots(quick_run):
    out, _ = quick_run
    report = (out / "report.md").read_text()
    for heading in ("## Targets", "## Per-chunk compute latency", "## End-to-end latency", "## Real-time factor",
                    "## Capacity", "## Cold start and memory", "## Profile"):
        assert heading in report
    images = [line[line.index("(") + 1:-1] for line in report.splitlines() if line.startswith("![")]
    assert len(images) >= 4
    for name in images:
        assert (out / name).read_bytes()[:8] == PNG_MAGIC, name
    for name in ("latency", "rtf", "capacity", "startup"):
        assert (out / f"{name}.md").read_text().startswith("## ")
        json.loads((out / f"{name}.json").read_text())


def test_figures_are_internally_consistent(quick_run):
    out, _ = quick_run
    r = json.loads((out / "results.json").read_text())["results"]
    for chunk, row in r["latency"]["compute"].items():
        assert row["p50"] <= row["p95"] <= row["p99"] <= row["max"], chunk
    e2e = r["latency"]["e2e"]["100"]
    assert e2e["algorithmic_ms"] == pytest.approx(e2e["chunk_ms"] + e2e["right_context_ms"] + e2e["feature_lookahead_ms"])
    assert e2e["events"]["utterance"]["events"] == 1
    parts = r["rtf"]["ms_per_s"]
    assert parts["engine"] == pytest.approx(parts["features"] + parts["model"] + parts["decoder"]
                                            + parts["events_and_bookkeeping"])
    for res in r["capacity"]["by_threads"].values():
        assert res["capacity_streams"] >= 0
        assert all(row["sustained"] == (row["p99"] <= r["capacity"]["p99_budget_ms"]) for row in res["grid"])
    assert r["startup"]["cold"]["cli"]["first_line"].startswith("{")
    assert sum(r["profile"]["summary"]["parts"].values()) == pytest.approx(100.0)


def test_a_failing_benchmark_is_reported_and_the_rest_go_on(tmp_path, monkeypatch):
    import bench.rtf

    def boom(quick, out_dir):
        raise RuntimeError("simulated failure\nsecond line")

    monkeypatch.setattr(bench.rtf, "run", boom)
    results = suite.run_suite(["rtf"], quick=True, out_dir=tmp_path)
    assert results["rtf"]["error"] == "RuntimeError: simulated failure"
    summary = suite.write_report(results, True, tmp_path)
    assert "not measured" in summary and "Failed sub-benchmarks: rtf" in summary
    assert "FAILED: simulated failure" in (tmp_path / "report.md").read_text()
