"""The native SegmentTracker against a straightforward reference, on random logits.

Reference: softmax in float64 -> float32, argmax per frame; the whole-input best path
(counts of new non-Null runs, posterior sums, spikes at run starts); segments grouped by
walking the frames: open at an active frame, close after endpoint Null frames, or when
start + max_frames is reached (ending at the last active frame).
"""

from __future__ import annotations

import numpy as np
import pytest

from realtime_ser import _native
from realtime_ser.engine import softmax


def ref_softmax(z):
    z = np.asarray(z, np.float64)
    z = np.exp(z - z.max(axis=1, keepdims=True))
    return (z / z.sum(axis=1, keepdims=True)).astype(np.float32)


def path_stats(post, path, blank):
    counts = np.zeros(post.shape[1], np.int64)
    prev = -1
    for k in path:
        if k != prev and k != blank:
            counts[k] += 1
        prev = k
    return counts, post.astype(np.float64).sum(0)


def reference(post, blank, endpoint, max_frames):
    """(spikes, segments [(start, end)], totals) by a plain frame walk."""
    path = post.argmax(1)
    spikes = [(int(k), t) for t, k in enumerate(path) if k != blank and (t == 0 or path[t - 1] != k)]
    segs, start, last_end, nulls = [], None, 0, 0
    for t, k in enumerate(path):
        if k == blank:
            nulls += 1
            if start is not None and (nulls >= endpoint or t + 1 >= start + max_frames):
                segs.append((start, last_end))
                start = None
            continue
        if start is None:
            start = t
        last_end, nulls = t + 1, 0
        if last_end == start + max_frames:
            segs.append((start, last_end))
            start = None
    if start is not None:
        segs.append((start, last_end))
    return spikes, segs, path_stats(post, path, blank)


def random_logits(rng, n, c, blank):
    """Logits with long Null stretches, active bursts and exact ties between columns."""
    z = rng.normal(0, 1, (n, c)).astype(np.float32)
    null = rng.random(n) < 0.6
    z[null, blank] += 4.0
    burst = rng.integers(0, n, 5)
    for b in burst:
        z[b:b + rng.integers(1, 80), blank] -= 6.0  # long active runs: max-length closures
    ties = rng.random(n) < 0.1
    z[ties, (blank + 1) % c] = z[ties, (blank + 2) % c] = z[ties].max(1) + 1.0
    return z


def run_tracker(tr, z, cuts):
    spikes, segs, post = [], [], []
    a = 0
    for b in cuts + [len(z)]:
        post.append(tr.accept_logits(z[a:b]))
        spikes += tr.pop_spikes()
        segs += tr.pop_segments()
        a = b
    tr.close()
    segs += tr.pop_segments()
    return spikes, segs, np.concatenate(post)


@pytest.mark.parametrize("seed", range(12))
def test_tracker_matches_reference(seed):
    rng = np.random.default_rng(seed)
    c = int(rng.integers(2, 7))
    blank = int(rng.integers(0, c))
    endpoint, max_frames = int(rng.integers(1, 30)), int(rng.integers(1, 60))
    n = int(rng.integers(1, 2000))
    z = random_logits(rng, n, c, blank)
    cuts = sorted(set(rng.integers(0, n, int(rng.integers(0, 40))).tolist()))
    tr = _native.SegmentTracker(c, blank, endpoint, max_frames, True)
    spikes, segs, post = run_tracker(tr, z, cuts)
    want_post = ref_softmax(z)
    np.testing.assert_array_equal(post, want_post)
    want_spikes, want_segs, (counts, post_sum) = reference(want_post, blank, endpoint, max_frames)
    assert spikes == want_spikes
    assert [(a, b) for a, b, _, _ in segs] == want_segs
    path = want_post.argmax(1)
    for a, b, seg_counts, seg_sum in segs:
        want_c, want_s = path_stats(want_post[a:b], path[a:b], blank)
        np.testing.assert_array_equal(seg_counts, want_c)
        np.testing.assert_allclose(seg_sum, want_s, rtol=1e-12, atol=1e-9)
        assert b - a <= max_frames
    np.testing.assert_array_equal(tr.counts, counts)
    np.testing.assert_allclose(tr.post_sum, post_sum, rtol=1e-12, atol=1e-9)
    assert tr.num_frames == n and tr.num_queued == 0


def test_ties_go_to_the_lower_index_and_endpoint_flag():
    tr = _native.SegmentTracker(3, 0, 2, 100, True)
    post = np.array([[0.2, 0.4, 0.4], [0.4, 0.4, 0.2], [1, 0, 0], [0.1, 0.1, 0.8]], np.float32)
    tr.accept_posteriors(post[:1])   # tie 1/2 -> 1: a segment opens
    assert tr.pop_spikes() == [(1, 0)] and tr.open_start == 0 and not tr.is_endpoint
    tr.accept_posteriors(post[1:3])  # tie 0/1 -> Null; two Nulls: endpoint
    assert [s[:2] for s in tr.pop_segments()] == [(0, 1)] and tr.is_endpoint
    tr.accept_posteriors(post[3:])
    assert tr.pop_spikes() == [(2, 3)] and not tr.is_endpoint


def test_no_spikes_when_off_and_softmax_keeps_float64():
    tr = _native.SegmentTracker(2, 0, 5, 10, False)
    tr.accept_logits(np.array([[0.0, 3.0]] * 4, np.float32))
    assert tr.pop_spikes() == [] and tr.counts.tolist() == [0, 1]
    z = np.array([[1e-9, 0.0, -1e-9]])
    np.testing.assert_array_equal(softmax(z), ref_softmax(z))
    with pytest.raises(ValueError):
        _native.SegmentTracker(5, 5, 5, 10, True)
    with pytest.raises(ValueError):
        tr.accept_logits(np.zeros((3, 4), np.float32))
