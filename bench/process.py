"""Whole-process measurements: time to the first line on stdout, wall time and peak RSS.

    m = measure([sys.executable, "-m", "realtime_ser.stream", "--quiet", wav])
    m.first_line_s, m.wall_s, m.peak_rss_mb, m.first_line

The clock starts just before the child is spawned, so interpreter start, imports, model load
and any JIT are included. Peak RSS is the command's ru_maxrss. Linux carries ru_maxrss over
fork + exec, so a command spawned straight from a big bench process would report at least
the bench's own size; the command is therefore started by a small launcher (`python -S`, about
10 MB and 15 ms, both included in the figures) that reports the command's wait4() usage.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass

from bench import common


@dataclass
class ProcessRun:
    first_line_s: float | None  # spawn -> first stdout line
    wall_s: float               # spawn -> exit
    peak_rss_mb: float          # ru_maxrss of the child
    returncode: int
    first_line: str

    def to_dict(self) -> dict:
        return asdict(self)


LAUNCHER = """
import json, os, sys
pid = os.spawnvp(os.P_NOWAIT, sys.argv[2], sys.argv[2:])
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as f:
    json.dump({"status": os.waitstatus_to_exitcode(status), "maxrss_kb": usage.ru_maxrss}, f)
"""


def measure(cmd: list[str], env: dict | None = None, timeout_s: float = 600.0) -> ProcessRun:
    """Run cmd to completion; stdout is read line by line, stderr is discarded."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    with tempfile.TemporaryDirectory(prefix="bench-proc-") as tmp:
        usage_file = os.path.join(tmp, "usage.json")
        launcher = [sys.executable, "-S", "-c", LAUNCHER, usage_file]
        run = _watch(launcher + list(cmd), full_env, timeout_s)
        with open(usage_file) as f:
            usage = json.load(f)
    run.returncode, run.peak_rss_mb = usage["status"], usage["maxrss_kb"] / 1024.0
    return run


def _watch(cmd: list[str], env: dict, timeout_s: float) -> ProcessRun:
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=common.REPO_ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, bufsize=1)
    first, first_s = "", None
    assert proc.stdout is not None
    for line in proc.stdout:
        if first_s is None:
            first_s, first = time.perf_counter() - t0, line.strip()
        if time.perf_counter() - t0 > timeout_s:
            proc.kill()
            break
    proc.wait()
    return ProcessRun(first_s, time.perf_counter() - t0, float("nan"), proc.returncode, first)


def median_runs(cmd: list[str], runs: int, env: dict | None = None) -> dict:
    """Median first-line time, wall time and peak RSS over `runs` fresh processes."""
    results = [measure(cmd, env) for _ in range(runs)]
    bad = [r for r in results if r.returncode != 0]
    if bad:
        raise RuntimeError(f"{' '.join(cmd)}: exit status {bad[0].returncode}")
    firsts = [r.first_line_s for r in results if r.first_line_s is not None]
    return {
        "runs": runs,
        "first_line_s": common.median(firsts),
        "wall_s": common.median([r.wall_s for r in results]),
        "peak_rss_mb": common.median([r.peak_rss_mb for r in results]),
        "first_line": results[0].first_line[:200],
    }
