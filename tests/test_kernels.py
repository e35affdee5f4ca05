"""Frame-level kernels: numba and C++ (realtime_ser._native) against plain numpy references
and against each other; the batch features (native descriptors + numba deltas of the whole
signal) against the streamed ones on real speech."""


from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from realtime_ser import _native, features
from realtime_ser.features import OnlineFeatures, kernels

DELTA_KERNELS = {"numba": kernels.delta_block, "native": _native.delta_block}


def deltas_reference(x, window=kernels.DELTA_WINDOW):
    """Regression deltas with edge replication, the textbook way."""
    pad = np.concatenate([np.repeat(x[:1], window, 0), x, np.repeat(x[-1:], window, 0)])
    num = sum(k * (pad[window + k : window + k + len(x)] - pad[window - k : window - k + len(x)])
              for k in range(1, window + 1))
    return num / (2 * sum(k * k for k in range(1, window + 1)))


def test_native_delta_constants_match():
    assert (_native.DELTA_WINDOW, _native.DELTA_LOOKAHEAD) == (kernels.DELTA_WINDOW, kernels.DELTA_LOOKAHEAD)


@pytest.mark.parametrize("kernel", DELTA_KERNELS)
@pytest.mark.parametrize("n_total", [1, 2, 3, 5, 9, 40])
def test_delta_block_matches_reference_on_whole_sequence(n_total, kernel):
    rng = np.random.default_rng(n_total)
    x = rng.normal(size=(n_total, 6)).astype(np.float32)
    d_cols = np.array([0, 2, 3, 5], np.int64)
    dd_cols = np.array([1, 3], np.int64)  # positions within d_cols
    out = np.zeros((n_total, 6), np.float32)
    DELTA_KERNELS[kernel](x, 0, n_total, 0, n_total, d_cols, dd_cols, out)
    d = deltas_reference(x[:, d_cols])
    dd = deltas_reference(d[:, dd_cols])
    np.testing.assert_allclose(out[:, :4], d, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out[:, 4:], dd, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kernel", DELTA_KERNELS)
def test_delta_block_on_a_window_of_history(kernel):
    rng = np.random.default_rng(7)
    x = rng.normal(size=(50, 3)).astype(np.float32)
    d_cols = np.arange(3, dtype=np.int64)
    dd_cols = np.arange(3, dtype=np.int64)
    ref = np.zeros((50, 6), np.float32)
    DELTA_KERNELS[kernel](x, 0, 50, 0, 50, d_cols, dd_cols, ref)
    for t0, t1 in [(20, 30), (0, 3), (1, 2), (46, 50), (0, 50)]:
        lo = max(0, t0 - kernels.DELTA_LOOKAHEAD)
        hi = min(50, t1 + kernels.DELTA_LOOKAHEAD)
        out = np.zeros((t1 - t0, 6), np.float32)
        DELTA_KERNELS[kernel](x[lo:hi], lo, 50, t0, t1, d_cols, dd_cols, out)
        np.testing.assert_allclose(out, ref[t0:t1], rtol=1e-6, atol=1e-7)


def streamed_deltas(kernel, x, arrivals, d_cols, dd_cols, width):
    """Deltas as OnlineFeatures computes them: frames arrive in pieces, each frame is emitted
    once DELTA_LOOKAHEAD later frames exist (or the input ended), from a trimmed history."""
    look = kernels.DELTA_LOOKAHEAD
    hist, hist_start, emitted, outs = x[:0], 0, 0, []
    for pos, last in arrivals:
        hist = np.concatenate([hist, x[hist_start + len(hist):pos]])
        total = hist_start + len(hist)
        stop = total if last else total - look
        if stop > emitted:
            out = np.full((stop - emitted, width + 3), 7.0, np.float32)
            kernel(np.ascontiguousarray(hist), hist_start, total, emitted, stop, d_cols, dd_cols, out[:, 3:])
            assert (out[:, :3] == 7.0).all()  # columns before the strided view untouched
            outs.append(out[:, 3:])
            emitted = stop
            keep = max(0, emitted - look)
            hist, hist_start = hist[keep - hist_start:], keep
    return np.concatenate(outs)


@pytest.mark.parametrize("n_total", [1, 4, 5, 23, 64])
def test_delta_block_streaming_equals_whole_and_kernels_agree(n_total):
    rng = np.random.default_rng(100 + n_total)
    x = (rng.normal(size=(n_total, 7)) * rng.uniform(0.1, 100, 7)).astype(np.float32)
    d_cols = np.array([0, 1, 3, 4, 6], np.int64)
    dd_cols = np.array([0, 2, 4], np.int64)
    width = len(d_cols) + len(dd_cols)
    whole = {}
    for name, kernel in DELTA_KERNELS.items():
        whole[name] = np.zeros((n_total, width), np.float32)
        kernel(x, 0, n_total, 0, n_total, d_cols, dd_cols, whole[name])
        cuts = sorted(set(rng.integers(0, n_total + 1, size=6).tolist()) | {n_total})
        arrivals = [(c, False) for c in cuts] + [(n_total, True)]
        got = streamed_deltas(kernel, x, arrivals, d_cols, dd_cols, width)
        np.testing.assert_array_equal(got, whole[name])  # streaming is exact
        one_by_one = streamed_deltas(kernel, x, [(c, False) for c in range(n_total + 1)] + [(n_total, True)],
                                     d_cols, dd_cols, width)
        np.testing.assert_array_equal(one_by_one, whole[name])
    ref_d = deltas_reference(x[:, d_cols].astype(np.float64))
    ref_dd = deltas_reference(ref_d[:, dd_cols])
    scale = np.abs(np.concatenate([ref_d, ref_dd], 1)).max(0) + 1e-3
    np.testing.assert_allclose(whole["native"], whole["numba"], rtol=1e-6, atol=1e-6 * scale.max())
    np.testing.assert_allclose(whole["native"], np.concatenate([ref_d, ref_dd], 1), rtol=1e-5,
                               atol=1e-5 * scale.max())


def test_native_delta_block_rejects_bad_arguments():
    x = np.zeros((20, 4), np.float32)
    d, dd = np.array([0, 2], np.int64), np.array([1], np.int64)
    good = dict(hist=x, hist_start=0, n_total=20, t0=5, t1=9, d_cols=d, dd_cols=dd,
                out=np.zeros((4, 3), np.float32))
    _native.delta_block(**good)
    bad = [dict(t1=21, out=np.zeros((16, 3), np.float32)),   # past n_total
           dict(t0=10, t1=9),
           dict(hist=x[3:], hist_start=3),                      # history starts too late
           dict(hist=x[:12]),                                   # ... ends too early
           dict(hist=x.astype(np.float64)),
           dict(hist=np.asfortranarray(x)),
           dict(d_cols=np.array([0, 4])),                       # column outside hist
           dict(dd_cols=np.array([2])),                         # not a position in d_cols
           dict(d_cols=np.array([0.0, 2.0])),
           dict(out=np.zeros((5, 3), np.float32)),              # rows != t1 - t0
           dict(out=np.zeros((4, 2), np.float32)),              # too narrow
           dict(out=np.zeros((4, 3), np.float64)),
           dict(out=np.zeros((3, 4), np.float32).T)]            # columns strided
    for change in bad:
        with pytest.raises(ValueError, match="^delta_block: "):
            _native.delta_block(**(good | change))
    out = np.zeros((4, 5), np.float32)
    _native.delta_block(**(good | dict(out=out)))  # wider out: the first columns
    assert not out[:, 3:].any()


def test_engine_normalize_matches_numpy():
    from realtime_ser.normalize import NormConfig, Normalizer

    rng = np.random.default_rng(13)
    x = rng.normal(3.0, 2.0, size=(17, 5)).astype(np.float32)
    mean, std = x.mean(0), x.std(0)
    got = Normalizer(NormConfig(), [f"c{i}" for i in range(5)], mean, std).process(x)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, (x - mean) / std, rtol=1e-5, atol=1e-6)


def test_warm_up_compiles_every_kernel_and_reports_its_time(monkeypatch):
    kernels.warm_up()
    for kernel in (kernels.delta_block,):
        assert kernel.signatures, f"{kernel.__name__} not compiled by warm_up()"
    ticks = iter([10.0, 12.5])  # perf_counter before and after: warm_up reports the difference

    class Clock:
        @staticmethod
        def perf_counter():
            return next(ticks)

    monkeypatch.setattr(kernels, "time", Clock)
    assert kernels.warm_up() == 2.5


SPEECH = [Path(__file__).parents[1] / "realtime_ser" / "samples" / "speech.wav",
          Path("/work/shared/corpora/emodb/wav/03a01Fa.wav"),
          Path("/work/shared/corpora/emodb/wav/16b10Wb.wav")]


@pytest.mark.parametrize("path", SPEECH, ids=lambda p: p.name)
def test_batch_features_equal_streamed_features_on_speech(path):
    """Whole-file numba deltas == the native streaming features, frame for frame."""
    if not path.exists():
        pytest.skip(f"{path} not available")
    x, rate = sf.read(path, dtype="float32")
    streamed = OnlineFeatures()
    parts = []
    for i in range(0, len(x), 3217):  # odd chunks: frames become final at many points
        streamed.accept_waveform(rate, x[i:i + 3217])
        parts.append(streamed.pop_frames())
    streamed.input_finished()
    parts.append(streamed.pop_frames())
    want = np.concatenate(parts)
    got = kernels.extract(x, rate)
    assert got.shape == want.shape == (len(features.base_frames(x, rate)), features.DIM)
    np.testing.assert_array_equal(got, want)  # same arithmetic: equal to the bit
    np.testing.assert_array_equal(got, features.extract(x, rate))


def test_batch_features_of_short_and_empty_signals():
    for n in (0, 10, 400, 401, 560):
        x = np.sin(np.arange(n) * 0.05).astype(np.float32)
        np.testing.assert_array_equal(kernels.extract(x, 16000), features.extract(x, 16000))
