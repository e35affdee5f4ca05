"""Latency-controlled BiLSTM: serving (realtime_ser.lstm) against a plain numpy reference
of the definition and against the torch training model (training.models); its three
recurrence kernels (C++, numpy) against each other."""
import numpy as np
import pytest
import torch

from realtime_ser import _native
from realtime_ser.lstm import BACKENDS, BiLstmState, LstmWeights, StreamingBiLstm, recur_numpy
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

@pytest.mark.parametrize("backend", ["native", "numpy"])
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

@pytest.mark.parametrize("backend", ["native", "numpy"])
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

@pytest.mark.parametrize("backend", ["native", "numpy"])
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


def test_many_streams_in_one_step_equal_each_alone(weights):
    """More streams than one block of the native step (32): the same bits as stepping each alone."""
    rng = np.random.default_rng(2)
    xs = [feats(int(t), seed=i) for i, t in enumerate(rng.integers(1, 40, size=75))]
    lstm = StreamingBiLstm(weights, 10, 20, backend="native")
    alone = []
    for x in xs:
        st = lstm.new_state()
        alone.append(np.concatenate(lstm.step_batch([st], [x], [True])))
    states = [lstm.new_state() for _ in xs]
    together = lstm.step_batch(states, xs, [True] * len(xs))
    for i, (got, want) in enumerate(zip(together, alone)):
        np.testing.assert_array_equal(got, want, err_msg=f"stream {i}")


# ---------------------------------------------------------------- (d) reset and errors

def test_reset_and_finish_restart_the_stream(weights):
    a, b = feats(25, seed=1), feats(18, seed=2)
    lstm = StreamingBiLstm(weights, 4, 3)
    fresh = stream(lstm, [b])
    lstm.accept(a[:13])
    lstm.reset()
    assert lstm.state.pending == 0 and lstm.state.frames_in == 0
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
        StreamingBiLstm(weights, 4, 0, backend="numpy").accept(np.zeros((3, D + 1), np.float32))
    with pytest.raises(ValueError):
        StreamingBiLstm(weights, 4, 0).accept(np.zeros((3, D + 1), np.float32))
    with pytest.raises(ValueError):
        FitConfig("meanpool", chunk_frames=10)
    w = LstmWeights.from_dict(weights)
    assert (w.hidden, w.input_dim, w.n_outputs) == (H, D, 5)


# ---------------------------------------------------------------- (e) the kernels against each other

def ragged_case(rng, n_t, lengths, n_h, scale=2.0):
    """Random time-major gates (T, S, 4H) for streams of the given lengths (any order)."""
    lengths = np.sort(np.asarray(lengths))[::-1]
    counts = (lengths[None, :] > np.arange(n_t)[:, None]).sum(1).astype(np.int64)
    gates = (scale * rng.standard_normal((n_t, len(lengths), 4 * n_h))).astype(np.float32)
    w_hh_t = (rng.standard_normal((n_h, 4 * n_h)) / np.sqrt(n_h)).astype(np.float32)
    h = rng.standard_normal((len(lengths), n_h)).astype(np.float32)
    c = (2.0 * rng.standard_normal((len(lengths), n_h))).astype(np.float32)
    return gates, counts, w_hh_t, h, c


def run_recur(fn, gates, counts, w_hh_t, h, c):
    """-> (h, c, out) after fn on copies; out rows of inactive streams stay NaN."""
    h, c = h.copy(), c.copy()
    out = np.full(gates.shape[:2] + (h.shape[1],), np.nan, np.float32)
    fn(gates, counts, w_hh_t, h, c, out)
    return h, c, out


def ref_recur(gates, counts, w_hh_t, h, c):
    """Float64 definition, one stream at a time: the target of all three kernels."""
    n_h = h.shape[1]
    sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    h, c = h.astype(np.float64), c.astype(np.float64)
    out = np.full(gates.shape[:2] + (n_h,), np.nan)
    for t, k in enumerate(counts):
        for s in range(k):
            i, f, u, o = np.split(gates[t, s] + h[s] @ w_hh_t, 4)
            c[s] = sig(f) * c[s] + sig(i) * np.tanh(u)
            h[s] = sig(o) * np.tanh(c[s])
            out[t, s] = h[s]
    return h, c, out


RECUR_CASES = [  # (T, stream lengths, H)
    (9, [9], 6),                       # one stream, the latency case
    (30, [30], 128),
    (12, [12, 12, 7, 7, 3, 1, 0], 6),  # ragged, one stream never steps
    (7, [7, 5, 5, 4, 3, 3, 2, 1, 1, 1, 1, 6, 7], 7),  # 4H not a multiple of 8: scalar tails
    (5, [5] * 250 + [4] * 30 + [1] * 20, 128),  # k = 300 streams batched
    (3, [3] * 11, 2),
]


@pytest.mark.parametrize("n_t,lengths,n_h", RECUR_CASES)
def test_recurrence_kernels_agree(n_t, lengths, n_h):
    rng = np.random.default_rng(n_t * 1000 + len(lengths) + n_h)
    case = ragged_case(rng, n_t, lengths, n_h)
    want_h, want_c, want_out = ref_recur(*case)
    active = ~np.isnan(want_out)
    w_packed = _native.pack_columns(case[2])
    runs = {"native": run_recur(_native.lstm_recur, *case),
            "native packed": run_recur(_native.lstm_recur, case[0], case[1], w_packed, *case[3:]),
            "numpy": run_recur(recur_numpy, *case)}
    for name, (h, c, out) in runs.items():
        assert np.array_equal(np.isnan(out), ~active), f"{name}: wrote rows of inactive streams"
        np.testing.assert_allclose(out[active], want_out[active], atol=1e-5, err_msg=name)
        np.testing.assert_allclose(h, want_h, atol=1e-5, err_msg=name)
        np.testing.assert_allclose(c, want_c, atol=2e-5, err_msg=name)
    h0, c0, out0 = runs["native"]
    for name in ("native packed", "numpy"):
        h, c, out = runs[name]
        np.testing.assert_allclose(out[active], out0[active], atol=1e-5, err_msg=name)
        np.testing.assert_allclose(c, c0, atol=2e-5, err_msg=name)


def test_recurrence_updates_state_in_place_and_keeps_final_state():
    """h, c carry each stream's state at its own last step; a second call continues from it."""
    rng = np.random.default_rng(5)
    gates, counts, w_hh_t, h, c = ragged_case(rng, 10, [10, 6, 6, 2], 16)
    h1, c1 = h.copy(), c.copy()
    out = np.zeros((10, 4, 16), np.float32)
    assert _native.lstm_recur(gates, counts, w_hh_t, h1, c1, out) is None
    for s, n in enumerate([10, 6, 6, 2]):
        np.testing.assert_array_equal(h1[s], out[n - 1, s])  # final h is the last output
    # Splitting the steps in two calls gives the same as one call.
    h2, c2 = h.copy(), c.copy()
    out2 = np.zeros_like(out)
    _native.lstm_recur(gates[:4], counts[:4], w_hh_t, h2, c2, out2[:4])
    _native.lstm_recur(gates[4:], counts[4:], w_hh_t, h2, c2, out2[4:])
    np.testing.assert_array_equal(h2, h1)
    np.testing.assert_array_equal(c2, c1)
    np.testing.assert_array_equal(out2, out)
    # No step at all: nothing changes.
    h3 = h.copy()
    _native.lstm_recur(gates[:0], counts[:0], w_hh_t, h3, c.copy(), out[:0])
    _native.lstm_recur(gates[:2, :0], np.zeros(2, np.int64), w_hh_t, h3[:0], c[:0].copy(), out[:2, :0])
    np.testing.assert_array_equal(h3, h)


def test_native_recurrence_reads_strided_views():
    """Time-reversed gate views and strided weight rows, as StreamingBiLstm passes them."""
    rng = np.random.default_rng(9)
    gates, counts, w_hh_t, h, c = ragged_case(rng, 8, [8, 8, 8], 12)
    big = np.zeros((8, 3, 2 * 48), np.float32)
    big[::-1, :, 48:] = gates  # gates == big[::-1, :, 48:]: negative time stride, gaps between streams
    wide = np.zeros((12, 60), np.float32)
    wide[:, 5:53] = w_hh_t
    want = run_recur(_native.lstm_recur, gates, counts, w_hh_t, h, c)
    got = run_recur(_native.lstm_recur, big[::-1, :, 48:], counts, wide[:, 5:53], h, c)
    for a, b in zip(got, want):
        np.testing.assert_array_equal(a, b)


def test_extreme_and_nan_gates():
    """Saturating inputs give the limits (no overflow to NaN); NaN stays NaN."""
    n_h = 8
    gates = np.zeros((2, 3, 4 * n_h), np.float32)
    gates[:, 0] = 1e30
    gates[:, 1] = -1e30
    gates[:, 2] = np.nan
    h, c, out = run_recur(_native.lstm_recur, gates, np.full(2, 3), np.zeros((n_h, 4 * n_h), np.float32),
                          np.zeros((3, n_h), np.float32), np.zeros((3, n_h), np.float32))
    np.testing.assert_allclose(c[0], 2.0, atol=1e-6)  # f = i = g = 1 twice: c = 1, 2
    np.testing.assert_allclose(out[:, 0], np.tanh([[1.0] * n_h, [2.0] * n_h]), atol=1e-6)
    np.testing.assert_allclose(h[1], 0.0, atol=1e-30)  # sigmoid(-1e30) = 1 / (1 + exp(80))
    np.testing.assert_allclose(c[1], 0.0, atol=1e-30)
    assert np.isnan(h[2]).all() and np.isnan(c[2]).all()


def test_native_recurrence_rejects_bad_arguments():
    rng = np.random.default_rng(2)
    gates, counts, w_hh_t, h, c = ragged_case(rng, 4, [4, 3], 8)
    out = np.zeros((4, 2, 8), np.float32)
    ok = dict(gates_x=gates, counts=counts, w_hh_t=w_hh_t, h=h, c=c, out=out)
    bad = [
        dict(gates_x=gates.astype(np.float64)),
        dict(gates_x=gates[:, :, :31]),
        dict(gates_x=gates[..., ::2]),               # last axis not contiguous
        dict(gates_x=gates[0]),
        dict(counts=counts[:3]),
        dict(counts=counts.astype(np.float32)),
        dict(counts=np.array([2, 3, 1, 0])),        # increases
        dict(counts=np.array([3, 3, 1, 0])),        # more than the streams
        dict(counts=np.array([2, 2, -1, -1])),
        dict(w_hh_t=w_hh_t[:, :16]),
        dict(w_hh_t=w_hh_t.astype(np.float64)),
        dict(w_hh_t=w_hh_t.T.copy().T),                # columns strided
        dict(w_hh_t=np.zeros((1, 9, 64), np.float32)),  # packed shape of another H
        dict(h=h[:1]),
        dict(h=np.zeros((8, 2), np.float32).T),   # not C-contiguous
        dict(c=c.astype(np.float64)),
        dict(h=h, c=h),                             # h and c the same array
        dict(out=out[:3]),
        dict(out=np.zeros((4, 2, 8), np.float64)),
    ]
    for change in bad:
        args = {k: v.copy() for k, v in ok.items()} | change
        with pytest.raises(ValueError, match="(?i)^lstm_?recur: "):
            _native.lstm_recur(**args)
    read_only = out.copy()
    read_only.flags.writeable = False
    with pytest.raises(ValueError, match="writeable"):
        _native.lstm_recur(gates, counts, w_hh_t, h.copy(), c.copy(), read_only)
    _native.lstm_recur(**ok)  # the unchanged arguments are fine


def test_affine_and_packed_weights():
    rng = np.random.default_rng(4)
    for n, k, m in [(10, 238, 1024), (1, 238, 1024), (7, 5, 27), (13, 17, 8), (301, 33, 130),
                    (3, 0, 5), (0, 4, 6)]:
        x = rng.standard_normal((n, k)).astype(np.float32)
        w = rng.standard_normal((k, m)).astype(np.float32)
        b = rng.standard_normal(m).astype(np.float32)
        want = x.astype(np.float64) @ w + b
        packed = _native.pack_columns(w)
        strips = -(-m // 64)
        assert packed.shape == (strips, k, 64) and packed.dtype == np.float32
        np.testing.assert_array_equal(packed.transpose(1, 0, 2).reshape(k, 64 * strips)[:, :m], w)
        assert not packed.transpose(1, 0, 2).reshape(k, 64 * strips)[:, m:].any()
        for weights in (w, packed):
            out = np.full((n, m), np.nan, np.float32)
            _native.affine(x, weights, b, out)
            np.testing.assert_allclose(out, want, rtol=1e-5, atol=1e-5 * np.sqrt(k))
    x, w, b = np.ones((2, 3), np.float32), np.ones((3, 4), np.float32), np.zeros(4, np.float32)
    for args in [(x.astype(np.float64), w, b), (x, w[:2], b), (x, w, b[:3]), (x.T, w, b),
                 (x, w.astype(np.float64), b), (x, np.zeros((3, 3, 64), np.float32), b)]:
        with pytest.raises(ValueError, match="affine: "):
            _native.affine(*args, np.zeros((2, 4), np.float32))
    with pytest.raises(ValueError, match="affine: out"):
        _native.affine(x, w, b, np.zeros((2, 5), np.float32))
    with pytest.raises(ValueError, match="pack_columns: "):
        _native.pack_columns(np.zeros(3, np.float32))


def test_backends_give_the_same_outputs(weights):
    """StreamingBiLstm end to end, one stream and many, with each recurrence kernel."""
    assert BACKENDS == ("native", "numpy")
    rng = np.random.default_rng(11)
    xs = [feats(int(t), seed=i) for i, t in enumerate(rng.integers(1, 50, size=6))]
    results = {}
    for backend in BACKENDS:
        lstm = StreamingBiLstm(weights, 4, 3, backend=backend)
        assert lstm.backend == backend
        alone = [stream(lstm, random_pieces(x, np.random.default_rng(0), [1, 5, 9])) for x in xs]
        states = [lstm.new_state() for _ in xs]
        first = lstm.step_batch(states, [x[:20] for x in xs])
        rest = lstm.step_batch(states, [x[20:] for x in xs], finish=True)
        batched = [np.concatenate([a, b]) for a, b in zip(first, rest)]
        offline = [stream(StreamingBiLstm(weights, None, backend=backend), [x]) for x in xs]
        results[backend] = alone + batched + offline
    for backend in ("numpy",):
        for a, b in zip(results["native"], results[backend]):
            assert a.shape == b.shape
            np.testing.assert_allclose(a, b, atol=1e-5)
    for i, x in enumerate(xs):  # the definition, once per chunking
        np.testing.assert_allclose(results["native"][i], ref_lc_blstm(weights, x, 4, 3), atol=1e-4)
        np.testing.assert_allclose(results["native"][len(xs) + i], results["native"][i], atol=1e-5)
        np.testing.assert_allclose(results["native"][2 * len(xs) + i], ref_lc_blstm(weights, x, None, 0),
                                   atol=1e-4)


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
