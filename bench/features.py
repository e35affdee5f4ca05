"""Feature-extraction throughput: native front end vs openSMILE, single thread.

    python -m bench.features [--limit N] [--repeats R] [--corpus-dir DIR] [--out DIR]

Per EmoDB file, best of R runs of each extractor; reported is the median over files of
milliseconds of compute per second of audio. Also: cold import time, numba compile / cache
load time, and the first-call cost of `features.extract`, each in a fresh subprocess.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import common  # sets the single-thread environment first

import numpy as np  # noqa: E402
from tqdm import tqdm  # noqa: E402

GOAL_MS_PER_S = 0.75
REFERENCE_COMPARE_MS_PER_S = 14.9  # the openSMILE ComParE figure

METHODS = {
    "native_full": "realtime_ser features.extract (238 dims, C++ descriptors and deltas)",
    "native_core": "_native.OnlineLld alone (121 base descriptors)",
    "opensmile_compare": "openSMILE ComParE_2016 LLDs",
    "opensmile_egemaps": "openSMILE eGeMAPSv02 LLDs",
}


def _extractors():
    import opensmile

    from realtime_ser import _native, features

    compare = opensmile.Smile(feature_set=opensmile.FeatureSet.ComParE_2016,
                              feature_level=opensmile.FeatureLevel.LowLevelDescriptors)
    egemaps = opensmile.Smile(feature_set=opensmile.FeatureSet.eGeMAPSv02,
                              feature_level=opensmile.FeatureLevel.LowLevelDescriptors)

    def core(x):
        lld = _native.OnlineLld()
        lld.accept_waveform(x)
        lld.input_finished()
        return lld.pop_frames()

    return {
        "native_full": lambda x: features.extract(x, common.SAMPLE_RATE),
        "native_core": core,
        "opensmile_compare": lambda x: compare.process_signal(x, common.SAMPLE_RATE),
        "opensmile_egemaps": lambda x: egemaps.process_signal(x, common.SAMPLE_RATE),
    }


def throughput(files: list[Path], repeats: int) -> dict:
    fns = _extractors()
    x0 = common.load_16k(files[0])
    for fn in fns.values():  # one untimed pass each: page in code, allocate
        fn(x0)
    per_file = {m: [] for m in fns}
    audio_s = 0.0
    for path in tqdm(files, desc="throughput", unit="file", file=sys.stderr):
        x = common.load_16k(path)
        dur = x.size / common.SAMPLE_RATE
        audio_s += dur
        for m, fn in fns.items():  # interleaved, so drift hits all methods alike
            per_file[m].append(1000.0 * common.best_time(lambda: fn(x), repeats) / dur)
    out = {"files": len(files), "audio_seconds": audio_s, "repeats": repeats, "methods": {}}
    for m, v in per_file.items():
        a = np.asarray(v)
        out["methods"][m] = {
            "description": METHODS[m],
            "median_ms_per_s": float(np.median(a)),
            "p10_ms_per_s": float(np.percentile(a, 10)),
            "p90_ms_per_s": float(np.percentile(a, 90)),
            "mean_ms_per_s": float(a.mean()),
        }
    return out


def _run_py(code: str, env_extra: dict | None = None, flags: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.update(env_extra or {})
    return subprocess.run([sys.executable, *flags, "-c", code], cwd=common.REPO_ROOT, env=env,
                          capture_output=True, text=True, check=True)


def _wall(code: str, env_extra: dict | None = None) -> float:
    t = time.perf_counter()
    _run_py(code, env_extra)
    return time.perf_counter() - t


def _probe(code: str, env_extra: dict | None = None) -> dict:
    return json.loads(_run_py(code, env_extra).stdout.strip().splitlines()[-1])


def startup_costs(sample: Path, runs: int = 3) -> dict:
    """Cold-start costs, each in a fresh interpreter (median of `runs`)."""
    _wall("import realtime_ser.features")  # prime the OS file cache once
    bare = [_wall("pass") for _ in range(runs)]
    imp = [_wall("import realtime_ser.features") for _ in range(runs)]
    importtime = []
    for _ in range(runs):
        err = _run_py("import realtime_ser.features", flags=("-X", "importtime")).stderr
        for line in err.splitlines():  # "import time: self | cumulative | name"
            parts = [p.strip() for p in line.split("|")]
            if len(parts) == 3 and parts[2] == "realtime_ser.features":
                importtime.append(int(parts[1]) / 1e6)

    warm_code = ("import json; from realtime_ser.features import kernels; "  # numba kernels of the batch path
                 "a = kernels.warm_up(); b = kernels.warm_up(); print(json.dumps([a, b]))")
    cold, cached = [], []
    for _ in range(runs):
        with tempfile.TemporaryDirectory(prefix="numba-cache-") as cache:
            env = {"NUMBA_CACHE_DIR": cache}
            cold.append(_probe(warm_code, env)[0])    # empty cache: compile (and write cache)
            cached.append(_probe(warm_code, env)[0])  # same cache: load
    default_cache = [_probe(warm_code)[0] for _ in range(runs)]

    first_code = (
        "import json, time; from bench.common import load_16k; from pathlib import Path; "
        f"x = load_16k(Path({str(sample)!r})); "
        "t = time.perf_counter(); from realtime_ser import features; t_imp = time.perf_counter() - t; "
        "t = time.perf_counter(); features.extract(x, 16000); a = time.perf_counter() - t; "
        "t = time.perf_counter(); features.extract(x, 16000); b = time.perf_counter() - t; "
        "print(json.dumps([t_imp, a, b, x.size / 16000]))")
    first = [_probe(first_code) for _ in range(runs)]
    with tempfile.TemporaryDirectory(prefix="numba-cache-") as cache:
        first_cold = _probe(first_code, {"NUMBA_CACHE_DIR": cache})

    med = common.median
    return {
        "runs": runs,
        "python_bare_s": med(bare),
        "import_features_wall_s": med(imp) - med(bare),
        "import_features_importtime_s": med(importtime),
        "numba_cold_compile_s": med(cold),
        "numba_cached_load_s": med(cached),
        "numba_warm_up_default_cache_s": med(default_cache),
        "first_extract_s": med([f[1] for f in first]),
        "second_extract_s": med([f[2] for f in first]),
        "first_extract_cold_numba_cache_s": first_cold[1],
        "first_call_file": sample.name,
        "first_call_audio_s": first[0][3],
    }


def report(tp: dict, st: dict, env: dict) -> str:
    m = tp["methods"]
    full = m["native_full"]["median_ms_per_s"]
    rows = []
    for k, v in m.items():
        rows.append([f"`{k}`", v["description"], v["median_ms_per_s"], v["p10_ms_per_s"], v["p90_ms_per_s"],
                     v["median_ms_per_s"] / full, 1000.0 / v["median_ms_per_s"]])
    r_c = m["opensmile_compare"]["median_ms_per_s"] / full
    r_e = m["opensmile_egemaps"]["median_ms_per_s"] / full
    lines = [
        "## Feature throughput (single thread)",
        "",
        f"{tp['files']} EmoDB files, {tp['audio_seconds']:.1f} s of audio, best of {tp['repeats']} per file; "
        "median over files of ms compute per s of audio.",
        "",
        common.md_table(["method", "what", "median ms/s", "p10", "p90", "× native_full", "× realtime"], rows),
        "",
        f"- openSMILE ComParE / native full = **{r_c:.1f}×**; eGeMAPS / native full = **{r_e:.1f}×** "
        f"(goal: native full ≤ {GOAL_MS_PER_S} ms/s and ≥ 20× ComParE; issue's ComParE figure "
        f"{REFERENCE_COMPARE_MS_PER_S} ms/s).",
        f"- native full {'meets' if full <= GOAL_MS_PER_S else 'MISSES'} the {GOAL_MS_PER_S} ms/s goal "
        f"({full:.3f} ms/s); ratio {'meets' if r_c >= 20 else 'MISSES'} the 20× goal ({r_c:.1f}×).",
        f"- numba deltas + Python wrapper on top of the core: "
        f"{full - m['native_core']['median_ms_per_s']:.3f} ms/s.",
        "",
        "## Start-up costs (fresh subprocess, median of %d)" % st["runs"],
        "",
        common.md_table(["what", "seconds"], [
            ["`import realtime_ser.features` (wall, minus bare `python -c pass`)", st["import_features_wall_s"]],
            ["`import realtime_ser.features` (`-X importtime` cumulative)", st["import_features_importtime_s"]],
            ["numba `warm_up()` cold compile (fresh NUMBA_CACHE_DIR)", st["numba_cold_compile_s"]],
            ["numba `warm_up()` cached load (same NUMBA_CACHE_DIR, 2nd process)", st["numba_cached_load_s"]],
            ["numba `warm_up()` with the default (repo) cache", st["numba_warm_up_default_cache_s"]],
            [f"first `extract` call ({st['first_call_file']}, {st['first_call_audio_s']:.2f} s audio)",
             st["first_extract_s"]],
            ["second `extract` call, same process", st["second_extract_s"]],
            ["first `extract` call with an empty numba cache", st["first_extract_cold_numba_cache_s"]],
        ]),
        "",
        f"Environment: Python {env['python']}, numpy {env['numpy']}, numba {env['numba']}, opensmile "
        f"{env['opensmile']}, features {env['features_version']}, {env['cpu_count']} CPUs ({env['processor']}).",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.features", description=__doc__.splitlines()[0])
    ap.add_argument("--corpus-dir", default=None, help=f"EmoDB root (default {common.DEFAULT_CORPUS})")
    ap.add_argument("--limit", type=int, default=None, help="only the first N files (sorted)")
    ap.add_argument("--repeats", type=int, default=3, help="runs per file and method; best is kept")
    ap.add_argument("--startup-runs", type=int, default=3, help="fresh processes per start-up measurement")
    ap.add_argument("--out", type=Path, default=common.DEFAULT_OUT)
    args = ap.parse_args(argv)

    files = common.corpus_files(args.corpus_dir, args.limit)
    env = common.environment()
    tp = throughput(files, max(1, args.repeats))
    print("measuring start-up costs (fresh subprocesses)...", file=sys.stderr)
    st = startup_costs(files[0], args.startup_runs)
    md = report(tp, st, env)
    print(md)
    common.write_outputs(args.out, "features", {"throughput": tp, "startup": st, "environment": env}, md)
    print(f"\nwrote {args.out / 'features.json'} and {args.out / 'features.md'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
