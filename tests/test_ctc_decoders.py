"""CTC best-path decoding: the native streaming SegmentTracker == numba batch == numpy reference
(decoder.collapse); batch decisions from padded logits == the native tracker's, decision for decision."""
import numpy as np
import pytest

from realtime_ser import _native
from realtime_ser._native import SegmentTracker
from realtime_ser.decoder import best_path_decision, collapse, decision_from_stats
from realtime_ser.decoder_kernels import (best_path_batch, best_path_decisions, best_path_kernel, pad, track_batch,
                                        warm_up)

C = 5


def softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def run_path(rng, n_frames, n_out=C, mean_run=6):
    """Argmax path made of runs (mean length mean_run) of random outputs."""
    path = []
    while len(path) < n_frames:
        path += [int(rng.integers(n_out))] * int(rng.integers(1, 2 * mean_run))
    return np.array(path[:n_frames])


def peaky(rng, n_frames, n_out=C, ties=True):
    """softmax of scaled random logits around a run path; some rows hold exact argmax ties."""
    logits = rng.standard_normal((n_frames, n_out)) * 2.0
    logits[np.arange(n_frames), run_path(rng, n_frames, n_out)] += rng.uniform(2, 12)
    p = softmax(logits).astype(np.float32)
    if ties and n_frames:
        rows = rng.choice(n_frames, size=max(1, n_frames // 5), replace=True)
        for r in rows:  # copy the max onto another column: a two-way tie
            a, b = rng.choice(n_out, size=2, replace=False)
            p[r, a] = p[r, b] = p[r].max()
    return p


def real_shaped(rng, n_frames, n_out=C, blank=0):
    """CTC-like output: blank-dominated frames with short emotion spikes (10 ms frames)."""
    logits = rng.standard_normal((n_frames, n_out)).astype(np.float32)
    logits[:, blank] += 6.0
    emo = [c for c in range(n_out) if c != blank]
    for start in rng.choice(max(n_frames - 4, 1), size=max(1, n_frames // 40), replace=False):
        logits[start:start + int(rng.integers(1, 5)), int(rng.choice(emo))] += 9.0
    return softmax(logits).astype(np.float32)


def reference(p, blank=0):
    """numpy reference: labels (output indices), run starts, counts, post sums."""
    path = p.argmax(1)
    labels = collapse(path, blank)
    starts = [t for t in range(len(path)) if path[t] != blank and (t == 0 or path[t] != path[t - 1])]
    counts = np.bincount(np.array(labels, int), minlength=p.shape[1])
    return labels, starts, counts, p.astype(np.float64).sum(0)


def chunkings(rng, p, blank=0):
    """Chunk boundaries: 1-frame chunks, random sizes with empty chunks, edges inside runs."""
    n = len(p)
    path = p.argmax(1)
    inside = [t for t in range(1, n) if path[t] == path[t - 1] and path[t] != blank]
    yield list(range(n + 1))
    cuts = sorted(rng.integers(0, n + 1, size=max(1, n // 7)).tolist())  # repeats = empty chunks
    yield [0] + cuts + [n]
    if inside:
        yield [0] + sorted(set(rng.choice(inside, size=min(len(inside), 8)).tolist())) + [n]


def tracker(n_out=C, blank=0):
    """A SegmentTracker that closes no segment before close(): only spikes are queued."""
    return SegmentTracker(num_classes=n_out, blank=blank, endpoint_frames=2 ** 31 - 1, max_frames=2 ** 62)


def stream(p, bounds, blank=0, pop=True):
    """Feed p cut at bounds, popping after each piece; the tracker and the spikes popped."""
    tr = tracker(p.shape[1], blank)
    popped = []
    for a, b in zip(bounds[:-1], bounds[1:]):
        tr.accept_posteriors(p[a:b])
        if pop:
            popped += tr.pop_spikes()
            assert tr.num_queued == 0  # bounded: nothing is kept once popped
    return tr, popped


def check_stream(tr, popped, p, blank=0):
    labels, starts, counts, sums = reference(p, blank)
    assert tr.num_frames == len(p)
    assert popped == list(zip(labels, starts))
    assert np.array_equal(tr.counts, counts)
    np.testing.assert_allclose(tr.post_sum, sums, rtol=1e-12, atol=1e-12)


def test_a_tracker_never_popped_keeps_every_spike():
    rng = np.random.default_rng(5)
    p = peaky(rng, 300)
    labels, starts, _, _ = reference(p)
    tr, _ = stream(p, [0, 100, 300], pop=False)
    assert tr.num_queued == len(labels)
    assert tr.pop_spikes() == list(zip(labels, starts))
    assert tr.num_queued == 0 and tr.pop_spikes() == []


CASES = [("peaky", peaky, 0), ("peaky", peaky, 3), ("real", real_shaped, 0), ("real", real_shaped, 4)]


@pytest.mark.parametrize("kind,make,blank", CASES)
def test_streaming_equals_one_pass_and_reference(kind, make, blank):
    rng = np.random.default_rng(10 + blank)
    for _ in range(15):
        p = make(rng, int(rng.integers(1, 400)), C) if kind == "peaky" else make(rng, int(rng.integers(1, 600)), C, blank)
        one, popped = stream(p, [0, len(p)], blank)
        check_stream(one, popped, p, blank)
        for bounds in chunkings(rng, p, blank):
            tr, popped = stream(p, bounds, blank)
            check_stream(tr, popped, p, blank)
            assert np.array_equal(tr.post_sum, one.post_sum)  # same summation order


def test_chunk_edges_inside_runs_are_exercised():
    """Negative control: restarting the tracker per chunk over-counts, so the edges matter."""
    rng = np.random.default_rng(3)
    p = peaky(rng, 300)
    bounds = list(chunkings(rng, p))[-1]
    fresh = sum(stream(p[a:b], [0, b - a])[0].counts for a, b in zip(bounds[:-1], bounds[1:]))
    assert fresh.sum() > stream(p, bounds)[0].counts.sum() == len(reference(p)[0])


def test_argmax_ties_go_to_lower_index():
    p = np.array([[0.1, 0.4, 0.4, 0.1, 0.0],   # tie 1/2 -> 1
                  [0.1, 0.1, 0.4, 0.0, 0.4],   # tie 2/4 -> 2 (new label)
                  [0.4, 0.1, 0.0, 0.1, 0.4]],  # tie blank/4 -> blank
                 np.float32)
    tr = tracker()
    tr.accept_posteriors(p)
    assert tr.pop_spikes() == [(1, 0), (2, 1)]
    labels, n_labels, _, _ = best_path_batch(p[None], [3])
    assert labels[0, :n_labels[0]].tolist() == [1, 2] == collapse(p.argmax(1))


@pytest.mark.parametrize("blank", [0, 2])
def test_numba_batch_matches_reference_and_stream(blank):
    warm_up()
    rng = np.random.default_rng(20 + blank)
    n_b, n_t = 12, 350
    utts = [peaky(rng, int(rng.integers(0, n_t + 1))) if i % 2 else
            real_shaped(rng, int(rng.integers(1, n_t + 1)), C, blank) for i in range(n_b)]
    lengths = np.array([len(u) for u in utts])
    batch = rng.uniform(0, 1, (n_b, n_t, C)).astype(np.float32)  # garbage padding
    for i, u in enumerate(utts):
        batch[i, :len(u)] = u
    labels, n_labels, counts, sums = best_path_batch(batch, lengths, blank)
    assert labels.shape == (n_b, n_labels.max())
    for i, u in enumerate(utts):
        ref_labels, _, ref_counts, ref_sums = reference(u, blank)
        assert labels[i, :n_labels[i]].tolist() == ref_labels
        assert (labels[i, n_labels[i]:] == -1).all()
        assert np.array_equal(counts[i], ref_counts)
        np.testing.assert_allclose(sums[i], ref_sums, rtol=1e-12, atol=1e-12)
        tr = stream(u, [0, len(u)], blank)[0]
        assert np.array_equal(tr.counts, counts[i])
        assert np.array_equal(tr.post_sum, sums[i])


def test_batch_does_not_recompile():
    warm_up()
    n_sig = len(best_path_kernel.signatures)
    p = np.random.default_rng(0).uniform(size=(2, 9, C))
    ro = p.astype(np.float32)
    ro.setflags(write=False)
    for x in (p, p[:, ::-1], ro):  # float64, non-contiguous, read-only
        best_path_batch(x, [9, 4])
    assert len(best_path_kernel.signatures) == n_sig


@pytest.mark.parametrize("blank", [0, 4])
def test_decision_from_stats_equals_best_path_decision(blank):
    rng = np.random.default_rng(30 + blank)
    n_fallback = n_tie = 0
    for i in range(200):
        n = int(rng.integers(1, 120))
        p = peaky(rng, n, ties=False) if i % 2 else real_shaped(rng, n, C, blank)
        if i % 7 == 0:
            p[:, blank] = 1.0  # blank everywhere: fallback to the mean posterior
        label, info = best_path_decision(p, blank)
        tr = tracker(C, blank)
        for chunk in np.array_split(p, 3):
            tr.accept_posteriors(chunk)
        got, scores = decision_from_stats(tr.counts, tr.post_sum, tr.num_frames, blank)
        assert got == label
        np.testing.assert_allclose(scores, info["scores"], rtol=1e-9)
        emo_counts = np.delete(tr.counts, blank)  # emotion-indexed counts too
        assert decision_from_stats(emo_counts, tr.post_sum, tr.num_frames, blank)[0] == label
        n_fallback += info["fallback"]
        n_tie += info["tie"]
    assert n_fallback > 0 and n_tie > 0  # both branches of the rule were exercised


def test_decision_from_stats_rule():
    # counts tie between emotions 0 and 2: the larger summed posterior wins
    post_sum = np.array([5.0, 1.0, 0.5, 2.0, 0.5])
    assert decision_from_stats([1, 0, 1, 0], post_sum, 9)[0] == 2
    assert decision_from_stats([2, 0, 1, 0], post_sum, 9)[0] == 0
    # no votes: highest mean posterior, blank excluded
    label, scores = decision_from_stats([0, 0, 0, 0], post_sum, 9)
    assert label == 2 and np.isclose(scores.sum(), 1.0)
    assert decision_from_stats([0, 0, 0, 0], np.zeros(5), 0)[0] == 0  # empty stream


def test_reset_gives_fresh_stream():
    rng = np.random.default_rng(4)
    p, q = peaky(rng, 80), peaky(rng, 60)
    q[0] = p[-1]  # the same label across the reset must count again
    tr = tracker()
    tr.accept_posteriors(p)
    tr.reset()
    assert tr.num_frames == 0 and tr.num_queued == 0 and tr.pop_spikes() == []
    assert not tr.counts.any() and not tr.post_sum.any()
    fresh, _ = stream(q, [0, len(q)], pop=False)
    tr.accept_posteriors(q)
    assert tr.pop_spikes() == fresh.pop_spikes() != []
    assert np.array_equal(tr.counts, fresh.counts) and np.array_equal(tr.post_sum, fresh.post_sum)


def test_bad_input_raises_value_error():
    tr = tracker()
    for bad in (np.zeros((3, 4)), np.zeros(5), np.zeros((2, 3, 5)), np.zeros((0, 6))):
        with pytest.raises(ValueError):
            tr.accept_posteriors(bad)
    assert tr.num_frames == 0
    tr.accept_posteriors(np.zeros((0, 5), np.float32))
    assert tr.num_frames == 0
    for args in ((1, 0), (5, 5), (5, -1)):
        with pytest.raises(ValueError):
            SegmentTracker(*args)
    with pytest.raises(ValueError):
        best_path_batch(np.zeros((4, 5), np.float32), [4])
    with pytest.raises(ValueError):
        best_path_batch(np.zeros((2, 4, 5), np.float32), [4, 5])
    with pytest.raises(ValueError):
        best_path_batch(np.zeros((2, 4, 5), np.float32), [4])
    with pytest.raises(ValueError):
        decision_from_stats([1, 0, 0], np.ones(5), 3)
    with pytest.raises(ValueError):
        decision_from_stats([1, 0, 0, 0], np.ones((1, 5)), 3)


# ---------------------------------------------------------------- batch decoder == native tracker

def tracker_decision(z, blank, chunks=3):
    """The engine's streaming path: native SegmentTracker fed logits in chunks, then the rule."""
    tr = SegmentTracker(z.shape[1], blank, 50, 3000, True)
    for part in np.array_split(z, chunks) if len(z) else []:
        tr.accept_logits(np.ascontiguousarray(part))
    return decision_from_stats(tr.counts, tr.post_sum, tr.num_frames, blank), tr


def logit_cases(rng, blank):
    """Logits with exact ties, float32-rounding ties, all-Null, empty and one-frame utterances."""
    cases = [np.zeros((0, C), np.float32), np.zeros((1, C), np.float32),      # empty; one all-tie frame
             np.full((40, C), -3.0, np.float32)]                               # all outputs tied
    null = rng.standard_normal((60, C)).astype(np.float32)
    null[:, blank] += 20.0
    cases.append(null)                                                         # all Null: fallback
    for n in (7, 90, 333):
        z = (rng.standard_normal((n, C)) * 3).astype(np.float32)
        z[rng.random(n) < 0.3, blank] += 8.0
        rows = rng.choice(n, size=n // 4)
        a, b = rng.choice(C, size=2, replace=False)
        z[rows, a] = z[rows, b]                                                # exact ties
        near = rng.choice(n, size=n // 5)
        z[near, (a + 1) % C] = np.nextafter(z[near, (b + 1) % C], np.float32(np.inf))  # ties once rounded
        cases.append(z)
    votes = np.full((30, C), -5.0, np.float32)  # two emotions, one vote each: the tie-break by post sums
    emo = [c for c in range(C) if c != blank]
    votes[:, blank] = 0.0
    votes[3:5, emo[0]] = 4.0
    votes[10:13, emo[2]] = 4.0
    cases.append(votes)
    return cases


def test_batch_softmax_equals_native():
    rng = np.random.default_rng(8)
    z = (rng.standard_normal((3, 50, C)) * 10).astype(np.float32)
    _, _, _, sums = best_path_batch(z, [50, 50, 50], 0, logits=True)
    for b in range(3):
        assert np.array_equal(sums[b], _native.softmax(z[b]).astype(np.float64).sum(0))
        tr = SegmentTracker(C, 0, 50, 3000, True)
        assert np.array_equal(tr.accept_logits(z[b]), _native.softmax(z[b]))


@pytest.mark.parametrize("blank", [0, 3])
def test_batch_decisions_equal_native_tracker(blank):
    """Decision for decision (and counts, posterior sums bit for bit) on padded logits."""
    rng = np.random.default_rng(40 + blank)
    cases = logit_cases(rng, blank)
    batch, lengths = pad(cases)
    batch[:, :, :] = np.where(np.arange(batch.shape[1])[None, :, None] < lengths[:, None, None],
                              batch, rng.uniform(-50, 50, batch.shape))  # garbage padding
    decisions, scores, counts, sums = best_path_decisions(batch, lengths, blank, logits=True)
    kinds = {"tie": 0, "fallback": 0}
    for b, z in enumerate(cases):
        (want, want_scores), tr = tracker_decision(z, blank)
        assert decisions[b] == want, b
        assert np.array_equal(scores[b], want_scores), b
        assert np.array_equal(counts[b], tr.counts) and np.array_equal(sums[b], tr.post_sum), b
        info = best_path_decision(_native.softmax(z), blank)[1] if len(z) else {"tie": False, "fallback": True}
        kinds["tie"] += info["tie"]
        kinds["fallback"] += info["fallback"]
    assert kinds["tie"] and kinds["fallback"]  # both branches of the rule ran
    alone = best_path_decisions(np.ascontiguousarray(batch[-1:, :lengths[-1]]), lengths[-1:], blank, True)
    assert alone[0][0] == decisions[-1]  # padding and batch company change nothing


def test_batch_decisions_of_an_empty_batch():
    decisions, scores, counts, sums = best_path_decisions(np.zeros((0, 0, C), np.float32), [], 0, True)
    assert decisions.shape == (0,) and scores.shape == (0, C - 1) and counts.shape == (0, C)


def test_kernels_are_cached_and_parallel():
    """cache=True (compile cost off the hot path) and prange over utterances."""
    from realtime_ser import decoder_kernels, speech_kernels
    from realtime_ser.features import kernels

    for k in (decoder_kernels.best_path_kernel, decoder_kernels._decode_one, kernels.delta_block,
              speech_kernels.speech_kernel):
        assert k._cache is not None and type(k._cache).__name__ != "NullCache", k
    assert decoder_kernels.best_path_kernel.targetoptions.get("parallel")


@pytest.mark.parametrize("endpoint,max_frames", [(1, 3000), (5, 12), (50, 3000), (3, 1), (8, 40)])
def test_batch_segments_and_spikes_equal_native_tracker(endpoint, max_frames):
    rng = np.random.default_rng(endpoint * 31 + max_frames)
    cases = logit_cases(rng, 0)
    for n in (200, 700):  # speech-like: Null runs of all lengths between emotion runs
        z = rng.standard_normal((n, C)).astype(np.float32)
        z[:, 0] += np.repeat(rng.choice([-6.0, 6.0], size=n // 10 + 1), 10)[:n]
        cases.append(z)
    batch, lengths = pad(cases)
    got = track_batch(batch, lengths, 0, True, (endpoint, max_frames))
    n_segments = 0
    for b, z in enumerate(cases):
        tr = SegmentTracker(C, 0, endpoint, max_frames, True)
        for part in np.array_split(z, 4) if len(z) else []:
            tr.accept_logits(np.ascontiguousarray(part))
        tr.close()
        want = tr.pop_segments()
        assert len(got.segments[b]) == len(want), b
        for (s, e, c, p), (ws, we, wc, wp) in zip(got.segments[b], want):
            assert (s, e) == (ws, we) and np.array_equal(c, wc) and np.array_equal(p, wp), b
        spikes = list(zip(got.labels[b, :got.n_labels[b]].tolist(), got.frames[b, :got.n_labels[b]].tolist()))
        assert spikes == [tuple(v) for v in tr.pop_spikes()], b
        n_segments += len(want)
    assert n_segments >= 5  # segments were closed by endpoints, length limits and the end


@pytest.mark.parametrize("blank,max_frames", [(0, 3000), (0, 7), (4, 1), (0, 40)])
def test_batch_speech_segments_equal_native_tracker(blank, max_frames):
    """speech_segments: segments are the runs of speech flags, counted by the spikes inside
    (all zero without one), split at max_frames; speech frames counted, as SegmentTracker."""
    rng = np.random.default_rng(blank * 7 + max_frames)
    cases = logit_cases(rng, blank)
    for n in (200, 700):
        z = rng.standard_normal((n, C)).astype(np.float32)
        z[:, blank] += np.repeat(rng.choice([-6.0, 6.0], size=n // 10 + 1), 10)[:n]
        cases.append(z)
    flags = [np.repeat(rng.integers(0, 2, len(z) // 7 + 1), 7)[:len(z)].astype(np.uint8) for z in cases]
    flags[3][:] = 1  # the all-Null case, all speech: one segment without a spike
    batch, lengths = pad(cases)
    got = track_batch(batch, lengths, blank, True, (50, max_frames), flags, True)
    n_segments = no_spike = 0
    for b, z in enumerate(cases):
        tr = SegmentTracker(C, blank, 50, max_frames, True, True)
        for part, f in zip(np.array_split(z, 3), np.array_split(flags[b], 3)) if len(z) else []:
            tr.accept_logits(np.ascontiguousarray(part), np.ascontiguousarray(f))
        tr.close()
        want = tr.pop_segments()
        assert len(got.segments[b]) == len(want), b
        for (s, e, c, p), (ws, we, wc, wp) in zip(got.segments[b], want):
            assert (s, e) == (ws, we) and np.array_equal(c, wc) and np.array_equal(p, wp), b
            no_spike += not np.delete(c, blank).any()
        assert got.speech_frames[b] == tr.num_speech_frames == flags[b].sum(), b
        assert np.array_equal(got.counts[b], tr.counts) and np.array_equal(got.post_sums[b], tr.post_sum), b
        n_segments += len(want)
    assert n_segments >= 20 and no_spike >= 1
    spikes = track_batch(batch, lengths, blank, True, (50, max_frames), flags)  # flags counted, spike segments
    assert np.array_equal(spikes.speech_frames, got.speech_frames)
    assert spikes.segments[3] == [] and all(s[1] - s[0] <= max_frames for seg in spikes.segments for s in seg)


def test_speech_segments_need_flags_of_every_frame():
    x = np.zeros((2, 4, C), np.float32)
    with pytest.raises(ValueError, match="speech_segments needs"):
        track_batch(x, [4, 2], 0, True, (5, 10), None, True)
    with pytest.raises(ValueError, match="speech row 1 has 1 flags for 2 frames"):
        track_batch(x, [4, 2], 0, True, (5, 10), [np.ones(4), np.ones(1)], True)
    assert track_batch(x, [4, 2], 0, True, None, [np.ones(4), [1, 0, 1]]).speech_frames.tolist() == [4, 1]


FORK_AFTER_DECODE = """
import multiprocessing as mp
import numpy as np
import numba
from realtime_ser.decoder_kernels import best_path_batch

x = np.random.default_rng(0).standard_normal((6, 50, 5)).astype(np.float32)

def decode(_):
    return int(best_path_batch(x, [50] * 6, 0, True)[2].sum())

want = decode(0)
with mp.get_context("fork").Pool(2) as pool:
    assert pool.map(decode, range(2)) == [want, want]
print(numba.threading_layer())
"""


def test_batch_decoder_survives_fork():
    """Training forks fold workers after decoding in the parent (GNU OpenMP would abort them)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = dict(os.environ, PYTHONPATH=str(Path(__file__).parents[1]))
    proc = subprocess.run([sys.executable, "-c", FORK_AFTER_DECODE], capture_output=True, text=True,
                          env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split()[-1] in ("tbb", "workqueue")
