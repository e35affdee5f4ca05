"""From corpora to training samples: features, targets and normalisation, shared by train and evaluate."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from training import cache, targets
from training.corpora import EMOTIONS, Utterance, load_corpus
from training.fit import Sample

SEQUENCE_SYSTEMS = ("ctc", "framewise", "finalpool", "meanpool", "attnpool", "lee")
SYSTEMS = SEQUENCE_SYSTEMS + ("dnn",)
CTC_SYSTEMS = ("ctc", "lee")


@dataclass
class Corpus:
    """Utterances with their inputs; bad files are left out and listed."""

    utterances: list[Utterance]
    inputs: dict[str, np.ndarray]  # utt_id -> (T, D) frames, or (88,) functionals
    errors: list[str] = field(default_factory=list)

    @property
    def speakers(self) -> list[str]:
        return sorted({u.speaker for u in self.utterances})


def load(specs: list[tuple[str, Path]], kind: str, cache_dir: Path, progress: bool = True) -> Corpus:
    """Read every (corpus name, data dir) pair; kind is "lld" or "egemaps"."""
    utts: list[Utterance] = []
    for name, data in specs:
        found = load_corpus(name, Path(data))
        # Speakers of different corpora must not merge.
        utts += [u if len(specs) == 1 else _prefixed(u) for u in found]
    values, errors = cache.cached_many([u.path for u in utts], kind, cache_dir, progress)
    kept = [u for u in utts if u.path in values]
    return Corpus(kept, {u.utt_id: values[u.path] for u in kept}, errors)


def speaker_folds(speakers: list[str], n: int) -> list[list[str]]:
    """Held-out speaker lists: n interleaved groups, or one per speaker (n <= 0 or n >= speakers)."""
    if n <= 0 or n >= len(speakers):
        return [[s] for s in speakers]
    return [speakers[i::n] for i in range(n)]


def corpus_folds(corpus: Corpus) -> list[list[str]]:
    """Leave one corpus out: each fold holds out every speaker of one corpus."""
    by_corpus: dict[str, set] = {}
    for u in corpus.utterances:
        by_corpus.setdefault(u.corpus, set()).add(u.speaker)
    if len(by_corpus) < 2:
        raise ValueError("--protocol loco needs two or more --corpus")
    return [sorted(s) for _, s in sorted(by_corpus.items())]


def _prefixed(u: Utterance) -> Utterance:
    from dataclasses import replace

    return replace(u, speaker=f"{u.corpus}:{u.speaker}", utt_id=f"{u.corpus}:{u.utt_id}")


@dataclass
class Normalizer:
    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, arrays: list[np.ndarray]) -> "Normalizer":
        x = np.concatenate([a.reshape(-1, a.shape[-1]) for a in arrays]).astype(np.float64)
        std = x.std(axis=0)
        return cls(x.mean(axis=0).astype(np.float32), np.where(std > 1e-8, std, 1.0).astype(np.float32))

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Global statistics, with the serving arithmetic (the engine's native normaliser)."""
        from realtime_ser.normalize import NormConfig, Normalizer as Serving

        return Serving(NormConfig(), [], self.mean, self.std).process(x)


@dataclass
class TargetStats:
    """How the CTC target lengths were set, for the report."""

    clamped: int = 0
    total: int = 0
    lengths: list[int] = field(default_factory=list)

    def as_dict(self) -> dict:
        k = np.array(self.lengths or [0])
        return {"utterances": self.total, "clamped_too_short": self.clamped,
                "k_mean": float(k.mean()), "k_min": int(k.min()), "k_max": int(k.max())}


def samples(corpus: Corpus, utts: list[Utterance], system: str, target: str | None,
            norm: Normalizer, stats: TargetStats | None = None, frames: dict | None = None) -> list[Sample]:
    """Normalised samples (``frames``: already normalised, by utt_id); CTC targets clamped to fit."""
    out = []
    for u in utts:
        x = frames[u.utt_id] if frames is not None else norm(corpus.inputs[u.utt_id])
        k = 0
        if system in CTC_SYSTEMS:
            wanted = targets.target_length(u, target)
            k = targets.fit_length(x.shape[0], wanted)
            if stats is not None:
                stats.total += 1
                stats.clamped += int(k != wanted)
                stats.lengths.append(k)
        out.append(Sample(feats=x, label=EMOTIONS.index(u.label), target_len=k))
    return out


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def augmented(corpus: Corpus, train_utts: list[Utterance], kinds: list[str], cache_dir: Path,
              seed: int = 0, progress: bool = False) -> list[Utterance]:
    """One altered copy of every training utterance per kind, added to corpus.inputs.

    A copy is its own speaker ("SPK|kind") so that adaptive normalisation streams it apart from
    the clean audio; babble is mixed from 6 utterances of other training speakers.
    """
    from dataclasses import replace

    from tqdm import tqdm

    from training import augment

    out = []
    for kind in kinds:
        for u in tqdm(train_utts, desc=f"features ({kind} copies)", unit="file", disable=not progress,
                      file=sys.stderr):
            others = []
            if kind == "babble":
                pool = [o for o in train_utts if o.speaker != u.speaker]
                rng = augment.rng_for(u.utt_id, "babble-sources", seed)
                others = [pool[i].path for i in rng.choice(len(pool), size=min(6, len(pool)), replace=False)]
            copy = replace(u, utt_id=f"{u.utt_id}|{kind}", speaker=f"{u.speaker}|{kind}")
            corpus.inputs[copy.utt_id] = cache.cached_augmented(u.path, kind, u.utt_id, seed, others, cache_dir)
            out.append(copy)
    return out
