"""python -m realtime_ser.stream: JSON Lines events per input, error lines, exit codes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from realtime_ser import stream
from test_engine import write_model


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory, emodb_wavs):
    return str(write_model(tmp_path_factory.mktemp("model") / "m", emodb_wavs[:2]))


def cli(*args, stdin=None):
    """Run the CLI in a subprocess -> (exit code, events, stderr)."""
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", NUMBA_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-m", "realtime_ser.stream", *map(str, args)],
                          input=stdin, capture_output=True, env=env, timeout=300)
    events = [json.loads(line) for line in proc.stdout.decode().splitlines()]
    return proc.returncode, events, proc.stderr.decode()


def run_main(capsys, *args):
    """Run main() in this process -> (exit code, events, stderr)."""
    code = stream.main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, [json.loads(line) for line in out.splitlines()], err


def of_type(events, kind, source=None):
    return [e for e in events if e["type"] == kind and (source is None or e["source"] == source)]


def test_emodb_files_and_directory(capsys, model_dir, emodb_wavs, tmp_path):
    folder = tmp_path / "d"
    folder.mkdir()
    for w in emodb_wavs[:2]:
        shutil.copy(w, folder)
    code, events, err = run_main(capsys, emodb_wavs[2], folder, "--model", model_dir, "--endpoint-ms", "100")
    assert code == 0
    sources = [str(emodb_wavs[2])] + [str(folder / w.name) for w in emodb_wavs[:2]]
    for src in sources:
        (utt,) = of_type(events, "utterance", src)
        assert utt["start"] == 0.0 and utt["end"] == pytest.approx(sf.info(src).duration)
        assert set(utt["scores"]) == {"anger", "happiness", "neutral", "sadness"}
        assert utt["emotion"] == max(utt["scores"], key=utt["scores"].get)
        for seg in of_type(events, "segment", src):
            assert 0 <= seg["start"] < seg["end"] <= utt["end"] + 0.01
    assert of_type(events, "spike") and not of_type(events, "error")
    assert "streaming" in err  # progress bar for several files


def test_44k_stereo_file(capsys, model_dir, tmp_path):
    t = np.arange(int(2.0 * 44100)) / 44100
    tone = 0.3 * np.sin(2 * np.pi * 220 * t) * (1 + np.sin(2 * np.pi * 3 * t))
    noise = np.random.default_rng(0).normal(0, 0.02, t.size)
    path = tmp_path / "stereo.wav"
    sf.write(path, np.stack([tone + noise, 0.5 * tone], 1), 44100, subtype="PCM_16")
    code, events, _ = run_main(capsys, path, "--model", model_dir, "--partials", "--no-spikes")
    assert code == 0
    (utt,) = of_type(events, "utterance")
    assert utt["end"] == pytest.approx(2.0)
    assert of_type(events, "partial") and not of_type(events, "spike")


def test_bad_inputs_give_error_lines(model_dir, emodb_wavs, tmp_path):
    text = tmp_path / "notes.wav"
    text.write_text("this is not audio\n")
    nan = tmp_path / "nan.wav"
    x = np.zeros(16000, np.float32)
    x[8000] = np.nan
    sf.write(nan, x, 16000, subtype="FLOAT")
    truncated = tmp_path / "truncated.wav"
    truncated.write_bytes(emodb_wavs[0].read_bytes()[:30])
    low = tmp_path / "low.wav"
    sf.write(low, np.zeros(4000, np.float32), 4000)
    missing = tmp_path / "missing.wav"
    bad = [missing, text, nan, truncated, low]
    code, events, err = cli(missing, text, emodb_wavs[0], nan, truncated, low, "--model", model_dir, "--quiet")
    assert code == 1
    assert "Traceback" not in err and err == ""
    errors = of_type(events, "error")
    assert [e["source"] for e in errors] == [str(p) for p in bad]
    for e in errors:
        assert e["error"].startswith(e["source"] + ": ") and "\n" not in e["error"]
    assert "not found" in errors[0]["error"] and "NaN" in errors[2]["error"]
    assert [e["source"] for e in of_type(events, "utterance")] == [str(emodb_wavs[0])]


def test_stdin_matches_file(model_dir, emodb_wavs):
    wav = emodb_wavs[1]
    code, events, err = cli("-", "--model", model_dir, stdin=wav.read_bytes())
    assert code == 0, err
    (utt,) = of_type(events, "utterance")
    assert utt["source"] == "<stdin>"
    code, from_file, _ = cli(wav, "--model", model_dir)
    (ref,) = of_type(from_file, "utterance")
    assert (utt["emotion"], utt["end"]) == (ref["emotion"], ref["end"])
    assert utt["scores"] == pytest.approx(ref["scores"], abs=1e-5)


def test_stdin_not_audio(model_dir):
    code, events, err = cli("-", "--model", model_dir, stdin=b"hello, not audio")
    assert code == 1 and "Traceback" not in err
    assert [e["type"] for e in events] == ["error"]


def test_posteriors_shape(capsys, model_dir, emodb_wavs):
    code, events, _ = run_main(capsys, emodb_wavs[0], "--model", model_dir, "--posteriors",
                               "--chunk-ms", "50", "--right-context-ms", "100")
    assert code == 0
    posts = of_type(events, "posteriors")
    assert posts and all(p["outputs"] == ["null", "anger", "happiness", "neutral", "sadness"] for p in posts)
    rows = np.concatenate([np.asarray(p["posteriors"]) for p in posts])
    assert rows.shape[1] == 5
    np.testing.assert_allclose(rows.sum(1), 1, atol=1e-4)
    for p, q in zip(posts, posts[1:]):
        assert q["start"] == p["end"]  # contiguous frames
    for p in posts:
        assert len(p["posteriors"]) == round((p["end"] - p["start"]) / 0.01)
    assert posts[0]["start"] == 0.0
    assert rows.shape[0] == pytest.approx(sf.info(str(emodb_wavs[0])).duration / 0.01, abs=3)


def test_latency_flag(capsys, model_dir, emodb_wavs):
    code, events, _ = run_main(capsys, emodb_wavs[0], "--model", model_dir, "--latency")
    assert code == 0 and all(isinstance(e["latency_s"], float) for e in events)


def test_bad_model_and_options_exit_2(capsys, tmp_path, emodb_wavs):
    code, events, err = run_main(capsys, emodb_wavs[0], "--model", tmp_path / "none")
    assert code == 2 and events == [] and len(err.strip().splitlines()) == 1
    code, events, err = run_main(capsys, emodb_wavs[0], "--model", tmp_path, "--chunk-ms", "15")
    assert code == 2 and "--chunk-ms" in err and len(err.strip().splitlines()) == 1


def test_unexpected_failure_is_an_error_line(capsys, monkeypatch, model_dir, emodb_wavs):
    from realtime_ser.engine import Engine

    real = Engine.decode
    calls = []

    def flaky(self, streams):
        calls.append(streams[0].source)
        if streams[0].source == str(emodb_wavs[0]):
            raise RuntimeError("boom\nsecond line")
        return real(self, streams)

    monkeypatch.setattr(Engine, "decode", flaky)
    code, events, _ = run_main(capsys, emodb_wavs[0], emodb_wavs[1], "--model", model_dir, "--quiet")
    assert code == 1
    (err,) = of_type(events, "error")
    assert err["error"] == f"{emodb_wavs[0]}: RuntimeError: boom second line"
    assert [e["source"] for e in of_type(events, "utterance")] == [str(emodb_wavs[1])]
