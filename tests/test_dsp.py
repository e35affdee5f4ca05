"""The shared DSP core (csrc/ser/dsp.h) against numpy: window, pre-emphasis response,
Levinson-Durbin and the fast acos. _native.dsp exposes them for these tests only."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg

from realtime_ser import _native

dsp = _native.dsp


def test_constants():
    assert dsp.PI == np.pi
    assert dsp.PRE_EMPHASIS == np.float32(0.97)


@pytest.mark.parametrize("n", [2, 5, 400, 640])
def test_hamming_matches_numpy(n):
    np.testing.assert_allclose(dsp.hamming(n), np.hamming(n).astype(np.float32), rtol=0, atol=1e-7)


def test_pre_emphasis_power_gain():
    a32 = np.float32(0.97)
    a = float(a32)
    for w in np.linspace(0, np.pi, 33):
        got = dsp.pre_emphasis_power_gain(w)
        assert got == pytest.approx(abs(1 - a * np.exp(-1j * w)) ** 2, abs=1e-7)
        # a^2 is rounded to float, as when the descriptor tables were first built (kept: golden frames).
        assert got == pytest.approx(1.0 + float(a32 * a32) - 2.0 * a * np.cos(w), rel=1e-13)


def _autocorrelation(x: np.ndarray, order: int) -> np.ndarray:
    return np.array([np.dot(x[: len(x) - k], x[k:]) for k in range(order + 1)])


@pytest.mark.parametrize("seed", range(5))
def test_levinson_solves_the_normal_equations(seed):
    rng = np.random.default_rng(seed)
    x = np.convolve(rng.standard_normal(400), [1, -1.6, 0.9, 0.3], mode="same")  # a coloured signal
    order = 11
    r = _autocorrelation(x, order)
    a, err, a8 = dsp.levinson_durbin(list(r), keep_order=8)
    # Toeplitz normal equations R a[1:] = -r[1:], and err = r[0] + a[1:] . r[1:].
    want = scipy.linalg.solve_toeplitz(r[:order], -r[1:])
    np.testing.assert_allclose(a[1:], want, rtol=1e-9, atol=1e-12)
    assert a[0] == 1.0
    assert err == pytest.approx(r[0] + np.dot(want, r[1:]), rel=1e-9)
    np.testing.assert_allclose(a8[1:], scipy.linalg.solve_toeplitz(r[:8], -r[1:9]), rtol=1e-9, atol=1e-12)


def test_levinson_stops_on_a_singular_or_invalid_sequence():
    # A pure sinusoid is predicted exactly at order 2: the recursion stops there.
    w = 0.3
    r = [np.cos(w * k) for k in range(6)]
    a, err, _ = dsp.levinson_durbin(r)
    np.testing.assert_allclose(a[:3], [1.0, -2 * np.cos(w), 1.0], atol=1e-6)
    assert a[3:] == [0.0, 0.0, 0.0]
    assert err <= 1e-12 * r[0]
    # Not an autocorrelation (|k| >= 1 at the first step): the trivial predictor is kept.
    a, err, keep = dsp.levinson_durbin([1.0, 2.0, 0.5], keep_order=1)
    assert a == [1.0, 0.0, 0.0] and keep == [1.0, 0.0] and err == 1.0


def test_levinson_on_silence_with_the_noise_floor():
    r = dsp.add_noise_floor([0.0] * 12)
    assert r[0] == pytest.approx(1e-12) and r[1:] == [0.0] * 11
    a, err, _ = dsp.levinson_durbin(r)
    assert a == [1.0] + [0.0] * 11 and err == pytest.approx(1e-12)


def test_fast_acos():
    x = np.linspace(-1, 1, 200_001)
    err = np.abs([dsp.fast_acos(v) for v in x] - np.arccos(x))
    print(f"\nfast_acos: max absolute error {err.max():.3g} on [-1, 1]")
    assert err.max() < 3e-8
