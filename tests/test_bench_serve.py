"""Smoke run of `python -m bench.serve --quick`: it runs, loses no event, writes its report.

No timing is checked (the quick figures mean nothing; the targets belong to the full run)."""

from __future__ import annotations

import json
import math
import subprocess
import sys

from serve_common import ENV, ROOT


def test_bench_serve_quick(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "bench.serve", "--quick", "--out", str(tmp_path)], cwd=ROOT, env=ENV,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "## WebSocket server" in proc.stdout and "Traceback" not in proc.stderr
    data = json.loads((tmp_path / "serve.json").read_text())
    (row,) = data["grid"]
    assert row["events_lost"] == 0 and row["failed_clients"] == 0 and row["events"] > 0
    for key in ("p50", "p99", "server_peak_rss_mb", "cpu_percent_per_stream", "algorithmic_ms"):
        assert math.isfinite(row[key]) and row[key] > 0, key
    assert 0 < data["startup"]["ready_s_median"] < 60
    assert (tmp_path / "serve.md").read_text().startswith("## WebSocket server")
