"""The bundled default model: it loads with its normalisation mode and chunking, and is served that way."""
import json

import numpy as np

from realtime_ser import audio, features
from realtime_ser import model as model_lib
from realtime_ser.engine import Engine, EngineConfig
from realtime_ser.normalize import NormConfig, Normalizer

SAMPLE = model_lib.DEFAULT_DIR.parent.parent / "samples" / "speech.wav"


def test_bundled_model_records_what_serving_needs():
    raw = json.loads((model_lib.DEFAULT_DIR / model_lib.CONFIG_FILE).read_text())
    m = model_lib.load()
    want = NormConfig.from_dict(raw["normalization"]) if raw.get("normalization") else NormConfig()
    assert m.config.norm_config.mode == want.mode
    if want.mode == "adaptive":
        assert len(m.config.norm_config.speech_mean) == len(m.config.norm_config.speech_std) == features.DIM
    card = (model_lib.DEFAULT_DIR / model_lib.CARD_FILE).read_text()
    assert str(m.config.norm_config) in card
    engine = Engine(EngineConfig())
    if m.config.chunk_frames is not None:  # served by default the way it was trained
        assert engine.chunk_frames * 10 == EngineConfig().chunk_ms
        assert engine.right_context_frames == m.config.right_context_frames


def test_bundled_model_streams_with_its_normalisation():
    m = model_lib.load()
    x = audio.load(SAMPLE)
    engine = Engine(EngineConfig())
    s = engine.create_stream("sample")
    got = []
    for i in range(0, len(x), 1600):
        s.accept_waveform(16000, x[i:i + 1600])
        engine.decode([s])
        got.append(s._native.last_frames)  # what the stream's BiLSTM got
    s.input_finished()
    engine.decode([s])
    got.append(s._native.last_frames)
    offline = Normalizer(m.config.norm_config, features.NAMES, m.config.norm_mean, m.config.norm_std)
    np.testing.assert_array_equal(np.concatenate(got), offline.process(features.extract(x, 16000)))
    voiced = int((features.extract(x, 16000)[:, features.NAMES.index("f0_hz")] > 0).sum())
    assert s._native.speech_frames == (voiced if m.config.norm_config.mode == "adaptive" else 0)
