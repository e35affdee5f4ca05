"""realtime_ser.speech_kernels (the batch path's speech flags) against the native SpeechDetector.

Frame for frame on real signals (the bundled sample, EmoDB files, their gain changes),
synthetic silence, noise and tones, and constructed descriptor rows that exercise every
branch (floor, steady run, onset, hangover, NaN energy), with default and other options.
"""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from realtime_ser import _native, speech_kernels
from realtime_ser.features import BASE_NAMES
from realtime_ser.features import kernels as feature_kernels
from test_speech_detector import COL, RATE, SPEECH_WAV, rows


def native(x, options=None):
    return _native.SpeechDetector(options or _native.SpeechDetectorOptions()).accept_frames(x)


def assert_same(x, options=None, what=""):
    got, want = speech_kernels.flags(x, options), native(x, options)
    assert got.dtype == np.uint8 and got.shape == (len(x),), what
    assert np.array_equal(got, want), (what, np.flatnonzero(got != want)[:10])
    return got


def signals():
    t = np.arange(4 * RATE) / RATE
    rng = np.random.default_rng(3)
    speech, rate = sf.read(SPEECH_WAV, dtype="float32")
    assert rate == RATE
    return [("speech.wav", speech), ("speech.wav at -40 dB", 0.01 * speech),
            ("speech.wav in noise", speech + 0.003 * rng.standard_normal(len(speech))),
            ("silence", np.zeros(4 * RATE)), ("white noise", rng.uniform(-1, 1, 4 * RATE)),
            ("quiet noise", 0.01 * rng.standard_normal(4 * RATE)),
            ("200 Hz sine", 0.5 * np.sin(2 * np.pi * 200 * t)),
            ("gliding sine", 0.3 * np.sin(2 * np.pi * (150 + 50 * t) * t) * (1 + np.sin(2 * np.pi * 3 * t)))]


@pytest.mark.parametrize("name,x", signals(), ids=lambda v: v if isinstance(v, str) else "")
def test_flags_equal_native_on_signals(name, x):
    flags = assert_same(feature_kernels.extract(np.asarray(x, np.float32), RATE), what=name)
    if name.startswith("speech.wav"):
        assert flags.mean() > 0.5, name
    elif name != "gliding sine":
        assert flags.sum() == 0, name  # silence, noise and a steady tone are not speech


def test_flags_equal_native_on_emodb(emodb_wavs):
    for path in emodb_wavs[::60]:
        x, rate = sf.read(path, dtype="float32")
        feats = feature_kernels.extract(x, rate)
        assert_same(feats, what=path.name)
        assert_same(feats[:, :len(BASE_NAMES)], what=path.name)  # base descriptors alone will do


def random_rows(rng, n):
    """Descriptor rows with runs of candidates, gaps, steady stretches, energy jumps and NaN."""
    cand = np.repeat(rng.integers(0, 2, n // 4 + 1), rng.integers(1, 12, n // 4 + 1))[:n]
    x = rows(np.resize(cand, n))
    x[:, COL["log_energy"]] += rng.normal(0, 1.5, n).astype(np.float32)
    steady = np.repeat(rng.random(n // 6 + 1) < 0.3, 6)[:n]
    x[steady, COL["f0_hz"]] = np.where(x[steady, COL["f0_hz"]] > 0, 180.0, 0.0)
    x[steady, COL["log_energy"]] = -1.0
    x[rng.random(n) < 0.02, COL["log_energy"]] = np.nan
    x[rng.random(n) < 0.05, COL["voicing_prob"]] = 0.5  # on the threshold
    return x


def test_flags_equal_native_on_constructed_rows_with_other_options():
    rng = np.random.default_rng(7)
    variants = [{}, {"onset_frames": 1, "hangover_frames": 1}, {"onset_frames": 3, "hangover_frames": 7},
                {"steady_frames": 1, "steady_f0": 0.05, "steady_energy": 0.5}, {"snr": 0.0, "floor_rise": 0.0},
                {"min_voicing": 0.0, "min_log_energy": -3.0, "floor_init": 2.0, "floor_rise": 0.3}]
    n_speech = 0
    for v in variants:
        o = _native.SpeechDetectorOptions()
        for name, value in v.items():
            setattr(o, name, value)
        for n in (0, 1, 7, 600):
            n_speech += assert_same(random_rows(rng, n), o, str(v)).sum()
    assert n_speech > 500


def test_defaults_are_the_native_ones_and_bad_options_fail_alike():
    o = _native.SpeechDetectorOptions()
    floats, ints = speech_kernels.options_arrays()
    assert floats.tolist() == [getattr(o, n) for n in speech_kernels._FLOATS]
    assert ints.tolist() == [o.steady_frames, o.onset_frames, o.hangover_frames] == [3, 5, 40]
    bad = _native.SpeechDetectorOptions()
    bad.hangover_frames = 0
    with pytest.raises(ValueError, match="^hangover_frames must be at least 1"):
        speech_kernels.flags(np.zeros((3, len(BASE_NAMES)), np.float32), bad)
    with pytest.raises(ValueError, match="frames must be"):
        speech_kernels.flags(np.zeros((3, 2), np.float32))


def test_kernel_is_cached_and_does_not_recompile():
    speech_kernels.warm_up()
    k = speech_kernels.speech_kernel
    assert k._cache is not None and type(k._cache).__name__ != "NullCache"
    n_sig = len(k.signatures)
    x = np.zeros((5, len(BASE_NAMES) + 3))
    ro = x.astype(np.float32)
    ro.setflags(write=False)
    for frames in (x, x[::-1], ro):  # float64, non-contiguous, read-only
        speech_kernels.flags(frames)
    assert len(k.signatures) == n_sig
