"""`python -m realtime_ser.features`: outputs, index, naming, per-file errors, exit status.

Most tests run `cli.main` in-process against a small fake feature extractor (installed as
`realtime_ser.features` for the test only) so they check the CLI alone. The subprocess
tests at the end run the real command with the real extractor.
"""

from __future__ import annotations

import csv
import importlib
import json
import os
import re
import stat
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import realtime_ser
from realtime_ser import features
from realtime_ser.audio import load

ROOT = Path(__file__).resolve().parents[1]
FEATURES_DIR = ROOT / "realtime_ser" / "features"

FAKE_NAMES = ["mean", "rms", "frame_index"]
FAKE_VERSION = "fake-1"


def fake_extract(samples, sample_rate):
    """Stand-in for realtime_ser.features.extract: 3 features per 10 ms frame."""
    assert sample_rate == 16000
    assert samples.dtype == np.float32 and samples.ndim == 1
    n = len(samples) // 160
    frames = samples[: n * 160].reshape(n, 160)
    out = np.stack([frames.mean(1), np.sqrt((frames**2).mean(1)), np.arange(n)], axis=1)
    return out.astype(np.float32)


class FakeOnlineFeatures:
    """Streaming twin of fake_extract (the CLI streams): frames of 160 samples, in order."""

    def __init__(self):
        self.pending = np.zeros(0, np.float32)
        self.done = 0

    def accept_waveform(self, sample_rate, samples):
        assert sample_rate == 16000 and samples.dtype == np.float32 and samples.ndim == 1
        self.pending = np.concatenate([self.pending, samples])

    def input_finished(self):
        pass

    def pop_frames(self):
        n = len(self.pending) // 160
        frames = self.pending[: n * 160].reshape(n, 160)
        self.pending = self.pending[n * 160:]
        out = np.stack([frames.mean(1), np.sqrt((frames**2).mean(1)), self.done + np.arange(n)], axis=1)
        self.done += n
        return out.astype(np.float32)


@pytest.fixture
def cli(monkeypatch):
    """realtime_ser.features.cli imported against a fake feature package."""
    fake = types.ModuleType("realtime_ser.features")
    fake.__path__ = [str(FEATURES_DIR)]
    fake.extract = fake_extract
    fake.OnlineFeatures = FakeOnlineFeatures
    fake.NAMES = list(FAKE_NAMES)
    fake.VERSION = FAKE_VERSION
    fake.DIM = len(FAKE_NAMES)
    fake.FRAME_SHIFT_S = 0.01
    fake.FRAME_LENGTH_S = 0.025
    fake.kernels = types.ModuleType("realtime_ser.features.kernels")  # the batch path's whole-file twin
    fake.kernels.extract = fake_extract
    monkeypatch.setitem(sys.modules, "realtime_ser.features", fake)
    monkeypatch.setitem(sys.modules, "realtime_ser.features.kernels", fake.kernels)
    monkeypatch.delitem(sys.modules, "realtime_ser.features.cli", raising=False)
    module = importlib.import_module("realtime_ser.features.cli")
    yield module
    sys.modules.pop("realtime_ser.features.cli", None)


def wav(path: Path, seconds: float = 0.5, rate: int = 16000, channels: int = 1, freq: float = 300.0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * rate)) / rate
    x = 0.3 * np.sin(2 * np.pi * freq * t)
    if channels > 1:
        x = np.stack([x] * channels, axis=1)
    sf.write(str(path), x.astype(np.float32), rate)
    return path


def error_lines(stderr: str) -> list[str]:
    lines = [ln.strip() for ln in re.split(r"[\r\n]", stderr)]
    return [ln for ln in lines if ln.startswith("error:")]


def read_index(out: Path) -> dict:
    return json.loads((out / "features.json").read_text())


# --------------------------------------------------------------------------- in-process


def test_single_file(cli, tmp_path, capsys):
    src = wav(tmp_path / "in" / "hello.wav", seconds=1.0, rate=44100, channels=2)
    out = tmp_path / "out"
    assert cli.main([str(src), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert err == ""  # one file: no progress bar, no errors

    feats = np.load(out / "hello.npy")
    assert feats.dtype == np.float32
    assert feats.shape == (100, 3)
    np.testing.assert_array_equal(feats, fake_extract(load(src), 16000))

    index = read_index(out)
    assert index["version"] == FAKE_VERSION
    assert index["names"] == FAKE_NAMES
    assert index["dim"] == 3
    assert index["frame_shift_s"] == 0.01
    assert index["frame_length_s"] == 0.025
    assert index["sample_rate"] == 16000
    assert index["files"] == {"hello": {"source": str(src), "frames": 100, "duration_s": pytest.approx(1.0, abs=1e-3)}}
    assert not (out / "hello.csv").exists()
    assert sorted(p.name for p in out.iterdir()) == ["features.json", "hello.npy"]


def test_bad_files_are_reported_and_skipped(cli, tmp_path, capsys):
    good1 = wav(tmp_path / "a.wav")
    good2 = wav(tmp_path / "c.wav")
    text = tmp_path / "b.wav"
    text.write_text("not audio at all\n")
    trunc = tmp_path / "t.wav"
    trunc.write_bytes(good1.read_bytes()[:30])
    low = wav(tmp_path / "low.wav", rate=4000)
    missing = tmp_path / "missing.wav"
    out = tmp_path / "out"

    rc = cli.main([str(good1), str(text), str(missing), str(trunc), str(low), str(good2), "--out", str(out), "--quiet"])
    assert rc == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert lines == error_lines(err)  # nothing but the error lines with --quiet
    assert len(lines) == 4
    assert lines[0].startswith(f"error: {text}: not an audio file")
    assert lines[1] == f"error: {missing}: file not found"
    assert lines[2].startswith(f"error: {trunc}: truncated or corrupt header")
    assert lines[3] == f"error: {low}: sample rate 4000 Hz is below the 8000 Hz minimum"

    assert sorted(read_index(out)["files"]) == ["a", "c"]
    assert np.load(out / "a.npy").shape == (50, 3)
    assert np.load(out / "c.npy").shape == (50, 3)
    assert not (out / "b.npy").exists() and not (out / "missing.npy").exists()
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]


def test_all_bad_exit_1_and_index_still_written(cli, tmp_path, capsys):
    out = tmp_path / "out"
    assert cli.main([str(tmp_path / "nope.wav"), "--out", str(out)]) == 1
    assert error_lines(capsys.readouterr().err) == [f"error: {tmp_path / 'nope.wav'}: file not found"]
    assert read_index(out)["files"] == {}


def test_extractor_failure_is_one_line(cli, tmp_path, capsys, monkeypatch):
    class Boom(FakeOnlineFeatures):
        def pop_frames(self):
            raise RuntimeError("kaboom\nsecond line")

    monkeypatch.setattr(cli, "OnlineFeatures", Boom)
    monkeypatch.setattr(cli, "WHOLE_FILE_MAX_S", 0.0)  # the streaming path
    src = wav(tmp_path / "a.wav")
    assert cli.main([str(src), str(src.with_name("b.wav")), "--out", str(tmp_path / "o"), "-q"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.splitlines() == [
        f"error: {src}: RuntimeError: kaboom second line",
        f"error: {src.with_name('b.wav')}: file not found",
    ]


def test_wrong_feature_shape_is_an_error(cli, tmp_path, capsys, monkeypatch):
    class Wrong(FakeOnlineFeatures):
        def pop_frames(self):
            return np.zeros((5, 2), np.float32)

    monkeypatch.setattr(cli, "OnlineFeatures", Wrong)
    monkeypatch.setattr(cli, "WHOLE_FILE_MAX_S", 0.0)  # the streaming path
    src = wav(tmp_path / "a.wav")
    assert cli.main([str(src), "--out", str(tmp_path / "o")]) == 1
    (line,) = error_lines(capsys.readouterr().err)
    assert "shape" in line and line.startswith(f"error: {src}: ")
    assert not (tmp_path / "o" / "a.npy").exists()


def test_directory_recursion_and_collisions(cli, tmp_path, capsys):
    d = tmp_path / "data"
    wav(d / "spk1" / "x.wav", seconds=0.3)
    wav(d / "spk2" / "x.wav", seconds=0.4)
    wav(d / "spk2" / "deep" / "x.wav", seconds=0.5)
    wav(d / "y.wav", seconds=0.6)
    wav(d / "y.flac", seconds=0.7)  # same stem, other extension
    (d / "readme.txt").write_text("ignored")
    other = tmp_path / "other"
    wav(other / "y.wav", seconds=0.8)  # same relative path as data/y.wav
    wav(other / "unique.wav", seconds=0.9)
    out = tmp_path / "out"

    assert cli.main([str(d), str(other), "--out", str(out), "--quiet"]) == 0
    assert capsys.readouterr().err == ""
    files = read_index(out)["files"]
    assert len(files) == 7
    assert len({k.casefold() for k in files}) == 7
    # Every source appears once and its .npy has the frames of that source.
    assert sorted(v["source"] for v in files.values()) == sorted(
        str(p) for p in [*d.rglob("*.wav"), *d.rglob("*.flac"), *other.rglob("*.wav")]
    )
    for name, entry in files.items():
        feats = np.load(out / f"{name}.npy")
        assert feats.shape[0] == entry["frames"]
        assert entry["frames"] == round(sf.info(entry["source"]).duration * 100)
        assert "/" not in name and "\\" not in name
    assert files["unique"]["source"] == str(other / "unique.wav")
    assert files["spk1__x"]["source"] == str(d / "spk1" / "x.wav")
    assert files["spk2__x"]["source"] == str(d / "spk2" / "x.wav")
    assert files["spk2__deep__x"]["source"] == str(d / "spk2" / "deep" / "x.wav")
    assert len(list(out.glob("*.npy"))) == 7


def test_same_file_given_twice_is_processed_once(cli, tmp_path, capsys):
    d = tmp_path / "d"
    src = wav(d / "a.wav")
    out = tmp_path / "out"
    assert cli.main([str(d), str(src), "--out", str(out), "-q"]) == 0
    assert list(read_index(out)["files"]) == ["a"]


def test_empty_directory_is_an_error(cli, tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    good = wav(tmp_path / "g.wav")
    assert cli.main([str(empty), str(good), "--out", str(tmp_path / "out"), "-q"]) == 1
    (line,) = error_lines(capsys.readouterr().err)
    assert line.startswith(f"error: {empty}: no audio files")
    assert (tmp_path / "out" / "g.npy").exists()


def test_csv(cli, tmp_path):
    src = wav(tmp_path / "s.wav", seconds=0.25)
    out = tmp_path / "out"
    assert cli.main([str(src), "--out", str(out), "--csv"]) == 0
    feats = np.load(out / "s.npy")
    with open(out / "s.csv", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["time_s", *FAKE_NAMES]
    assert len(rows) == 1 + feats.shape[0] == 26
    body = np.array(rows[1:], dtype=np.float64)
    np.testing.assert_allclose(body[:, 0], np.arange(25) * 0.01, atol=1e-9)
    np.testing.assert_array_equal(body[:, 1:].astype(np.float32), feats)  # 9 digits round-trip float32


def test_progress_bar(cli, tmp_path, capsys):
    a, b = wav(tmp_path / "a.wav"), wav(tmp_path / "b.wav")
    missing = tmp_path / "m.wav"
    assert cli.main([str(a), str(missing), str(b), "--out", str(tmp_path / "o1")]) == 1
    err = capsys.readouterr().err
    assert "3/3" in err  # tqdm's counter
    assert error_lines(err) == [f"error: {missing}: file not found"]

    assert cli.main([str(a), str(b), "--out", str(tmp_path / "o2"), "--quiet"]) == 0
    assert capsys.readouterr().err == ""


def test_overwrites_own_outputs_on_rerun(cli, tmp_path):
    src = wav(tmp_path / "a.wav")
    out = tmp_path / "out"
    assert cli.main([str(src), "--out", str(out)]) == 0
    wav(src, seconds=0.2)
    assert cli.main([str(src), "--out", str(out)]) == 0
    assert np.load(out / "a.npy").shape == (20, 3)


def test_output_dir_is_a_file(cli, tmp_path, capsys):
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    assert cli.main([str(wav(tmp_path / "a.wav")), "--out", str(blocker)]) == 1
    (line,) = error_lines(capsys.readouterr().err)
    assert str(blocker) in line and "Traceback" not in line


def test_usage(cli, capsys):
    assert cli.main(["--help"]) == 0
    text = capsys.readouterr().out
    for word in ["--out", "--csv", "--quiet", "FILE|DIR", "features.json", "exit status"]:
        assert word in text
    assert cli.main(["a.wav"]) == 2  # --out is required
    assert "--out" in capsys.readouterr().err
    assert cli.main(["--out", "o"]) == 2  # no inputs


def test_output_names_unique(cli):
    P = Path
    jobs = [
        (P("d/a/x.wav"), P("d")),
        (P("d/b/x.wav"), P("d")),
        (P("e/a/x.wav"), P("e")),  # same relative path from another input dir
        (P("d/a/x.flac"), P("d")),
        (P("d/a__x.wav"), P("d")),  # a literal name equal to a derived one
        (P("X.wav"), None),  # differs only in case
        (P("solo.wav"), None),
    ]
    names = cli._output_names(jobs)
    assert len({n.casefold() for n in names}) == len(names)
    assert names[-1] == "solo"
    assert all("/" not in n for n in names)
    assert cli._output_names([(P("a/x.wav"), None), (P("b/x.wav"), None)]) == ["a__x", "b__x"]


# --------------------------------------------------------------------------- real command


def test_real_cli_subprocess(tmp_path):
    """The real `python -m realtime_ser.features` with the real feature extractor."""
    good = wav(tmp_path / "in" / "speech.wav", seconds=1.5, rate=22050, channels=2, freq=220.0)
    good2 = wav(tmp_path / "in" / "other.wav", seconds=0.8, rate=16000)
    bad = tmp_path / "in" / "bad.wav"
    bad.write_text("this is text, not audio\n" * 10)
    missing = tmp_path / "in" / "missing.wav"
    out = tmp_path / "out"

    # Run from a scratch directory, finding the same realtime_ser this test process imports.
    env = dict(os.environ)
    package_home = str(Path(realtime_ser.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_home, env.get("PYTHONPATH", "")]))
    proc = subprocess.run(
        [sys.executable, "-m", "realtime_ser.features", str(good), str(bad), str(missing), str(good2),
         "--out", str(out), "--csv"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600,
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == 1, proc.stderr
    errors = error_lines(proc.stderr)
    assert len(errors) == 2, proc.stderr
    assert errors[0].startswith(f"error: {bad}: not an audio file")
    assert errors[1] == f"error: {missing}: file not found"

    index = read_index(out)
    dim = index["dim"]
    assert dim == len(index["names"]) > 0
    assert isinstance(index["version"], str) and index["version"]
    assert index["frame_shift_s"] == 0.01
    assert index["frame_length_s"] == 0.025
    assert index["sample_rate"] == 16000
    assert sorted(index["files"]) == ["other", "speech"]
    for name, seconds, src in [("speech", 1.5, good), ("other", 0.8, good2)]:
        entry = index["files"][name]
        assert entry["source"] == str(src)
        assert entry["duration_s"] == pytest.approx(seconds, abs=0.01)
        feats = np.load(out / f"{name}.npy")
        assert feats.dtype == np.float32
        assert feats.shape == (entry["frames"], dim)
        assert abs(entry["frames"] - seconds / 0.01) <= 3
        assert np.isfinite(feats).all()
        np.testing.assert_array_equal(feats, features.extract(load(src), 16000))  # batch path == streaming
        with open(out / f"{name}.csv", newline="") as fh:
            rows = list(csv.reader(fh))
        assert rows[0] == ["time_s", *index["names"]]
        assert len(rows) == entry["frames"] + 1


# --------------------------------------------------------------------------- reliability (issue 12)


def test_outputs_have_the_umask_mode(cli, tmp_path):
    """mkstemp made them 0600."""
    old = os.umask(0o022)
    try:
        out = tmp_path / "out"
        assert cli.main([str(wav(tmp_path / "a.wav")), "--out", str(out), "--csv"]) == 0
    finally:
        os.umask(old)
    for name in ("a.npy", "a.csv", "features.json"):
        assert stat.S_IMODE((out / name).stat().st_mode) == 0o644, name


def test_long_file_is_streamed_not_loaded(cli, tmp_path, monkeypatch):
    """The whole file used to be loaded (1.3 GB RSS for an hour): reads are now bounded blocks."""
    src = wav(tmp_path / "long.wav", seconds=5.0, rate=44100)
    requested = []
    # both readers: soundfile, and the plain PCM16 WAV reader that spares its import
    from realtime_ser.audio import _PcmWav

    for reader in (sf.SoundFile, _PcmWav):
        def spy(self, frames=-1, *args, _real=reader.read, **kwargs):
            requested.append(frames)
            return _real(self, frames, *args, **kwargs)

        monkeypatch.setattr(reader, "read", spy)
    out = tmp_path / "out"
    assert cli.main([str(src), "--out", str(out)]) == 0
    assert requested and all(0 < f <= 44100 for f in requested), requested
    feats = np.load(out / "long.npy")
    assert feats.shape == (500, 3)
    np.testing.assert_array_equal(feats, fake_extract(load(src), 16000))


def test_whole_file_path_and_streamed_path(cli, tmp_path, monkeypatch):
    """Files up to WHOLE_FILE_MAX_S take the batch extractor, longer ones the streaming one."""
    short, long = wav(tmp_path / "short.wav", seconds=1.0), wav(tmp_path / "long.wav", seconds=2.0)
    used = []
    monkeypatch.setattr(cli, "WHOLE_FILE_MAX_S", 1.5)
    monkeypatch.setattr(sys.modules["realtime_ser.features.kernels"], "extract",
                        lambda x, rate: used.append(len(x)) or fake_extract(x, rate))
    out = tmp_path / "out"
    assert cli.main([str(short), str(long), "--out", str(out), "-q"]) == 0
    assert used == [16000]
    for src in (short, long):
        np.testing.assert_array_equal(np.load(out / f"{src.stem}.npy"), fake_extract(load(src), 16000))
    assert read_index(out)["files"]["long"]["duration_s"] == 2.0


def test_ctrl_c_still_writes_the_index(cli, tmp_path, capsys, monkeypatch):
    calls = []

    class Interrupted(FakeOnlineFeatures):
        def __init__(self):
            super().__init__()
            calls.append(1)
            if len(calls) == 2:
                raise KeyboardInterrupt

    monkeypatch.setattr(cli, "OnlineFeatures", Interrupted)
    monkeypatch.setattr(cli, "WHOLE_FILE_MAX_S", 0.0)  # the streaming path
    a, b, c = (wav(tmp_path / f"{n}.wav") for n in "abc")
    out = tmp_path / "out"
    assert cli.main([str(a), str(b), str(c), "--out", str(out), "-q"]) == 130
    assert error_lines(capsys.readouterr().err) == [f"error: {b}: interrupted"]
    assert list(read_index(out)["files"]) == ["a"]
    assert sorted(p.name for p in out.iterdir()) == ["a.npy", "features.json"]  # no temporary files


def test_stdin(cli, tmp_path, monkeypatch):
    src = wav(tmp_path / "s.wav", seconds=0.5, rate=22050)
    out = tmp_path / "out"
    with open(src, "rb") as fh:
        monkeypatch.setattr(sys, "stdin", fh)
        assert cli.main(["-", "--out", str(out)]) == 0
    entry = read_index(out)["files"]["stdin"]
    assert entry["source"] == "<stdin>" and entry["frames"] == 50
    np.testing.assert_array_equal(np.load(out / "stdin.npy"), fake_extract(load(src), 16000))


def test_short_and_truncated_files_warn(cli, tmp_path, capsys):
    tiny = tmp_path / "tiny.wav"
    sf.write(str(tiny), np.zeros(100, np.float32), 16000)
    full = wav(tmp_path / "full.wav", seconds=1.0)
    cut = tmp_path / "cut.wav"
    cut.write_bytes(full.read_bytes()[:20000])
    out = tmp_path / "out"
    assert cli.main([str(tiny), str(cut), "--out", str(out), "-q"]) == 0
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln]
    assert lines[0] == f"warning: {tiny}: shorter than one 25 ms frame; wrote an empty (0, 3) array"
    assert lines[1].startswith(f"warning: {cut}: truncated: ")
    assert len(lines) == 2
    assert np.load(out / "tiny.npy").shape == (0, 3)
    assert np.load(out / "cut.npy").shape[0] == read_index(out)["files"]["cut"]["frames"] > 0


def test_non_utf8_file_name(cli, tmp_path, capsys):
    raw = os.fsencode(tmp_path) + b"/bad\xff\xfe.wav"
    t = np.arange(8000) / 16000
    sf.write(raw, (0.3 * np.sin(2 * np.pi * 300 * t)).astype(np.float32), 16000)
    out = tmp_path / "out"
    assert cli.main([os.fsdecode(raw), "--out", str(out)]) == 0
    text = (out / "features.json").read_bytes().decode("utf-8")  # strict UTF-8
    (name, entry), = json.loads(text)["files"].items()
    assert name == "bad\\xff\\xfe" and entry["source"].endswith("bad\\xff\\xfe.wav")
    assert np.load(out / f"{name}.npy").shape == (50, 3)
