"""Latency-controlled BiLSTM: serving (realtime_ser.lstm) against a plain numpy reference
of the definition and against the torch training model (training.models)."""
import numpy as np
import pytest
import torch

from realtime_ser.lstm import BiLstmState, LstmWeights, StreamingBiLstm, warm_up
from realtime_ser.model import Model, ModelConfig
from training.fit import FitConfig, Sample, fit
from training.models import CtcModel

D, H = 7, 6
CHUNKINGS = [(1, 0), (1, 3), (3, 2), (4, 0), (5, 7), (10, 20)]


@pytest.fixture(autouse=True)
def one_thread():
    torch.set_num_threads(1)


@pytest.fixture(scope="module")
def weights():
    torch.manual_seed(0)
    m = CtcModel(D, hidden=H)
    with torch.no_grad():  # larger than the default init so that context matters
        for p in m.parameters():
            p.mul_(3.0)
    return {k: v.numpy().copy() for k, v in m.state_dict().items()}


def feats(t, seed=0):
    return np.random.default_rng(seed).standard_normal((t, D)).astype(np.float32)


def torch_logits(weights, x_list, chunk=None, right=0):
    """CtcModel outputs for a padded batch, unpadded per sequence."""
    m = CtcModel(D, hidden=H, chunk_frames=chunk, right_context_frames=right).eval()
    m.load_state_dict({k: torch.from_numpy(v) for k, v in weights.items()})
    lengths = torch.tensor([len(x) for x in x_list])
    x = torch.nn.utils.rnn.pad_sequence([torch.from_numpy(x) for x in x_list], batch_first=True)
    with torch.no_grad():
        out = m(x, lengths).numpy()
    return [out[i, :len(xi)] for i, xi in enumerate(x_list)]


# ---------------------------------------------------------------- plain reference

def ref_lstm(x, w_ih, w_hh, b_ih, b_hh, h=None, c=None):
    """Forward LSTM in float64 over x (T, D); returns outputs and final (h, c)."""
    n_h = w_hh.shape[1]
    h = np.zeros(n_h) if h is None else h
    c = np.zeros(n_h) if c is None else c
    out = []
    for xt in x.astype(np.float64):
        g = w_ih @ xt + b_ih + w_hh @ h + b_hh
        i, f, u, o = np.split(g, 4)
        sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
        c = sig(f) * c + sig(i) * np.tanh(u)
        h = sig(o) * np.tanh(c)
        out.append(h)
    return np.array(out).reshape(len(x), n_h), h, c


def ref_lc_blstm(w, x, chunk, right):
    """The LC-BLSTM definition, evaluated directly (chunk None: whole utterance)."""
    p = lambda sfx: [w[f"lstm.{n}_l0{sfx}"].astype(np.float64)  # noqa: E731
                     for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
    t = len(x)
    fwd, _, _ = ref_lstm(x, *p(""))
    bwd = np.zeros_like(fwd)
    chunk = t if chunk is None else chunk
    for s in range(0, t, chunk):
        end = min(s + chunk + right, t)
        out, _, _ = ref_lstm(x[s:end][::-1], *p("_reverse"))
        kept = min(chunk, t - s)
        bwd[s:s + kept] = out[::-1][:kept]
    return np.concatenate([fwd, bwd], 1) @ w["out.weight"].T + w["out.bias"]


def random_pieces(x, rng, sizes):
    """Split x into consecutive pieces with sizes drawn from `sizes` (0 allowed)."""
    pieces, pos = [], 0
    while pos < len(x):
        n = int(rng.choice(sizes))
        pieces.append(x[pos:pos + n])
        pos += n
    return pieces


def stream(lstm, pieces):
    outs = [lstm.accept(p) for p in pieces] + [lstm.finish()]
    return np.concatenate(outs)


# ---------------------------------------------------------------- (a) offline

@pytest.mark.parametrize("backend", ["numba", "numpy"])
def test_offline_matches_torch_and_model(weights, backend):
    x = feats(41)
    cfg = ModelConfig(feature_names=[f"f{i}" for i in range(D)], hidden=H,
                      norm_mean=[0.0] * D, norm_std=[1.0] * D)
    model = Model(cfg, weights)
    want = torch_logits(weights, [x])[0]
    assert np.allclose(model.logits(x), want, atol=1e-4)  # mean 0, std 1: no-op normalisation
    for source in (weights, model):
        lstm = StreamingBiLstm(source, None, backend=backend)
        assert len(lstm.accept(x[:20])) == 0 and len(lstm.accept(x[20:])) == 0
        assert np.allclose(lstm.finish(), want, atol=1e-4)
    whole = StreamingBiLstm(weights, len(x), 5, backend=backend)  # C >= T: the same
    assert np.allclose(stream(whole, [x]), want, atol=1e-4)
    assert np.allclose(ref_lc_blstm(weights, x, None, 0), want, atol=1e-4)


# ---------------------------------------------------------------- (b) streaming

@pytest.mark.parametrize("backend", ["numba", "numpy"])
@pytest.mark.parametrize("chunk,right", CHUNKINGS)
def test_streaming_matches_definition_and_training(weights, chunk, right, backend):
    rng = np.random.default_rng(chunk * 100 + right)
    xs = [feats(t, seed=t) for t in (37, 23, 9)]
    want = [ref_lc_blstm(weights, x, chunk, right) for x in xs]
    trained = torch_logits(weights, xs, chunk, right)  # padded batch of different lengths
    lstm = StreamingBiLstm(weights, chunk, right, backend=backend)
    for x, ref, tr in zip(xs, want, trained):
        assert np.allclose(tr, ref, atol=1e-4), "torch chunked mode != definition"
        for sizes in ([1], [0, 1, 3, 5, 7], [2, 11]):
            got = stream(lstm, random_pieces(x, rng, sizes))
            assert got.shape == ref.shape
            assert np.allclose(got, ref, atol=1e-4)
            assert np.allclose(got, tr, atol=1e-4)


@pytest.mark.parametrize("chunk,right", CHUNKINGS)
def test_outputs_are_emitted_as_soon_as_final(weights, chunk, right):
    x = feats(40)
    lstm = StreamingBiLstm(weights, chunk, right)
    done = 0
    for t in range(1, len(x) + 1):
        done += len(lstm.accept(x[t - 1:t]))
        assert done == max(0, t - right) // chunk * chunk
        assert lstm.state.frames_out == done and lstm.state.frames_in == t
    assert done + len(lstm.finish()) == len(x)
    assert lstm.latency_frames == chunk - 1 + right


def test_chunking_changes_outputs(weights):
    """Guards against a vacuous comparison: little right context is not offline."""
    x = feats(30)
    offline = ref_lc_blstm(weights, x, None, 0)
    assert np.abs(ref_lc_blstm(weights, x, 4, 1) - offline).max() > 1e-2
    got = stream(StreamingBiLstm(weights, 4, 1), [x])
    assert np.abs(got - offline).max() > 1e-2
    assert np.abs(torch_logits(weights, [x], 4, 1)[0] - offline).max() > 1e-2


# ---------------------------------------------------------------- (c) many streams

@pytest.mark.parametrize("backend", ["numba", "numpy"])
@pytest.mark.parametrize("chunk,right", [(3, 2), (10, 20), (None, 0)])
def test_batched_streams_equal_single_streams(weights, chunk, right, backend):
    rng = np.random.default_rng(1)
    xs = [feats(int(t), seed=i) for i, t in enumerate(rng.integers(1, 60, size=9))]
    lstm = StreamingBiLstm(weights, chunk, right, backend=backend)
    alone = [stream(lstm, [x]) for x in xs]
    states = [lstm.new_state() for _ in xs]
    pos = [0] * len(xs)
    got = [[] for _ in xs]
    live = set(range(len(xs)))
    while live:
        idx = sorted(live)
        inputs = []
        for i in idx:
            n = int(rng.integers(0, 8))
            inputs.append(xs[i][pos[i]:pos[i] + n])
            pos[i] += n
        finish = [pos[i] >= len(xs[i]) and rng.random() < 0.5 for i in idx]
        outs = lstm.step_batch([states[i] for i in idx], inputs, finish)
        for i, out, fin in zip(idx, outs, finish):
            got[i].append(out)
            if fin:
                live.discard(i)
                assert states[i].frames_in == 0 and states[i].pending == 0
    for g, a in zip(got, alone):
        assert np.allclose(np.concatenate(g), a, atol=1e-5)


# ---------------------------------------------------------------- (d) reset and errors

def test_reset_and_finish_restart_the_stream(weights):
    a, b = feats(25, seed=1), feats(18, seed=2)
    lstm = StreamingBiLstm(weights, 4, 3)
    fresh = stream(lstm, [b])
    lstm.accept(a[:13])
    lstm.reset()
    assert isinstance(lstm.state, BiLstmState) and lstm.state.pending == 0
    assert np.allclose(stream(lstm, [b[:5], b[5:]]), fresh, atol=1e-6)
    stream(lstm, [a])  # finish restarts too
    assert np.allclose(stream(lstm, [b]), fresh, atol=1e-6)
    assert lstm.finish().shape == (0, 5)


def test_bad_arguments(weights):
    with pytest.raises(ValueError):
        StreamingBiLstm(weights, 0, 0)
    with pytest.raises(ValueError):
        StreamingBiLstm(weights, 4, -1)
    with pytest.raises(ValueError):
        StreamingBiLstm(weights, 4, 0, backend="cuda")
    with pytest.raises(ValueError):
        StreamingBiLstm(weights, 4, 0).accept(np.zeros((3, D + 1), np.float32))
    with pytest.raises(ValueError):
        FitConfig("meanpool", chunk_frames=10)
    assert warm_up() < 5.0
    w = LstmWeights.from_dict(weights)
    assert (w.hidden, w.input_dim, w.n_outputs) == (H, D, 5)


# ---------------------------------------------------------------- training side

def test_chunked_training_runs_and_records_settings(weights):
    rng = np.random.default_rng(0)
    data = [Sample(rng.standard_normal((int(rng.integers(12, 30)), D)).astype(np.float32),
                   i % 4, 2) for i in range(16)]
    cfg = FitConfig("ctc", epochs=2, batch_size=4, hidden=H, valid_fraction=0.0,
                    chunk_frames=5, right_context_frames=3)
    fitted = fit(cfg, data, progress=False, log=None)
    assert fitted.chunking == dict(chunk_frames=5, right_context_frames=3)
    assert fitted.model.chunk_frames == 5 and fitted.model.right_context_frames == 3
    sd = fitted.state_dict_numpy()
    x = data[0].feats
    post = fitted.frame_posteriors(x)
    z = stream(StreamingBiLstm(sd, 5, 3), [x])
    z = np.exp(z - z.max(1, keepdims=True))
    assert np.allclose(post, z / z.sum(1, keepdims=True), atol=1e-5)
    offline = FitConfig("ctc", epochs=1)
    assert offline.chunk_frames is None


def test_chunked_backward_has_gradients(weights):
    m = CtcModel(D, hidden=H, chunk_frames=4, right_context_frames=2)
    x = torch.from_numpy(feats(11))[None].requires_grad_(True)
    m(x, torch.tensor([11])).sum().backward()
    assert m.lstm.weight_hh_l0_reverse.grad.abs().sum() > 0
    assert x.grad.abs().sum() > 0
