"""numba CTC best-path decoding of a padded batch: the batch twin of the native tracker.

Same decode as realtime_ser._native.SegmentTracker and ``decoder.collapse``:
softmax of logits computed in float64 and rounded to float32 (as _native.softmax), argmax per
frame (ties to the lower index, a NaN wins, as numpy.argmax), merge repeats, drop the blank;
posteriors summed in float64 in frame order; on request the tracker's segments and spikes:
runs of spikes closed by endpoint and maximum length, or (speech_segments, with per-frame
speech flags such as speech_kernels.flags gives) runs of speech frames closed at the first
non-speech frame or the maximum length, counted by the spikes inside them (all zero without
one: the engine's "no spike" fallback); the speech frames are counted (the "no speech" rule).
Utterances run in parallel (prange); the decision rule is decoder.decision_from_stats, the
one the engine applies to the tracker's statistics. Users: `python -m realtime_ser.stream
--offline` and the held-out evaluation in training/fit.py. Serving never imports this module
(numba costs ~0.5 s and ~100 MB). Kernels are compiled with cache=True; `warm_up()` compiles
or loads them (time it returns).
"""

from __future__ import annotations

import math
import time
from typing import NamedTuple

import numba
import numpy as np

from realtime_ser.decoder import decision_from_stats

# prange must survive a fork (training's fold workers, multiprocessing): GNU OpenMP does not,
# so take a fork-safe layer (tbb if installed, else numba's workqueue). Call the parallel
# kernel from one thread at a time: the workqueue layer is not thread-safe.
numba.config.THREADING_LAYER = "forksafe"


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
def _softmax(row, out):
    """out = softmax(row) computed in float64, rounded to float32 (csrc SoftmaxRows)."""
    top = np.float64(row[0])
    for c in range(1, row.shape[0]):
        top = max(top, np.float64(row[c]))
    total = 0.0
    z = np.empty(row.shape[0], np.float64)
    for c in range(row.shape[0]):
        z[c] = math.exp(np.float64(row[c]) - top)
        total += z[c]
    for c in range(row.shape[0]):
        out[c] = np.float32(z[c] / total)


@numba.njit(cache=True, nogil=True)
def _decode_one(x, length, blank, logits, labels, frames, counts, sums, opts, speech, bounds, seg_counts,
                seg_sums):
    """One utterance: labels (output indices) with their first frames (the spikes), counts, sums;
    with opts = (endpoint_frames, max_frames, speech_segments), opts[0] > 0, also the segments
    as csrc/ser/segment_tracker.cc closes them: runs of spikes (AcceptFrame, Active), or with
    opts[2] != 0 runs of frames flagged speech in speech (SpeechFrame). Returns (label count,
    segment count, speech frames)."""
    n_c = x.shape[1]
    n = 0
    prev = -1
    row = np.empty(n_c, np.float32)
    track = opts[0] > 0
    n_seg = 0
    start = -1          # open segment: first active frame, -1 if none
    last_end = 0
    seg_prev = -1
    null_run = 0
    run_sum = np.zeros(n_c, np.float64)  # segment posterior sums including trailing Null frames
    by_speech = opts[2] != 0
    n_speech = 0
    for t in range(length):
        if logits:
            _softmax(x[t], row)
        else:
            row[:] = x[t]
        for c in range(n_c):
            sums[c] += row[c]
        k = _argmax(row)
        if k != prev and k != blank:
            labels[n] = k
            frames[n] = t
            counts[k] += 1
            n += 1
        prev = k
        n_speech += speech[t]
        if not track:
            continue
        if by_speech:  # a segment is one run of speech frames; its spikes give its counts
            if not speech[t]:
                if start >= 0:
                    bounds[n_seg, 0], bounds[n_seg, 1] = start, last_end
                    n_seg += 1
                    start = -1
                continue
            if start < 0:
                start = t
                seg_counts[n_seg, :] = 0
                seg_sums[n_seg, :] = 0.0
                seg_prev = -1
            for c in range(n_c):
                seg_sums[n_seg, c] += row[c]
            if k != seg_prev and k != blank:
                seg_counts[n_seg, k] += 1
            seg_prev = k
            last_end = t + 1
            if last_end == start + opts[1]:
                bounds[n_seg, 0], bounds[n_seg, 1] = start, last_end
                n_seg += 1
                start = -1
            continue
        if k != blank:  # an active frame
            if start < 0:
                start = t
                seg_counts[n_seg, :] = 0
                run_sum[:] = 0.0
                seg_prev = -1
            for c in range(n_c):
                run_sum[c] += row[c]
            if k != seg_prev:
                seg_counts[n_seg, k] += 1
            seg_prev = k
            seg_sums[n_seg, :] = run_sum
            last_end = t + 1
            null_run = 0
            if last_end == start + opts[1]:
                bounds[n_seg, 0], bounds[n_seg, 1] = start, last_end
                n_seg += 1
                start = -1
            continue
        null_run += 1
        if start < 0:
            continue
        if null_run >= opts[0] or t + 1 >= start + opts[1]:  # an endpoint, or no room to grow
            bounds[n_seg, 0], bounds[n_seg, 1] = start, last_end
            n_seg += 1
            start = -1
            continue
        for c in range(n_c):
            run_sum[c] += row[c]
        seg_prev = k
    if track and start >= 0:  # end of input closes the open segment
        bounds[n_seg, 0], bounds[n_seg, 1] = start, last_end
        n_seg += 1
    return n, n_seg, n_speech


@numba.njit(cache=True, nogil=True, parallel=True)
def best_path_kernel(x, lengths, blank, logits, labels, frames, n_labels, counts, sums,
                     opts, speech, n_speech, bounds, n_segs, seg_counts, seg_sums):
    """x (B, T, C) float32, lengths (B,) int64, speech (B, T) uint8; outputs preset to -1 / 0 by the caller."""
    for b in numba.prange(x.shape[0]):
        n_labels[b], n_segs[b], n_speech[b] = _decode_one(
            x[b], lengths[b], blank, logits, labels[b], frames[b], counts[b], sums[b], opts, speech[b],
            bounds[b], seg_counts[b], seg_sums[b])


class Track(NamedTuple):
    """What track_batch finds per utterance b (labels and frames padded with -1)."""

    labels: np.ndarray     # int64 (B, L): collapsed output indices
    frames: np.ndarray     # int64 (B, L): first frame of each label's run (the spikes)
    n_labels: np.ndarray   # int64 (B,)
    counts: np.ndarray     # int64 (B, C): labels per output (blank column 0)
    post_sums: np.ndarray  # float64 (B, C): posteriors summed over the valid frames
    segments: list         # per utterance: [(start, end, counts (C,), post_sum (C,)), ...]
    speech_frames: np.ndarray  # int64 (B,): valid frames flagged speech (0 without flags)


def track_batch(x, lengths, blank: int = 0, logits: bool = False, segments: tuple[int, int] | None = None,
                speech=None, speech_segments: bool = False):
    """Best-path decode of (B, T, C) posteriors (or logits, logits=True) with valid lengths (B,).

    segments=(endpoint_frames, max_frames) also closes segments as the native SegmentTracker
    does (the engine's Segment events); None skips them. speech: per utterance its speech
    flags (B rows, each at least its length; a (B, T) array will do), counted into
    speech_frames; with speech_segments=True (it needs segments and speech) a segment is one
    run of speech frames, as SegmentTracker(speech_segments=True) closes it: at the first
    non-speech frame or at max_frames (endpoint_frames is not used), its counts the spikes
    inside it, all zero when it has none. Frames past a length are not read.
    """
    post = np.ascontiguousarray(x, dtype=np.float32)
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
    if segments is not None and min(segments) < 1:
        raise ValueError(f"endpoint_frames and max_frames must be at least 1, got {segments}")
    if speech_segments and (segments is None or speech is None):
        raise ValueError("speech_segments needs segments=(endpoint_frames, max_frames) and speech flags")
    flags = np.zeros((n_b, n_t), np.uint8)
    if speech is not None:
        if len(speech) != n_b:
            raise ValueError(f"speech must hold {n_b} rows of flags, got {len(speech)}")
        for b, f in enumerate(speech):
            f = np.asarray(f).reshape(-1)
            if len(f) < lens[b]:
                raise ValueError(f"speech row {b} has {len(f)} flags for {lens[b]} frames")
            flags[b, :lens[b]] = f[:lens[b]] != 0
    opts = np.array((*(segments or (0, 1)), int(speech_segments)), np.int64)
    # A spike segment holds an active frame and ends after endpoint Null frames or max_frames
    # frames; a speech segment holds a speech frame and ends at a non-speech one or max_frames.
    gap = 1 if speech_segments else segments[0] if segments else 0
    n_seg_max = -(-n_t // min(gap + 1, segments[1])) + 1 if segments else 0
    labels = np.full((n_b, n_t), -1, np.int64)
    frames = np.full((n_b, n_t), -1, np.int64)
    n_labels = np.zeros(n_b, np.int64)
    counts = np.zeros((n_b, n_c), np.int64)
    sums = np.zeros((n_b, n_c), np.float64)
    n_speech = np.zeros(n_b, np.int64)
    bounds = np.zeros((n_b, n_seg_max, 2), np.int64)
    n_segs = np.zeros(n_b, np.int64)
    seg_counts = np.zeros((n_b, n_seg_max, n_c), np.int64)
    seg_sums = np.zeros((n_b, n_seg_max, n_c), np.float64)
    best_path_kernel(post, lens, np.int64(blank), bool(logits), labels, frames, n_labels, counts, sums,
                     opts, flags, n_speech, bounds, n_segs, seg_counts, seg_sums)
    width = int(n_labels.max()) if n_b else 0
    found = [[(int(bounds[b, i, 0]), int(bounds[b, i, 1]), seg_counts[b, i], seg_sums[b, i])
              for i in range(n_segs[b])] for b in range(n_b)]
    return Track(labels[:, :width].copy(), frames[:, :width].copy(), n_labels, counts, sums, found, n_speech)


def best_path_batch(x, lengths, blank: int = 0, logits: bool = False):
    """(labels, n_labels, counts, post_sums) of track_batch, without segments."""
    t = track_batch(x, lengths, blank, logits)
    return t.labels, t.n_labels, t.counts, t.post_sums


def best_path_decisions(x, lengths, blank: int = 0, logits: bool = False):
    """Utterance decisions of a padded batch -> (decisions (B,), scores (B, C-1), counts, post_sums).

    decisions are emotion indices (outputs without the blank), scores the rule's decision
    scores (decoder.decision_scores), counts / post_sums as best_path_batch returns them.
    """
    _, _, counts, sums = best_path_batch(x, lengths, blank, logits)
    n_c = counts.shape[1]
    decisions = np.zeros(len(counts), np.int64)
    scores = np.zeros((len(counts), n_c - 1))
    for b, n in enumerate(np.asarray(lengths, np.int64)):
        decisions[b], scores[b] = decision_from_stats(counts[b], sums[b], int(n), blank)
    return decisions, scores, counts, sums


def pad(rows: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Per-utterance (T_i, C) arrays -> a zero-padded (B, max T_i, C) float32 batch and lengths."""
    lengths = np.array([len(r) for r in rows], np.int64)
    n_c = rows[0].shape[1] if rows else 1
    batch = np.zeros((len(rows), int(lengths.max()) if len(rows) else 0, n_c), np.float32)
    for b, r in enumerate(rows):
        batch[b, :len(r)] = r
    return batch, lengths


def warm_up() -> float:
    """Compile or load the kernels once; returns the seconds it took."""
    t = time.perf_counter()
    for logits in (False, True):
        track_batch(np.full((1, 2, 5), 0.2, np.float32), np.array([2]), 0, logits, (1, 1), [[1, 0]], logits)
    return time.perf_counter() - t
