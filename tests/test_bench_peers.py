"""Smoke test of `python -m bench.peers --quick`: well-formed JSON, markdown and plot (no timings checked)."""

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
PEERS = ("opensmile", "torch_bilstm", "ssl_encoder", "process")


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory, emodb_wavs):
    out = tmp_path_factory.mktemp("peers")
    done = subprocess.run([sys.executable, "-m", "bench.peers", "--quick", "--out", str(out)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return out, json.loads((out / "peers.json").read_text()), done.stdout


def positive(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v > 0


def test_every_peer_ran_with_well_formed_rows(quick_run):
    _, data, _ = quick_run
    assert data["quick"] is True and data["repeats"] == 1
    assert set(PEERS) <= set(data["peers"])
    for name in PEERS:
        sec = data["peers"][name]
        assert "error" not in sec, f"{name}: {sec.get('error')}"
        assert isinstance(sec["ran"], str) and sec["ran"]
        assert sec["rows"], name
        for row in sec["rows"]:
            assert set(row) == {"what", "peer", "ours", "ratio"}
            assert positive(row["peer"]) and positive(row["ours"]), (name, row)
            assert row["ratio"] == pytest.approx(row["peer"] / row["ours"], rel=1e-9)


def test_section_details(quick_run):
    _, data, _ = quick_run
    p = data["peers"]
    assert {"ours", "ComParE_2016", "eGeMAPSv02"} <= set(p["opensmile"]["ms_per_s"])
    bilstm = p["torch_bilstm"]
    for side in ("peer", "ours"):
        assert positive(bilstm["ms_per_s"][side])
        assert {"p50", "p95", "p99", "max"} <= set(bilstm["latency_ms"][side])
    sanity = bilstm["sanity"]
    assert math.isfinite(sanity["max_abs_diff_vs_torch_offline"]) and isinstance(sanity["ok"], bool)
    ssl = p["ssl_encoder"]
    assert ssl["parameters"]["peer"] > 90e6 and ssl["parameters"]["ours"] > 0
    assert positive(ssl["ms_per_s"]["peer_sliding"])
    proc = p["process"]
    for k in ("peer", "ours", "ours_spikes"):
        run = proc["processes"][k]
        assert positive(run["first_line_s"]) and positive(run["wall_s"]) and positive(run["peak_rss_mb"])
        assert run["first_line"].startswith("{")
    assert '"features": 130' in proc["processes"]["peer"]["first_line"]  # the line may be cut at 200 chars
    assert set(proc["meets_targets"]) == {"compute_ms_per_s", "first_line_s", "peak_rss_mb"}


def test_markdown_and_plot(quick_run):
    out, data, stdout = quick_run
    md = (out / "peers.md").read_text()
    assert md.strip() == data["markdown"].strip()
    assert data["markdown"].strip() in stdout
    assert md.count("| what | peer | ours | peer/ours |") == len(PEERS)
    assert "Not run" not in md
    assert data["plots"] and all(name.startswith("peers_") and name.endswith(".png") for name in data["plots"])
    for name in data["plots"]:
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_figures_agree_with_direct_measurements(quick_run, emodb_wavs):
    """Against the same quantities measured here, outside the peers' formulas (loose factor 3)."""
    from realtime_ser import features, model
    from realtime_ser.audio import load

    _, data, _ = quick_run
    p = data["peers"]
    cfg = model.load(None).config  # 1-layer BiLSTM (two biases per gate) + linear output
    h, d, k = cfg.hidden, features.DIM, len(cfg.outputs)
    assert p["ssl_encoder"]["parameters"]["ours"] == 2 * (4 * h * d + 4 * h * h + 2 * 4 * h) + k * 2 * h + k
    direct = []
    for wav in emodb_wavs[:p["opensmile"]["files"]]:
        x = load(wav)
        features.extract(x, 16000)
        best = min(_timed(lambda: features.extract(x, 16000)) for _ in range(3))
        direct.append(1000.0 * best / (len(x) / 16000))
    ours = p["opensmile"]["ms_per_s"]["ours"]
    assert np.median(direct) / 3 <= ours <= 3 * np.median(direct), (ours, direct)


def _timed(fn) -> float:
    import time

    t = time.perf_counter()
    fn()
    return time.perf_counter() - t
