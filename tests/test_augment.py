"""Each augmentation on a real EmoDB utterance: length, level and SNR as specified."""
import numpy as np
import pytest

from realtime_ser import audio
from tests.conftest import EMODB
from training import augment

WAV = EMODB / "wav" / "03a01Fa.wav"


@pytest.fixture(scope="module")
def x():
    return audio.load(WAV)


def db(p):
    return 10 * np.log10(p)


@pytest.mark.parametrize("factor", [0.9, 1.1])
def test_speed(x, factor):
    y = augment.speed(x, factor)
    assert abs(len(y) - len(x) / factor) <= 2
    assert abs(db(augment.power(y)) - db(augment.power(x))) < 0.5


@pytest.mark.parametrize("beta", [0.0, 1.0, 2.0])
@pytest.mark.parametrize("snr", [0.0, 10.0, 30.0])
def test_coloured_noise_at_snr(x, beta, snr):
    rng = np.random.default_rng(1)
    noise = augment.coloured_noise(len(x), beta, rng)
    y = augment.mix(x, noise, snr)
    assert len(y) == len(x)
    added = y.astype(np.float64) - x
    assert abs(db(augment.power(x) / augment.power(added)) - snr) < 0.01
    spec = np.abs(np.fft.rfft(noise)) ** 2
    f = np.fft.rfftfreq(len(noise), 1 / 16000)
    low, high = spec[(f > 100) & (f < 200)].mean(), spec[(f > 3200) & (f < 6400)].mean()
    slope = db(low / high) / np.log2(4800 / 150)  # dB per octave, about 3 * beta
    assert abs(slope - 3 * beta) < 1.0


def test_babble_from_other_speakers(x):
    others = [audio.load(p) for p in sorted((EMODB / "wav").glob("08*.wav"))[:6]]
    rng = np.random.default_rng(2)
    b = augment.babble(len(x), others, rng)
    assert len(b) == len(x) and np.abs(b).max() > 0
    y = augment.mix(x, b, 5.0)
    assert abs(db(augment.power(x) / augment.power(y.astype(np.float64) - x)) - 5.0) < 0.01


@pytest.mark.parametrize("gain_db", [-12.0, 6.0, 12.0])
def test_gain_and_clipping(x, gain_db):
    y = augment.gain(x, gain_db)
    assert len(y) == len(x) and np.abs(y).max() <= 1.0
    unclipped = np.abs(x * 10 ** (gain_db / 20)) < 1.0
    np.testing.assert_allclose(y[unclipped], x[unclipped] * 10 ** (gain_db / 20), rtol=1e-5)
    if gain_db == 12.0:
        assert (~unclipped).any() and np.all(np.abs(y[~unclipped]) == 1.0)  # this take clips at +12 dB


def test_reverb(x):
    rng = np.random.default_rng(3)
    h = augment.room_response(0.5, rng)
    assert len(h) == 8000 and h[0] == 1.0
    late = np.sum(h[7000:] ** 2) / np.sum(h[1:1000] ** 2)
    assert late < 1e-4  # about -60 dB at RT60
    y = augment.reverb(x, 0.5, rng)
    assert len(y) == len(x)
    assert abs(db(augment.power(y)) - db(augment.power(x))) < 0.01
    assert np.corrcoef(x, y)[0, 1] < 0.99


def test_telephone(x):
    y = augment.telephone(x)
    assert abs(len(y) - len(x)) <= 2
    spec_x = np.abs(np.fft.rfft(x)) ** 2
    spec_y = np.abs(np.fft.rfft(y, len(x))) ** 2
    f = np.fft.rfftfreq(len(x), 1 / 16000)
    assert spec_y[f > 4500].sum() < 1e-4 * spec_y.sum()  # nothing above the 8 kHz band
    assert spec_x[f > 4500].sum() > 1e-3 * spec_x.sum()
    band = (f > 500) & (f < 3000)  # the voice band passes at its level
    assert abs(db(spec_y[band].sum() / spec_x[band].sum())) < 3.0
    assert spec_y[f < 150].sum() < 0.1 * spec_x[f < 150].sum()  # below the band is cut


def test_mu_law_round_trip():
    z = np.linspace(-1, 1, 1001).astype(np.float32)
    err = np.abs(augment.mu_law(z) - z)
    assert err.max() < 0.03 and err[np.abs(z) < 0.01].max() < 1e-3  # finer steps near zero


def test_apply_is_deterministic_per_utterance(x):
    a, pa = augment.apply("noise", x, augment.rng_for("u1", "noise"))
    b, pb = augment.apply("noise", x, augment.rng_for("u1", "noise"))
    c, _ = augment.apply("noise", x, augment.rng_for("u2", "noise"))
    np.testing.assert_array_equal(a, b)
    assert pa == pb and not np.array_equal(a, c)
    assert 0 <= pa["snr_db"] <= 30
    with pytest.raises(ValueError, match="unknown augmentation"):
        augment.parse("speed,wobble")


def test_no_kind_goes_past_full_scale(x):
    """A loud take under 0 dB babble would pass 1.0 (the front end refuses such floats): scaled as a whole."""
    from realtime_ser import features

    loud = (x / np.max(np.abs(x)) * 0.98).astype(np.float32)
    others = [audio.load(p) for p in sorted((EMODB / "wav").glob("*.wav"))[20:26]]
    raw = augment.mix(loud, augment.babble(len(loud), others, np.random.default_rng(0)), 0.0)
    assert np.max(np.abs(raw)) > 1.0  # the case the check is about
    y = augment.headroom(raw)
    assert np.max(np.abs(y)) == pytest.approx(0.99, abs=1e-6)
    assert np.allclose(y / raw, y[0] / raw[0], rtol=1e-5)  # one gain: the SNR is kept
    for kind in augment.KINDS:
        z, _ = augment.apply(kind, loud, augment.rng_for("u", kind), others)
        assert np.max(np.abs(z)) <= 1.0, kind
        features.extract(z, 16000)  # accepted by the front end


def test_augmented_copies_are_cached_features_of_their_own_speaker(tmp_path, capsys):
    from realtime_ser import features
    from training import dataset
    from training.corpora import Utterance

    u = Utterance(path=WAV, label="happiness", speaker="03", corpus="emodb", utt_id="03a01Fa")
    corpus = dataset.Corpus([u], {})
    (copy,) = dataset.augmented(corpus, [u], ["telephone"], tmp_path, seed=3, progress=True)
    assert (copy.utt_id, copy.speaker, copy.label) == ("03a01Fa|telephone", "03|telephone", "happiness")
    y, _ = augment.apply("telephone", audio.load(WAV), augment.rng_for(u.utt_id, "telephone", 3), [])
    np.testing.assert_array_equal(corpus.inputs[copy.utt_id], features.extract(y, 16000))
    assert "telephone copies" in capsys.readouterr().err  # progress on stderr
    (cached,) = list(tmp_path.rglob("*.npy"))
    np.save(cached, np.zeros((2, features.DIM), np.float32))  # a second call reads the cache, not the audio
    again = dataset.Corpus([u], {})
    dataset.augmented(again, [u], ["telephone"], tmp_path, seed=3)
    assert not again.inputs[copy.utt_id].any()
