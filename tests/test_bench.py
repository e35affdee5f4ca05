"""CI smoke run of the benchmark suite: `python -m bench --quick` must run and write a
well-formed report. No timing is checked: quick settings measure nothing meaningful."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
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
    assert len(data["targets"]) == 8
    for row in data["targets"]:
        assert _finite(row["measured"]), row
        # a slope of RSS over streams may come out <= 0 at quick settings; every other figure is positive
        assert row["measured"] > 0 or row["target"] == "RSS per extra stream", row
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


# ---------------------------------------------------------------- against direct measurements
#
# The figures above only check relations that hold by definition. Here each is compared with
# the same work timed directly, in this process, with plain calls (best of a few runs), within
# a loose factor of 3 both ways (the quick run is one repeat on a busy machine).

RATE, CHUNK = 16000, 1600
FACTOR = 3.0


def best_ms(fn, repeats=3) -> float:
    best = math.inf
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return 1000.0 * best


def direct_rtf(x) -> dict:
    """ms per s of audio of the feature front end, the BiLSTM and the whole engine, 100 ms chunks."""
    from realtime_ser.engine import Engine, EngineConfig
    from realtime_ser.features import OnlineFeatures
    from realtime_ser.lstm import StreamingBiLstm

    engine = Engine(EngineConfig(chunk_ms=100))
    pieces = [x[i:i + CHUNK] for i in range(0, len(x), CHUNK)]
    frames = []

    def feats():
        f = OnlineFeatures()
        frames.clear()
        for p in pieces:
            f.accept_waveform(RATE, p)
            frames.append(f.pop_frames())

    def model():
        lstm = StreamingBiLstm(engine.model, engine.chunk_frames, engine.right_context_frames)
        norm = engine.new_normalizer()
        for fr in frames:
            lstm.accept(norm.process(fr))

    def whole():
        s = engine.create_stream("direct")
        for p in pieces:
            s.accept_waveform(RATE, p)
            engine.decode(engine.ready([s]))
            s.events()

    sec = len(x) / RATE
    whole()  # warm
    return {"features": best_ms(feats) / sec, "model": best_ms(model) / sec, "engine": best_ms(whole) / sec}


def direct_tick_ms(x, n_streams, ticks=6, warm=3) -> float:
    """Median compute of a 100 ms tick: every stream gets 100 ms, then one decode() for all."""
    from realtime_ser.engine import Engine, EngineConfig

    engine = Engine(EngineConfig(chunk_ms=100))
    streams = [engine.create_stream(str(i)) for i in range(n_streams)]
    offsets = [int(i * 1.37 * RATE) % (len(x) - (ticks + warm + 1) * CHUNK) for i in range(n_streams)]
    times = []
    for k in range(warm + ticks):
        t = time.perf_counter()
        for s, off in zip(streams, offsets):
            s.accept_waveform(RATE, x[off + k * CHUNK: off + (k + 1) * CHUNK])
        engine.decode(engine.ready(streams))
        for s in streams:
            s.events()
        times.append(1000.0 * (time.perf_counter() - t))
    return float(np.median(times[warm:]))


def within(measured, direct, what, factor=FACTOR):
    assert direct / factor <= measured <= direct * factor, f"{what}: bench {measured:.3g}, direct {direct:.3g}"


def test_figures_agree_with_direct_measurements(quick_run):
    from bench import common

    out, _ = quick_run
    r = json.loads((out / "results.json").read_text())["results"]
    x = common.session_audio(r["rtf"]["audio_s"])
    direct = direct_rtf(x)
    parts = r["rtf"]["ms_per_s"]
    for key in ("features", "model", "engine"):
        within(parts[key], direct[key], f"rtf {key} ms/s")
    # per-chunk compute at 100 ms chunks: its median over chunks times the chunks per second
    within(r["latency"]["compute"]["100"]["p50"] * 10, direct["engine"], "latency p50 x 10 chunks/s")
    # capacity: the grid's largest one-thread point, re-measured
    row = max(r["capacity"]["by_threads"]["1"]["grid"], key=lambda g: g["streams"])
    tick = direct_tick_ms(common.session_audio(8.0), row["streams"])
    within(row["p50"], tick, f"capacity p50 tick at {row['streams']} streams")
    assert row["sustained"] == (tick <= r["capacity"]["p99_budget_ms"])


def test_bench_features_cli_against_direct_timing(tmp_path, emodb_wavs):
    import soundfile as sf

    from realtime_ser import features
    from realtime_ser.audio import load

    proc = subprocess.run([sys.executable, "-m", "bench.features", "--limit", "2", "--repeats", "1",
                           "--startup-runs", "1", "--out", str(tmp_path)], cwd=REPO, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    data = json.loads((tmp_path / "features.json").read_text())
    methods = data["throughput"]["methods"]
    assert data["throughput"]["files"] == 2
    direct = []
    for wav in emodb_wavs[:2]:
        x = load(wav)
        features.extract(x, RATE)
        direct.append(best_ms(lambda: features.extract(x, RATE)) / (len(x) / RATE))
    # one repeat in a subprocess against a best-of here: only a unit or normalisation slip (>= 10x)
    # is a failure, not the load of a busy machine
    within(methods["native_full"]["median_ms_per_s"], float(np.median(direct)), "features.extract ms/s", 10)
    # the native core is part of the full extraction, so it cannot cost much more
    assert methods["native_core"]["median_ms_per_s"] <= FACTOR * methods["native_full"]["median_ms_per_s"]
    st = data["startup"]
    assert st["first_call_file"] == emodb_wavs[0].name
    assert st["first_call_audio_s"] == pytest.approx(sf.info(emodb_wavs[0]).frames / RATE)
    assert (tmp_path / "features.md").read_text().strip() in proc.stdout


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
