"""realtime_ser.stream under abuse: bad neighbours, pipes, signals, names, FIFOs, stdin, options.

Every run (rel_common.run) is checked for valid strict JSON Lines on stdout and no traceback."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
import soundfile as sf
from rel_common import ENV, STREAM, one_line, results_by_source, run, speech_wav, speechlike, strict_json, wav


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("in")
    return {"good1": speech_wav(d / "good1.wav", 0.0, 4.5),
            "good2": speech_wav(d / "good2.wav", 3.0, 5.0, rate=44100, channels=2),
            "short": speech_wav(d / "short.wav", 1.0, 1.0),
            "long": speech_wav(d / "long.wav", 0.0, 30.0)}


def bad_inputs(d):
    """(path, words of its error) for inputs that must each give one error event."""
    d.mkdir()
    text = d / "notes.wav"
    text.write_text("not audio\n" * 10)
    nan = d / "nan.wav"
    x = speechlike(0.5)
    x[100] = np.nan
    sf.write(nan, x, 16000, subtype="FLOAT")
    loud = d / "int_scale.wav"
    sf.write(loud, speechlike(0.5) * 32767, 16000, subtype="FLOAT")
    header = d / "header.wav"
    header.write_bytes(wav(d / "x.wav", 0.3).read_bytes()[:30])
    low = wav(d / "low.wav", 0.3, 4000)
    high = wav(d / "high.wav", 0.1, 384000)
    loop = d / "loop.wav"
    loop.symlink_to(d / "loop2.wav")
    (d / "loop2.wav").symlink_to(loop)
    empty_dir = d / "empty"
    empty_dir.mkdir()
    no_audio = d / "texts"
    no_audio.mkdir()
    (no_audio / "readme.txt").write_text("x")
    return [(d / "missing.wav", "file not found"), (text, "not an audio file"), (nan, "NaN"),
            (loud, "float samples reach"), (header, "truncated or corrupt header"),
            (low, "below the 8000 Hz minimum"), (high, "above the 192000 Hz maximum"),
            (loop, "symbolic link loop"), (empty_dir, "no audio files"), (no_audio, "no audio files")]


def test_bad_neighbours_change_nothing(tmp_path, files):
    alone = run(STREAM, files["good1"], files["good2"], "--quiet", "--endpoint-ms", "200")
    assert alone.code == 0
    assert {"spike", "segment", "utterance"} <= {e["type"] for e in alone.events}
    bad = bad_inputs(tmp_path / "bad")
    args = [bad[0][0], files["good1"], *[p for p, _ in bad[1:5]], files["good2"], *[p for p, _ in bad[5:]]]
    mixed = run(STREAM, *args, "--quiet", "--endpoint-ms", "200")
    assert mixed.code == 1 and mixed.stderr == ""
    errors = mixed.of("error")
    assert [e["source"] for e in errors] == [str(p) for p, _ in bad]
    for e, (_, words) in zip(errors, bad):
        assert e["error"].startswith(e["source"] + ": ") and words in e["error"], e
    got, want = results_by_source(mixed), results_by_source(alone)
    for good in ("good1", "good2"):
        assert got[str(files[good])] == want[str(files[good])]
        assert [e["type"] for e in got[str(files[good])]].count("utterance") == 1


def test_broken_pipe_is_quiet(files):
    """`stream long.wav | head -1` used to end in two BrokenPipeError tracebacks."""
    proc = subprocess.Popen([sys.executable, "-m", STREAM, files["long"], files["good1"], "--posteriors",
                             "--quiet"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV)
    first = proc.stdout.readline()
    proc.stdout.close()  # the reader goes away, as head -1 does
    err = proc.stderr.read().decode()
    proc.wait(timeout=60)
    assert strict_json(first.decode())["type"] == "posteriors"
    assert err == "", err
    assert proc.returncode == 1


def test_broken_pipe_through_a_shell(files):
    out = subprocess.run(["bash", "-c", f'"$0" -m {STREAM} "$1" --posteriors | head -1', sys.executable,
                          str(files["long"])], capture_output=True, env=ENV, timeout=60)
    assert out.stderr == b"" and len(out.stdout.splitlines()) == 1


def test_sigint_writes_interrupted_and_exits_130(files):
    proc = subprocess.Popen([sys.executable, "-m", STREAM, files["short"], files["long"], "--realtime",
                             "--quiet"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV)
    lines = []
    while True:  # wait until the first input is finished, then Ctrl-C during the second
        line = proc.stdout.readline()
        assert line, "no utterance before EOF"
        lines.append(strict_json(line.decode()))
        if lines[-1]["type"] == "utterance":
            break
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    events = lines + [strict_json(ln) for ln in out.decode().splitlines()]
    assert proc.returncode == 130
    assert "Traceback" not in err.decode() and "KeyboardInterrupt" not in err.decode()
    assert events[-1] == {"type": "error", "source": str(files["long"]), "error": f"{files['long']}: interrupted"}
    assert [e["source"] for e in events if e["type"] == "utterance"] == [str(files["short"])]


def test_non_utf8_file_names(tmp_path, files):
    """A valid WAV named b'bad\\xff\\xfe.wav' used to be rejected, and its error line broke UTF-8."""
    raw = os.fsencode(tmp_path) + b"/bad\xff\xfe.wav"
    sf.write(raw, speechlike(1.0, seed=1), 16000, subtype="PCM_16")
    missing = os.fsencode(tmp_path) + b"/gone\xff.wav"
    env = dict(ENV, PYTHONIOENCODING="utf-8:strict")
    result = run(STREAM, os.fsdecode(raw), os.fsdecode(missing), files["good1"], "--quiet", env=env)
    assert result.code == 1  # only the missing one failed
    shown = os.fsdecode(tmp_path) + "/bad\\xff\\xfe.wav"
    (utt,) = result.of("utterance", shown)
    assert utt["end"] == pytest.approx(1.0)
    assert result.of("utterance", str(files["good1"]))[0]["emotion"]
    (err,) = result.of("error")
    assert err["source"].endswith("/gone\\xff.wav") and "file not found" in err["error"]
    assert len(result.of("utterance", str(files["good1"]))) == 1  # the batch went on


def test_fifo_is_read_like_stdin(tmp_path, files):
    """A FIFO was never opened: its writer blocked forever."""
    fifo = tmp_path / "feed.fifo"
    os.mkfifo(fifo)
    data = files["good1"].read_bytes()

    def writer():
        with open(fifo, "wb") as fh:
            for i in range(0, len(data), 4000):
                fh.write(data[i:i + 4000])
                fh.flush()

    t = threading.Thread(target=writer, daemon=True)
    t.start()
    from_fifo = run(STREAM, fifo, "--quiet")
    t.join(5)
    from_file = run(STREAM, files["good1"], "--quiet")
    assert from_fifo.code == 0
    strip = [{k: v for k, v in e.items() if k != "source"} for e in from_fifo.events]
    assert strip == [{k: v for k, v in e.items() if k != "source"} for e in from_file.events]
    assert from_fifo.of("utterance", str(fifo))


def test_closed_stdin():
    """`<&-` used to give AttributeError."""
    result = run(STREAM, "-", preexec_fn=lambda: os.close(0))
    assert result.code == 1
    assert result.events == [{"type": "error", "source": "<stdin>",
                              "error": "<stdin>: stdin is closed (nothing to read)"}]


@pytest.mark.parametrize("fmt, subtype", [("FLAC", "PCM_16"), ("OGG", "VORBIS"), ("WAV", "FLOAT")])
def test_formats_through_a_pipe(tmp_path, files, fmt, subtype):
    """FLAC from a pipe used to say 'not a WAV stream'."""
    path = tmp_path / f"x.{fmt.lower()}"
    sf.write(path, speechlike(1.5, 22050, seed=4), 22050, format=fmt, subtype=subtype)
    piped = run(STREAM, "-", stdin=path.read_bytes())
    direct = run(STREAM, path)
    assert piped.code == 0 == direct.code
    (a,), (b,) = piped.of("utterance"), direct.of("utterance")
    assert a["source"] == "<stdin>" and a["emotion"] == b["emotion"] and a["end"] == b["end"]
    assert a["scores"] == pytest.approx(b["scores"], abs=1e-4)


def test_stdin_not_audio_says_so():
    result = run(STREAM, "-", stdin=b"plain text, not audio" * 20)
    assert result.code == 1
    (e,) = result.events
    assert e["type"] == "error" and "not an audio stream" in e["error"] and "WAV" not in e["error"]


def test_truncated_wav_warns(tmp_path):
    """A WAV cut short used to be processed as if whole, without a word."""
    full = wav(tmp_path / "full.wav", 2.0)
    cut = tmp_path / "cut.wav"
    cut.write_bytes(full.read_bytes()[: 44 + 32000])
    result = run(STREAM, cut)
    assert result.code == 0
    types = [e["type"] for e in result.events]
    assert types[0] == "warning" and types.count("utterance") == 1
    w = result.events[0]
    assert w["source"] == str(cut) and w["warning"].startswith(f"{cut}: truncated: ")
    assert result.of("utterance")[0]["end"] == pytest.approx(1.0)


@pytest.mark.parametrize("args, words", [
    (["--chunk-ms", "1e20"], ["--chunk-ms", "1e20"]),
    (["--chunk-ms", "20000"], ["--chunk-ms", "10000"]),
    (["--chunk-ms", "0"], ["--chunk-ms"]),
    (["--chunk-ms", "15"], ["--chunk-ms", "multiple of 10"]),
    (["--right-context-ms", "-10"], ["--right-context-ms"]),
    (["--right-context-ms", "99990"], ["--right-context-ms", "5000"]),
    (["--endpoint-ms", "5"], ["--endpoint-ms"]),
    (["--endpoint-ms", "1e9"], ["--endpoint-ms"]),
    (["--endpoint-ms", "120000"], ["--endpoint-ms", "60000"]),
    (["--no-such-option"], ["--no-such-option"]),
])
def test_option_ranges(files, args, words):
    result = run(STREAM, files["good1"], *args)
    assert result.code == 2 and result.stdout == b""
    line = one_line(result.stderr)
    assert line.startswith(f"python -m {STREAM}: error: ")
    for w in words:
        assert w in line


def test_closed_stdout(files):
    result = run(STREAM, files["good1"], preexec_fn=lambda: os.close(1))
    assert result.code == 2 and "stdout is closed" in one_line(result.stderr)


def test_posteriors_rounded_and_finite(files):
    """--posteriors printed values like 0.9991260170936584; 6 decimals are documented."""
    result = run(STREAM, files["good1"], "--posteriors")
    assert result.code == 0
    rows = [v for e in result.of("posteriors") for row in e["posteriors"] for v in row]
    assert rows and all(round(v, 6) == v and 0 <= v <= 1 for v in rows)
    assert any(len(repr(v)) > 4 for v in rows)  # not all trivially short


def test_exit_0_when_all_good(files):
    result = run(STREAM, files["good1"], files["good2"], "--quiet", "--latency")
    assert result.code == 0 and result.stderr == ""
    assert all(isinstance(e["latency_s"], float) for e in result.events)


def test_sigint_while_the_pipe_writer_is_idle(files):
    """Ctrl-C must not wait for the writer's next bytes (libsndfile's pipe reads retry on EINTR)."""
    proc = subprocess.Popen([sys.executable, "-m", STREAM, "-"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV)
    data = files["good1"].read_bytes()
    proc.stdin.write(data[: len(data) // 2])  # half a WAV, then nothing: the writer is idle
    proc.stdin.flush()
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=5)  # stdin still open: it must end on the signal alone
    out, err = proc.communicate()
    assert proc.returncode == 130, err
    events = [strict_json(ln) for ln in out.decode().splitlines()]
    assert events[-1] == {"type": "error", "source": "<stdin>", "error": "<stdin>: interrupted"}
