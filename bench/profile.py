"""Where one stream's compute goes: a py-spy profile of the engine at 100 ms chunks.

    python -m bench.profile [--quick] [--out DIR] [--seconds S] [--rate HZ]

py-spy samples a child process (with native frames where it can) that streams EmoDB speech
through one engine stream. Only samples inside the streaming loop count (imports and model
load are left out). Each sample is charged to the deepest realtime_ser frame on its stack
(its part of the pipeline) and to its leaf frame (self time).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

from bench import common

WORKLOAD = """
import sys
from bench import common
from bench.latency import _engine, chunk_times
x = common.session_audio(float(sys.argv[1]))
engine = _engine(100)
chunk_times(engine, x[:16000], 100)
def workload():  # at least argv[2] seconds of wall time, so every rate gets samples
    import time
    end = time.perf_counter() + float(sys.argv[2])
    while time.perf_counter() < end:
        chunk_times(engine, x, 100)
workload()
"""
MARKER = "workload ("
PARTS = (  # first match wins, on the path of the deepest realtime_ser frame
    ("features", ("realtime_ser/features", "realtime_ser/audio.py")),
    ("model", ("realtime_ser/lstm",)),
    ("decoder", ("realtime_ser/decoder",)),
    ("engine (events, bookkeeping)", ("realtime_ser/engine.py", "realtime_ser/events.py")),
)


def record(seconds: float, repeats: int, rate: int, native: bool) -> Path:
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    out = Path(tempfile.mkdtemp(prefix="bench-profile-")) / "stacks.txt"
    cmd = [spy, "record", "-r", str(rate), "-f", "raw", "-o", str(out)] + (["--native"] if native else [])
    cmd += ["--", sys.executable, "-c", WORKLOAD, str(seconds), str(repeats)]
    subprocess.run(cmd, cwd=common.REPO_ROOT, capture_output=True, text=True, timeout=600, check=True)
    return out


def parse(path: Path) -> list[tuple[list[str], int]]:
    """Collapsed stacks (root first) with their sample counts, inside the workload only."""
    stacks = []
    for line in path.read_text().splitlines():
        frames, _, count = line.rpartition(" ")
        if MARKER in frames:
            stacks.append((frames.split(";"), int(count)))
    return stacks


NATIVE_PARTS = (("decoder", "Ctc"), ("model", "Lstm"), ("features", "ser::"))  # C++ symbols


def part_of(frames: list[str]) -> str:
    for frame in reversed(frames):
        for name, key in NATIVE_PARTS:
            if frame.startswith("ser::") and key in frame:
                return name
    own = [f for f in frames if "realtime_ser/" in f]
    if not own:
        return "other"
    for name, keys in PARTS:
        if any(k in own[-1] for k in keys):
            return name
    return "other"


def summarise(stacks) -> dict:
    total = sum(c for _, c in stacks) or 1
    parts, leaves = Counter(), Counter()
    for frames, count in stacks:
        parts[part_of(frames)] += count
        leaves[(frames[-1], part_of(frames))] += count
    return {
        "samples": total,
        "parts": {k: 100.0 * v / total for k, v in parts.most_common()},
        "top_leaves": [{"frame": f, "part": p, "percent": 100.0 * v / total}
                       for (f, p), v in leaves.most_common(15)],
    }


def report(data: dict) -> str:
    if "error" in data:
        return f"## Profile (py-spy)\n\nNot available: {data['error']}"
    s = data["summary"]
    return "\n".join([
        "## Profile (py-spy, one stream, 100 ms chunks)",
        "",
        f"{s['samples']} samples at {data['rate_hz']} Hz{' with native frames' if data['native'] else ''}, "
        f"{data['seconds']:.0f} s of audio streamed repeatedly for {data['repeats']:.0f} s.",
        "",
        common.md_table(["part (deepest realtime_ser frame)", "% of samples"], [[k, v] for k, v in s["parts"].items()]),
        "",
        common.md_table(["leaf frame (self time)", "part", "%"],
                        [[f"`{r['frame'][:90]}`", r["part"], r["percent"]] for r in s["top_leaves"]]),
    ])


def run(quick: bool, out_dir: Path, seconds: float | None = None, rate: int | None = None) -> dict:
    seconds = seconds or (3.0 if quick else 60.0)
    repeats = 1.5 if quick else 15.0  # seconds of profiled work
    rate = rate or (50 if quick else 100)
    data: dict = {"seconds": seconds, "repeats": repeats, "rate_hz": rate}
    print(f"profile: py-spy at {rate} Hz", file=sys.stderr)
    for native in (True, False):  # native frames need more permissions; fall back to Python only
        try:
            stacks = parse(record(seconds, repeats, rate, native))
            data.update(native=native, summary=summarise(stacks))
            break
        except (OSError, subprocess.SubprocessError) as err:
            data["error"] = (str(err).splitlines() or ["py-spy failed"])[0][:200]
    if "summary" in data:
        data.pop("error", None)
    data["plots"] = []
    data["markdown"] = report(data)
    common.write_outputs(out_dir, "profile", data, data["markdown"])
    return data


def main(argv=None) -> int:
    ap = common.arg_parser("profile", __doc__)
    ap.add_argument("--seconds", type=float, default=None, help="seconds of audio (default 60)")
    ap.add_argument("--rate", type=int, default=None, help="samples per second (default 100)")
    args = ap.parse_args(argv)
    data = run(args.quick, args.out, args.seconds, args.rate)
    print(data["markdown"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
