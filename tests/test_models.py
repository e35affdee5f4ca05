import numpy as np
import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from realtime_ser.decoder import best_path_decision
from training.fit import (SYSTEMS, FitConfig, average_states, Sample, class_weight_vector, distributed, fit,
                          length_batches, resolve_device, stratified_split)
from training.models import (CTC_WEIGHT_NAMES, POOLING_KINDS, CtcModel, Dnn, Elm,
                             PoolingModel, utterance_stats)


@pytest.fixture(autouse=True)
def one_thread():
    torch.set_num_threads(1)


def toy_sequences(n=60, dim=12, seed=0, strength=1.5):
    """Class c lives in feature c on a few random segments of each sequence."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        y = i % 4
        t = int(rng.integers(25, 50))
        x = rng.standard_normal((t, dim)).astype(np.float32) * 0.5
        k = int(rng.integers(2, 5))
        for start in rng.choice(t - 4, size=k, replace=False):
            x[start:start + 4, y] += strength
        out.append(Sample(x, y, k))
    return out


def toy_vectors(n=48, dim=88, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((4, dim)) * 2
    ys = np.arange(n) % 4
    x = centres[ys] + rng.standard_normal((n, dim))
    return [Sample(x[i].astype(np.float32), int(ys[i])) for i in range(n)]


def padded(seqs):
    lengths = torch.tensor([len(s) for s in seqs])
    x = torch.nn.utils.rnn.pad_sequence([torch.from_numpy(s) for s in seqs], batch_first=True)
    return x, lengths


# ---------------------------------------------------------------- modules

def test_ctc_weight_names_and_shapes():
    m = CtcModel(238)
    sd = m.state_dict()
    assert tuple(sd) == CTC_WEIGHT_NAMES
    assert sd["lstm.weight_ih_l0"].shape == (512, 238)
    assert sd["lstm.weight_hh_l0_reverse"].shape == (512, 128)
    assert sd["out.weight"].shape == (5, 256)
    assert sd["out.bias"].shape == (5,)


def test_forward_shapes():
    seqs = [s.feats for s in toy_sequences(5)]
    x, lengths = padded(seqs)
    assert CtcModel(12, hidden=8)(x, lengths).shape == (5, x.shape[1], 5)
    for kind in POOLING_KINDS:
        out = PoolingModel(12, kind, hidden=8)(x, lengths)
        expected = (5, x.shape[1], 4) if kind == "framewise" else (5, 4)
        assert out.shape == expected, kind
    assert Dnn(88)(torch.randn(3, 88)).shape == (3, 4)
    with pytest.raises(ValueError):
        PoolingModel(12, "maxpool")


def test_encoder_matches_packed_lstm():
    torch.manual_seed(0)
    m = CtcModel(12, hidden=16).eval()
    seqs = [s.feats for s in toy_sequences(6)]
    x, lengths = padded(seqs)
    out, h_n = m.encode(x, lengths)
    packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    ref, (ref_h, _) = m.lstm(packed)
    ref, _ = pad_packed_sequence(ref, batch_first=True, total_length=x.shape[1])
    assert torch.allclose(out, ref, atol=1e-5)
    assert torch.allclose(h_n, ref_h, atol=1e-5)


def test_padding_does_not_change_outputs():
    torch.manual_seed(0)
    m = CtcModel(12, hidden=16).eval()
    seqs = [s.feats for s in toy_sequences(4)]
    x, lengths = padded(seqs)
    batch = m(x, lengths)
    for i, s in enumerate(seqs):
        alone = m(torch.from_numpy(s)[None], torch.tensor([len(s)]))[0]
        assert torch.allclose(batch[i, :len(s)], alone, atol=1e-5)
        assert torch.all(m.encode(x, lengths)[0][i, len(s):] == 0)


def test_finalpool_uses_last_forward_and_first_backward_state():
    torch.manual_seed(0)
    m = PoolingModel(12, "finalpool", hidden=8).eval()
    seqs = [s.feats for s in toy_sequences(3)]
    x, lengths = padded(seqs)
    out, h_n = m.encode(x, lengths)
    pooled = m.pool(out, h_n, lengths)
    for i, n in enumerate(lengths.tolist()):
        assert torch.allclose(pooled[i, :8], out[i, n - 1, :8])
        assert torch.allclose(pooled[i, 8:], out[i, 0, 8:])


def test_elm_learns_blobs_and_stats_shape():
    data = toy_vectors(80, dim=10)
    x = np.stack([s.feats for s in data])
    y = np.array([s.label for s in data])
    elm = Elm(hidden=200, reg=0.1, seed=0).fit(x[:60], y[:60])
    assert (elm.predict(x[60:]) == y[60:]).mean() > 0.8
    assert elm.decision_function(x).shape == (80, 4)
    assert utterance_stats(np.random.randn(7, 5)).shape == (20,)


# ---------------------------------------------------------------- fit helpers

def test_helpers():
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_device("cpu").type == "cpu"
    labels = np.array([0] * 30 + [1] * 10 + [2] * 20 + [3] * 40)
    w = class_weight_vector(labels)
    assert np.allclose(w * np.bincount(labels), len(labels) / 4)
    tr, va = stratified_split(labels, 0.1, np.random.default_rng(0))
    assert len(np.intersect1d(tr, va)) == 0 and len(tr) + len(va) == len(labels)
    assert np.array_equal(np.bincount(labels[va]), [3, 1, 2, 4])
    lengths = np.random.default_rng(0).integers(10, 100, size=37)
    batches = length_batches(np.arange(37), lengths, 8, np.random.default_rng(0))
    assert sorted(np.concatenate(batches).tolist()) == list(range(37))
    assert not distributed()
    with pytest.raises(ValueError):
        FitConfig("svm")


# ---------------------------------------------------------------- training

def test_ctc_learns_toy_task():
    train = toy_sequences(60, seed=0)
    test = toy_sequences(40, seed=1)
    cfg = FitConfig("ctc", epochs=20, batch_size=8, lr=1e-2, hidden=24, valid_fraction=0.0)
    fitted = fit(cfg, train, progress=False, log=None)
    losses = [h["train_loss"] for h in fitted.history]
    assert losses[-1] < 0.2 * losses[0]
    labels, scores = fitted.predict(test)
    assert (labels == np.array([s.label for s in test])).mean() > 0.6   # chance: 0.25
    # past the blank-only stage: most decisions come from emitted labels
    fallbacks = [best_path_decision(fitted.frame_posteriors(s.feats))[1]["fallback"] for s in test]
    assert sum(fallbacks) < len(test) // 2
    assert scores.shape == (40, 4) and np.allclose(scores.sum(1), 1)
    post = fitted.frame_posteriors(test[0].feats)
    assert post.shape == (len(test[0].feats), 5) and np.allclose(post.sum(1), 1, atol=1e-5)
    sd = fitted.state_dict_numpy()
    assert tuple(sd) == CTC_WEIGHT_NAMES
    assert all(v.dtype == np.float32 for v in sd.values())


@pytest.mark.parametrize("system", ["framewise", "finalpool", "meanpool", "attnpool", "lee", "dnn"])
def test_systems_run_end_to_end(system):
    data = toy_vectors(32) if system == "dnn" else toy_sequences(32)
    cfg = FitConfig(system, epochs=3, batch_size=8, lr=5e-3, hidden=16, elm_hidden=50)
    fitted = fit(cfg, data, progress=False, log=None)
    assert len(fitted.history) == 3
    assert {"train_loss", "valid_loss", "valid_uar"} <= set(fitted.history[0])
    labels, scores = fitted.predict(data[:10])
    assert labels.shape == (10,) and scores.shape == (10, 4)
    assert np.allclose(scores.sum(1), 1)
    assert np.array_equal(labels, scores.argmax(1))
    assert set(labels.tolist()) <= {0, 1, 2, 3}
    sd = fitted.state_dict_numpy()
    if system == "lee":
        assert {"elm.w", "elm.beta"} <= set(sd)
        assert fitted.frame_posteriors(data[0].feats).shape == (len(data[0].feats), 5)
    elif system != "dnn":
        with pytest.raises(ValueError):
            fitted.frame_posteriors(data[0].feats)


def test_dnn_learns_separable_vectors():
    train, test = toy_vectors(64, seed=0), toy_vectors(32, seed=0)[::-1]
    fitted = fit(FitConfig("dnn", epochs=20, batch_size=16), train, progress=False, log=None)
    labels, _ = fitted.predict(test)
    assert (labels == np.array([s.label for s in test])).mean() > 0.8


def test_same_seed_same_result():
    data = toy_sequences(16)
    cfg = FitConfig("meanpool", epochs=2, batch_size=4, hidden=8)
    a = fit(cfg, data, progress=False, log=None)
    b = fit(cfg, data, progress=False, log=None)
    assert [h["train_loss"] for h in a.history] == [h["train_loss"] for h in b.history]
    sa, sb = a.state_dict_numpy(), b.state_dict_numpy()
    assert all(np.array_equal(sa[k], sb[k]) for k in sa)


def test_systems_list():
    assert set(SYSTEMS) == {"ctc", "framewise", "finalpool", "meanpool", "attnpool", "dnn", "lee"}


def test_average_states_is_the_elementwise_mean():
    a = {"w": torch.tensor([1.0, 2.0]), "b": torch.tensor([[0.0]])}
    b = {"w": torch.tensor([3.0, 6.0]), "b": torch.tensor([[1.0]])}
    out = average_states([a, b])
    assert torch.equal(out["w"], torch.tensor([2.0, 4.0])) and torch.equal(out["b"], torch.tensor([[0.5]]))


def test_fit_with_checkpoint_averaging_averages_the_best_epochs(monkeypatch):
    import training.fit as fit_mod

    seen = []
    real = fit_mod.average_states
    monkeypatch.setattr(fit_mod, "average_states", lambda states: seen.append(len(states)) or real(states))
    cfg = FitConfig("ctc", epochs=4, batch_size=8, lr=1e-2, hidden=8, average=3)
    fitted = fit(cfg, toy_sequences(32), progress=False, log=None)
    assert seen == [3] and len(fitted.history) == 4
    labels, scores = fitted.predict(toy_sequences(8, seed=3))
    assert scores.shape == (8, 4) and np.allclose(scores.sum(1), 1)


def test_ctc_evaluation_decodes_with_the_batch_decoder():
    """utterance_decisions (numba, one padded batch) == best_path_decision per utterance, and
    Fitted.predict goes through it."""
    from realtime_ser.engine import softmax
    from training.fit import utterance_decisions

    rng = np.random.default_rng(5)
    outs = []
    for i in range(30):
        z = rng.standard_normal((int(rng.integers(1, 120)), 5)).astype(np.float32) * 3
        z[:, 0] += 2.0 if i % 5 else 30.0  # some all-Null utterances
        outs.append(z)
    labels, scores = utterance_decisions("ctc", outs)
    for o, label, s in zip(outs, labels, scores):
        want, info = best_path_decision(softmax(o))
        assert label == want
        np.testing.assert_allclose(s, info["scores"], rtol=1e-9)
    assert utterance_decisions("ctc", [])[0].shape == (0,)
