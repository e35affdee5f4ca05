"""WebSocket server capacity: N concurrent real-time clients against one `realtime_ser.serve` process.

    python -m bench.serve [--quick] [--out DIR] [--seconds S] [--clients N ...]

Start-to-ready: spawn `python -m realtime_ser.serve` -> first 200 on /healthz, median of runs.

Capacity: for each N (ascending, stopping after the first miss, then up to 3 bisection
steps between the last pass and the miss) N clients connect to a fresh
server and each streams its own EmoDB sequence (utterances back to back, its own start
offset) in 100 ms binary messages at real-time pace for S seconds, then eof. Each client
notes when it sent each block; an event's latency is its arrival at the client minus the
send time of the block holding the event's audio (spike: its frame's end; segment, partial,
utterance: their end; a segment closes only after endpoint_ms of Null, so its reference is
end + endpoint_ms, or the end of the audio). N is sustained when the p99 event latency is at
most the engine's algorithmic latency (chunk + right context + feature lookahead) + 100 ms
and no event is lost (each client's segments and utterance equal the engine's in process).
Server RSS (VmHWM) and CPU time per stream come from /proc of the server process.

The clients run in this process (asyncio), on the same machine: their CPU competes with the
server's, so the figure is a lower bound for a server with the machine to itself.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from bench import common

import numpy as np  # noqa: E402

TARGET_CLIENTS = 150
TARGET_READY_S = 1.0
SLACK_MS = 100.0
GRID = (25, 50, 100, 150, 200, 250, 300, 400)
BLOCK = 1600  # 100 ms


class ServerProc:
    """A server on a free port; `ready_s` is spawn -> /healthz 200."""

    def __init__(self, max_streams: int, tick_ms: int = 20) -> None:
        env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
        t0 = time.perf_counter()
        self.proc = subprocess.Popen([sys.executable, "-m", "realtime_ser.serve", "--port", "0", "--max-streams",
                                      str(max_streams), "--idle-timeout-s", "60", "--tick-ms", str(tick_ms)], cwd=common.REPO_ROOT, env=env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        line = self.proc.stderr.readline()
        if "ws://" not in line:
            raise RuntimeError(f"server did not start: {line}{self.proc.stderr.read()}")
        self.port = int(line.split("ws://", 1)[1].split("/", 1)[0].rsplit(":", 1)[1])
        while not self._healthy():
            time.sleep(0.005)
        self.ready_s = time.perf_counter() - t0

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=2) as r:
                return r.status == 200
        except OSError:
            return False

    def cpu_s(self) -> float:
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def peak_rss_mb(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
        return float("nan")

    def stop(self) -> int:
        self.proc.terminate()
        rc = self.proc.wait(timeout=60)
        self.proc.stderr.close()
        return rc


def startup(runs: int) -> dict:
    times = []
    for _ in range(runs):
        s = ServerProc(10)
        times.append(s.ready_s)
        s.stop()
    return {"runs": runs, "ready_s_median": common.median(times), "ready_s_max": max(times)}


def sequences(seconds: float, k: int) -> list[np.ndarray]:
    """k different audio sequences of `seconds` each (EmoDB from k offsets)."""
    x = common.session_audio(seconds * 2 + 60)
    step = int(7.3 * common.SAMPLE_RATE)
    n = int(seconds * common.SAMPLE_RATE)
    return [x[(i * step) % (x.size - n):][:n] for i in range(k)]


def reference(x: np.ndarray) -> list[dict]:
    """Segments and utterance of the engine in process."""
    from realtime_ser.engine import Engine, EngineConfig

    engine = Engine(EngineConfig())
    s = engine.create_stream("ref")
    for i in range(0, x.size, BLOCK):
        s.accept_waveform(common.SAMPLE_RATE, x[i:i + BLOCK])
        engine.decode(engine.ready([s]))
    s.input_finished()
    engine.decode([s])
    return [_decision(e.to_dict()) for e in s.events() if e.type in ("segment", "utterance")]


def _decision(event: dict) -> dict:
    return {k: event[k] for k in ("type", "start", "end", "emotion")}


async def client(url: str, x: np.ndarray, start_delay: float) -> dict:
    from websockets.asyncio.client import connect

    await asyncio.sleep(start_delay)
    sent, events, ready = [], [], {}
    async with connect(url, max_size=None, open_timeout=60) as ws:
        await ws.send(json.dumps({"sample_rate": common.SAMPLE_RATE, "format": "f32le"}))

        async def receive():
            async for message in ws:
                events.append((time.monotonic(), json.loads(message)))

        reader = asyncio.create_task(receive())
        t0 = time.monotonic()
        for k, i in enumerate(range(0, x.size, BLOCK)):
            await asyncio.sleep(max(0.0, t0 + k * 0.1 - time.monotonic()))
            await ws.send(x[i:i + BLOCK].tobytes())
            sent.append(time.monotonic())
        await ws.send(json.dumps({"eof": True}))
        await reader
        code = ws.close_code
    ready = next((e for _, e in events if e["type"] == "ready"), {})
    return {"sent": sent, "events": [(t, e) for t, e in events if e["type"] != "ready"], "code": code,
            "ready": ready}


def latencies_ms(result: dict) -> list[float]:
    """Per event: arrival minus the send time of the block whose audio let it be produced."""
    out, sent = [], result["sent"]
    endpoint_s = result["ready"]["endpoint_ms"] / 1000.0
    duration = len(sent) * 0.1
    for t, e in result["events"]:
        if e["type"] == "spike":
            audio_t = e["time"] + 0.01
        elif e["type"] == "segment":  # closed by endpoint_ms of Null after its end, or by the eof
            audio_t = min(e["end"] + endpoint_s, duration)
        else:
            audio_t = e.get("end")
        if audio_t is None:
            continue
        k = min(len(sent) - 1, max(0, int(np.ceil(round(audio_t / 0.1, 6))) - 1))
        out.append(1000.0 * (t - sent[k]))
    return out


def measure(n: int, audio: list[np.ndarray], refs: list[list[dict]], tick_ms: int = 20) -> dict:
    server = ServerProc(n + 10, tick_ms)
    url = f"ws://127.0.0.1:{server.port}/ws"
    cpu0, t0 = server.cpu_s(), time.monotonic()

    async def fleet():
        return await asyncio.gather(*[client(url, audio[i % len(audio)], 0.1 * i / n) for i in range(n)],
                                    return_exceptions=True)

    results = asyncio.run(fleet())
    wall = time.monotonic() - t0
    cpu = server.cpu_s() - cpu0
    rss = server.peak_rss_mb()
    server.stop()
    lost, failed, lat = 0, 0, []
    for i, r in enumerate(results):
        if isinstance(r, BaseException) or r["code"] != 1000:
            failed += 1
            lost += len(refs[i % len(refs)])
            continue
        got = [_decision(e) for _, e in r["events"] if e["type"] in ("segment", "utterance")]
        want = refs[i % len(refs)]
        lost += sum(1 for e in want if e not in got)
        lat += latencies_ms(r)
    ok = [r for r in results if not isinstance(r, BaseException) and r["ready"]]
    algo = _algorithmic_ms(ok[0]["ready"]) if ok else float("nan")
    stats = common.percentiles(lat)
    return {"clients": n, "failed_clients": failed, "events_lost": lost, "events": len(lat), **stats,
            "algorithmic_ms": algo, "server_peak_rss_mb": rss, "server_cpu_s": cpu, "wall_s": wall,
            "cpu_percent_per_stream": 100.0 * cpu / wall / n,
            "sustained": lost == 0 and failed == 0 and stats["p99"] <= algo + SLACK_MS}


def _algorithmic_ms(ready: dict) -> float:
    from realtime_ser import features

    return ready["chunk_ms"] + ready["right_context_ms"] + 1000.0 * features.LOOKAHEAD_S


def report(data: dict) -> str:
    rows = [[r["clients"], r["p50"], r["p99"], r["max"], r["algorithmic_ms"] + SLACK_MS, r["events_lost"],
             r["failed_clients"], r["server_peak_rss_mb"], r["cpu_percent_per_stream"],
             "yes" if r["sustained"] else "no"] for r in data["grid"]]
    s = data["startup"]
    cap = data["capacity_clients"]
    return "\n".join([
        "## WebSocket server (realtime_ser.serve)", "",
        f"{data['seconds']:.0f} s of real-time audio per client, 100 ms messages, server --tick-ms {data['tick_ms']}; clients in the bench process on "
        f"the same machine. Sustained = p99 event latency ≤ algorithmic + {SLACK_MS:.0f} ms and no event lost.", "",
        common.md_table(["clients", "p50 ms", "p99 ms", "max ms", "p99 budget ms", "events lost", "failed clients",
                         "server peak RSS MB", "server CPU % per stream", "sustained"], rows), "",
        f"- **{cap} concurrent real-time clients** sustained; target ≥ {TARGET_CLIENTS}: "
        f"{'meets' if cap >= TARGET_CLIENTS else 'MISSES'}.",
        f"- start-to-ready (spawn -> /healthz 200): median {s['ready_s_median']:.3f} s, max {s['ready_s_max']:.3f} s "
        f"over {s['runs']} runs; target ≤ {TARGET_READY_S:.0f} s: "
        f"{'meets' if s['ready_s_median'] <= TARGET_READY_S else 'MISSES'}.",
        f"- load average at the start: {data['loadavg']}."])


def run(quick: bool, out_dir: Path, seconds: float | None = None, clients: tuple[int, ...] | None = None,
        tick_ms: int = 20) -> dict:
    seconds = seconds or (2.0 if quick else 5.0)
    grid = clients or ((2,) if quick else GRID)
    loadavg = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    data = {"seconds": seconds, "tick_ms": tick_ms, "startup": startup(2 if quick else 5), "loadavg": loadavg}
    audio = sequences(seconds, 4 if quick else 16)
    refs = [reference(x) for x in audio]
    rows, cap, fail = [], 0, None

    def point(n: int) -> bool:
        r = measure(n, audio, refs, tick_ms)
        rows.append(r)
        print(f"serve: {n} clients p99 {r['p99']:.0f} ms (budget {r['algorithmic_ms'] + SLACK_MS:.0f}), "
              f"lost {r['events_lost']}, failed {r['failed_clients']}", file=sys.stderr)
        return r["sustained"]

    for n in grid:
        if not point(n):
            fail = n
            break
        cap = n
    for _ in range(0 if quick or clients else 3):  # bisection between the last pass and the first miss
        if fail is None or fail - cap <= max(2, cap // 20):
            break
        mid = (cap + fail) // 2
        cap, fail = (mid, fail) if point(mid) else (cap, mid)
    rows.sort(key=lambda r: r["clients"])
    data.update(grid=rows, capacity_clients=cap, target_clients=TARGET_CLIENTS)
    data["markdown"] = report(data)
    common.write_outputs(out_dir, "serve", data, data["markdown"])
    return data


def main(argv=None) -> int:
    ap = common.arg_parser("serve", __doc__)
    ap.add_argument("--seconds", type=float, default=None, help="audio per client (default 5)")
    ap.add_argument("--clients", type=int, nargs="+", default=None, help=f"client counts (default {GRID})")
    ap.add_argument("--tick-ms", type=int, default=20, help="the server's --tick-ms (default 20)")
    args = ap.parse_args(argv)
    data = run(args.quick, args.out, args.seconds, tuple(args.clients) if args.clients else None, args.tick_ms)
    print(data["markdown"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
