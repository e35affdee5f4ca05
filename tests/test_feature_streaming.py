"""Streaming invariance: any chunking gives the frames of one whole-signal pass."""

import numpy as np
import pytest
import soundfile as sf

from realtime_ser import features


def stream_in_chunks(x, sizes, rate=16000):
    stream = features.OnlineFeatures()
    out, pos, i = [], 0, 0
    while pos < len(x):
        n = sizes[i % len(sizes)]
        stream.accept_waveform(rate, x[pos : pos + n])
        out.append(stream.pop_frames())
        pos += n
        i += 1
    stream.input_finished()
    out.append(stream.pop_frames())
    return np.concatenate(out)


def assert_same_frames(a, b, rel=1e-5):
    assert a.shape == b.shape
    scale = np.maximum(b.max(0) - b.min(0), 1e-6)
    err = np.abs(a - b) / scale
    worst = np.unravel_index(np.argmax(err), err.shape)
    assert err.max() <= rel, f"frame {worst[0]} {features.NAMES[worst[1]]}: rel err {err.max():.3g}"


def test_names_and_dimension():
    assert len(features.NAMES) == features.DIM == len(set(features.NAMES))
    assert features.DIM >= 200
    assert features.VERSION


def test_frame_count():
    for n in [0, 399, 400, 559, 560, 16000]:
        x = np.random.default_rng(n).normal(0, 0.1, n).astype(np.float32)
        t = features.extract(x, 16000) if n else np.zeros((0, features.DIM))
        assert t.shape == ((n - 400) // 160 + 1 if n >= 400 else 0, features.DIM)


@pytest.mark.parametrize("sizes", [[1], [112], [1600], [160, 7, 999, 1, 400]], ids=["1", "7ms", "100ms", "mixed"])
def test_fixed_chunkings_on_emodb(emodb_wavs, sizes):
    x, rate = sf.read(emodb_wavs[0], dtype="float32")
    if sizes == [1]:
        x = x[:8000]  # 1-sample chunks: half a second keeps the test quick
    whole = features.extract(x, rate)
    assert whole.shape[0] > 0
    assert_same_frames(stream_in_chunks(x, sizes, rate), whole)


def test_random_chunkings_on_emodb(emodb_wavs):
    rng = np.random.default_rng(2018)
    for path in rng.choice(emodb_wavs, size=4, replace=False):
        x, rate = sf.read(path, dtype="float32")
        whole = features.extract(x, rate)
        sizes = list(rng.integers(1, 4000, size=50))
        assert_same_frames(stream_in_chunks(x, sizes, rate), whole)


def test_resampled_stream_matches_whole(emodb_wavs):
    import soxr

    x16, _ = sf.read(emodb_wavs[1], dtype="float32")
    x48 = soxr.resample(x16, 16000, 48000).astype(np.float32)
    whole = features.extract(x48, 48000)
    chunked = stream_in_chunks(x48, [480, 1234, 77], 48000)
    assert chunked.shape == whole.shape
    # the resampler's streaming path may differ from its one-shot path by rounding only
    assert_same_frames(chunked, whole, rel=1e-3)


def test_reset_starts_a_fresh_stream(emodb_wavs):
    x, rate = sf.read(emodb_wavs[2], dtype="float32")
    stream = features.OnlineFeatures()
    stream.accept_waveform(rate, x[:5000])
    stream.pop_frames()
    stream.reset()
    assert_same_frames(stream_in_chunks(x, [len(x)], rate), features.extract(x, rate))
    stream.accept_waveform(rate, x)
    first = stream.pop_frames()
    stream.input_finished()
    assert_same_frames(np.concatenate([first, stream.pop_frames()]), features.extract(x, rate))


def test_rejects_nan_and_rate_change():
    stream = features.OnlineFeatures()
    with pytest.raises(ValueError, match="NaN|infinite"):
        stream.accept_waveform(16000, np.array([0.0, np.nan], np.float32))
    stream.accept_waveform(16000, np.zeros(100, np.float32))
    with pytest.raises(ValueError, match="sample rate changed"):
        stream.accept_waveform(8000, np.zeros(100, np.float32))
