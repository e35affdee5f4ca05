"""Training-data augmentation: each kind makes one altered copy of an utterance (16 kHz float32).

Kinds (``--augment`` takes a comma-separated list; each adds one copy of every training utterance):

* ``speed``: speed perturbation by 0.9 or 1.1 (resampled; length / factor, pitch shifts too);
* ``noise``: coloured noise (white, pink or brown: power ~ 1/f^beta, beta 0, 1, 2) at 0-30 dB SNR;
* ``babble``: 3-6 other training speakers' utterances summed, at 0-30 dB SNR;
* ``gain``: -12..+12 dB, then clipped to [-1, 1] (loud takes clip);
* ``reverb``: a synthetic room impulse response (exponentially decaying noise, RT60 0.2-0.8 s, a
  direct path), level kept;
* ``telephone``: 8 kHz, 300-3400 Hz band, 8-bit mu-law, back to 16 kHz.

SNR is the ratio of whole-signal powers. Parameters are drawn from a generator seeded by the
utterance id and the kind, so a copy is the same every run and its features are cached.
"""

from __future__ import annotations

import hashlib

import numpy as np

SAMPLE_RATE = 16000
KINDS = ("speed", "noise", "babble", "gain", "reverb", "telephone")
SNR_DB = (0.0, 30.0)


def rng_for(utt_id: str, kind: str, seed: int = 0) -> np.random.Generator:
    h = hashlib.sha256(f"{utt_id}|{kind}|{seed}".encode()).digest()
    return np.random.default_rng(int.from_bytes(h[:8], "little"))


def power(x: np.ndarray) -> float:
    return float(np.mean(np.square(x, dtype=np.float64))) + 1e-20


def speed(x: np.ndarray, factor: float) -> np.ndarray:
    """Play factor times faster: length / factor."""
    import soxr

    return soxr.resample(x.astype(np.float32), SAMPLE_RATE * factor, SAMPLE_RATE, quality="HQ").astype(np.float32)


def coloured_noise(n: int, beta: float, rng: np.random.Generator) -> np.ndarray:
    """Gaussian noise with power spectrum ~ 1/f^beta, unit power."""
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n)
    f[0] = f[1] if n > 1 else 1.0
    y = np.fft.irfft(spec / f ** (beta / 2), n)
    return (y / np.sqrt(power(y))).astype(np.float32)


def mix(x: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """x plus noise scaled to snr_db (whole-signal powers)."""
    noise = noise[: len(x)]
    scale = np.sqrt(power(x) / (power(noise) * 10 ** (snr_db / 10)))
    return (x + scale * noise).astype(np.float32)


def babble(n: int, others: list[np.ndarray], rng: np.random.Generator) -> np.ndarray:
    """3-6 other utterances, each looped to n samples and at unit power, summed."""
    k = int(rng.integers(3, 7))
    out = np.zeros(n, np.float64)
    for i in rng.choice(len(others), size=min(k, len(others)), replace=False):
        o = np.asarray(others[i], np.float64)
        o = np.tile(o, int(np.ceil(n / max(len(o), 1))))[:n]
        out += o / np.sqrt(power(o))
    return out.astype(np.float32)


def gain(x: np.ndarray, db: float) -> np.ndarray:
    return np.clip(x * 10 ** (db / 20), -1.0, 1.0).astype(np.float32)


def room_response(rt60: float, rng: np.random.Generator) -> np.ndarray:
    """Direct path plus exponentially decaying noise reaching -60 dB at rt60 seconds."""
    n = int(rt60 * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    tail = rng.standard_normal(n) * 10 ** (-3 * t / rt60)
    h = 0.3 * tail / np.sqrt(np.sum(tail ** 2))
    h[0] = 1.0
    return h


def reverb(x: np.ndarray, rt60: float, rng: np.random.Generator) -> np.ndarray:
    from scipy.signal import fftconvolve

    y = fftconvolve(x.astype(np.float64), room_response(rt60, rng))[: len(x)]
    return (y * np.sqrt(power(x) / power(y))).astype(np.float32)


def mu_law(x: np.ndarray, bits: int = 8) -> np.ndarray:
    """Quantise through a mu-law codec and back."""
    mu = 2 ** bits - 1
    y = np.sign(x) * np.log1p(mu * np.abs(np.clip(x, -1, 1))) / np.log1p(mu)
    q = np.round((y + 1) / 2 * mu) / mu * 2 - 1
    return (np.sign(q) * np.expm1(np.abs(q) * np.log1p(mu)) / mu).astype(np.float32)


def telephone(x: np.ndarray) -> np.ndarray:
    import soxr
    from scipy.signal import butter, sosfilt

    narrow = soxr.resample(x.astype(np.float32), SAMPLE_RATE, 8000, quality="HQ")
    sos = butter(4, [300, 3400], btype="bandpass", fs=8000, output="sos")
    coded = mu_law(sosfilt(sos, narrow).astype(np.float32))
    return soxr.resample(coded, 8000, SAMPLE_RATE, quality="HQ").astype(np.float32)[: len(x)]


def headroom(y: np.ndarray) -> np.ndarray:
    """y scaled down as a whole to a peak of 0.99 if it goes past full scale (SNRs unchanged)."""
    peak = float(np.max(np.abs(y))) if len(y) else 0.0
    return (y * (0.99 / peak)).astype(np.float32) if peak > 1.0 else y


def apply(kind: str, x: np.ndarray, rng: np.random.Generator, others: list[np.ndarray] | None = None):
    """(altered copy, its parameters) for one kind; never past full scale."""
    y, params = _apply(kind, x, rng, others)
    return headroom(y), params


def _apply(kind: str, x: np.ndarray, rng: np.random.Generator, others: list[np.ndarray] | None):
    if kind == "speed":
        f = float(rng.choice([0.9, 1.1]))
        return speed(x, f), {"factor": f}
    if kind == "noise":
        beta, snr = float(rng.choice([0.0, 1.0, 2.0])), float(rng.uniform(*SNR_DB))
        return mix(x, coloured_noise(len(x), beta, rng), snr), {"beta": beta, "snr_db": snr}
    if kind == "babble":
        if not others:
            raise ValueError("babble needs other speakers' utterances")
        snr = float(rng.uniform(*SNR_DB))
        return mix(x, babble(len(x), others, rng), snr), {"snr_db": snr}
    if kind == "gain":
        db = float(rng.uniform(-12, 12))
        return gain(x, db), {"db": db}
    if kind == "reverb":
        rt60 = float(rng.uniform(0.2, 0.8))
        return reverb(x, rt60, rng), {"rt60": rt60}
    if kind == "telephone":
        return telephone(x), {}
    raise ValueError(f"unknown augmentation {kind!r}: expected one of {', '.join(KINDS)}")


def parse(spec: str | None) -> list[str]:
    kinds = [k for k in (spec or "").split(",") if k]
    bad = [k for k in kinds if k not in KINDS]
    if bad:
        raise ValueError(f"unknown augmentation {', '.join(bad)}: expected some of {', '.join(KINDS)}")
    return kinds
