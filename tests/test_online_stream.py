"""The native recognizer core (csrc/ser/online_stream.h): one object per stream, batched decode.

Checked against the Python/numpy forms of the same ideas: the LC-BLSTM against
realtime_ser.lstm.StreamingBiLstm (numpy backend), the normalised frames against the training
path's normalisation (identical bits), and thread counts against each other (identical events).
"""

from __future__ import annotations

import numpy as np
import pytest

from realtime_ser import _native, features
from realtime_ser.audio import load
from realtime_ser.engine import Engine, EngineConfig
from realtime_ser.lstm import LstmWeights, StreamingBiLstm
from training import adaptation, dataset


@pytest.fixture(scope="module")
def engine():
    return Engine(EngineConfig())  # the bundled model: adaptive normalisation


@pytest.fixture(scope="module")
def audio(emodb_wavs):
    return [load(w) for w in emodb_wavs[:3]]


def feed(engine, x, piece, source="x"):
    """All events of x fed in pieces of `piece` samples, decoding after each, and the stream."""
    s = engine.create_stream(source)
    events, frames = [], []
    for a in range(0, len(x), piece):
        s.accept_waveform(16000, x[a:a + piece])
        while engine.ready([s]):
            engine.decode([s])
            frames.append(s._native.last_frames)
            events += s.events()
    s.input_finished()
    engine.decode([s])
    frames.append(s._native.last_frames)
    return events + s.events(), np.concatenate(frames)


def summary(events):
    return [e.to_dict() | {"produced_at": None, "latency_s": None} for e in events]


def test_final_frames_rule_matches_the_front_end(audio):
    """final_frames(n), which is_ready() reads, is what the native front end makes final."""
    f = _native.OnlineFeatures()
    x = audio[0][:20000]
    fed = 0
    for piece in (1, 159, 160, 161, 400, 519, 520, 1000, 3333):
        f.accept_waveform(x[fed:fed + piece])
        fed += piece
        f.pop_frames()
        assert f.num_frames_emitted == _native.final_frames(fed), fed


def test_ready_only_when_a_frame_is_final(engine, audio):
    s = engine.create_stream()
    s.accept_waveform(16000, audio[0][:519 + 4 * 160])  # one sample short of the first final frame
    assert not engine.ready([s])
    s.accept_waveform(16000, audio[0][519 + 4 * 160:520 + 4 * 160])
    assert engine.ready([s]) == [s]
    engine.decode([s])
    assert s._native.last_frames.shape == (1, features.DIM) and not engine.ready([s])


def test_lc_blstm_equals_the_numpy_form(engine, audio):
    """Many streams, ragged inputs, some finishing early: native logits == numpy StreamingBiLstm."""
    m = engine.model
    w = LstmWeights.of(m)
    feats = [m.normalize(features.extract(x, 16000)) for x in audio]
    for chunk, right, threads in ((10, 20, 1), (10, 20, 2), (4, 0, 2), (0, 0, 1)):
        nat = _native.LcBlstm(w.w_in, w.b_in, w.w_hh_fwd, w.w_hh_bwd, w.w_out_t, w.b_out, chunk, right, threads)
        ref = StreamingBiLstm(m, chunk or None, right, backend="numpy")
        a_st, b_st = [nat.new_state() for _ in feats], [ref.new_state() for _ in feats]
        got, want = [[] for _ in feats], [[] for _ in feats]
        rng = np.random.default_rng(chunk + right + threads)
        pos = [0] * len(feats)
        while not all(p > len(f) for p, f in zip(pos, feats)):
            ins, fin = [], []
            for k, f in enumerate(feats):
                n = int(rng.integers(0, 40)) if pos[k] <= len(f) else 0
                ins.append(f[pos[k]:pos[k] + n] if pos[k] <= len(f) else None)
                pos[k] += n
                fin.append(pos[k] >= len(f) and pos[k] <= len(f) + n - 1 + 1 and ins[-1] is not None)
                if fin[-1]:
                    pos[k] = len(f) + 1
            for k, (a, b) in enumerate(zip(nat.step(a_st, ins, fin), ref.step_batch(b_st, ins, finish=fin))):
                got[k].append(a)
                want[k].append(b)
        for k, f in enumerate(feats):
            a, b = np.concatenate(got[k]), np.concatenate(want[k])
            assert a.shape == b.shape == (len(f), 5)
            np.testing.assert_allclose(a, b, atol=2e-4, rtol=0)
            assert (a.argmax(1) == b.argmax(1)).mean() > 0.999
        assert all(st.pending == 0 for st in a_st)


def test_threads_give_identical_events(audio):
    one = Engine(EngineConfig(threads=1, posteriors=True))
    two = Engine(EngineConfig(threads=2, posteriors=True))
    assert (one.threads, two.threads) == (1, 2)
    for e in (one, two):
        streams = [e.create_stream(str(i)) for i in range(len(audio))]
        for s, x in zip(streams, audio):
            s.accept_waveform(16000, x)
            s.input_finished()
        e.decode(streams)
        e._events = [summary(s.events()) for s in streams]
    assert one._events == two._events and all(ev for ev in one._events)


@pytest.mark.parametrize("mode", ["global", "adaptive"])
def test_training_normalises_with_the_serving_bits(engine, audio, mode, emodb_wavs, tmp_path):
    """The frames a served stream gives its BiLSTM are bit-identical to the training path's."""
    from types import SimpleNamespace

    from test_engine import write_model

    e = engine if mode == "adaptive" else Engine(EngineConfig(model=str(write_model(tmp_path / "m", emodb_wavs[:2]))))
    cfg = e.model.config
    assert cfg.norm_config.mode == mode
    x = audio[1]
    _, served = feed(e, x, 1603)
    raw = features.extract(x, 16000)
    mean, std = np.asarray(cfg.norm_mean, np.float32), np.asarray(cfg.norm_std, np.float32)
    if mode == "global":
        trained = dataset.Normalizer(mean, std)(raw)
    else:
        utt = SimpleNamespace(utt_id="u", speaker="s", label="anger")
        trained = adaptation.normalise([utt], {"u": raw}, cfg.norm_config, mean, std, "utterance")["u"]
    assert served.dtype == trained.dtype == np.float32 and served.shape == trained.shape
    assert np.array_equal(served.view(np.uint32), trained.view(np.uint32))


def test_stream_of_another_recognizer_is_refused(engine):
    other = Engine(EngineConfig())
    with pytest.raises(ValueError, match="another"):
        engine._recognizer.decode_streams([other._recognizer.create_stream()])


def test_memory_of_a_long_stream_stays_bounded(engine, audio):
    x = np.concatenate(audio * 4)
    s = engine.create_stream()
    for a in range(0, len(x), 1600):
        s.accept_waveform(16000, x[a:a + 1600])
        engine.decode([s])
        s.events()
        assert s._native.feature_history <= 4 * features.DELTA_LOOKAHEAD
        assert s._native.queued_samples == 0
        assert s._native.lstm_pending <= engine.chunk_frames + engine.right_context_frames + 10
        # steady 100 ms pieces: the LC-BLSTM buffers hold one chunk + right context + one chunk of rows
        assert s._native.lstm_capacity <= 2 * engine.chunk_frames + engine.right_context_frames
