"""Feature cache: one .npy per audio file, keyed by the file's content and the feature version.

A changed file or a new feature version misses the cache; nothing is ever recomputed twice.
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
import tempfile
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
from tqdm import tqdm

from realtime_ser import audio, features

DEFAULT_CACHE = Path(os.environ.get("REALTIME_SER_CACHE", Path.home() / ".cache" / "realtime_ser"))


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:32]


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.+-]", "_", name)


def lld_features(path: Path) -> np.ndarray:
    """The runtime's frame features of one file."""
    return features.extract(audio.load(path), audio.SAMPLE_RATE)


def egemaps_functionals(path: Path) -> np.ndarray:
    """The 88 eGeMAPSv02 functionals (openSMILE; the DNN baseline's input)."""
    import opensmile

    smile = _smile()
    x = audio.load(path)
    return smile.process_signal(x, audio.SAMPLE_RATE).to_numpy(np.float32).reshape(-1)


_SMILE = None


def _smile():
    global _SMILE
    if _SMILE is None:
        import opensmile

        _SMILE = opensmile.Smile(feature_set=opensmile.FeatureSet.eGeMAPSv02,
                                 feature_level=opensmile.FeatureLevel.Functionals)
    return _SMILE


KINDS: dict[str, tuple[Callable[[Path], np.ndarray], str]] = {
    "lld": (lld_features, features.VERSION),
    "egemaps": (egemaps_functionals, "eGeMAPSv02-functionals"),
}


def cached(path: Path, kind: str = "lld", cache_dir: Path = DEFAULT_CACHE) -> np.ndarray:
    compute, version = KINDS[kind]
    target = Path(cache_dir) / _safe(version) / f"{file_digest(path)}.npy"
    if target.exists():
        return np.load(target)
    value = compute(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".tmp")
    with os.fdopen(fd, "wb") as f:
        np.save(f, value)
    os.replace(tmp, target)
    return value


def cached_many(paths: Iterable[Path], kind: str = "lld", cache_dir: Path = DEFAULT_CACHE,
                progress: bool = True) -> tuple[dict[Path, np.ndarray], list[str]]:
    """Features of many files; bad files give one error line each and are left out."""
    out, errors = {}, []
    paths = list(paths)
    for path in tqdm(paths, desc=f"features ({kind})", unit="file", disable=not progress, file=sys.stderr):
        try:
            out[path] = cached(path, kind, cache_dir)
        except audio.AudioError as e:
            errors.append(str(e))
            print(f"error: {e}", file=sys.stderr)
    return out, errors


def cached_augmented(path: Path, kind: str, utt_id: str, seed: int, others: list[Path],
                     cache_dir: Path = DEFAULT_CACHE) -> np.ndarray:
    """Frame features of one augmented copy (training.augment), cached by content, kind, seed and sources."""
    from training import augment

    h = hashlib.sha256("|".join([file_digest(path), kind, utt_id, str(seed)] +
                                [file_digest(o) for o in others]).encode()).hexdigest()[:32]
    target = Path(cache_dir) / _safe(f"{features.VERSION}+aug1-{kind}") / f"{h}.npy"
    if target.exists():
        return np.load(target)
    rng = augment.rng_for(utt_id, kind, seed)
    x, _ = augment.apply(kind, audio.load(path), rng, [audio.load(o) for o in others])
    value = features.extract(x, audio.SAMPLE_RATE)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".tmp")
    with os.fdopen(fd, "wb") as f:
        np.save(f, value)
    os.replace(tmp, target)
    return value
