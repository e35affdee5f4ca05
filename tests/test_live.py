"""python -m realtime_ser.live: the audio callback, error messages, JSON Lines output, and an
end-to-end run through a real (virtual) microphone: a private PulseAudio null sink whose
monitor is the default source, fed with EmoDB speech by paplay."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import types
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from realtime_ser import live
from realtime_ser.audio import load
from test_engine import write_model

ROOT = Path(__file__).resolve().parents[1]
BUNDLED = ROOT / "realtime_ser" / "models" / "default"
APT = "apt-get install pulseaudio pulseaudio-utils libportaudio2 alsa-utils libasound2-plugins"


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory, emodb_wavs):
    return str(write_model(tmp_path_factory.mktemp("model") / "m", emodb_wavs[:2]))


# ------------------------------------------------------------------ a fake sounddevice


class FakePortAudioError(Exception):
    pass


class Flags:
    def __init__(self, overflow=False):
        self.input_overflow = overflow

    def __bool__(self):
        return self.input_overflow


def fake_sounddevice(devices=None, open_error=None, audio=None, lose_after=None):
    """A module like sounddevice. Its InputStream plays `audio` (16 kHz) through the callback
    from a thread, then sends SIGINT (as Ctrl-C would), or, after `lose_after` blocks, stops
    as a lost device does (finished_callback)."""
    sd = types.ModuleType("sounddevice")
    sd.PortAudioError = FakePortAudioError
    sd.default = types.SimpleNamespace(device=[0, 0])
    devices = [{"name": "Fake Mic", "index": 0, "hostapi": 0, "max_input_channels": 1,
                "max_output_channels": 0, "default_samplerate": 16000.0}] if devices is None else devices
    sd.opened = []

    def query_devices(device=None, kind=None):
        if device is None and kind is None:
            return list(devices)
        key = 0 if device is None else device
        for d in devices:
            if key in (d["index"], d["name"]):
                return dict(d)
        raise ValueError(f"No input device matching {key!r}")

    class InputStream:
        def __init__(self, **kw):
            if open_error:
                raise FakePortAudioError(open_error)
            self.kw = kw
            self.stopped = threading.Event()
            sd.opened.append(self)

        def start(self):
            threading.Thread(target=self._play, daemon=True).start()

        def _play(self):
            cb, block = self.kw["callback"], self.kw["blocksize"]
            capture = cb.__self__
            x = np.zeros(0, np.float32) if audio is None else audio
            for n, i in enumerate(range(0, len(x), block)):
                if lose_after is not None and n == lose_after:
                    self.kw["finished_callback"]()
                    return
                while capture.queue.full() and not self.stopped.is_set():
                    time.sleep(0.005)  # the fake device waits; a real one would overflow
                if self.stopped.is_set():
                    return
                cb(x[i:i + block, None], len(x[i:i + block]), None, Flags())
            os.kill(os.getpid(), signal.SIGINT)

        def stop(self):
            self.stopped.set()

        def close(self):
            self.stopped.set()

    sd.query_devices = query_devices
    sd.InputStream = InputStream
    return sd


def run_main(monkeypatch, capsys, sd, *args):
    monkeypatch.setitem(sys.modules, "sounddevice", sd)
    code = live.main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(err, *words):
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("python -m realtime_ser.live: error: ")
    assert "Traceback" not in err
    for w in words:
        assert w in lines[0]


# ------------------------------------------------------------------ unit tests


def test_callback_never_blocks_and_counts_drops():
    capture = live.Capture(maxsize=2)
    block = np.ones((320, 1), np.float32)
    done = threading.Event()

    def fill():
        for _ in range(5):
            capture.callback(block, 320, None, Flags())
        capture.callback(block, 320, None, Flags(overflow=True))
        done.set()

    threading.Thread(target=fill, daemon=True).start()
    assert done.wait(10), "the callback blocked on a full queue"
    assert capture.queue.qsize() == 2
    assert capture.drops == 4 and capture.overflows == 1


def test_callback_copies_its_block():
    capture = live.Capture(maxsize=4)
    block = np.arange(8, dtype=np.float32)[:, None]
    capture.callback(block, 8, None, None)
    block[:] = -1
    (_, got), = capture.take(timeout=0)
    assert got.shape == (8,) and got.dtype == np.float32
    assert np.array_equal(got, np.arange(8))


def test_no_input_device(monkeypatch, capsys, model_dir):
    code, out, err = run_main(monkeypatch, capsys, fake_sounddevice(devices=[]), "--jsonl", "--model", model_dir)
    assert code == 2 and out == ""
    assert_one_line_error(err, "no input device")


def test_only_output_devices_is_no_input_device(monkeypatch, capsys, model_dir):
    speaker = {"name": "Speaker", "index": 0, "hostapi": 0, "max_input_channels": 0,
               "max_output_channels": 2, "default_samplerate": 48000.0}
    code, _, err = run_main(monkeypatch, capsys, fake_sounddevice(devices=[speaker]), "--model", model_dir)
    assert code == 2
    assert_one_line_error(err, "no input device")


def test_port_audio_error_on_open(monkeypatch, capsys, model_dir):
    sd = fake_sounddevice(open_error="Error opening InputStream: Device unavailable [PaErrorCode -9985]")
    code, out, err = run_main(monkeypatch, capsys, sd, "--jsonl", "--model", model_dir)
    assert code == 2 and out == ""
    assert_one_line_error(err, "Fake Mic", "Device unavailable")


def test_bad_device(monkeypatch, capsys, model_dir):
    code, _, err = run_main(monkeypatch, capsys, fake_sounddevice(), "--device", "nope", "--model", model_dir)
    assert code == 2
    assert_one_line_error(err, "--device 'nope'")


def test_missing_model(monkeypatch, capsys, tmp_path):
    code, _, err = run_main(monkeypatch, capsys, fake_sounddevice(), "--jsonl", "--model", tmp_path / "none")
    assert code == 2
    assert_one_line_error(err, "none")


def test_list_devices(monkeypatch, capsys):
    code, out, _ = run_main(monkeypatch, capsys, fake_sounddevice(), "--list-devices")
    assert code == 0 and "Fake Mic" in out and out.startswith("*")


@pytest.fixture(scope="module")
def speech(emodb_wavs):
    """Two EmoDB utterances with 1 s of silence after each, 16 kHz."""
    gap = np.zeros(16000, np.float32)
    return np.concatenate([part for w in emodb_wavs[:2] for part in (load(w), gap)])


def test_jsonl_events(monkeypatch, capsys, model_dir, speech):
    sd = fake_sounddevice(audio=speech)
    code, out, err = run_main(monkeypatch, capsys, sd, "--jsonl", "--model", model_dir, "--endpoint-ms", "300")
    assert code == 0, err
    events = [json.loads(line) for line in out.splitlines()]
    assert {e["type"] for e in events} <= {"spike", "segment", "utterance"}
    assert all(e["source"] == "mic:Fake Mic" for e in events)
    assert [e["type"] for e in events].count("utterance") == 1 and events[-1]["type"] == "utterance"
    utt = events[-1]
    assert utt["start"] == 0.0 and utt["end"] == pytest.approx(len(speech) / 16000, abs=1e-3)
    assert set(utt["scores"]) == {"anger", "happiness", "neutral", "sadness"}
    segments = [e for e in events if e["type"] == "segment"]
    assert segments and all(0 <= s["start"] < s["end"] <= utt["end"] for s in segments)
    assert sd.opened[0].kw["samplerate"] == 16000 and sd.opened[0].kw["channels"] == 1
    assert "Traceback" not in err


def test_device_lost_mid_stream(monkeypatch, capsys, model_dir, speech):
    sd = fake_sounddevice(audio=speech, lose_after=50)
    code, out, err = run_main(monkeypatch, capsys, sd, "--jsonl", "--model", model_dir)
    assert code == 1
    assert_one_line_error("\n".join(l for l in err.splitlines() if "listening on" not in l), "device lost")
    assert json.loads(out.splitlines()[-1])["type"] == "utterance"  # what was heard still counts


def test_display_frame(model_dir):
    """The rich display shows level, a bar per emotion, timeline, latency and counters."""
    from rich.console import Console

    from realtime_ser.engine import Engine, EngineConfig
    from realtime_ser.events import Segment, Spike

    engine = Engine(EngineConfig(model=model_dir))
    capture = live.Capture(4)
    capture.drops, capture.overflows = 3, 1
    view = live.View("Fake Mic", 44100, engine.labels, capture)
    stream = engine.create_stream("mic:Fake Mic")
    stream.accept_waveform(16000, np.full(16000, 0.1, np.float32))
    view.audio(np.full(441, 0.1, np.float32), 0.002)
    view.add([Segment("mic", 0.2, 0.8, "anger", {}, latency_s=0.3), Spike("mic", "sadness", 0.5)])
    view.running, view.duration = stream.result(), stream.duration
    console = Console(record=True, width=100, color_system=None)
    console.print(view.render())
    text = console.export_text()
    for word in ("Fake Mic @ 44100 Hz", "-20.0 dBFS", "anger", "happiness", "neutral", "sadness",
                 "latency   300 ms", "drops 3  overflows 1", "segments 1", "last 10 s"):
        assert word in text, text


# ------------------------------------------------------------------ end to end


PULSE_CONFIG = """\
load-module module-native-protocol-unix
load-module module-null-sink sink_name=mic rate=16000 channels=1
set-default-sink mic
set-default-source mic.monitor
"""


@pytest.fixture
def pulse():
    """A private PulseAudio daemon; yields the environment that reaches it."""
    missing = [tool for tool in ("pulseaudio", "pactl", "paplay") if shutil.which(tool) is None]
    if missing:
        pytest.fail(f"{', '.join(missing)} not installed: the end-to-end microphone test needs {APT}")
    base = Path(tempfile.mkdtemp(prefix="pa-"))  # short: the socket path must fit 108 bytes
    run_dir, home = base / "run", base / "home"
    run_dir.mkdir(mode=0o700)
    home.mkdir()
    config = base / "default.pa"
    config.write_text(PULSE_CONFIG)
    env = dict(os.environ, XDG_RUNTIME_DIR=str(run_dir), HOME=str(home),
               PULSE_SERVER=f"unix:{run_dir}/pulse/native")
    started = subprocess.run(["pulseaudio", "-D", "-n", "-F", str(config), "--exit-idle-time=-1",
                              "--disallow-exit"], env=env, capture_output=True, text=True, timeout=60)
    try:
        assert started.returncode == 0, f"pulseaudio did not start: {started.stderr.strip()}"
        wait_for_pulse(env)
        yield env
    finally:
        subprocess.run(["pulseaudio", "--kill"], env=env, capture_output=True, timeout=30)
        shutil.rmtree(base, ignore_errors=True)


def wait_for_pulse(env, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if subprocess.run(["pactl", "info"], env=env, capture_output=True, timeout=10).returncode == 0:
            return
        time.sleep(0.2)
    pytest.fail("pulseaudio started but `pactl info` does not answer")


def padded_wavs(wavs, folder: Path) -> list[Path]:
    """Each utterance with 0.5 s of silence before and after (the monitor can clip starts)."""
    gap = np.zeros(8000, np.float32)
    out = []
    for w in wavs:
        path = folder / w.name
        sf.write(path, np.concatenate([gap, load(w), gap]), 16000, subtype="PCM_16")
        out.append(path)
    return out


def wait_for_line(stream, text: str, timeout: float) -> list[str]:
    """Lines read from `stream` until one contains text (in a thread: readline blocks)."""
    lines: list[str] = []
    found = threading.Event()

    def read():
        for line in stream:
            lines.append(line)
            if text in line:
                found.set()
                return

    threading.Thread(target=read, daemon=True).start()
    found.wait(timeout)
    return lines if found.is_set() else lines + [f"<no {text!r} after {timeout} s>"]


def test_end_to_end_virtual_microphone(pulse, tmp_path, emodb_wavs, model_dir):
    model = str(BUNDLED) if (BUNDLED / "config.json").exists() else model_dir
    wavs = padded_wavs(emodb_wavs[:3], tmp_path)
    played_s = sum(sf.info(w).duration for w in wavs)
    duration = played_s + 6.0
    cmd = [sys.executable, "-m", "realtime_ser.live", "--jsonl", "--duration", f"{duration:.1f}",
           "--model", model, "--endpoint-ms", "300"]
    env = dict(pulse, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", NUMBA_NUM_THREADS="1")
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        head = wait_for_line(proc.stderr, "listening on", timeout=120)
        assert "listening on" in head[-1], "live did not start capturing: " + "".join(head)
        time.sleep(1.0)  # capture delivers ~0.4 s after the stream opens
        for w in wavs:
            subprocess.run(["paplay", str(w)], env=pulse, check=True, timeout=60)
        out, err = proc.communicate(timeout=duration + 120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    err = "".join(head) + err
    assert "Traceback" not in err, err
    assert proc.returncode == 0, err
    events = [json.loads(line) for line in out.splitlines()]
    types_ = [e["type"] for e in events]
    assert types_.count("segment") >= 1, f"no segment in {types_}; stderr: {err}"
    assert types_.count("utterance") == 1 and types_[-1] == "utterance", types_
    utt = events[-1]
    assert utt["source"].startswith("mic:")
    assert utt["end"] >= played_s, f"captured {utt['end']} s, played {played_s:.2f} s"


# ------------------------------------------------------------------ reliability (issue 12)


@pytest.mark.parametrize("rate, words", [("7999", ["--samplerate", "7999", "8000"]), ("0", ["--samplerate", "0"]),
                                         ("192001", ["192000"]), ("16k", ["--samplerate", "16k"])])
def test_bad_samplerate_before_capture(monkeypatch, capsys, rate, words):
    """7999 used to start capture and die with a traceback; 0 silently meant the default."""
    sd = fake_sounddevice()
    code, out, err = run_main(monkeypatch, capsys, sd, "--jsonl", "--samplerate", rate)
    assert code == 2 and out == "" and sd.opened == []
    assert_one_line_error(err, *words)


@pytest.mark.parametrize("option, value", [("--chunk-ms", "1e20"), ("--chunk-ms", "15"), ("--endpoint-ms", "0"),
                                           ("--right-context-ms", "99999"), ("--duration", "-1")])
def test_bad_options_one_line(monkeypatch, capsys, option, value):
    sd = fake_sounddevice()
    code, out, err = run_main(monkeypatch, capsys, sd, "--jsonl", option, value)
    assert code == 2 and out == "" and sd.opened == []
    assert_one_line_error(err, option)


def test_bad_model_before_any_audio(monkeypatch, capsys, tmp_path):
    """The model is checked before sounddevice is even loaded."""
    bad = tmp_path / "bad"
    shutil.copytree(BUNDLED, bad)
    (bad / "config.json").write_text("[]")
    monkeypatch.setitem(sys.modules, "sounddevice", None)  # importing it would fail
    code = live.main(["--model", str(bad)])
    _, err = capsys.readouterr()
    assert code == 2
    assert_one_line_error(err, str(bad), "JSON object")


FAKE_SOUNDDEVICE = '''
"""A fake sounddevice for a subprocess: 1 s of tone, then PortAudio's own stderr line and a lost device."""
import os
import threading
import time

import numpy as np


class PortAudioError(Exception):
    pass


class _Default:
    device = [0, 0]


default = _Default()
_DEVICE = {"name": "Fake Mic", "index": 0, "hostapi": 0, "max_input_channels": 1,
           "max_output_channels": 0, "default_samplerate": 16000.0}


def query_devices(device=None, kind=None):
    return [dict(_DEVICE)] if device is None and kind is None else dict(_DEVICE)


class InputStream:
    def __init__(self, **kw):
        self.kw = kw

    def start(self):
        threading.Thread(target=self._play, daemon=True).start()

    def _play(self):
        cb, block = self.kw["callback"], self.kw["blocksize"]
        x = (0.3 * np.sin(np.arange(16000) / 5)).astype(np.float32)
        for i in range(0, len(x), block):
            cb(x[i:i + block, None], block, None, None)
            time.sleep(0.01)
        os.write(2, b"Expression 'alsa_snd_pcm_poll_descriptors' failed in 'src/hostapi/alsa/pa_linux_alsa.c'\\n")
        self.kw["finished_callback"]()

    def stop(self):
        pass

    def close(self):
        pass
'''


def test_display_without_tty_and_portaudio_stderr(tmp_path):
    """The display's last line ends with a newline without a TTY, and PortAudio's stderr line
    (written while the display runs) comes after the display, not inside it."""
    (tmp_path / "sounddevice.py").write_text(FAKE_SOUNDDEVICE)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), str(ROOT)]), OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-m", "realtime_ser.live", "--model", str(BUNDLED)],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, timeout=120)
    text = proc.stdout.decode()
    assert proc.returncode == 1, text
    assert "Traceback" not in text
    assert text.endswith("\n")
    lines = text.splitlines()
    bottom = max(i for i, ln in enumerate(lines) if ln.startswith("╰"))  # the panel's last line
    assert lines[bottom].rstrip().endswith("╯"), lines[bottom]
    (alsa,) = [i for i, ln in enumerate(lines) if "alsa_snd_pcm_poll_descriptors" in ln]
    assert alsa > bottom and lines[alsa].startswith("Expression")
    assert any(ln.startswith("utterance: ") for ln in lines[bottom + 1:])
    assert "device lost" in lines[-1]


def test_jsonl_reader_gone_is_quiet(monkeypatch, capsys, model_dir, speech):
    """`live --jsonl | head -1`: a closed stdout ends the run quietly, exit 1."""
    import realtime_ser.stream as stream_cli

    class ClosedPipe:
        def write(self, text):
            raise BrokenPipeError(32, "Broken pipe")

        def flush(self):
            raise BrokenPipeError(32, "Broken pipe")

    discarded = []
    monkeypatch.setattr(live, "discard_stdout", lambda: discarded.append(1))
    monkeypatch.setitem(sys.modules, "sounddevice", fake_sounddevice(audio=speech))
    monkeypatch.setattr(sys, "stdout", ClosedPipe())
    code = live.main(["--jsonl", "--model", model_dir, "--endpoint-ms", "200"])
    err = capsys.readouterr().err
    assert code == 1 and discarded == [1]
    assert "Traceback" not in err and "error" not in err
    assert callable(stream_cli.discard_stdout)
