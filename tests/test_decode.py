import numpy as np
import pytest

from realtime_ser.decoder import best_path_decision, collapse

A, H, N, S = 1, 2, 3, 4  # CTC output columns; 0 = Null


def onehot_path(path, n=5, hi=0.9):
    """Frame posteriors whose argmax follows `path`."""
    p = np.full((len(path), n), (1 - hi) / (n - 1))
    p[np.arange(len(path)), path] = hi
    return p


def test_collapse_repeats_across_blanks():
    assert collapse(np.array([A, A, 0, A])) == [A, A]
    assert collapse(np.array([0, A, A, A, 0, 0, S, S, 0])) == [A, S]
    assert collapse(np.array([0, 0, 0])) == []
    assert collapse(np.array([], int)) == []


def test_majority_counts_repeats_across_blanks():
    # a a _ a -> two a's; one s: anger wins 2 to 1
    label, info = best_path_decision(onehot_path([A, A, 0, A, 0, S, S]))
    assert label == A - 1
    assert info["labels"] == [0, 0, 3]
    assert list(info["counts"]) == [2, 0, 0, 1]
    assert not info["fallback"] and not info["tie"]


def test_repeats_without_blank_count_once():
    # a a a s _ s: one a, two s -> sadness
    label, _ = best_path_decision(onehot_path([A, A, A, S, 0, S]))
    assert label == S - 1


def test_fallback_uses_mean_posterior_without_null():
    p = np.zeros((4, 5))
    p[:, 0] = 0.6          # Null wins every frame
    p[:, H] = [0.3, 0.3, 0.1, 0.1]
    p[:, N] = [0.05, 0.05, 0.25, 0.25]
    p[:, A] = [0.05, 0.05, 0.05, 0.05]
    p[:, S] = 1 - p[:, :4].sum(1)
    label, info = best_path_decision(p)
    assert info["fallback"]
    # mean: H = 0.2, N = 0.15 -> happiness
    assert label == H - 1
    assert np.allclose(info["mean_post"], p[:, 1:].mean(0))


def test_tie_broken_by_summed_posterior():
    # one A and one N on the path; N's frame is more confident
    p = onehot_path([A, 0, N, 0])
    p[2] = 0.0125
    p[2, N] = 0.95
    label, info = best_path_decision(p)
    assert info["tie"]
    assert label == N - 1
    q = onehot_path([A, 0, N, 0])
    q[0, A] = 0.99
    q /= q.sum(1, keepdims=True)
    assert best_path_decision(q)[0] == A - 1


def test_log_probs_give_same_decision():
    rng = np.random.default_rng(1)
    for _ in range(20):
        logits = rng.standard_normal((30, 5)) * 2
        logp = logits - np.log(np.exp(logits).sum(1, keepdims=True))
        a, ia = best_path_decision(logp)
        b, ib = best_path_decision(np.exp(logp))
        assert a == b
        assert np.allclose(ia["scores"], ib["scores"])


def test_scores_sum_to_one_and_agree_with_decision():
    rng = np.random.default_rng(2)
    for _ in range(50):
        p = rng.dirichlet(np.ones(5) * 0.3, size=int(rng.integers(1, 25)))
        label, info = best_path_decision(p)
        assert info["scores"].shape == (4,)
        assert np.isclose(info["scores"].sum(), 1.0)
        assert int(np.argmax(info["scores"])) == label


def test_other_blank_index():
    # blank last: columns 0..3 are emotions
    p = onehot_path([4, 2, 2, 4, 2, 0])
    label, info = best_path_decision(p, blank=4)
    assert label == 2
    assert info["labels"] == [2, 2, 0]


def test_rejects_bad_shape():
    with pytest.raises(ValueError):
        best_path_decision(np.zeros(5))
