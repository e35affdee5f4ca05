"""numba CTC best-path decoding of a padded batch of frame posteriors.

Same decode as realtime_ser._native.OnlineCtcDecoder and ``decoder.collapse``: argmax per
frame (ties to the lower index, a NaN wins, as numpy.argmax), merge repeats, drop the blank.
Kernels are compiled with cache=True; call ``warm_up()`` when building a decoder, not on the
hot path. Feed the counts and sums to ``decoder.decision_from_stats`` for the decision.
"""

from __future__ import annotations

import time

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def _argmax(row):
    best = 0
    for c in range(row.shape[0]):
        if np.isnan(row[c]):
            return c
        if row[c] > row[best]:
            best = c
    return best


@numba.njit(cache=True, nogil=True)
def _decode_one(post, length, blank, labels, counts, sums):
    """One utterance: fills labels (output indices), counts, sums; returns the label count."""
    n = 0
    prev = -1
    for t in range(length):
        row = post[t]
        for c in range(row.shape[0]):
            sums[c] += row[c]
        k = _argmax(row)
        if k != prev and k != blank:
            labels[n] = k
            counts[k] += 1
            n += 1
        prev = k
    return n


@numba.njit(cache=True, nogil=True)
def best_path_kernel(post, lengths, blank, labels, n_labels, counts, sums):
    """post (B, T, C) float32, lengths (B,) int64; outputs preset to -1 / 0 by the caller."""
    for b in range(post.shape[0]):
        n_labels[b] = _decode_one(post[b], lengths[b], blank, labels[b], counts[b], sums[b])


def best_path_batch(posteriors, lengths, blank: int = 0):
    """Best-path decode of (B, T, C) probabilities with valid lengths (B,).

    Returns (labels, n_labels, counts, post_sums): labels int64 (B, L) collapsed output
    indices padded with -1 (L = longest label sequence), n_labels int64 (B,), counts
    int64 (B, C) decoded labels per output (blank column 0), post_sums float64 (B, C)
    posteriors summed over each utterance's valid frames.
    """
    post = np.ascontiguousarray(posteriors, dtype=np.float32)
    if not post.flags.writeable:
        post = post.copy()  # a read-only array would compile a second specialisation
    if post.ndim != 3:
        raise ValueError(f"posteriors must be (B, T, C), got shape {post.shape}")
    n_b, n_t, n_c = post.shape
    lens = np.array(lengths, dtype=np.int64)
    if lens.shape != (n_b,):
        raise ValueError(f"lengths must have shape ({n_b},), got {lens.shape}")
    if n_b and (lens.min() < 0 or lens.max() > n_t):
        raise ValueError(f"lengths must lie in [0, {n_t}]")
    if not 0 <= blank < n_c:
        raise ValueError(f"blank {blank} outside [0, {n_c})")
    labels = np.full((n_b, n_t), -1, np.int64)
    n_labels = np.zeros(n_b, np.int64)
    counts = np.zeros((n_b, n_c), np.int64)
    sums = np.zeros((n_b, n_c), np.float64)
    best_path_kernel(post, lens, np.int64(blank), labels, n_labels, counts, sums)
    width = int(n_labels.max()) if n_b else 0
    return labels[:, :width].copy(), n_labels, counts, sums


def warm_up() -> float:
    """Compile or load the kernels once; returns the seconds it took."""
    t = time.perf_counter()
    best_path_batch(np.full((1, 2, 5), 0.2, np.float32), np.array([2]))
    return time.perf_counter() - t
