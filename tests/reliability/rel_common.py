"""Helpers of the reliability suite: tiny inputs made in the test, the CLIs run as subprocesses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[2]
BUNDLED = ROOT / "realtime_ser" / "models" / "default"
SAMPLE = ROOT / "realtime_ser" / "samples" / "speech.wav"  # 8 s of real speech, 16 kHz
ENV = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", NUMBA_NUM_THREADS="1",
           PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH", "")])))
STREAM = "realtime_ser.stream"
LIVE = "realtime_ser.live"
FEATURES = "realtime_ser.features"


def speechlike(seconds: float, rate: int = 16000, seed: int = 0) -> np.ndarray:
    """Voiced-ish bursts (harmonics of a gliding f0, syllable envelope) with pauses, float32."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    f0 = 140 + 40 * np.sin(2 * np.pi * 0.7 * t + seed)
    phase = 2 * np.pi * np.cumsum(f0) / rate
    voice = sum(np.sin(k * phase) / k for k in range(1, 8))
    envelope = np.clip(np.sin(2 * np.pi * 2.5 * t), 0, None) * (np.sin(2 * np.pi * 0.3 * t) > -0.3)
    x = 0.25 * voice * envelope + 0.003 * rng.standard_normal(t.size)
    return x.astype(np.float32)


def wav(path, seconds: float = 1.0, rate: int = 16000, seed: int = 0, subtype: str = "PCM_16", **kw) -> Path:
    path = Path(os.fsdecode(path))
    sf.write(os.fsencode(path), speechlike(seconds, rate, seed), rate, subtype=subtype, **kw)
    return path


def speech_wav(path, start: float = 0.0, seconds: float = 4.0, rate: int = 16000, channels: int = 1) -> Path:
    """A piece of the bundled speech sample (tiled if longer), at any rate and channel count."""
    import soxr

    x, sr = sf.read(SAMPLE, dtype="float32")
    need = int((start + seconds) * sr)
    x = np.tile(x, need // len(x) + 1)[int(start * sr):need]
    if rate != sr:
        x = soxr.resample(x, sr, rate).astype(np.float32)
    if channels > 1:
        x = np.stack([x * (1 - 0.1 * c) for c in range(channels)], axis=1)
    path = Path(os.fsdecode(path))
    sf.write(os.fsencode(path), x, rate, subtype="PCM_16")
    return path


def strict_json(line: str):
    def no_constant(name):
        raise ValueError(f"{name} in the output: not JSON")

    return json.loads(line, parse_constant=no_constant)


@dataclass
class Result:
    code: int
    stdout: bytes
    stderr: str

    @property
    def events(self) -> list[dict]:
        """stdout as JSON Lines: strict UTF-8, strict JSON (no NaN), one object per line."""
        text = self.stdout.decode("utf-8")
        assert text == "" or text.endswith("\n"), "the last line is not terminated"
        out = [strict_json(line) for line in text.splitlines()]
        assert all(isinstance(e, dict) and "type" in e for e in out)
        return out

    def of(self, kind: str, source: str | None = None) -> list[dict]:
        return [e for e in self.events if e["type"] == kind and (source is None or e["source"] == source)]


def run(module: str, *args, stdin=None, env=None, timeout: float = 120, **kw) -> Result:
    """Run `python -m module args...`; checks what every run must satisfy (no traceback, valid JSON Lines)."""
    proc = subprocess.run([sys.executable, "-m", module, *map(os.fsdecode, args)], input=stdin,
                          capture_output=True, env=env or ENV, timeout=timeout, **kw)
    result = Result(proc.returncode, proc.stdout, proc.stderr.decode("utf-8", "backslashreplace"))
    assert "Traceback" not in result.stderr, result.stderr
    result.events  # noqa: B018 - valid JSON Lines, or AssertionError/ValueError
    return result


def results_by_source(result: Result) -> dict[str, list[dict]]:
    """Each source's events, without timing fields, in order."""
    out: dict[str, list[dict]] = {}
    for e in result.events:
        e = {k: v for k, v in e.items() if k != "latency_s"}
        out.setdefault(e["source"], []).append(e)
    return out


def one_line(stderr: str) -> str:
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, stderr
    return lines[0]
