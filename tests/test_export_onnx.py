"""training.export_onnx: the ONNX graph in onnxruntime gives the runtime's whole-utterance posteriors."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import onnxruntime as ort

from realtime_ser import features, model as model_lib
from realtime_ser.engine import softmax
from realtime_ser.lstm import StreamingBiLstm
from serve_common import ENV, ROOT, load_16k


def runtime_posteriors(model, normed: np.ndarray) -> np.ndarray:
    lstm = StreamingBiLstm(model, None, 0)  # no chunking: the backward direction sees everything
    (logits,) = lstm.step_batch([lstm.new_state()], [normed], finish=[True])
    return softmax(logits)


def test_onnx_export_matches_the_runtime(tmp_path, emodb_wavs):
    out = tmp_path / "model.onnx"
    proc = subprocess.run([sys.executable, "-m", "training.export_onnx", str(model_lib.DEFAULT_DIR), str(out)],
                          cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.strip() == f"wrote {out}"
    model = model_lib.load(None)
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    meta = session.get_modelmeta().custom_metadata_map
    assert json.loads(meta["outputs"]) == model.config.outputs
    for wav in [emodb_wavs[0], emodb_wavs[7]]:
        normed = model.new_normalizer().process(features.extract(load_16k(wav), 16000))
        want = runtime_posteriors(model, normed)
        (got,) = session.run(["posteriors"], {"features": normed[None].astype(np.float32)})
        assert got.shape == (1, *want.shape)
        np.testing.assert_allclose(got[0], want, atol=1e-4, rtol=0)


def test_onnx_export_bad_model_dir_is_one_line(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "training.export_onnx", str(tmp_path / "none"), str(tmp_path / "x.onnx")],
                          cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
