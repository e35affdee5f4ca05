"""numba kernels against plain numpy references."""

import numpy as np
import pytest

from realtime_ser.features import kernels


def deltas_reference(x, window=kernels.DELTA_WINDOW):
    """Regression deltas with edge replication, the textbook way."""
    pad = np.concatenate([np.repeat(x[:1], window, 0), x, np.repeat(x[-1:], window, 0)])
    num = sum(k * (pad[window + k : window + k + len(x)] - pad[window - k : window - k + len(x)])
              for k in range(1, window + 1))
    return num / (2 * sum(k * k for k in range(1, window + 1)))


@pytest.mark.parametrize("n_total", [1, 2, 5, 9, 40])
def test_delta_block_matches_reference_on_whole_sequence(n_total):
    rng = np.random.default_rng(n_total)
    x = rng.normal(size=(n_total, 6)).astype(np.float32)
    d_cols = np.array([0, 2, 3, 5], np.int64)
    dd_cols = np.array([1, 3], np.int64)  # positions within d_cols
    out = np.zeros((n_total, 6), np.float32)
    kernels.delta_block(x, 0, n_total, 0, n_total, d_cols, dd_cols, out)
    d = deltas_reference(x[:, d_cols])
    dd = deltas_reference(d[:, dd_cols])
    np.testing.assert_allclose(out[:, :4], d, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out[:, 4:], dd, rtol=1e-5, atol=1e-6)


def test_delta_block_on_a_window_of_history():
    rng = np.random.default_rng(7)
    x = rng.normal(size=(50, 3)).astype(np.float32)
    d_cols = np.arange(3, dtype=np.int64)
    dd_cols = np.arange(3, dtype=np.int64)
    ref = np.zeros((50, 6), np.float32)
    kernels.delta_block(x, 0, 50, 0, 50, d_cols, dd_cols, ref)
    t0, t1 = 20, 30
    lo, hi = t0 - kernels.DELTA_LOOKAHEAD, t1 + kernels.DELTA_LOOKAHEAD
    out = np.zeros((t1 - t0, 6), np.float32)
    kernels.delta_block(x[lo:hi], lo, 50, t0, t1, d_cols, dd_cols, out)
    np.testing.assert_allclose(out, ref[t0:t1], rtol=1e-6, atol=1e-7)


def test_normalize_matches_numpy():
    rng = np.random.default_rng(3)
    x = rng.normal(3.0, 2.0, size=(17, 5)).astype(np.float32)
    mean = x.mean(0)
    inv_std = (1.0 / x.std(0)).astype(np.float32)
    out = np.empty_like(x)
    kernels.normalize(x, mean, inv_std, out)
    np.testing.assert_allclose(out, (x - mean) * inv_std, rtol=1e-5, atol=1e-6)


def test_warm_up_reports_time():
    assert kernels.warm_up() >= 0.0
