"""realtime_ser.audio: decoding, downmix, resampling, streaming and error reporting."""

from __future__ import annotations

import os
import sys
import threading

import numpy as np
import pytest
import soundfile as sf
from hypothesis import given, settings
from hypothesis import strategies as st

from realtime_ser import audio
from realtime_ser.audio import (
    MIN_SAMPLE_RATE,
    SAMPLE_RATE,
    AudioError,
    Resampler,
    check_rate,
    duration,
    find_audio_files,
    iter_blocks,
    load,
    to_16k,
    to_mono_float,
)

TOL = 1e-5


def tone(seconds: float, rate: int, freq: float = 440.0, channels: int = 1, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(round(seconds * rate))) / rate
    x = amp * np.sin(2 * np.pi * freq * t)
    if channels == 1:
        return x.astype(np.float32)
    # Each channel a different amplitude so the downmix is checkable.
    return np.stack([x * (c + 1) / channels for c in range(channels)], axis=1).astype(np.float32)


def peak_hz(x: np.ndarray, rate: int = SAMPLE_RATE) -> float:
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.argmax(spec) * rate / len(x))


def assert_one_line_error(exc: pytest.ExceptionInfo, path, *fragments: str) -> None:
    msg = str(exc.value)
    assert "\n" not in msg
    assert msg.startswith(f"{path}: "), msg
    for frag in fragments:
        assert frag in msg, msg
    assert isinstance(exc.value, ValueError)


# --------------------------------------------------------------------------- to_mono_float


def test_constants():
    assert SAMPLE_RATE == 16000
    assert MIN_SAMPLE_RATE == 8000


@pytest.mark.parametrize(
    "dtype, raw, expected",
    [
        (np.int8, [-128, 0, 64, 127], [-1.0, 0.0, 0.5, 127 / 128]),
        (np.int16, [-32768, 0, 16384, 32767], [-1.0, 0.0, 0.5, 32767 / 32768]),
        (np.int32, [-(2**31), 0, 2**30, 2**31 - 1], [-1.0, 0.0, 0.5, 1.0 - 2**-31]),
        (np.uint8, [0, 128, 192, 255], [-1.0, 0.0, 0.5, 127 / 128]),
        (np.float32, [-1.5, 0.0, 0.25, 1.25], [-1.5, 0.0, 0.25, 1.25]),  # floats keep values up to +-1.5
        (np.float64, [-0.1, 0.0, 0.3, 0.7], [-0.1, 0.0, 0.3, 0.7]),
    ],
)
def test_to_mono_float_scaling(dtype, raw, expected):
    y = to_mono_float(np.array(raw, dtype=dtype))
    assert y.dtype == np.float32 and y.ndim == 1
    np.testing.assert_allclose(y, expected, rtol=0, atol=1e-7)


def test_to_mono_float_int_range():
    for dtype in (np.int8, np.int16, np.int32, np.uint8):
        info = np.iinfo(dtype)
        y = to_mono_float(np.array([info.min, info.max], dtype=dtype))
        assert y[0] == -1.0
        assert y[1] <= 1.0  # int32 max rounds to 1.0 in float32; smaller types stay below
    assert to_mono_float(np.array([32767], np.int16))[0] < 1.0


def test_to_mono_float_big_endian():
    y = to_mono_float(np.array([16384, -16384], dtype=">i2"))
    np.testing.assert_array_equal(y, [0.5, -0.5])


def test_to_mono_float_downmix_mean():
    x = np.array([[1.0, 0.0, -1.0], [0.5, 0.5, 0.5], [0.3, 0.1, 0.2]], np.float32)
    np.testing.assert_allclose(to_mono_float(x), [0.0, 0.5, 0.2], atol=1e-7)
    x16 = np.array([[16384, 0], [-32768, -32768]], np.int16)
    np.testing.assert_allclose(to_mono_float(x16), [0.25, -1.0], atol=1e-7)
    single = np.array([[0.1], [0.2]], np.float32)
    np.testing.assert_allclose(to_mono_float(single), [0.1, 0.2])


def test_to_mono_float_errors():
    with pytest.raises(AudioError) as e:
        to_mono_float(np.zeros(0, np.float32), "buf")
    assert_one_line_error(e, "buf", "no samples")
    with pytest.raises(AudioError, match="no samples"):
        to_mono_float(np.zeros((0, 2), np.int16))
    with pytest.raises(AudioError, match="NaN or infinite"):
        to_mono_float(np.array([0.0, np.nan], np.float32))
    with pytest.raises(AudioError, match="NaN or infinite"):
        to_mono_float(np.array([[0.0, 0.1], [np.inf, 0.0]], np.float64))
    with pytest.raises(AudioError, match="NaN or infinite"):
        to_mono_float(np.array([1e300], np.float64))  # overflows float32
    with pytest.raises(AudioError, match="shape"):
        to_mono_float(np.zeros((4, 2, 2), np.float32))
    with pytest.raises(AudioError, match="shape"):
        to_mono_float(np.float32(0.5))
    with pytest.raises(AudioError, match="unsupported sample type"):
        to_mono_float(np.array(["a", "b"]))
    with pytest.raises(AudioError) as e:
        to_mono_float(np.zeros(0))
    assert str(e.value) == "<buffer>: no samples (zero length)"


def test_to_mono_float_rejects_int_scale_floats():
    x = np.array([0.0, 32767.0, -32767.0, 100.0])
    with pytest.raises(AudioError) as e:
        to_mono_float(x, "buf")
    assert_one_line_error(e, "buf", "float samples reach 32767", "[-1, 1]", "int16")
    with pytest.raises(AudioError, match="float samples reach 1.6"):
        to_mono_float(np.array([0.0, -1.6], np.float32))
    # the same values as int16 are fine (that is what they are)
    np.testing.assert_allclose(to_mono_float(x.astype(np.int16)), x / 32768, atol=1e-7)


def test_to_mono_float_rejects_channels_first():
    with pytest.raises(AudioError) as e:
        to_mono_float(np.zeros((2, 16000), np.float32), "buf")
    assert_one_line_error(e, "buf", "(2, 16000)", "channels-first", "(n, channels)")
    assert to_mono_float(np.zeros((16000, 2), np.float32)).shape == (16000,)
    assert to_mono_float(np.zeros((3, 2), np.int16)).shape == (3,)  # a tiny stereo chunk
    assert to_mono_float(np.zeros((2, 64), np.float32)).shape == (2,)  # 64 channels is plausible


def test_resampler_and_stream_reject_int_scale_and_channels_first():
    with pytest.raises(AudioError, match="float samples reach"):
        Resampler(44100).process(np.full(100, 20000.0))
    with pytest.raises(AudioError, match="channels-first"):
        to_16k(np.zeros((2, 4410), np.float32), 44100)


# --------------------------------------------------------------------------- check_rate


@pytest.mark.parametrize("rate", [8000, 16000, 22050, 44100, 48000, 96000, 16000.0, np.int64(44100)])
def test_check_rate_ok(rate):
    assert check_rate(rate, "s") == int(rate)


@pytest.mark.parametrize("rate", [4000, 7999, 0, -16000, 44100.5, float("nan"), float("inf"), True, "16000", None,
                                  192001, 384000, 10**20, 10**400, 1e300])
def test_check_rate_bad(rate):
    with pytest.raises(AudioError) as e:
        check_rate(rate, "src")
    assert_one_line_error(e, "src")


def test_check_rate_message():
    with pytest.raises(AudioError) as e:
        check_rate(4000, "l.wav")
    assert str(e.value) == "l.wav: sample rate 4000 Hz is below the 8000 Hz minimum"
    with pytest.raises(AudioError) as e:
        check_rate(10**20, "h.wav")
    assert str(e.value) == "h.wav: sample rate 100000000000000000000 Hz is above the 192000 Hz maximum"
    assert check_rate(192000) == audio.MAX_SAMPLE_RATE == 192000


def test_huge_rate_is_refused_quickly():
    """It used to hang inside soxr: check_rate had no upper bound."""
    with pytest.raises(AudioError, match="maximum"):
        Resampler(10**20)
    with pytest.raises(AudioError, match="maximum"):
        to_16k(np.zeros(10, np.float32), 10**12)


# --------------------------------------------------------------------------- to_16k / Resampler


def test_to_16k_passthrough():
    x = tone(0.5, 16000)
    y = to_16k(x, 16000)
    np.testing.assert_array_equal(y, x)
    assert y.dtype == np.float32


@pytest.mark.parametrize("rate", [8000, 11025, 22050, 44100, 48000])
def test_to_16k_resamples(rate):
    x = tone(1.0, rate, freq=1000.0)
    y = to_16k(x, rate)
    assert y.dtype == np.float32 and y.ndim == 1
    assert abs(len(y) - 16000) <= 1
    assert abs(peak_hz(y) - 1000.0) <= 2.0
    # HQ resampling keeps the amplitude of an in-band tone.
    assert abs(np.max(np.abs(y[1000:-1000])) - 0.5) < 0.01


def test_to_16k_stereo_int16():
    x = (tone(0.5, 48000, channels=2) * 32767).astype(np.int16)
    y = to_16k(x, 48000)
    ref = to_16k(to_mono_float(x), 48000)
    np.testing.assert_allclose(y, ref, atol=1e-7)
    assert abs(len(y) - 8000) <= 1


def test_to_16k_removes_content_above_nyquist():
    x = tone(1.0, 48000, freq=12000.0)  # above 8 kHz: must not alias into the band
    y = to_16k(x, 48000)
    assert np.sqrt(np.mean(y[2000:-2000] ** 2)) < 1e-3


def test_to_16k_errors():
    with pytest.raises(AudioError, match="below the 8000 Hz minimum"):
        to_16k(tone(0.1, 4000), 4000, "x")
    with pytest.raises(AudioError, match="NaN"):
        to_16k(np.array([np.nan, 0.0], np.float32), 44100, "x")


def _chunked(rs: Resampler, x: np.ndarray, cuts: list[int]) -> np.ndarray:
    bounds = [0, *sorted(cuts), len(x)]
    parts = [rs.process(x[a:b]) for a, b in zip(bounds[:-1], bounds[1:])]
    parts.append(rs.process(np.zeros(0, np.float32), last=True))
    return np.concatenate(parts)


@pytest.mark.parametrize("rate", [8000, 16000, 22050, 44100, 48000])
def test_resampler_matches_whole_buffer(rate):
    x = np.random.default_rng(rate).standard_normal(rate // 2 + 37).astype(np.float32) * 0.1
    whole = to_16k(x, rate)
    one = Resampler(rate).process(x, last=True)
    np.testing.assert_allclose(one, whole, atol=TOL)
    tiny = _chunked(Resampler(rate), x, list(range(1, len(x), 7)))
    np.testing.assert_allclose(tiny, whole, atol=TOL)


@settings(max_examples=40, deadline=None)
@given(
    rate=st.sampled_from([8000, 11025, 16000, 22050, 32000, 44100, 48000]),
    n=st.integers(1, 6000),
    cut_fracs=st.lists(st.floats(0, 1), max_size=12),
)
def test_resampler_any_chunking(rate, n, cut_fracs):
    x = np.random.default_rng(n).standard_normal(n).astype(np.float32) * 0.2
    ref = Resampler(rate).process(x, last=True)
    cuts = [int(f * n) for f in cut_fracs]
    out = _chunked(Resampler(rate), x, cuts)
    assert out.dtype == np.float32
    assert out.shape == ref.shape
    np.testing.assert_allclose(out, ref, atol=TOL)


def test_resampler_last_with_final_chunk_and_reuse():
    x = tone(0.3, 44100)
    ref = to_16k(x, 44100)
    rs = Resampler(44100)
    a = np.concatenate([rs.process(x[:5000]), rs.process(x[5000:], last=True)])
    np.testing.assert_allclose(a, ref, atol=TOL)
    # After last=True the resampler takes a new signal from scratch.
    b = rs.process(x, last=True)
    np.testing.assert_allclose(b, ref, atol=TOL)


def test_resampler_passthrough_and_conversion():
    rs = Resampler(16000)
    x = tone(0.1, 16000)
    out = rs.process(x)
    np.testing.assert_array_equal(out, x)
    assert out is not x
    assert rs.process(np.zeros(0, np.float32), last=True).size == 0
    # int16 chunks are scaled like to_mono_float.
    np.testing.assert_array_equal(rs.process(np.array([16384], np.int16)), [0.5])


def test_resampler_bad_rate():
    with pytest.raises(AudioError, match="below the 8000 Hz minimum"):
        Resampler(4000)


# --------------------------------------------------------------------------- files


def write(path, data, rate, **kw):
    sf.write(str(path), data, rate, **kw)
    return path


@pytest.mark.parametrize(
    "name, rate, channels, subtype",
    [
        ("a.wav", 16000, 1, "PCM_16"),
        ("b.wav", 44100, 2, "PCM_16"),
        ("c.wav", 48000, 1, "PCM_24"),
        ("d.wav", 22050, 1, "PCM_32"),
        ("e.wav", 8000, 1, "PCM_U8"),
        ("f.wav", 32000, 6, "FLOAT"),
        ("g.wav", 11025, 2, "DOUBLE"),
        ("h.flac", 44100, 2, "PCM_16"),
        ("i.aiff", 22050, 1, "PCM_16"),
        ("j.au", 16000, 1, "PCM_16"),
    ],
)
def test_load_lossless(tmp_path, name, rate, channels, subtype):
    x = tone(0.75, rate, freq=500.0, channels=channels)
    path = write(tmp_path / name, x, rate, subtype=subtype)
    y = load(path)
    assert y.dtype == np.float32 and y.ndim == 1
    expected = to_16k(x, rate)
    assert len(y) == len(expected)
    # Quantisation of the stored samples is the only difference (PCM_U8 is coarsest).
    atol = 2e-2 if subtype == "PCM_U8" else 1e-3
    np.testing.assert_allclose(y, expected, atol=atol)
    assert duration(path) == pytest.approx(0.75, abs=1 / rate)


@pytest.mark.parametrize("name, fmt, subtype", [("o.ogg", "OGG", "VORBIS"), ("m.mp3", "MP3", "MPEG_LAYER_III")])
def test_load_lossy(tmp_path, name, fmt, subtype):
    x = tone(1.0, 44100, freq=600.0, channels=2)
    path = write(tmp_path / name, x, 44100, format=fmt, subtype=subtype)
    y = load(path)
    assert y.dtype == np.float32 and y.ndim == 1
    assert abs(len(y) / SAMPLE_RATE - 1.0) < 0.1  # codecs may pad a few ms
    assert abs(peak_hz(y) - 600.0) <= 3.0
    assert 0.2 < np.max(np.abs(y)) < 0.5  # downmix of amplitudes 0.25 and 0.5


def test_load_int16_exact(tmp_path):
    x = np.array([0, 16384, -16384, 32767, -32768] * 100, np.int16)
    path = write(tmp_path / "exact.wav", x, 16000, subtype="PCM_16")
    np.testing.assert_array_equal(load(path), to_mono_float(x))


def _bad_files(tmp_path):
    good = write(tmp_path / "good.wav", tone(0.2, 16000), 16000)
    zero = tmp_path / "z.wav"
    zero.write_bytes(b"")
    header_only = write(tmp_path / "h.wav", np.zeros(0, np.float32), 16000)
    trunc = tmp_path / "t.wav"
    trunc.write_bytes(good.read_bytes()[:30])
    text = tmp_path / "x.wav"
    text.write_text("this is not audio\n" * 20)
    nan = write(tmp_path / "n.wav", np.array([0.0, 0.1, np.nan, 0.2] * 50, np.float32), 16000, subtype="FLOAT")
    inf = write(tmp_path / "i.wav", np.array([0.0, np.inf, 0.2] * 50, np.float64), 16000, subtype="DOUBLE")
    low = write(tmp_path / "l.wav", tone(0.2, 4000), 4000)
    return [
        (zero, ["no samples (zero length)"]),
        (header_only, ["no samples (zero length)"]),
        (trunc, ["truncated or corrupt header"]),
        (text, ["not an audio file ("]),
        (tmp_path / "missing.wav", ["file not found"]),
        (tmp_path, ["directory"]),
        (nan, ["contains NaN or infinite samples"]),
        (inf, ["contains NaN or infinite samples"]),
        (low, ["sample rate 4000 Hz is below the 8000 Hz minimum"]),
    ]


def test_load_errors(tmp_path):
    for path, fragments in _bad_files(tmp_path):
        with pytest.raises(AudioError) as e:
            load(path)
        assert_one_line_error(e, path, *fragments)
        assert len(str(e.value)) < len(str(path)) + 160


def test_error_messages_exact(tmp_path):
    (tmp_path / "z.wav").write_bytes(b"")
    with pytest.raises(AudioError) as e:
        load(tmp_path / "z.wav")
    assert str(e.value) == f"{tmp_path / 'z.wav'}: no samples (zero length)"
    with pytest.raises(AudioError) as e:
        load("definitely-missing-file.wav")
    assert str(e.value) == "definitely-missing-file.wav: file not found"
    assert e.value.source == "definitely-missing-file.wav"
    assert e.value.problem == "file not found"


def test_iter_blocks_and_duration_errors(tmp_path):
    for path, fragments in _bad_files(tmp_path):
        with pytest.raises(AudioError) as e:
            for _ in iter_blocks(path):
                pass
        assert_one_line_error(e, path, *fragments)
        if "NaN" in fragments[0]:
            continue  # duration reads the header only
        with pytest.raises(AudioError) as e:
            duration(path)
        assert_one_line_error(e, path, *fragments)


def test_iter_blocks_header_errors_are_eager(tmp_path):
    with pytest.raises(AudioError, match="file not found"):
        iter_blocks(tmp_path / "nope.wav")  # raised on the call, before iterating
    with pytest.raises(ValueError):
        iter_blocks(tmp_path / "nope.wav", block_seconds=0)


def test_iter_blocks_nan_in_late_block(tmp_path):
    x = tone(3.0, 16000)
    x[40000] = np.nan
    path = write(tmp_path / "late.wav", x, 16000, subtype="FLOAT")
    it = iter_blocks(path, block_seconds=1.0)
    first = next(it)
    assert np.isfinite(first).all()
    with pytest.raises(AudioError, match="NaN or infinite"):
        for _ in it:
            pass


@pytest.mark.parametrize(
    "rate, channels, block_seconds",
    [(16000, 1, 1.0), (16000, 2, 0.013), (44100, 2, 0.25), (48000, 1, 1.0), (22050, 3, 0.1), (8000, 1, 5.0)],
)
def test_iter_blocks_equals_load(tmp_path, rate, channels, block_seconds):
    x = np.random.default_rng(rate).standard_normal((int(2.3 * rate), channels)).astype(np.float32) * 0.1
    path = write(tmp_path / "s.flac", x, rate, subtype="PCM_24")
    whole = load(path)
    blocks = list(iter_blocks(path, block_seconds=block_seconds))
    assert all(b.dtype == np.float32 and b.ndim == 1 for b in blocks)
    joined = np.concatenate(blocks)
    assert joined.shape == whole.shape
    np.testing.assert_allclose(joined, whole, atol=TOL)
    # Blocks are bounded by the block size (plus the resampler's flush).
    limit = block_seconds * SAMPLE_RATE + 2000
    assert max(len(b) for b in blocks) <= limit
    if block_seconds < 2.3:
        assert len(blocks) >= int(2.3 / block_seconds)


def test_iter_blocks_never_reads_whole_file(tmp_path, monkeypatch):
    rate = 44100
    path = write(tmp_path / "long.wav", tone(5.0, rate), rate)
    requested = []
    # both readers: soundfile, and the plain PCM16 WAV reader that spares its import
    from realtime_ser.audio import _PcmWav

    for reader in (sf.SoundFile, _PcmWav):
        def spy(self, frames=-1, *args, _real=reader.read, **kwargs):
            requested.append(frames)
            return _real(self, frames, *args, **kwargs)

        monkeypatch.setattr(reader, "read", spy)
    blocks = list(iter_blocks(path, block_seconds=0.5))
    assert requested, "iter_blocks must read through a reader"
    assert all(0 < f <= int(0.5 * rate) for f in requested), requested
    assert sum(len(b) for b in blocks) == pytest.approx(5.0 * SAMPLE_RATE, abs=2)


def test_symlink_loop_and_broken_link(tmp_path):
    loop = tmp_path / "loop.wav"
    loop.symlink_to(tmp_path / "loop2.wav")
    (tmp_path / "loop2.wav").symlink_to(loop)
    with pytest.raises(AudioError) as e:
        iter_blocks(loop)
    assert str(e.value) == f"{loop}: symbolic link loop"
    broken = tmp_path / "broken.wav"
    broken.symlink_to(tmp_path / "gone.wav")
    with pytest.raises(AudioError) as e:
        load(broken)
    assert str(e.value) == f"{broken}: broken symbolic link"


def test_truncated_wav_warns_and_gives_what_is_there(tmp_path):
    full = write(tmp_path / "full.wav", tone(2.0, 16000), 16000, subtype="PCM_16")
    cut = tmp_path / "cut.wav"
    cut.write_bytes(full.read_bytes()[: 44 + 32000])  # header says 2 s, file holds 1 s
    warnings = []
    blocks = list(iter_blocks(cut, on_warning=warnings.append))
    (w,) = warnings
    assert w.startswith(f"{cut}: truncated: ") and "\n" not in w
    assert sum(map(len, blocks)) == 16000
    warnings.clear()
    list(iter_blocks(full, on_warning=warnings.append))
    assert warnings == []


def test_non_utf8_file_name(tmp_path):
    raw = os.fsencode(tmp_path) + b"/bad\xff\xfe.wav"
    sf.write(raw, tone(0.5, 16000), 16000)
    name = os.fsdecode(raw)
    np.testing.assert_allclose(load(name), tone(0.5, 16000), atol=1e-4)
    assert sum(map(len, iter_blocks(name))) == 8000
    with pytest.raises(AudioError) as e:
        load(name + ".missing")
    assert "\\xff\\xfe" in str(e.value)
    str(e.value).encode("utf-8")  # printable as UTF-8
    assert audio.display_name(raw).endswith("bad\\xff\\xfe.wav")


def _pipe_blocks(data: bytes, block_seconds=1.0):
    """iter_fd_blocks over a real pipe fed by a thread."""
    r, w = os.pipe()

    def feed():
        with os.fdopen(w, "wb") as fh:
            fh.write(data)

    threading.Thread(target=feed, daemon=True).start()
    try:
        return np.concatenate(list(audio.iter_fd_blocks(r, "<pipe>", block_seconds)))
    finally:
        os.close(r)


@pytest.mark.parametrize("name, fmt, subtype", [("p.wav", "WAV", "PCM_16"), ("p.flac", "FLAC", "PCM_16"),
                                                 ("p.ogg", "OGG", "VORBIS"), ("p.mp3", "MP3", "MPEG_LAYER_III"),
                                                 ("p.au", "AU", "PCM_16"), ("p.caf", "CAF", "PCM_16")])
def test_pipe_any_format(tmp_path, name, fmt, subtype):
    """FLAC (and MP3, CAF) from a pipe used to fail: libsndfile cannot decode them unseekable."""
    x = tone(3.0, 22050)
    path = write(tmp_path / name, x, 22050, format=fmt, subtype=subtype)
    got = _pipe_blocks(path.read_bytes())
    ref = np.concatenate(list(iter_blocks(path)))  # the same file, by its path
    assert abs(len(got) - len(ref)) <= 8
    n = min(len(got), len(ref))
    np.testing.assert_allclose(got[:n], ref[:n], atol=1e-4)


def test_pipe_not_audio_and_empty():
    with pytest.raises(AudioError) as e:
        _pipe_blocks(b"hello, not audio at all" * 10)
    assert str(e.value).startswith("<pipe>: not an audio stream") and "WAV" not in str(e.value)
    with pytest.raises(AudioError, match="empty stream"):
        _pipe_blocks(b"")


def test_fifo_is_read_like_stdin(tmp_path):
    x = tone(1.5, 16000)
    src = write(tmp_path / "s.wav", x, 16000, subtype="FLOAT")
    fifo = tmp_path / "in.fifo"
    os.mkfifo(fifo)

    def feed():
        with open(fifo, "wb") as fh:
            fh.write(src.read_bytes())

    threading.Thread(target=feed, daemon=True).start()
    got = np.concatenate(list(iter_blocks(fifo, block_seconds=0.25)))
    np.testing.assert_allclose(got, x, atol=1e-6)


def test_stdin_closed(monkeypatch):
    monkeypatch.setattr(sys, "stdin", None)
    with pytest.raises(AudioError) as e:
        audio.iter_stdin_blocks()
    assert str(e.value) == "<stdin>: stdin is closed (nothing to read)"


def test_duration(tmp_path):
    path = write(tmp_path / "d.wav", tone(1.25, 22050, channels=2), 22050)
    assert duration(path) == pytest.approx(1.25, abs=1e-4)
    assert isinstance(duration(str(path)), float)


# --------------------------------------------------------------------------- find_audio_files


def test_find_audio_files(tmp_path):
    root = tmp_path / "corpus"
    (root / "b" / "deep").mkdir(parents=True)
    (root / "a").mkdir()
    (root / ".hidden").mkdir()
    for rel in ["b/deep/z.flac", "a/y.WAV", "a/x.wav", "top.ogg", "m.mp3", "k.aif", "j.aiff", "u.au", "p.opus"]:
        (root / rel).write_bytes(b"x")
    for rel in ["notes.txt", "a/x.npy", ".hidden/h.wav", "a/._x.wav"]:
        (root / rel).write_bytes(b"x")
    loose = tmp_path / "loose.txt"
    loose.write_text("given explicitly")
    missing = tmp_path / "missing.wav"

    found = find_audio_files([loose, root, missing, root / "a" / "x.wav"])
    rels = [str(p.relative_to(root)) if root in p.parents else p.name for p in found]
    assert rels == [
        "loose.txt",
        "a/x.wav", "a/y.WAV", "b/deep/z.flac", "j.aiff", "k.aif", "m.mp3", "p.opus", "top.ogg", "u.au",
        "missing.wav",
    ]
    assert all(isinstance(p, type(root)) for p in found)
    assert find_audio_files(str(root / "a")) == [root / "a" / "x.wav", root / "a" / "y.WAV"]
    assert find_audio_files([]) == []


def test_extensions_constant():
    assert audio.AUDIO_EXTENSIONS == {".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif", ".au", ".opus"}


def test_audio_error_survives_pickling():
    """A worker process's AudioError reaches the parent intact (a process pool pickles it)."""
    import pickle

    err = pickle.loads(pickle.dumps(AudioError("x.wav", "float samples reach 2")))
    assert isinstance(err, AudioError) and (err.source, err.problem) == ("x.wav", "float samples reach 2")
    assert str(err) == "x.wav: float samples reach 2"


# ---------------------------------------------------------------- the plain PCM16 WAV reader


def _soundfile_blocks(path, block_seconds):
    """iter_blocks as it was: every file through soundfile."""
    from realtime_ser import audio

    f = sf.SoundFile(str(path))
    return list(audio._blocks(f, str(path), max(1, int(round(block_seconds * f.samplerate)))))


@pytest.mark.parametrize("rate, channels", [(16000, 1), (16000, 2), (44100, 1), (8000, 3)])
def test_pcm_wav_reader_gives_soundfiles_samples(tmp_path, rate, channels):
    """Plain PCM16 WAVs skip soundfile: the same samples, bit for bit, whole and in blocks."""
    from realtime_ser import audio

    rng = np.random.default_rng(rate + channels)
    x = rng.integers(-32768, 32768, size=(int(1.3 * rate), channels), dtype=np.int16)
    x[:5] = [[-32768] * channels, [32767] * channels, [0] * channels, [1] * channels, [-1] * channels]
    path = write(tmp_path / "a.wav", x, rate, subtype="PCM_16")
    f, _ = audio._open(path)
    with f:
        assert isinstance(f, audio._PcmWav) and (f.samplerate, f.channels, f.frames) == (rate, channels, len(x))
        fast = f.read(-1, dtype="float32", always_2d=True)
    np.testing.assert_array_equal(fast, sf.read(str(path), dtype="float32", always_2d=True)[0])
    for block_seconds in (0.1, 1.0):
        ours = list(iter_blocks(path, block_seconds))
        theirs = _soundfile_blocks(path, block_seconds)
        assert len(ours) == len(theirs)
        for a, b in zip(ours, theirs):
            assert a.dtype == b.dtype == np.float32
            np.testing.assert_array_equal(a, b)
    assert audio.duration(path) == len(x) / rate


@pytest.mark.parametrize("case", ["float", "pcm24", "extensible", "odd chunk", "riff size", "truncated",
                                  "rate", "fmt after data"])
def test_pcm_wav_reader_leaves_other_files_to_soundfile(tmp_path, case):
    """Anything but a plain, consistent PCM16 WAV goes to soundfile (which reads or reports it)."""
    from realtime_ser import audio

    path = tmp_path / "a.wav"
    x = tone(0.5, 16000)
    if case == "float":
        write(path, x, 16000, subtype="FLOAT")
    elif case == "pcm24":
        write(path, x, 16000, subtype="PCM_24")
    elif case == "extensible":
        write(path, np.stack([x] * 3, 1), 16000, subtype="PCM_16", format="WAVEX")
    else:
        write(path, x, 16000, subtype="PCM_16")
        b = bytearray(path.read_bytes())
        if case == "odd chunk":  # a LIST chunk before the data: still plain, still the fast reader
            b[36:36] = b"LIST\x03\x00\x00\x00abc\x00"
            b[4:8] = (len(b) - 8).to_bytes(4, "little")
        elif case == "riff size":
            b[4:8] = (len(b)).to_bytes(4, "little")
        elif case == "truncated":
            b = b[: len(b) // 2]
        elif case == "rate":
            b[24:28] = (4000).to_bytes(4, "little")
        elif case == "fmt after data":
            b = b[:12] + b[36:] + b[12:36]
        path.write_bytes(bytes(b))
    wav = audio._PcmWav.open(path, path.stat().st_size)
    if case == "odd chunk":
        assert wav is not None
        with wav:
            np.testing.assert_array_equal(wav.read(), sf.read(str(path), dtype="float32", always_2d=True)[0])
        return
    assert wav is None
