"""Shared helpers of the benches: single-thread setup, corpus discovery, timing, tables."""

from __future__ import annotations

import os

# Single thread everywhere; must run before numpy / numba are imported.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import json  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = REPO_ROOT.parent / "shared" / "corpora" / "emodb"
DEFAULT_OUT = REPO_ROOT / "bench" / "results"
SAMPLE_RATE = 16000


def corpus_files(corpus_dir: str | os.PathLike | None = None, limit: int | None = None) -> list[Path]:
    """EmoDB wavs in sorted order (read in place). `corpus_dir` may be the corpus root or its wav/."""
    root = Path(corpus_dir) if corpus_dir else DEFAULT_CORPUS
    wav_dir = root / "wav" if (root / "wav").is_dir() else root
    files = sorted(wav_dir.glob("*.wav"))
    if not files:
        raise SystemExit(f"no .wav files under {wav_dir} (use --corpus-dir)")
    return files[:limit] if limit else files


def load_16k(path: Path) -> np.ndarray:
    """Mono float32 16 kHz samples (EmoDB is already 16 kHz mono)."""
    from realtime_ser import audio

    x = audio.load(path)
    return np.ascontiguousarray(x.reshape(-1), dtype=np.float32)


def best_time(fn, repeats: int) -> float:
    """Minimum wall time of `repeats` calls of fn(), in seconds."""
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def median(xs) -> float:
    return float(statistics.median(xs)) if len(xs) else float("nan")


def md_table(headers: list[str], rows: list[list[object]]) -> str:
    def cell(v: object) -> str:
        if isinstance(v, float):
            if v != v:
                return "n/a"
            return f"{v:.4g}" if abs(v) < 1e4 else f"{v:.0f}"
        return str(v)

    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def environment() -> dict:
    import numba
    import opensmile

    from realtime_ser import features

    return {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "processor": platform.processor() or platform.uname().machine,
        "cpu_count": os.cpu_count(),
        "numpy": np.__version__,
        "numba": numba.__version__,
        "opensmile": opensmile.__version__,
        "features_version": features.VERSION,
        "threads": {v: os.environ.get(v) for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS")},
    }


def arg_parser(name: str, doc: str, quick_help: str = "tiny settings (smoke test)"):
    """The options every sub-benchmark has: --quick and --out."""
    import argparse

    ap = argparse.ArgumentParser(prog=f"python -m bench.{name}", description=doc.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help=quick_help)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    return ap


def write_outputs(out_dir: Path, stem: str, data: dict, markdown: str) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"{stem}.json").write_text(json.dumps(data, indent=2, default=float) + "\n")
    (out_dir / f"{stem}.md").write_text(markdown + "\n")


def session_audio(seconds: float, corpus_dir: str | os.PathLike | None = None) -> np.ndarray:
    """EmoDB utterances back to back (sorted order) until `seconds` of 16 kHz audio."""
    parts, total = [], 0
    for path in corpus_files(corpus_dir):
        x = load_16k(path)
        parts.append(x)
        total += x.size
        if total >= seconds * SAMPLE_RATE:
            break
    return np.concatenate(parts)[: int(seconds * SAMPLE_RATE)]


def percentiles(values_ms) -> dict:
    """p50 / p95 / p99 / max / mean of a list of milliseconds."""
    a = np.asarray(values_ms, np.float64)
    if not a.size:
        return {k: float("nan") for k in ("p50", "p95", "p99", "max", "mean")}
    p50, p95, p99 = np.percentile(a, [50, 95, 99])
    return {"p50": float(p50), "p95": float(p95), "p99": float(p99), "max": float(a.max()),
            "mean": float(a.mean())}


def median_of(dicts: list[dict]) -> dict:
    """Key-wise median of dicts with the same numeric keys (one per repeat)."""
    return {k: median([d[k] for d in dicts]) for k in dicts[0]}


def pyplot():
    """matplotlib.pyplot on the Agg backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    pyplot().close(fig)
    return path.name
