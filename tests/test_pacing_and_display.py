"""Paths no other test ran: the stream CLI's --realtime pacer and the live display's refresh loop."""

from __future__ import annotations

import json
import threading
import time
from types import SimpleNamespace

import soundfile as sf

from realtime_ser import live, stream
from realtime_ser.audio import load
from realtime_ser.engine import Engine, EngineConfig


def timed_main(argv, capsys) -> tuple[int, float, list[dict]]:
    t = time.monotonic()
    code = stream.main(argv)
    wall = time.monotonic() - t
    return code, wall, [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_realtime_flag_paces_the_input(emodb_wavs, capsys):
    wav = emodb_wavs[0]
    duration = sf.info(wav).frames / sf.info(wav).samplerate
    code, fast, events = timed_main([str(wav)], capsys)
    assert code == 0 and events[-1]["type"] == "utterance"
    code, paced, paced_events = timed_main(["--realtime", str(wav)], capsys)
    assert code == 0 and paced_events == events  # same results, only slower
    assert paced >= 0.8 * duration, f"{paced:.2f} s for {duration:.2f} s of audio"
    assert paced <= duration + 5.0 and fast < 0.5 * duration


def test_live_display_refreshes_while_audio_flows(monkeypatch, emodb_wavs):
    """The display loop redraws at most REFRESH_HZ times a second, showing the audio so far."""
    engine = Engine(EngineConfig())
    mic = engine.create_stream("mic")
    x = load(emodb_wavs[0])
    capture = live.Capture(maxsize=1000)
    view = live.View("Fake Mic", 16000, engine.labels, capture)
    drawn = []

    class FakeLive:
        def update(self, renderable, refresh=False):
            drawn.append((time.monotonic(), view.duration, view.running))

        def stop(self):
            pass

    monkeypatch.setattr(view, "start", lambda: FakeLive())

    def play():
        for i in range(0, len(x), 1600):
            capture.callback(x[i:i + 1600, None], 1600, None, None)
            time.sleep(0.03)
        capture.on_finished()

    threading.Thread(target=play, daemon=True).start()
    t0 = time.monotonic()
    message = live.loop(engine, mic, capture, 16000, None, SimpleNamespace(set=False), view, view)
    wall = time.monotonic() - t0
    assert "device lost" in message
    assert len(drawn) >= 3, drawn
    assert len(drawn) <= live.REFRESH_HZ * wall + 2
    durations = [d for _, d, _ in drawn]
    assert durations == sorted(durations) and durations[-1] > durations[0] > 0
    assert all(r is not None and r.type == "partial" for _, _, r in drawn)
