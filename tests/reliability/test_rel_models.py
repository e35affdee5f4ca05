"""Bad model directories: one line naming the directory and the problem, exit 2, nothing on stdout,
for `realtime_ser.stream --model` and `realtime_ser.live --model` alike. Nothing is ever unpickled."""

from __future__ import annotations

import json
import pickle
import shutil

import numpy as np
import pytest
from rel_common import BUNDLED, LIVE, STREAM, one_line, run, wav
from safetensors.numpy import load_file, save_file

from realtime_ser import model


def _config(d, **changes):
    cfg = json.loads((d / "config.json").read_text())
    cfg.update(changes)
    (d / "config.json").write_text(json.dumps(cfg))


def _config_text(d, edit):
    (d / "config.json").write_text(edit((d / "config.json").read_text()))


def _weights(d, edit):
    w = load_file(str(d / "model.safetensors"))
    edit(w)
    save_file(w, str(d / "model.safetensors"))


def _truncate(d):
    b = (d / "model.safetensors").read_bytes()
    (d / "model.safetensors").write_bytes(b[: len(b) // 2])


def _set(name, value):
    return lambda w: w.__setitem__(name, value(w[name]))


def _nan_in(name):
    def edit(w):
        w[name] = w[name].copy()
        w[name].flat[3] = np.nan
    return edit


def _norm_text(d, field, index, text):
    """Put a literal JSON token (NaN, 1e400) into a normalisation statistic."""
    cfg = json.loads((d / "config.json").read_text())
    cfg[field][index] = "@@"
    (d / "config.json").write_text(json.dumps(cfg).replace('"@@"', text))


class Unpickled:
    """A pickle payload: unpickling it writes the marker file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


# case: (corrupt the copy of the bundled model, words the one line must hold)
CASES = {
    "truncated weights": (_truncate, ["model.safetensors", "not a valid safetensors"]),
    "empty weights": (lambda d: (d / "model.safetensors").write_bytes(b""), ["not a valid safetensors"]),
    "garbage weights": (lambda d: (d / "model.safetensors").write_bytes(bytes(range(256)) * 8),
                        ["not a valid safetensors"]),
    "no weights file": (lambda d: (d / "model.safetensors").unlink(), ["model.safetensors missing"]),
    "no config": (lambda d: (d / "config.json").unlink(), ["config.json missing"]),
    "config not json": (lambda d: (d / "config.json").write_text("{nope"), ["not valid JSON"]),
    "config a list": (lambda d: (d / "config.json").write_text("[]"), ["JSON object", "list"]),
    "config not utf-8": (lambda d: (d / "config.json").write_bytes(b'{"system": "\xff"}'), ["UTF-8"]),
    "hidden null": (lambda d: _config(d, hidden=None), ["hidden", "positive integer"]),
    "hidden a string": (lambda d: _config(d, hidden="128"), ["hidden"]),
    "hidden disagrees with weights": (lambda d: _config(d, hidden=64), ["shape", "hidden 64"]),
    "labels a string": (lambda d: _config(d, labels="abcd"), ["labels", "list"]),
    "labels repeated": (lambda d: _config(d, labels=["anger", "anger", "neutral", "sadness"]), ["distinct"]),
    "fractional right context": (lambda d: _config(d, right_context_frames=3.5), ["right_context_frames", "3.5"]),
    "negative chunk": (lambda d: _config(d, chunk_frames=-1), ["chunk_frames"]),
    "blank a string": (lambda d: _config(d, blank="0"), ["blank"]),
    "NaN mean": (lambda d: _norm_text(d, "norm_mean", 3, "NaN"), ["NaN"]),
    "infinite std": (lambda d: _norm_text(d, "norm_std", 0, "1e400"), ["norm_std[0]", "finite"]),
    "zero std": (lambda d: _config_text(d, lambda t: t.replace('"norm_std": [', '"norm_std": [0.0, ', 1)),
                 ["norm_std"]),
    "norm stats too short": (lambda d: _config(d, norm_mean=[0.0]), ["normalisation"]),
    "feature names a string": (lambda d: _config(d, feature_names="plp_1"), ["feature_names"]),
    "wrong shape": (lambda d: _weights(d, _set("lstm.weight_hh_l0_reverse", lambda a: a[:, :64].copy())),
                    ["lstm.weight_hh_l0_reverse", "shape (512, 64)", "(512, 128)"]),
    "missing weight": (lambda d: _weights(d, lambda w: w.pop("out.bias")), ["out.bias missing"]),
    "NaN weights": (lambda d: _weights(d, _nan_in("out.weight")), ["out.weight", "NaN"]),
    "infinite weights": (lambda d: _weights(d, _set("lstm.bias_ih_l0", lambda a: a + np.inf)),
                         ["lstm.bias_ih_l0", "infinite"]),
    "int32 weights": (lambda d: _weights(d, _set("out.bias", lambda a: a.astype(np.int32))),
                      ["out.bias", "I32", "float32"]),
    "float64 weights": (lambda d: _weights(d, _set("out.weight", lambda a: a.astype(np.float64))),
                        ["out.weight", "F64"]),
    "not a directory": (None, ["not a model directory"]),
    "no such directory": (None, ["no such directory"]),
}
LIVE_CASES = ["truncated weights", "no weights file", "config a list", "hidden null", "wrong shape",
              "NaN weights", "int32 weights", "fractional right context"]


def bad_model(tmp_path, case):
    d = tmp_path / "model"
    if case == "not a directory":
        d.write_text("a file")
        return d
    if case == "no such directory":
        return tmp_path / "nowhere"
    shutil.copytree(BUNDLED, d)
    CASES[case][0](d)
    return d


@pytest.fixture(scope="module")
def audio(tmp_path_factory):
    return wav(tmp_path_factory.mktemp("audio") / "a.wav", seconds=0.5)


def check_one_line(result, prog, d, words):
    assert result.code == 2, result.stderr
    assert result.stdout == b""
    line = one_line(result.stderr)
    assert line.startswith(f"python -m {prog}: error: {d}: "), line
    for w in words:
        assert w in line, line


@pytest.mark.parametrize("case", list(CASES))
def test_stream_bad_model(tmp_path, audio, case):
    d = bad_model(tmp_path, case)
    check_one_line(run(STREAM, "--model", d, audio), STREAM, d, CASES[case][1])


@pytest.mark.parametrize("case", LIVE_CASES)
def test_live_bad_model(tmp_path, case):
    d = bad_model(tmp_path, case)
    check_one_line(run(LIVE, "--model", d, "--jsonl"), LIVE, d, CASES[case][1])


@pytest.mark.parametrize("case", list(CASES))
def test_load_raises_model_error_only(tmp_path, case):
    d = bad_model(tmp_path, case)
    with pytest.raises(model.ModelError) as err:
        model.load(d)
    text = str(err.value)
    assert "\n" not in text and text.startswith(f"{d}: ")
    for w in CASES[case][1]:
        assert w in text


def test_never_unpickles(tmp_path, monkeypatch):
    """A pickle where the weights should be is refused without running it, and so is a pickle
    beside a missing safetensors file."""
    marker = tmp_path / "unpickled"
    payload = pickle.dumps(Unpickled(marker))
    pickle.loads(payload)  # the payload works...
    assert marker.exists()
    marker.unlink()

    d = bad_model(tmp_path, "no weights file")
    (d / "pytorch_model.bin").write_bytes(payload)
    (d / "model.pt").write_bytes(payload)
    with pytest.raises(model.ModelError, match="model.safetensors missing"):
        model.load(d)
    (d / "model.safetensors").write_bytes(payload)
    monkeypatch.setattr(pickle, "loads", lambda *a, **k: pytest.fail("pickle.loads called"))
    monkeypatch.setattr(pickle, "load", lambda *a, **k: pytest.fail("pickle.load called"))
    with pytest.raises(model.ModelError, match="not a valid safetensors"):
        model.load(d)
    result = run(STREAM, "--model", d, d / "config.json")
    assert result.code == 2 and "not a valid safetensors" in one_line(result.stderr)
    assert not marker.exists()


def test_bundled_model_still_loads():
    m = model.load()
    assert m.config.hidden == 128 and m.out_w.dtype == np.float32


def test_unknown_fields_are_ignored(tmp_path, audio):
    """Fields a newer trainer adds do not make a model unusable."""
    d = tmp_path / "model"
    shutil.copytree(BUNDLED, d)
    _config(d, some_future_field={"x": [1, 2]}, another=None)
    result = run(STREAM, "--model", d, audio, "--quiet")
    assert result.code == 0 and len(result.of("utterance")) == 1
