"""Peers measured in the same run as ours, each as a ratio peer / ours (single thread).

    python -m bench.peers [--quick] [--out DIR] [--repeats R] [--limit N]

1. openSMILE ComParE_2016 / eGeMAPSv02 LLDs vs our `features.extract`.
2. A plain torch BiLSTM (the bundled weights) rerun on every [100 ms chunk + 200 ms right
   context] window vs our `StreamingBiLstm(model, 10, 20)` fed chunk by chunk.
3. A wav2vec2-base-sized encoder (random weights, no download) vs our whole engine.
4. The peer pipeline as a process (`python -m bench.peer_pipeline`) vs
   `python -m realtime_ser.stream`: start-up to first line, wall, peak RSS.

Every figure is a median over repeats of this run, on the same EmoDB audio for both sides.
Writes peers.json, peers.md and peers_ms_per_s.png to --out.
"""

from __future__ import annotations

from bench import common, process  # common sets the single-thread environment first

import sys  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from tqdm import tqdm  # noqa: E402

CHUNK, RIGHT = 10, 20      # frames: 100 ms chunks, 200 ms right context
HOP = 1600                 # samples: 100 ms
WINDOW = 16000             # samples: the SSL model's sliding 1 s window
ISSUE_PEER = {"compute_ms_per_s": 30.3, "first_line_s": 2.1, "peak_rss_mb": 339.0}
TARGET = {"compute_ms_per_s": 3.0, "first_line_s": 1.0, "peak_rss_mb": 150.0}
PLOT = "peers_ms_per_s.png"


# ---------------------------------------------------------------- helpers

def row(what: str, peer: float, ours: float) -> dict:
    peer, ours = float(peer), float(ours)
    return {"what": what, "peer": peer, "ours": ours, "ratio": peer / ours}


def percentiles(times_s: list[float]) -> dict:
    return common.percentiles([1000.0 * t for t in times_s])


def one_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0] if text else ''}"[:300]


def guarded(name: str, fn, *args) -> dict:
    """fn(*args), or {"error": one line} if it raises (the traceback goes to stderr)."""
    print(f"peers: {name}...", file=sys.stderr)
    try:
        return fn(*args)
    except Exception as err:  # one peer must not stop the others
        traceback.print_exc(file=sys.stderr)
        return {"error": one_line(err)}


def progress(it, desc: str):
    return tqdm(it, desc=f"peers: {desc}", unit="file", file=sys.stderr, leave=False)


def torch_setup():
    import torch

    from bench.peer_pipeline import single_thread

    single_thread()
    return torch


def engine_pass(engine, x: np.ndarray) -> list[float]:
    """x through a fresh stream in 100 ms chunks; seconds of each call (the last: the flush)."""
    from bench.latency import chunk_times

    return (chunk_times(engine, x, 1000 * HOP // common.SAMPLE_RATE, flush=True) / 1000.0).tolist()


# ---------------------------------------------------------------- 1. openSMILE

def extractors() -> dict:
    import opensmile

    from realtime_ser import features

    def smile(feature_set):
        s = opensmile.Smile(feature_set=feature_set, feature_level=opensmile.FeatureLevel.LowLevelDescriptors)
        return lambda x: s.process_signal(x, common.SAMPLE_RATE)

    return {"ours": lambda x: features.extract(x, common.SAMPLE_RATE),
            "ComParE_2016": smile(opensmile.FeatureSet.ComParE_2016),
            "eGeMAPSv02": smile(opensmile.FeatureSet.eGeMAPSv02)}


def opensmile_peer(files: list[Path], repeats: int) -> dict:
    fns = extractors()
    x0 = common.load_16k(files[0])
    for fn in fns.values():  # untimed first call: page in, JIT, allocate
        fn(x0)
    per_file = {k: [] for k in fns}
    audio_s = 0.0
    for path in progress(files, "openSMILE"):
        x = common.load_16k(path)
        dur = x.size / common.SAMPLE_RATE
        audio_s += dur
        for k, fn in fns.items():  # interleaved, so drift hits both sides alike
            per_file[k].append(1000.0 * common.best_time(lambda: fn(x), repeats) / dur)
    ms = {k: common.median(v) for k, v in per_file.items()}
    return {
        "ran": ("opensmile.Smile(feature_set, feature_level=LowLevelDescriptors).process_signal(x, 16000) "
                "vs realtime_ser.features.extract(x, 16000) (238 dims incl. deltas)"),
        "files": len(files), "audio_s": audio_s, "repeats": repeats, "ms_per_s": ms,
        "rows": [row("ComParE_2016 LLDs (65), ms compute / s audio", ms["ComParE_2016"], ms["ours"]),
                 row("eGeMAPSv02 LLDs (25), ms compute / s audio", ms["eGeMAPSv02"], ms["ours"])],
    }


# ---------------------------------------------------------------- 2. torch BiLSTM

def torch_bilstm(m):
    """nn.LSTM(238, 128, bidirectional) + nn.Linear(256, 5) with the bundled model's weights."""
    from safetensors.torch import load_file

    from bench.peer_pipeline import TorchBiLstm
    from realtime_ser import model as model_lib

    net = TorchBiLstm(m.config.input_dim, m.config.hidden, len(m.config.outputs))
    net.load_state_dict(load_file(str(m.path / model_lib.WEIGHTS_FILE)), strict=True)
    return net.eval()


def naive_chunks(torch, net, feats: np.ndarray):
    """Rerun the module on every [chunk + right context] window; no state kept."""
    times, outs = [], []
    with torch.inference_mode():
        for i in range(0, len(feats), CHUNK):
            t = time.perf_counter()
            z = net(torch.from_numpy(feats[i:i + CHUNK + RIGHT])[None])[0, :CHUNK].numpy()
            times.append(time.perf_counter() - t)
            outs.append(z)
    return times, np.concatenate(outs)


def ours_chunks(lstm, feats: np.ndarray):
    """accept() per 100 ms chunk, then finish(); seconds of each call."""
    lstm.reset()
    times, outs = [], []
    for i in range(0, len(feats), CHUNK):
        t = time.perf_counter()
        outs.append(lstm.accept(feats[i:i + CHUNK]))
        times.append(time.perf_counter() - t)
    t = time.perf_counter()
    outs.append(lstm.finish())
    times.append(time.perf_counter() - t)
    return times, np.concatenate(outs)


def bilstm_peer(files: list[Path], repeats: int) -> dict:
    from realtime_ser import features, model
    from realtime_ser.lstm import StreamingBiLstm

    torch = torch_setup()
    m = model.load(None)
    net = torch_bilstm(m)
    lstm = StreamingBiLstm(m, CHUNK, RIGHT)
    offline = StreamingBiLstm(m, None)
    feats = [m.normalize(features.extract(common.load_16k(p), common.SAMPLE_RATE)) for p in files]
    durs = [len(f) / 100.0 for f in feats]
    naive_chunks(torch, net, feats[0])  # warm both
    ours_chunks(lstm, feats[0])

    ms = {"peer": [[] for _ in feats], "ours": [[] for _ in feats]}
    lat = {"peer": [], "ours": []}
    naive_diff = 0.0
    for r in range(repeats):
        calls = {"peer": [], "ours": []}
        for i, f in enumerate(progress(feats, f"torch BiLSTM {r + 1}/{repeats}")):
            t_peer, z_peer = naive_chunks(torch, net, f)
            t_ours, z_ours = ours_chunks(lstm, f)
            for k, t in (("peer", t_peer), ("ours", t_ours)):
                calls[k] += t
                ms[k][i].append(1000.0 * sum(t) / durs[i])
            naive_diff = max(naive_diff, float(np.abs(z_peer - z_ours).max()))
        for k in lat:
            lat[k].append(percentiles(calls[k]))

    offline_diff = 0.0
    with torch.inference_mode():
        for f in feats:
            ref = net(torch.from_numpy(f)[None])[0].numpy()
            got = np.concatenate([offline.accept(f), offline.finish()])
            offline_diff = max(offline_diff, float(np.abs(ref - got).max()))

    per_s = {k: common.median([min(v) for v in ms[k]]) for k in ms}
    lat = {k: common.median_of(v) for k, v in lat.items()}
    rows = [row("ms compute / s audio", per_s["peer"], per_s["ours"])]
    rows += [row(f"per-chunk latency {q} (ms)", lat["peer"][q], lat["ours"][q]) for q in ("p50", "p95", "p99", "max")]
    return {
        "ran": ("peer: torch.nn.LSTM(238, 128, bidirectional=True) + nn.Linear(256, 5), bundled weights, "
                "eval + inference_mode, called once per 100 ms chunk on [chunk + 200 ms right context] "
                "from zero state (the naive path reruns the window; no forward state is carried). "
                "ours: StreamingBiLstm(model, 10, 20).accept() per chunk, then finish(). "
                "Same normalised features; features not timed."),
        "files": len(files), "audio_s": float(sum(durs)), "repeats": repeats,
        "ms_per_s": per_s, "latency_ms": lat,
        "sanity": {"max_abs_diff_vs_torch_offline": offline_diff, "tolerance": 1e-4,
                   "ok": offline_diff <= 1e-4, "naive_vs_ours_max_abs_diff": naive_diff},
        "rows": rows,
    }


# ---------------------------------------------------------------- 3. SSL encoder

def wav2vec2_base():
    import transformers
    from transformers import Wav2Vec2Config, Wav2Vec2Model

    transformers.logging.set_verbosity_error()
    cfg = Wav2Vec2Config()  # the defaults are wav2vec2-base
    return Wav2Vec2Model(cfg).eval(), cfg, transformers.__version__


def gflop_1s(torch, net) -> float:
    """FLOPs of one 1 s call (torch's FlopCounterMode; weight norm folded first)."""
    from torch.nn.utils import parametrize
    from torch.utils.flop_counter import FlopCounterMode

    for mod in net.modules():
        if parametrize.is_parametrized(mod):
            for name in list(mod.parametrizations):
                parametrize.remove_parametrizations(mod, name)
    counter = FlopCounterMode(display=False)
    with torch.inference_mode(), counter:
        net(torch.zeros(1, WINDOW))
    return counter.get_total_flops() / 1e9


def ssl_peer(files: list[Path], repeats: int, n_windows: int) -> dict:
    from realtime_ser import model
    from realtime_ser.engine import Engine, EngineConfig

    torch = torch_setup()
    net, cfg, version = wav2vec2_base()
    engine = Engine(EngineConfig())
    xs = [common.load_16k(p) for p in files]
    durs = [x.size / common.SAMPLE_RATE for x in xs]
    windows = [(x, i) for x in xs for i in range(0, max(x.size - WINDOW, 0) + 1, HOP)][:n_windows]

    def call(x):
        with torch.inference_mode():
            net(torch.from_numpy(np.ascontiguousarray(x))[None])

    call(xs[0][:WINDOW])  # warm both
    engine_pass(engine, xs[0])
    whole = {"peer": [[] for _ in xs], "ours": [[] for _ in xs]}
    lat = {"peer": [], "ours": []}
    for r in range(repeats):
        ours_calls = []
        for i, x in enumerate(progress(xs, f"wav2vec2 {r + 1}/{repeats}")):
            t = time.perf_counter()
            call(x)
            whole["peer"][i].append(1000.0 * (time.perf_counter() - t) / durs[i])
            times = engine_pass(engine, x)
            ours_calls += times
            whole["ours"][i].append(1000.0 * sum(times) / durs[i])
        slide = []
        for x, i in windows:
            t = time.perf_counter()
            call(np.pad(x[i:i + WINDOW], (0, max(0, WINDOW - x[i:i + WINDOW].size))))
            slide.append(time.perf_counter() - t)
        lat["peer"].append(percentiles(slide))
        lat["ours"].append(percentiles(ours_calls))

    per_s = {k: common.median([min(v) for v in whole[k]]) for k in whole}
    lat = {k: common.median_of(v) for k, v in lat.items()}
    sliding = lat["peer"]["p50"] * 1000.0 / (1000.0 * HOP / common.SAMPLE_RATE)  # one call per 100 ms
    m = model.load(None)
    params = {"peer": sum(p.numel() for p in net.parameters()),
              "ours": int(sum(v.size for v in _weights(m).values()))}
    rows = [row("whole utterance, ms compute / s audio (ours: whole engine, 100 ms chunks)", per_s["peer"], per_s["ours"]),
            row("sliding 1 s window every 100 ms, ms compute / s audio (peer: p50 call x 10)", sliding, per_s["ours"])]
    rows += [row(f"per-call latency {q} (ms; peer: one 1 s window, ours: one 100 ms chunk)",
                 lat["peer"][q], lat["ours"][q]) for q in ("p50", "p95", "p99", "max")]
    rows.append(row("parameters", params["peer"], params["ours"]))
    out = {
        "ran": (f"peer: transformers {version} Wav2Vec2Model(Wav2Vec2Config()) = wav2vec2-base "
                f"({len(cfg.conv_dim)}-layer conv feature encoder, {cfg.num_hidden_layers} layers, "
                f"{cfg.hidden_size} hidden, {cfg.num_attention_heads} heads, {cfg.intermediate_size} FFN), "
                "random weights, eval + inference_mode, the cost of SSL recognisers (SpeechBrain's IEMOCAP "
                "wav2vec2 model, emotion2vec) without their heads. ours: Engine(EngineConfig()) "
                "(features + LC-BLSTM + CTC decoder + events) fed 100 ms chunks."),
        "files": len(files), "audio_s": float(sum(durs)), "repeats": repeats, "sliding_windows": len(windows),
        "ms_per_s": {**per_s, "peer_sliding": sliding}, "latency_ms": lat, "parameters": params,
        "rows": rows,
    }
    try:
        from bench.rtf import model_mflop_per_s

        fl = {"peer": gflop_1s(torch, net), "ours": model_mflop_per_s(engine)["total"] / 1000.0}
        out["gflop_per_s_audio"] = fl
        rows.append(row("GFLOP / s audio (peer: FlopCounterMode, 1 s; ours: LC-BLSTM matmuls, analytic)",
                        fl["peer"], fl["ours"]))
    except Exception as err:
        out["gflop_per_s_audio"] = {"error": one_line(err)}
    return out


def _weights(m) -> dict:
    from safetensors.numpy import load_file

    from realtime_ser import model as model_lib

    return load_file(str(m.path / model_lib.WEIGHTS_FILE))


# ---------------------------------------------------------------- 4. processes

def measure_commands(cmds: dict, runs: int) -> dict:
    """process.median_runs(cmd, runs) of each command, each primed once (untimed) first."""
    out = {}
    for k, cmd in tqdm(cmds.items(), desc="peers: processes", unit="cmd", file=sys.stderr, leave=False):
        if runs > 1:
            process.measure(cmd)
        out[k] = process.median_runs(cmd, runs)
    return out


def process_peer(path: Path, runs: int, repeats: int) -> dict:
    from bench import peer_pipeline
    from realtime_ser.engine import Engine, EngineConfig

    cmds = {
        "peer": [sys.executable, "-m", "bench.peer_pipeline", str(path)],
        "ours": [sys.executable, "-m", "realtime_ser.stream", "--quiet", "--no-spikes", str(path)],
        "ours_spikes": [sys.executable, "-m", "realtime_ser.stream", "--quiet", str(path)],
    }
    res = measure_commands(cmds, runs)

    # compute alone, in this process, on the same file: best of `repeats`
    peer_pipeline.single_thread()
    x = common.load_16k(path)
    dur = x.size / common.SAMPLE_RATE
    smile = peer_pipeline.make_smile()
    net = peer_pipeline.load_net(2 * len(smile.feature_names))
    engine = Engine(EngineConfig())
    peer_pipeline.decide(x, common.SAMPLE_RATE, smile, net)
    engine_pass(engine, x)
    compute = {"peer": 1000.0 * common.best_time(lambda: peer_pipeline.decide(x, common.SAMPLE_RATE, smile, net),
                                                  repeats) / dur,
               "ours": 1000.0 * common.best_time(lambda: engine_pass(engine, x), repeats) / dur}

    p, o, s = res["peer"], res["ours"], res["ours_spikes"]
    rows = [
        row("compute, ms / s audio (in this process, best of repeats)", compute["peer"], compute["ours"]),
        row("start-up to first output line, s (ours: --no-spikes)", p["first_line_s"], o["first_line_s"]),
        row("start-up to first output line, s (ours: with spikes)", p["first_line_s"], s["first_line_s"]),
        row("wall, s (ours: --no-spikes)", p["wall_s"], o["wall_s"]),
        row("peak RSS, MB (ours: --no-spikes)", p["peak_rss_mb"], o["peak_rss_mb"]),
        row("peak RSS, MB (ours: with spikes)", p["peak_rss_mb"], s["peak_rss_mb"]),
    ]
    ours = {"compute_ms_per_s": compute["ours"], "first_line_s": o["first_line_s"], "peak_rss_mb": o["peak_rss_mb"]}
    return {
        "ran": (f"peer: python -m bench.peer_pipeline {path.name} (imports opensmile + torch; ComParE_2016 LLDs "
                "+ numpy deltas = 130 columns, z-scored; a fresh nn.LSTM(130, 128, bidirectional) + "
                "Linear(256, 5) with RANDOM weights, since the paper's 238-input model cannot take 130; "
                "whole file; prints one JSON line). ours: python -m realtime_ser.stream --quiet "
                f"[--no-spikes] {path.name}. Fresh processes, median of {runs}."),
        "file": path.name, "audio_s": dur, "runs": runs, "repeats": repeats,
        "commands": {k: " ".join(v[1:]) for k, v in cmds.items()},
        "processes": res, "compute_ms_per_s": compute,
        "issue_peer": ISSUE_PEER, "targets": TARGET,
        "meets_targets": {k: ours[k] <= TARGET[k] for k in TARGET},
        "rows": rows,
    }


# ---------------------------------------------------------------- report

SECTIONS = {
    "opensmile": "1. openSMILE LLD extraction vs our features",
    "torch_bilstm": "2. Plain torch BiLSTM, naive per-chunk serving, vs our LC-BLSTM",
    "ssl_encoder": "3. wav2vec2-base-sized SSL encoder vs our whole engine",
    "process": "4. The peer pipeline as a process vs ours",
}


def section_md(key: str, sec: dict) -> list[str]:
    lines = [f"### {SECTIONS[key]}", ""]
    if "error" in sec:
        return lines + [f"Not run: `{sec['error']}`", ""]
    lines += [sec["ran"], ""]
    table = [[r["what"], r["peer"], r["ours"], f"{r['ratio']:.3g}×"] for r in sec["rows"]]
    lines += [common.md_table(["what", "peer", "ours", "peer/ours"], table), ""]
    if key == "torch_bilstm":
        s = sec["sanity"]
        lines.append(f"- Sanity: our offline BiLSTM vs the torch module on whole utterances, max |Δlogit| = "
                     f"{s['max_abs_diff_vs_torch_offline']:.2e} ({'ok' if s['ok'] else 'ABOVE'} 1e-4). "
                     f"The naive path's logits differ from ours by up to {s['naive_vs_ours_max_abs_diff']:.3g} "
                     "(it restarts the forward direction every window).")
    if key == "ssl_encoder":
        lines.append(f"- {sec['sliding_windows']} sliding windows per repeat; the sliding figure assumes one "
                     "1 s window per 100 ms hop (p50 call time x 10).")
    if key == "process":
        ref, tgt, ok = sec["issue_peer"], sec["targets"], sec["meets_targets"]
        lines.append(f"- The issue's peer, measured elsewhere: {ref['compute_ms_per_s']} ms/s compute, "
                     f"{ref['first_line_s']} s start-up, {ref['peak_rss_mb']:.0f} MB RSS.")
        kinds = {k: _event_type(v["first_line"]) for k, v in sec["processes"].items()}
        lines.append(f"- First output line: peer {kinds['peer']}; ours --no-spikes {kinds['ours']}; "
                     f"ours with spikes {kinds['ours_spikes']}.")
        lines.append("- Our targets (ours with --no-spikes): " + ", ".join(
            f"{k} ≤ {tgt[k]:g}: {'meets' if ok[k] else 'MISSES'}" for k in tgt) + ".")
    if key == "opensmile":
        lines.append(f"- {sec['files']} files, {sec['audio_s']:.1f} s of audio; median over files of best of "
                     f"{sec['repeats']}.")
    return lines + [""]


def _event_type(line: str) -> str:
    start = line.find('"type": "')
    return line[start + 9:].split('"', 1)[0] if start >= 0 else "?"


def report(data: dict) -> str:
    env = data["environment"]
    lines = ["## Peers measured in this run (single thread)", "",
             f"Median over repeats in one run ({data['repeats']} repeats{', quick' if data['quick'] else ''}); "
             "ratio = peer / ours, > 1 means ours is cheaper. "
             f"Python {env['python']}, torch {env.get('torch')}, transformers {env.get('transformers')}, "
             f"opensmile {env['opensmile']}, {env['cpu_count']} CPUs ({env['processor']}).", ""]
    for key in SECTIONS:
        lines += section_md(key, data["peers"][key])
    lines.append(f"![ms of compute per s of audio]({PLOT})")
    return "\n".join(lines)


def plot_bars(data: dict, path: Path) -> None:
    plt = common.pyplot()
    p = data["peers"]
    bars = []  # (label, ms/s, ours?)

    def add(key, label, side, value_key="ms_per_s"):
        sec = p[key]
        if "error" not in sec:
            bars.append((label, sec[value_key][side], side == "ours"))

    add("opensmile", "ours: features.extract", "ours")
    add("opensmile", "openSMILE ComParE_2016 LLDs", "ComParE_2016")
    add("opensmile", "openSMILE eGeMAPSv02 LLDs", "eGeMAPSv02")
    add("torch_bilstm", "ours: LC-BLSTM per chunk", "ours")
    add("torch_bilstm", "torch BiLSTM, naive per chunk", "peer")
    add("ssl_encoder", "ours: whole engine", "ours")
    add("ssl_encoder", "wav2vec2-base, whole utterance", "peer")
    add("ssl_encoder", "wav2vec2-base, 1 s window / 100 ms", "peer_sliding")
    add("process", "ours: engine, longest file", "ours", "compute_ms_per_s")
    add("process", "peer pipeline (openSMILE + torch)", "peer", "compute_ms_per_s")
    fig, ax = plt.subplots(figsize=(7, 0.35 * max(len(bars), 1) + 1.2))
    y = np.arange(len(bars))
    ax.barh(y, [b[1] for b in bars], color=["tab:green" if b[2] else "tab:gray" for b in bars])
    for yi, (_, v, _) in zip(y, bars):
        ax.text(v, yi, f" {v:.3g}" if v < 100 else f" {v:.0f}", va="center", fontsize=7)
    ax.set_xscale("log")
    if bars:
        values = [b[1] for b in bars]
        ax.set_xlim(0.5 * min(values), 4 * max(values))
    ax.set_yticks(y, [b[0] for b in bars], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("ms of compute per s of audio (log; green = ours)")
    ax.set_title("Peers measured in the same run, single thread", fontsize=9)
    common.save_figure(fig, path)


# ---------------------------------------------------------------- entry points

def environment() -> dict:
    env = common.environment()
    for name in ("torch", "transformers"):
        try:
            env[name] = __import__(name).__version__
        except ImportError:
            env[name] = None
    return env


def run(quick: bool, out_dir: Path, repeats: int | None = None, limit: int | None = None) -> dict:
    t0 = time.perf_counter()
    repeats = repeats or (1 if quick else 3)
    limit = limit or (2 if quick else 100)
    files = common.corpus_files(None, limit)
    ssl_files = files[: min(len(files), 2 if quick else 8)]
    longest = max(common.corpus_files(None), key=lambda p: p.stat().st_size)
    data = {"quick": quick, "repeats": repeats, "environment": environment(), "peers": {}}
    peers = data["peers"]
    peers["opensmile"] = guarded("openSMILE", opensmile_peer, files, repeats)
    peers["torch_bilstm"] = guarded("torch BiLSTM", bilstm_peer, files, repeats)
    peers["ssl_encoder"] = guarded("wav2vec2", ssl_peer, ssl_files, repeats, 3 if quick else 20)
    peers["process"] = guarded("processes", process_peer, longest, 1 if quick else 3, repeats)
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        plot_bars(data, out_dir / PLOT)
        data["plots"] = [PLOT]
    except Exception as err:
        traceback.print_exc(file=sys.stderr)
        data["plots"] = []
        data["plot_error"] = one_line(err)
    data["elapsed_s"] = time.perf_counter() - t0
    data["markdown"] = report(data)
    common.write_outputs(out_dir, "peers", data, data["markdown"])
    return data


def main(argv=None) -> int:
    ap = common.arg_parser("peers", __doc__, "tiny settings (smoke test: 2 files, 1 repeat)")
    ap.add_argument("--repeats", type=int, default=None, help="repeats (default 3, quick 1)")
    ap.add_argument("--limit", type=int, default=None,
                    help="EmoDB files for peers 1-2 (default 100, quick 2); peer 3 uses at most 8")
    args = ap.parse_args(argv)
    data = run(args.quick, args.out, args.repeats, args.limit)
    print(data["markdown"])
    print(f"\nwrote {args.out / 'peers.json'}, peers.md and {PLOT} ({data['elapsed_s']:.0f} s)", file=sys.stderr)
    return 0 if not any("error" in v for v in data["peers"].values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
