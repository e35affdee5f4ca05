"""Speech detection and speech-bounded segments, measured on EmoDB.

    python -m training.vad_eval [--corpus-dir ../shared/corpora] [--limit N] [--webrtcvad-path DIR]

1. Frame-level speech vs silence against EmoDB's phone labels (training.phones: voiced and
   unvoiced phones are speech; leading silence, pauses and what follows '.' are not):
   precision and recall of speech for the native SpeechDetector and, if importable, webrtcvad
   (mode 2, 10 ms frames; the same frame grid).
2. Segments per utterance through the whole engine with the bundled model (whole files):
   share with exactly one, none, two or more, for segments="spikes" (before) and "speech".
3. Synthetic 30 s inputs (silence, full-scale white noise, 200 Hz sine): the Utterance.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from realtime_ser import _native
from realtime_ser.engine import Engine, EngineConfig
from training import phones


def emodb_files(corpus_dir: Path, limit: int | None) -> list[tuple[Path, Path]]:
    root = corpus_dir / "emodb"
    out = []
    for wav in sorted((root / "wav").glob("*.wav")):
        lab = root / "lablaut" / f"{wav.stem}xx.lablaut"
        if lab.exists() and phones.has_labels(lab):
            out.append((wav, lab))
    return out[:limit] if limit else out


def frame_scores(pairs, webrtc) -> dict[str, tuple[int, int, int]]:
    """Per detector: (true positive, false positive, false negative) speech frames."""
    counts = {"SpeechDetector": np.zeros(3, np.int64)}
    if webrtc is not None:
        counts["webrtcvad mode 2"] = np.zeros(3, np.int64)
    for wav, lab in pairs:
        x, rate = sf.read(wav, dtype="float32")
        lld = _native.OnlineLld()
        lld.accept_waveform(x)
        lld.input_finished()
        frames = lld.pop_frames()
        ref = phones.frame_kinds(lab, len(frames), as_index=True) > 0
        hyps = {"SpeechDetector": _native.SpeechDetector().accept_frames(frames).astype(bool)}
        if webrtc is not None:
            hyps["webrtcvad mode 2"] = webrtc_flags(webrtc, x, len(frames))
        for name, hyp in hyps.items():
            counts[name] += [(hyp & ref).sum(), (hyp & ~ref).sum(), (~hyp & ref).sum()]
    return counts


def webrtc_flags(webrtc, x: np.ndarray, n: int) -> np.ndarray:
    vad = webrtc.Vad(2)
    pcm = (np.clip(x, -1, 1) * 32767).astype("<i2")
    out = np.zeros(n, bool)
    for t in range(min(n, len(pcm) // 160)):
        out[t] = vad.is_speech(pcm[t * 160:(t + 1) * 160].tobytes(), 16000)
    return out


def decode(engine: Engine, x: np.ndarray, rate: int, source: str):
    s = engine.create_stream(source)
    s.accept_waveform(rate, x)
    s.input_finished()
    while engine.ready([s]):
        engine.decode([s])
    return s.events()


def segment_shares(pairs, mode: str) -> tuple[dict[str, float], float]:
    engine = Engine(EngineConfig(segments=mode, spikes=False))
    n = []
    no_spike = 0
    for wav, _ in pairs:
        x, rate = sf.read(wav, dtype="float32")
        segs = [e for e in decode(engine, x, rate, wav.stem) if e.type == "segment"]
        n.append(len(segs))
        no_spike += sum(e.reason == "no spike" for e in segs)
    n = np.array(n)
    return {"one": np.mean(n == 1), "none": np.mean(n == 0), "two+": np.mean(n >= 2)}, no_spike


def synthetic() -> list[tuple[str, str]]:
    rate, secs = 16000, 30
    t = np.arange(rate * secs) / rate
    rng = np.random.default_rng(0)
    inputs = {"silence 30 s": np.zeros(rate * secs, np.float32),
              "white noise full scale 30 s": rng.uniform(-1, 1, rate * secs).astype(np.float32),
              "200 Hz sine 0.5 30 s": (0.5 * np.sin(2 * np.pi * 200 * t)).astype(np.float32)}
    engine = Engine(EngineConfig())
    out = []
    for name, x in inputs.items():
        utt = [e for e in decode(engine, x, rate, name) if e.type == "utterance"][0]
        out.append((name, utt.to_json()))
    return out


def import_webrtcvad():
    """webrtcvad if installed, else None. Its module asks pkg_resources for its version only."""
    try:
        import pkg_resources  # noqa: F401
    except ImportError:
        import types
        stub = types.ModuleType("pkg_resources")
        stub.get_distribution = lambda name: types.SimpleNamespace(version="unknown")
        sys.modules["pkg_resources"] = stub
    try:
        import webrtcvad
    except ImportError:
        return None
    return webrtcvad


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.vad_eval", description=__doc__.split("\n")[1])
    p.add_argument("--corpus-dir", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "corpora")
    p.add_argument("--limit", type=int, default=None, help="first N labelled EmoDB files (default all)")
    p.add_argument("--webrtcvad-path", default=None, help="a folder to import webrtcvad from")
    args = p.parse_args(argv)
    if args.webrtcvad_path:
        sys.path.insert(0, args.webrtcvad_path)
    webrtcvad = import_webrtcvad()
    pairs = emodb_files(args.corpus_dir, args.limit)
    print(f"EmoDB: {len(pairs)} labelled files")
    t0 = time.monotonic()
    print("\n| detector | speech precision | speech recall |\n|---|---|---|")
    for name, (tp, fp, fn) in frame_scores(pairs, webrtcvad).items():
        print(f"| {name} | {tp / max(tp + fp, 1):.3f} | {tp / max(tp + fn, 1):.3f} |")
    if webrtcvad is None:
        print("(webrtcvad not importable: not compared)")
    print(f"({time.monotonic() - t0:.1f} s)")
    print("\n| segments | exactly one | none | two or more | segments without a spike |\n|---|---|---|---|---|")
    for mode in ("spikes", "speech"):
        t0 = time.monotonic()
        shares, no_spike = segment_shares(pairs, mode)
        print(f"| {mode} | {shares['one']:.1%} | {shares['none']:.1%} | {shares['two+']:.1%} | {no_spike} |"
              f" ({time.monotonic() - t0:.1f} s)")
    print()
    for name, line in synthetic():
        print(f"{name}: {line}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
