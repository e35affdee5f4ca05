"""The native extractor never crashes and always returns finite frames."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from realtime_ser import _native

KINDS = ["silence", "noise", "clipped", "dc", "denormal", "sine", "impulses"]


def make_signal(kind, n, seed):
    rng = np.random.default_rng(seed)
    if kind == "silence":
        return np.zeros(n, np.float32)
    if kind == "noise":
        return rng.uniform(-1, 1, n).astype(np.float32)
    if kind == "clipped":
        return np.clip(rng.normal(0, 3, n), -1, 1).astype(np.float32)
    if kind == "dc":
        return np.full(n, rng.uniform(-1, 1), np.float32)
    if kind == "denormal":
        return (rng.normal(size=n) * 1e-40).astype(np.float32)
    if kind == "sine":
        return (0.9 * np.sin(2 * np.pi * rng.uniform(50, 7900) * np.arange(n) / 16000)).astype(np.float32)
    x = np.zeros(n, np.float32)
    if n:
        x[rng.integers(0, n, size=5)] = 1.0
    return x


@settings(max_examples=60, deadline=None)
@given(kind=st.sampled_from(KINDS), n=st.integers(0, 6000), seed=st.integers(0, 2**31 - 1),
       chunks=st.lists(st.integers(1, 2000), min_size=1, max_size=8))
def test_any_input_gives_finite_frames(kind, n, seed, chunks):
    x = make_signal(kind, n, seed)
    lld = _native.OnlineLld()
    pos, i, frames = 0, 0, []
    while pos < n:
        lld.accept_waveform(x[pos : pos + chunks[i % len(chunks)]])
        frames.append(lld.pop_frames())
        pos += chunks[i % len(chunks)]
        i += 1
    lld.input_finished()
    frames.append(lld.pop_frames())
    out = np.concatenate(frames)
    assert out.shape == ((n - 400) // 160 + 1 if n >= 400 else 0, _native.OnlineLld.dim)
    assert np.isfinite(out).all()


def test_non_finite_samples_do_not_poison_the_stream():
    lld = _native.OnlineLld()
    x = np.random.default_rng(0).normal(0, 0.1, 4000).astype(np.float32)
    x[100] = np.nan
    x[2000] = np.inf
    lld.accept_waveform(x)
    lld.input_finished()
    assert np.isfinite(lld.pop_frames()).all()


def frames_of(x) -> np.ndarray:
    lld = _native.OnlineLld()
    lld.accept_waveform(x)
    lld.input_finished()
    return lld.pop_frames()


def test_float64_input_gives_the_float32_frames_and_2d_is_rejected():
    t = np.arange(8000) / 16000
    x = (0.3 * np.sin(2 * np.pi * 180 * t) + 0.01 * np.random.default_rng(1).normal(size=t.size)).astype(np.float32)
    want = frames_of(x)
    assert want.shape == ((8000 - 400) // 160 + 1, _native.OnlineLld.dim)
    np.testing.assert_array_equal(frames_of(x.astype(np.float64)), want)  # converted, not misread
    assert not np.array_equal(frames_of((2 * x).astype(np.float64)), want)
    lld = _native.OnlineLld()
    with pytest.raises(ValueError, match="1-D"):
        lld.accept_waveform(np.zeros((10, 2), np.float32))
