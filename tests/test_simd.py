"""The fast math of csrc/ser/simd.h against libm (numpy in float64), over wide ranges.

The descriptors call these in their vectorised loops; _native.simd applies them elementwise
(the portable build; the AVX2 clone runs the same arithmetic). Each test prints the measured
maximum relative error (pytest -s shows it) and asserts a bound just above it.
"""

from __future__ import annotations

import numpy as np
import pytest

from realtime_ser import _native

simd = _native.simd
F32_MAX = float(np.finfo(np.float32).max)


def _report(name: str, rel: np.ndarray, x: np.ndarray) -> float:
    worst = float(rel.max())
    print(f"\n{name}: max relative error {worst:.3g} at x = {float(x[rel.argmax()]):.7g} over {x.size} points")
    return worst


def _log_uniform(lo: float, hi: float, n: int, seed: int) -> np.ndarray:
    return np.exp(np.random.default_rng(seed).uniform(np.log(lo), np.log(hi), n)).astype(np.float32)


def test_fast_exp_against_libm():
    x = np.concatenate([np.linspace(-80, 80, 1_600_001, dtype=np.float32),
                        np.float32([-80, -1e-30, 0, 1e-30, 80])])
    ref = np.exp(x.astype(np.float64))
    rel = np.abs(simd.fast_exp(x) / ref - 1)
    assert _report("fast_exp on [-80, 80]", rel, x) < 3e-7
    # Clamped outside [-80, 80]; NaN stays NaN.
    out = simd.fast_exp(np.float32([-1e4, -np.inf, 1e4, np.inf, np.nan]))
    np.testing.assert_allclose(out[:4], np.exp([-80, -80, 80, 80]), rtol=3e-7)
    assert np.isnan(out[4])


def test_fast_log_against_libm():
    x = np.concatenate([_log_uniform(1e-37, F32_MAX, 1_000_000, 0),
                        np.linspace(0.5, 2.0, 1_000_001, dtype=np.float32),  # around ln x = 0
                        np.float32([np.finfo(np.float32).tiny, 1.0, F32_MAX])])
    ref = np.log(x.astype(np.float64))
    err = np.abs(simd.fast_log(x, 1e-38).astype(np.float64) - ref)
    nonzero = ref != 0
    rel = err[nonzero] / np.abs(ref[nonzero])
    assert _report("fast_log on [1e-37, FLT_MAX]", rel, x[nonzero]) < 3e-7
    assert err[ref == 0].max() == 0.0  # ln 1 exactly
    small = np.abs(ref) < 8
    assert err[small].max() < 4e-7


def test_fast_log_floor():
    floor = 1e-10
    out = simd.fast_log(np.float32([0.0, -0.0, -1.0, 1e-20, floor]), floor)
    np.testing.assert_allclose(out, np.log(np.float32(floor)), rtol=3e-7)


def test_fast_sqrt_against_libm():
    x = np.concatenate([_log_uniform(1e-37, 1e30, 1_000_000, 1), np.linspace(0, 4, 400_001, dtype=np.float32)[1:]])
    rel = np.abs(simd.fast_sqrt(x) / np.sqrt(x.astype(np.float64)) - 1)
    assert _report("fast_sqrt on [1e-37, 1e30]", rel, x) < 3e-7
    assert simd.fast_sqrt(np.float32([0.0]))[0] == 0.0


def test_clean_power():
    nan_neg = np.uint32(0xFFC00000).view(np.float32)  # the NaN that x86 arithmetic produces
    nan_pos = np.uint32(0x7FC00000).view(np.float32)
    x = np.float32([-1.0, -0.0, nan_neg, -np.inf, nan_pos, np.inf, 2e30, 1e-45, 3.5])
    np.testing.assert_array_equal(simd.clean_power(x), np.float32([0, 0, 0, 0, 1e30, 1e30, 1e30, 1e-45, 3.5]))
    inf = np.float32([np.inf])
    with np.errstate(invalid="ignore"):
        assert simd.clean_power(inf - inf)[0] in (0.0, np.float32(1e30))  # finite either way


@pytest.mark.parametrize("fn", ["fast_exp", "fast_log", "fast_sqrt"])
def test_shape_kept(fn):
    x = np.ones((3, 4), np.float32)
    assert getattr(simd, fn)(x).shape == (3, 4)
