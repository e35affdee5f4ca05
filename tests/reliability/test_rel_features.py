"""realtime_ser.features as a subprocess: Ctrl-C keeps features.json, stdin, modes, short files."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import threading
import time

import numpy as np
import soundfile as sf
from rel_common import ENV, FEATURES, run, speech_wav


def test_ctrl_c_keeps_the_index(tmp_path):
    """After Ctrl-C there was no features.json; now it lists the files finished."""
    done = speech_wav(tmp_path / "done.wav", 0.0, 1.0)
    fifo = tmp_path / "slow.fifo"
    os.mkfifo(fifo)
    data = speech_wav(tmp_path / "src.wav", 0.0, 3.0).read_bytes()
    stop = threading.Event()

    def writer():  # half the stream, then wait: the CLI is blocked reading it
        with open(fifo, "wb") as fh:
            fh.write(data[: len(data) // 2])
            fh.flush()
            stop.wait(180)

    threading.Thread(target=writer, daemon=True).start()
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", FEATURES, done, fifo, "--out", out, "-q"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV)
    deadline = time.monotonic() + 120  # generous: CI machines can be loaded
    while not (out / "done.npy").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert (out / "done.npy").exists(), "the first file was never finished"
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    stop.set()
    err = err.decode()
    assert proc.returncode == 130, err
    assert "Traceback" not in err and f"error: {fifo}: interrupted" in err
    index = json.loads((out / "features.json").read_text())
    assert list(index["files"]) == ["done"]
    assert sorted(p.name for p in out.iterdir()) == ["done.npy", "features.json"]


def test_stdin_flac_and_modes(tmp_path):
    src = speech_wav(tmp_path / "s.wav", 0.0, 2.0)
    flac = tmp_path / "s.flac"
    sf.write(flac, sf.read(src)[0], 16000)
    out = tmp_path / "out"
    result = run(FEATURES, "-", src, "--out", out, "--csv", stdin=flac.read_bytes(), env=dict(ENV),
                 preexec_fn=lambda: os.umask(0o022))
    assert result.code == 0, result.stderr
    a, b = np.load(out / "stdin.npy"), np.load(out / "s.npy")
    assert a.shape == b.shape and a.shape[1] == 238
    np.testing.assert_allclose(a, b, atol=1e-3)
    for name in ("stdin.npy", "stdin.csv", "s.npy", "features.json"):
        assert stat.S_IMODE((out / name).stat().st_mode) == 0o644, name


def test_short_file_warns(tmp_path):
    tiny = tmp_path / "tiny.wav"
    sf.write(tiny, np.zeros(200, np.float32), 16000)
    out = tmp_path / "out"
    result = run(FEATURES, tiny, "--out", out)
    assert result.code == 0
    assert result.stderr.strip() == f"warning: {tiny}: shorter than one 25 ms frame; wrote an empty (0, 238) array"
    assert np.load(out / "tiny.npy").shape == (0, 238)


def test_empty_directory(tmp_path):
    (tmp_path / "empty").mkdir()
    result = run(FEATURES, tmp_path / "empty", "--out", tmp_path / "out")
    assert result.code == 1 and result.stderr.strip() == f"error: {tmp_path / 'empty'}: no audio files found in directory"
