"""Utterance decision from CTC frame posteriors (pure numpy).

Rule (Han et al. 2018): best path (argmax per frame), collapse repeats, drop
Null; the most frequent emotion label wins. Ties between equally frequent
labels go to the label with the higher posterior summed over all frames.
If the path holds no emotion label, the emotion with the highest mean
posterior over frames (Null column excluded) wins.

The rule needs only streaming statistics (label counts, posterior sums, frame
count): ``decision_from_stats``; ``best_path_decision`` goes through it.
Streaming and batch decoders: realtime_ser._native.SegmentTracker (the engine's streams) and
realtime_ser.decoder_kernels.best_path_batch (numba; `stream --offline` and training's evaluation).
"""
from __future__ import annotations

import numpy as np


def to_probs(x: np.ndarray) -> np.ndarray:
    """Posteriors from posteriors or log-posteriors (any negative value => log)."""
    x = np.asarray(x, np.float64)
    if x.ndim != 2:
        raise ValueError(f"expected (T, C) array, got shape {x.shape}")
    return np.exp(x) if x.size and x.min() < 0 else x


def collapse(path: np.ndarray, blank: int = 0) -> list[int]:
    """Merge consecutive repeats, then drop blanks: a a _ a -> [a, a]."""
    path = np.asarray(path)
    if path.size == 0:
        return []
    keep = np.ones(path.size, bool)
    keep[1:] = path[1:] != path[:-1]
    return [int(p) for p in path[keep] if p != blank]


def best_path_decision(log_probs_or_probs: np.ndarray, blank: int = 0):
    """(T, C) frame (log-)posteriors -> (emotion index 0..C-2, info dict).

    info: path (argmax per frame), labels (collapsed, in emotion indices),
    counts (per emotion), mean_post (mean emotion posteriors, Null excluded),
    fallback (no emotion label on the path), tie (a count tie was broken),
    scores (vote fractions; see ``decision_scores``).
    """
    probs = to_probs(log_probs_or_probs)
    n_cls = probs.shape[1]
    emo_cols = [c for c in range(n_cls) if c != blank]
    path = probs.argmax(1)
    labels = [emo_cols.index(c) for c in collapse(path, blank)]
    counts = np.bincount(labels, minlength=len(emo_cols)).astype(np.int64)
    post_sum = np.empty(n_cls)
    post_sum[emo_cols] = probs[:, emo_cols].sum(0)  # same summation order as before the refactor
    post_sum[blank] = probs[:, blank].sum()
    decision, info = _decide(counts, post_sum, len(probs), blank)
    return decision, dict(path=path, labels=labels, **info)


def decision_from_stats(counts, post_sum, n_frames: int, blank: int = 0):
    """The decision rule from streaming statistics -> (emotion index, scores).

    counts: decoded (collapsed, non-blank) labels per emotion, shape (C-1,);
    an output-indexed (C,) vector is also taken (its blank entry is ignored).
    post_sum: posteriors summed over frames per output, shape (C,).
    n_frames: frames summed. Same rule and tie-break as ``best_path_decision``.
    """
    post_sum = np.asarray(post_sum, np.float64)
    if post_sum.ndim != 1 or post_sum.size < 2:
        raise ValueError(f"post_sum must be 1-D with >= 2 outputs, got shape {post_sum.shape}")
    n_cls = post_sum.size
    if not 0 <= blank < n_cls:
        raise ValueError(f"blank {blank} outside [0, {n_cls})")
    counts = np.asarray(counts, np.int64)
    if counts.shape == (n_cls,):
        counts = np.delete(counts, blank)
    if counts.shape != (n_cls - 1,):
        raise ValueError(f"counts must have shape ({n_cls - 1},) or ({n_cls},), got {counts.shape}")
    decision, info = _decide(counts, post_sum, int(n_frames), blank)
    return decision, info["scores"]


def has_votes(counts, blank: int = 0) -> bool:
    """Whether output-indexed counts (C,) hold a decoded emotion label: a decision by votes."""
    return bool(np.delete(np.asarray(counts), blank).any())


def _decide(counts: np.ndarray, post_sum: np.ndarray, n_frames: int, blank: int):
    """The rule itself: majority of counts, ties by summed posterior, else mean posterior."""
    summed = np.delete(post_sum, blank)
    mean_post = summed / max(n_frames, 1)
    fallback = counts.sum() == 0
    tie = False
    if fallback:
        decision = int(np.argmax(mean_post))
    else:
        best = np.flatnonzero(counts == counts.max())
        tie = best.size > 1
        decision = int(best[np.argmax(summed[best])])
    info = dict(counts=counts, mean_post=mean_post, fallback=bool(fallback), tie=bool(tie),
                scores=decision_scores(counts, mean_post))
    return decision, info


def decision_scores(counts: np.ndarray, mean_post: np.ndarray) -> np.ndarray:
    """Per-emotion scores summing to 1 whose argmax equals the decision.

    Vote fractions of the collapsed path, plus a tiny share (< one vote) of the
    renormalised mean posterior to order ties; with no votes, the renormalised
    mean posterior itself.
    """
    m = mean_post / max(mean_post.sum(), 1e-12)
    if counts.sum() == 0:
        return m
    s = counts + 1e-3 * m
    return s / s.sum()
