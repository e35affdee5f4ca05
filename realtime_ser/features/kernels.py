"""numba delta kernel: the deltas of whole signals on the batch path.

`extract(samples, rate)` is the batch twin of realtime_ser.features.extract: the base
descriptors from the native core (features.base_frames), the first and second differences
of the whole signal at once from `delta_block`. The features CLI (whole files) and
`python -m realtime_ser.stream --offline` use it; serving streams through the native
OnlineFeatures and never imports numba. tests/test_kernels.py holds both to a numpy
reference and to each other. Kernels are compiled with cache=True; `warm_up()` compiles
(or loads) them and returns the seconds spent.
"""

from __future__ import annotations

import time

import numba
import numpy as np

from realtime_ser import features

DELTA_WINDOW = 2  # regression window N: d_t = sum_n n (x_{t+n} - x_{t-n}) / (2 sum_n n^2)
# Frames of lookahead the deltas need: first difference N, second difference 2N.
DELTA_LOOKAHEAD = 2 * DELTA_WINDOW


@numba.njit(cache=True, nogil=True)
def _clamp(i, n):
    return 0 if i < 0 else (n - 1 if i > n - 1 else i)


@numba.njit(cache=True, nogil=True)
def delta_block(hist, hist_start, n_total, t0, t1, d_cols, dd_cols, out):
    """Deltas of frames [t0, t1) into out[:, :len(d_cols)+len(dd_cols)].

    hist holds base frames with absolute indices hist_start .. hist_start+len(hist)-1 and
    must cover [t0-2N, t1+2N) clamped to [0, n_total). Frame indices are clamped to
    [0, n_total-1] (edge replication), so results near the end are final only once
    n_total is final. d_cols / dd_cols pick the columns that get first / second deltas;
    dd_cols must be a subset of d_cols given as positions into d_cols.
    """
    n = DELTA_WINDOW
    norm = 0.0
    for k in range(1, n + 1):
        norm += 2.0 * k * k
    nd = d_cols.shape[0]
    ndd = dd_cols.shape[0]
    # First deltas for s in [t0-N, t1+N), clamped, so the second deltas can use them.
    s0 = t0 - n
    m = t1 - t0 + 2 * n
    d = np.empty((m, nd), dtype=np.float32)
    for j in range(m):
        s = _clamp(s0 + j, n_total)
        for c in range(nd):
            col = d_cols[c]
            acc = 0.0
            for k in range(1, n + 1):
                acc += k * (hist[_clamp(s + k, n_total) - hist_start, col]
                            - hist[_clamp(s - k, n_total) - hist_start, col])
            d[j, c] = acc / norm
    for t in range(t0, t1):
        r = t - t0
        for c in range(nd):
            out[r, c] = d[t - s0, c]
        for c in range(ndd):
            src = dd_cols[c]
            acc = 0.0
            for k in range(1, n + 1):
                acc += k * (d[_clamp(t + k, n_total) - s0, src] - d[_clamp(t - k, n_total) - s0, src])
            out[r, nd + c] = acc / norm


def with_deltas(base: np.ndarray) -> np.ndarray:
    """Base descriptors of a whole signal (n, len(BASE_NAMES)) -> features (n, DIM)."""
    base = np.ascontiguousarray(base, np.float32)
    n, nb = base.shape
    out = np.empty((n, features.DIM), np.float32)
    out[:, :nb] = base
    if n:
        delta_block(base, 0, n, 0, n, features._D_COLS, features._DD_COLS, out[:, nb:])
    return out


def extract(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """Features of a whole signal, float32 (frames, DIM): native descriptors, numba deltas."""
    return with_deltas(features.base_frames(samples, sample_rate))


def warm_up() -> float:
    """Compile or load every kernel once; returns the seconds it took."""
    t = time.perf_counter()
    hist = np.zeros((6, 3), np.float32)
    out = np.zeros((2, 3), np.float32)
    delta_block(hist, 0, 6, 0, 2, np.array([0, 1], np.int64), np.array([0], np.int64), out)
    return time.perf_counter() - t
