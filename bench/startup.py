"""Cold start and memory: process start to first event, peak RSS, RSS growth per stream.

    python -m bench.startup [--quick] [--out DIR] [--runs R]

Cold start: wall time from spawning `python -m realtime_ser.stream --quiet SAMPLE` to its
first JSON line on stdout (imports, model load and any JIT included), median of R fresh
processes; a probe process splits it into import, engine construction and first event.
Peak RSS: ru_maxrss of the CLI process on the bundled sample and on a long recording (EmoDB
utterances back to back, written to a temporary WAV), and of processes serving N streams
(100 ms ticks, 3 s of audio each); the slope over N is the growth per extra stream.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from bench import common, process

import numpy as np  # noqa: E402

SAMPLE = common.REPO_ROOT / "realtime_ser" / "samples" / "speech.wav"
TARGET_STARTUP_S = 0.15  # issue 10: spawn -> first event
TARGET_RSS_MB = 50.0     # one stream
TARGET_KB_PER_STREAM = 100.0

PROBE_FIRST_EVENT = """
import json, sys, time
t0 = time.perf_counter()
from realtime_ser.engine import Engine, EngineConfig
from realtime_ser import audio
t1 = time.perf_counter()
engine = Engine(EngineConfig())
t2 = time.perf_counter()
x = audio.load(sys.argv[1]).reshape(-1)
s = engine.create_stream("probe")
first = None
for i in range(0, x.size, 1600):
    s.accept_waveform(16000, x[i:i + 1600])
    if engine.ready([s]):
        engine.decode([s])
    if s.events():
        first = time.perf_counter()
        break
print(json.dumps({"import_s": t1 - t0, "engine_s": t2 - t1, "first_event_s": (first or t2) - t2,
                  "audio_to_first_event_s": (i + 1600) / 16000}))
"""

PROBE_STREAMS = """
import json, sys
import numpy as np
from bench import common
from realtime_ser.engine import Engine, EngineConfig
n = int(sys.argv[1]); seconds = float(sys.argv[2])
x = common.session_audio(seconds + 1.37 * max(n, 1) % 60 + 1, None)
engine = Engine(EngineConfig())
streams = [engine.create_stream(f"s{i}") for i in range(n)]
for k in range(int(seconds * 10)):
    for i, s in enumerate(streams):
        off = int(1.37 * i * 16000) % (x.size - int(seconds * 16000) - 1600)
        s.accept_waveform(16000, x[off + 1600 * k: off + 1600 * (k + 1)])
    engine.decode(engine.ready(streams))
    for s in streams:
        s.events()
# VmHWM: this process's own peak (ru_maxrss would include the size of the bench that spawned it)
hwm = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:"))
print(json.dumps({"streams": n, "peak_rss_mb": hwm / 1024}))
"""


PROBE_MEMORY = """
import json, sys
from bench import common
from realtime_ser.engine import Engine, EngineConfig
seconds = float(sys.argv[1])
x = common.session_audio(seconds + 1, None)
engine = Engine(EngineConfig())
s = engine.create_stream("s")
new = s._native.memory()
for k in range(int(seconds * 10)):
    s.accept_waveform(16000, x[1600 * k: 1600 * (k + 1)])
    engine.decode([s])
    s.events()
print(json.dumps({"new": new, "streaming": s._native.memory()}))
"""


def _python(code: str, *args: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code, *args], cwd=common.REPO_ROOT, capture_output=True,
                         text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def cold_start(runs: int) -> dict:
    cmd = [sys.executable, "-m", "realtime_ser.stream", "--quiet", str(SAMPLE)]
    process.measure(cmd)  # page the files into the OS cache once
    cli = process.median_runs(cmd, runs)
    bare = process.median_runs([sys.executable, "-c", "print(0)"], runs)
    probes = [_python(PROBE_FIRST_EVENT, str(SAMPLE)) for _ in range(runs)]
    return {"cli": cli, "bare_python": bare, "probe": common.median_of(probes)}


def long_file_rss(seconds: float) -> dict:
    import soundfile as sf

    with tempfile.TemporaryDirectory(prefix="bench-long-") as tmp:
        path = Path(tmp) / "long.wav"
        sf.write(path, common.session_audio(seconds), common.SAMPLE_RATE, subtype="PCM_16")
        run = process.measure([sys.executable, "-m", "realtime_ser.stream", "--quiet", "--no-spikes", str(path)])
    if run.returncode != 0:
        raise RuntimeError(f"stream CLI on {seconds:.0f} s file: exit status {run.returncode}")
    return {"audio_s": seconds, "wall_s": run.wall_s, "peak_rss_mb": run.peak_rss_mb,
            "ms_per_s": 1000.0 * run.wall_s / seconds}


def rss_per_stream(counts, seconds: float) -> dict:
    rows = [_python(PROBE_STREAMS, str(n), str(seconds)) for n in counts]
    held = _python(PROBE_MEMORY, str(seconds))
    n = np.array([r["streams"] for r in rows], float)
    mb = np.array([r["peak_rss_mb"] for r in rows], float)
    slope = float(np.polyfit(n, mb, 1)[0]) if len(set(n)) > 1 else float("nan")
    return {"seconds_per_stream": seconds, "rows": rows, "mb_per_stream": slope, "kb_per_stream": 1024 * slope,
            "held_bytes": held}


def plot(out_dir: Path, data: dict) -> str:
    plt = common.pyplot()
    fig, ax = plt.subplots(figsize=(5, 3.2))
    rows = data["streams"]["rows"]
    ax.plot([r["streams"] for r in rows], [r["peak_rss_mb"] for r in rows], "o-", label="peak RSS")
    ax.axhline(TARGET_RSS_MB, color="0.5", ls="--", lw=0.8, label="target (one process)")
    ax.set_xlabel("concurrent streams")
    ax.set_ylabel("peak RSS (MB)")
    ax.legend(fontsize=7)
    return common.save_figure(fig, out_dir / "startup_rss.png")


def report(data: dict) -> str:
    c, p = data["cold"]["cli"], data["cold"]["probe"]
    first = c["first_line_s"]
    s_verdict = "meets" if first <= TARGET_STARTUP_S else f"MISSES by {first - TARGET_STARTUP_S:.2f} s"
    rss = c["peak_rss_mb"]
    r_verdict = "meets" if rss <= TARGET_RSS_MB else f"MISSES by {rss - TARGET_RSS_MB:.0f} MB"
    lf, st = data["long_file"], data["streams"]
    kb, held = st["kb_per_stream"], st["held_bytes"]
    k_verdict = "meets" if kb <= TARGET_KB_PER_STREAM else f"MISSES by {kb - TARGET_KB_PER_STREAM:.0f} kB"
    return "\n".join([
        "## Cold start and memory",
        "",
        f"Median of {c['runs']} fresh processes.",
        "",
        common.md_table(["what", "value"], [
            ["`python -m realtime_ser.stream SAMPLE`: spawn → first event", f"{first:.3f} s"],
            ["  … of which bare interpreter start (`python -c`)", f"{data['cold']['bare_python']['first_line_s']:.3f} s"],
            ["  … import realtime_ser (probe)", f"{p['import_s']:.3f} s"],
            ["  … Engine() incl. model load (probe)", f"{p['engine_s']:.3f} s"],
            [f"  … audio until the first event ({p['audio_to_first_event_s']:.1f} s of audio, probe)",
             f"{p['first_event_s']:.3f} s"],
            ["CLI whole run on the sample", f"{c['wall_s']:.3f} s"],
            ["CLI peak RSS, sample (8 s)", f"{rss:.1f} MB"],
            [f"CLI peak RSS, {lf['audio_s']:.0f} s recording", f"{lf['peak_rss_mb']:.1f} MB"],
            [f"CLI on the {lf['audio_s']:.0f} s recording, wall per s of audio", f"{lf['ms_per_s']:.2f} ms"],
            ["RSS growth per extra stream", f"{st['kb_per_stream']:.0f} kB"],
        ]),
        "",
        f"- Start-up target ≤ {TARGET_STARTUP_S:.2f} s: {s_verdict} ({first:.3f} s).",
        f"- RSS target ≤ {TARGET_RSS_MB:.0f} MB for one stream: {r_verdict} ({rss:.0f} MB).",
        f"- RSS per extra stream target ≤ {TARGET_KB_PER_STREAM:.0f} kB: {k_verdict} ({kb:.0f} kB).",
        "",
        common.md_table(["streams", "peak RSS MB"], [[r["streams"], r["peak_rss_mb"]] for r in st["rows"]]),
        "",
        f"What one native stream holds (`OnlineStream.memory()`: sizeof plus heap capacity), new and after "
        f"{st['seconds_per_stream']:.0f} s of 100 ms chunks:",
        "",
        common.md_table(["owner", "new kB", "streaming kB"],
                        [[k, f"{held['new'][k] / 1024:.1f}", f"{held['streaming'][k] / 1024:.1f}"] for k in held["new"]]),
    ])


def run(quick: bool, out_dir: Path, runs: int | None = None) -> dict:
    runs = runs or (1 if quick else 5)
    print(f"startup: {runs} fresh processes per figure", file=sys.stderr)
    data = {"cold": cold_start(runs)}
    print("startup: long recording", file=sys.stderr)
    data["long_file"] = long_file_rss(20.0 if quick else 600.0)
    print("startup: RSS per stream", file=sys.stderr)
    counts = (0, 2) if quick else (0, 1, 10, 50, 100, 200)
    data["streams"] = rss_per_stream(counts, 1.0 if quick else 3.0)
    data["targets"] = {"startup_s": TARGET_STARTUP_S, "rss_mb": TARGET_RSS_MB, "kb_per_stream": TARGET_KB_PER_STREAM}
    data["plots"] = [plot(out_dir, data)]
    data["markdown"] = report(data)
    common.write_outputs(out_dir, "startup", data, data["markdown"])
    return data


def main(argv=None) -> int:
    ap = common.arg_parser("startup", __doc__)
    ap.add_argument("--runs", type=int, default=None, help="fresh processes per figure (default 5)")
    args = ap.parse_args(argv)
    data = run(args.quick, args.out, args.runs)
    print(data["markdown"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
