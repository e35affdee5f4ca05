"""numba LSTM recurrence: the second implementation of realtime_ser.lstm's recurrence.

Serving runs the C++ kernel (realtime_ser._native.lstm_recur); this one has the same
contract and is tested against it (tests/test_lstm.py). StreamingBiLstm(..., backend="numba")
imports this module and runs it instead; nothing else imports numba on the serving path.
"""

from __future__ import annotations

import math
import time

import numba
import numpy as np

_LOG2E = np.float32(1.4426950408889634)
_LN2_HI = np.float32(0.693359375)       # ln 2 split in two for the range reduction
_LN2_LO = np.float32(-2.12194440e-4)


@numba.njit(cache=True, nogil=True, fastmath=True)
def _exp_inplace(x, n, bits):
    """x[:n] = exp(x[:n]) in float32 (inputs clamped to +-80), in a loop that vectorises.

    exp(v) = 2^k exp(r), r = v - k ln 2 in [-ln2/2, ln2/2]; exp(r) by its degree-6 Taylor
    polynomial (relative error < 2e-7); 2^k built from its exponent bits.
    """
    for j in range(n):
        v = min(max(x[j], np.float32(-80.0)), np.float32(80.0))
        k = math.floor(v * _LOG2E + np.float32(0.5))
        r = v - k * _LN2_HI - k * _LN2_LO
        p = np.float32(1.0 / 720.0)
        p = p * r + np.float32(1.0 / 120.0)
        p = p * r + np.float32(1.0 / 24.0)
        p = p * r + np.float32(1.0 / 6.0)
        p = p * r + np.float32(0.5)
        p = p * r + np.float32(1.0)
        x[j] = p * r + np.float32(1.0)
        bits[j] = (np.int32(k) + np.int32(127)) << np.int32(23)
    scale = bits.view(np.float32)
    for j in range(n):
        x[j] *= scale[j]


@numba.njit(cache=True, nogil=True, fastmath=True)
def _cell(g, gx, c, h, out, z, y, bits):
    """One LSTM step for one stream: g = h_prev @ W_hh (4H,), gx input gates; updates c, h."""
    n_h = c.shape[0]
    for j in range(4 * n_h):  # sigmoid(v) = 1 / (1 + exp(-v)); tanh(v) = 2 sigmoid(2v) - 1
        z[j] = -(g[j] + gx[j])
    for j in range(2 * n_h, 3 * n_h):
        z[j] *= np.float32(2.0)
    _exp_inplace(z, 4 * n_h, bits)
    for j in range(4 * n_h):
        z[j] = np.float32(1.0) / (np.float32(1.0) + z[j])
    for j in range(n_h):
        cj = z[n_h + j] * c[j] + z[j] * (np.float32(2.0) * z[2 * n_h + j] - np.float32(1.0))
        c[j] = cj
        y[j] = np.float32(-2.0) * cj
    _exp_inplace(y, n_h, bits)
    for j in range(n_h):
        hj = z[3 * n_h + j] * (np.float32(2.0) / (np.float32(1.0) + y[j]) - np.float32(1.0))
        h[j] = hj
        out[j] = hj


@numba.njit(cache=True, nogil=True, fastmath=True)
def recur_numba(gates_x, counts, w_hh_t, h, c, out):
    """LSTM over time-major gates_x (T, S, 4H); at step t only streams [0, counts[t]) step.

    h, c (S, H) are the initial states and are updated in place; out (T, S, H) gets h_t.
    counts must not increase, so a stream's final state stays in h, c.
    The recurrent product of all active streams is one BLAS call per step.
    """
    n_h = w_hh_t.shape[0]
    z = np.empty(4 * n_h, np.float32)
    y = np.empty(n_h, np.float32)
    bits = np.empty(4 * n_h, np.int32)
    for t in range(gates_x.shape[0]):
        k = counts[t]
        g = np.dot(h[:k], w_hh_t)
        for s in range(k):
            _cell(g[s], gates_x[t, s], c[s], h[s], out[t, s], z, y, bits)


def warm_up() -> float:
    """Compile (or load from cache) the numba kernels; returns the seconds spent."""
    t0 = time.perf_counter()
    h = np.zeros((1, 2), np.float32)
    recur_numba(np.zeros((1, 1, 8), np.float32), np.ones(1, np.int64),
                np.zeros((2, 8), np.float32), h, h.copy(), np.zeros((1, 1, 2), np.float32))
    return time.perf_counter() - t0
