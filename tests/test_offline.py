"""python -m realtime_ser.stream --offline (the batch path) against streaming, event for event.

Equal when the streaming chunk covers the whole input (--chunk-ms 10000 >= every file here),
in both segment modes (speech, the default of both, and spikes): then streaming runs the
offline BiLSTM too, and the batch path's numba deltas, numba speech flags and numba decoder
(best path, spikes, speech or spike segments, the "no spike" and "no speech" answers) must
reproduce the native features, SpeechDetector and tracker to the bit. Also: serving never
loads numba or torch; the batch path does.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from realtime_ser import stream
from test_engine import write_model
from conftest import ROOT

SPEECH = ROOT / "realtime_ser" / "samples" / "speech.wav"


def run_main(capsys, *args):
    code = stream.main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, [json.loads(line) for line in out.splitlines()], err


@pytest.fixture(scope="module")
def inputs(tmp_path_factory, emodb_wavs):
    """Real speech (bundled sample, EmoDB), a 44.1 kHz stereo copy, and inputs that fail."""
    d = tmp_path_factory.mktemp("in")
    x, rate = sf.read(emodb_wavs[5], dtype="float32")
    t = np.arange(int(len(x) * 44100 / rate))
    stereo = np.stack([np.interp(t * rate / 44100, np.arange(len(x)), x)] * 2, 1) * [0.9, 0.5]
    sf.write(d / "stereo44k.wav", stereo.astype(np.float32), 44100)
    sf.write(d / "short.wav", np.zeros(100, np.float32), 16000)     # no 10 ms frame
    sf.write(d / "empty.wav", np.zeros(0, np.float32), 16000)
    return [SPEECH, *emodb_wavs[:4], emodb_wavs[-1], d / "stereo44k.wav", d / "short.wav",
            d / "empty.wav", d / "missing.wav"]


@pytest.fixture(scope="module")
def models(tmp_path_factory, emodb_wavs):
    """--model arguments: the bundled default, a random model, and a mute one (never a spike)."""
    d = tmp_path_factory.mktemp("model")
    return {"bundled": [], "random": ["--model", str(write_model(d / "random", emodb_wavs[:2]))],
            "mute": ["--model", str(write_model(d / "mute", emodb_wavs[:2], null_bias=100.0))]}


@pytest.mark.parametrize("model,batch,options,segments", [
    ("bundled", "1", [], "spikes"), ("bundled", "3", ["--endpoint-ms", "100"], "spikes"),
    ("bundled", "32", ["--no-spikes"], "spikes"), ("random", "1", ["--endpoint-ms", "50"], "spikes"),
    ("random", "4", [], "spikes"), ("random", "32", ["--endpoint-ms", "2000"], "spikes"),
    ("bundled", "1", [], "speech"), ("bundled", "4", ["--max-segment-ms", "500"], "speech"),
    ("bundled", "32", ["--no-spikes"], None), ("random", "3", [], "speech"), ("random", "32", [], None),
    ("mute", "4", [], None), ("mute", "1", ["--no-spikes"], "speech")])
def test_offline_equals_streaming_with_a_whole_file_chunk(capsys, inputs, models, model, batch, options,
                                                          segments):
    """Every event (spikes, segments, utterances, warnings, errors) in the same order; segments
    None: both defaults (speech regions)."""
    extra = options + models[model]
    extra += [] if segments is None else ["--segments", segments]
    code_s, streamed, _ = run_main(capsys, *inputs, "--chunk-ms", "10000", *extra)
    code_o, offline, err = run_main(capsys, *inputs, "--offline", "--batch-files", batch, *extra)
    assert code_s == code_o == stream.EXIT_FAILED  # the short, empty and missing inputs fail
    assert offline == streamed
    kinds = [e["type"] for e in offline]
    assert kinds.count("utterance") == len(inputs) - 3 and kinds.count("error") == 3, offline
    assert kinds.count("segment") >= len(inputs) - 3
    assert ("spike" in kinds) == ("--no-spikes" not in options and model != "mute")
    if model == "mute":  # no spike anywhere: every speech segment takes the fallback
        assert all(e.get("reason") == "no spike" for e in offline if e["type"] == "segment")


def test_offline_differs_from_short_chunks_only_in_the_backward_context(capsys, emodb_wavs):
    """With 100 ms chunks streaming sees 200 ms of right context: scores move, most decisions stay."""
    files = emodb_wavs[:12]
    _, streamed, _ = run_main(capsys, *files)
    _, offline, _ = run_main(capsys, *files, "--offline")
    short = [e["emotion"] for e in streamed if e["type"] == "utterance"]
    whole = [e["emotion"] for e in offline if e["type"] == "utterance"]
    assert len(short) == len(whole) == 12 and sum(a == b for a, b in zip(short, whole)) >= 8


def test_offline_usage_errors(capsys):
    for args in (["--partials"], ["--posteriors"], ["--realtime"], ["--batch-files", "0"], ["--segments", "words"]):
        code, events, err = run_main(capsys, SPEECH, "--offline", *args)
        assert code == stream.EXIT_USAGE and events == [] and err.count("\n") == 1, (args, err)
    help_text = subprocess.run([sys.executable, "-m", "realtime_ser.stream", "--help"], capture_output=True,
                               text=True, env=dict(os.environ, PYTHONPATH=str(ROOT))).stdout
    assert "spike, segment and utterance events as streaming with the same --segments" in " ".join(help_text.split())


@pytest.mark.parametrize("segments", ["speech", "spikes"])
def test_offline_says_no_speech_as_streaming_does(capsys, tmp_path, segments):
    """Silence, noise and a tone: no speech region, an Utterance with emotion null (any chunk)."""
    t = np.arange(32000) / 16000
    rng = np.random.default_rng(0)
    files = []
    for name, x in [("silence", np.zeros(32000)), ("noise", rng.uniform(-1, 1, 32000)),
                    ("sine", 0.5 * np.sin(2 * np.pi * 200 * t))]:
        files.append(tmp_path / f"{name}.wav")
        sf.write(files[-1], x.astype(np.float32), 16000)
    _, streamed, _ = run_main(capsys, *files, "--segments", segments)
    _, whole, _ = run_main(capsys, *files, "--segments", segments, "--chunk-ms", "10000")
    _, offline, _ = run_main(capsys, *files, "--segments", segments, "--offline")
    assert offline == whole
    utterances = [[e for e in ev if e["type"] == "utterance"] for ev in (streamed, offline)]
    assert utterances[0] == utterances[1] and len(utterances[1]) == 3
    assert all(u["emotion"] is None and u["reason"] == "no speech" for u in utterances[1])
    if segments == "speech":
        assert not any(e["type"] == "segment" for e in offline)


SERVE_AND_STREAM = """
import sys
import numpy as np
import realtime_ser.engine, realtime_ser.stream, realtime_ser.live
from realtime_ser.engine import Engine, EngineConfig
engine = Engine(EngineConfig())
s = engine.create_stream("synthetic")
t = np.arange(16000) / 16000
x = (0.3 * np.sin(2 * np.pi * (150 + 50 * t) * t) * (1 + np.sin(2 * np.pi * 3 * t))).astype(np.float32)
for i in range(0, len(x), 1600):
    s.accept_waveform(16000, x[i:i + 1600])
    if engine.ready([s]):
        engine.decode([s])
s.input_finished()
engine.decode([s])
assert [e.type for e in s.events()].count("utterance") == 1
assert realtime_ser.stream.main([sys.argv[1], "--quiet"]) == 0
print(*(m in sys.modules for m in ("numba", "torch")))
assert realtime_ser.stream.main([sys.argv[1], "--quiet", "--offline"]) == 0
print(*(m in sys.modules for m in ("numba", "torch")))
"""


def test_live_serving_loads_neither_numba_nor_torch_the_batch_path_loads_numba():
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-c", SERVE_AND_STREAM, str(SPEECH)], capture_output=True,
                          text=True, env=env, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    lines = [line for line in proc.stdout.splitlines() if not line.startswith("{")]
    assert lines == ["False False", "True False"]
