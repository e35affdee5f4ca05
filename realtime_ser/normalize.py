"""Feature normalisation, shared by serving and training.

Two modes, recorded in a model directory (``config.json`` -> ``normalization``):

* ``global``: ``(x - mean) / std`` with the training data's statistics over all frames
  (models without a ``normalization`` entry are served this way).
* ``adaptive``: per-stream speaker adaptation, causal. The statistics start from the training
  data's *speech-frame* statistics (the prior) and follow the stream's own speech frames
  (frames where ``f0_hz > 0``: voiced; silence never moves them), in the native
  ``Normalizer``'s adaptive mode (csrc/ser/normalizer.h, the rule in csrc/ser/adaptive_norm.h):

      a_n  = max(1 / (prior_s*100 + n), 1 / (tau_s*100))     n: speech frames so far
      m   += a_n (x - m);   v += a_n ((x - m)^2 - v)
      y    = (x - m_used) / sqrt(v_used),  m_used = prior + weight (m - prior), same for v

  ``prior_s`` seconds of speech weigh as much as the prior; after that the estimate forgets
  with time constant ``tau_s`` seconds of speech. ``weight`` < 1 bounds how far a stream that
  stays in one emotion can pull the statistics. ``groups`` chooses what adapts: ``level``
  (energies, loudness), ``pitch`` (F0), ``spectral`` (cepstra, spectral shape, formants,
  LPC/LSP, voice quality) and ``delta`` (all differences).

Training normalises each utterance through the same object (``Normalizer``), streamed in
the order it is served, so both sides compute identical frames.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from realtime_ser import _native

MODES = ("global", "adaptive")
GROUPS = ("level", "pitch", "spectral", "delta")
GATE = "f0_hz"  # speech frames: voiced, f0_hz > 0
FRAMES_PER_S = 100

_LEVEL = ("log_energy", "rms_energy", "loudness", "lp_gain", "audspec_l1norm", "audspec_rasta_l1norm",
          "band_energy_250_650", "band_energy_1000_4000", "formant_intensity",
          "f1_amplitude", "f2_amplitude", "f3_amplitude")
_PITCH = ("f0_hz", "f0_raw_hz")


def group_of(name: str) -> str:
    """The adaptation group of one feature name."""
    if name.endswith("_d") or name.endswith("_dd"):
        return "delta"
    if name in _LEVEL:
        return "level"
    if name in _PITCH:
        return "pitch"
    return "spectral"


@dataclass
class NormConfig:
    """How a model's input is normalised; validates and prints itself."""

    mode: str = "global"
    groups: list[str] = field(default_factory=lambda: ["level", "pitch", "spectral"])
    tau_s: float = 60.0      # forgetting time constant, seconds of speech
    prior_s: float = 3.0     # the prior weighs as much as this much speech
    weight: float = 1.0      # share of the stream's own statistics, 0..1
    scale: bool = True       # adapt the spread as well as the level
    speech_mean: list[float] = field(default_factory=list)  # the prior: training speech frames
    speech_std: list[float] = field(default_factory=list)

    def validate(self, dim: int | None = None) -> None:
        problems = []
        if self.mode not in MODES:
            problems.append(f"mode {self.mode!r} is not one of {', '.join(MODES)}")
        if self.mode == "adaptive":
            if not isinstance(self.groups, list) or not set(self.groups) <= set(GROUPS):
                problems.append(f"groups must be a list drawn from {', '.join(GROUPS)}")
            for name, lo, hi in (("tau_s", 0.01, 1e6), ("prior_s", 0.0, 1e6), ("weight", 0.0, 1.0)):
                v = getattr(self, name)
                if isinstance(v, bool) or not isinstance(v, (int, float)) or not lo <= v <= hi:
                    problems.append(f"{name} must be a number in [{lo:g}, {hi:g}], got {v!r}")
            if not isinstance(self.scale, bool):
                problems.append("scale must be true or false")
            n = len(self.speech_mean) if isinstance(self.speech_mean, list) else -1
            if n < 1 or not isinstance(self.speech_std, list) or len(self.speech_std) != n or (
                    dim is not None and n != dim):
                problems.append("speech_mean/speech_std must be lists with one value per feature")
            elif not (np.isfinite(self.speech_mean).all() and np.isfinite(self.speech_std).all()
                      and min(self.speech_std) > 0):
                problems.append("speech statistics must be finite with positive std")
        if problems:
            raise ValueError("normalization: " + "; ".join(problems))

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw) -> "NormConfig":
        if raw is None:
            return cls()
        if not isinstance(raw, dict):
            raise ValueError(f"normalization must be an object, got {type(raw).__name__}")
        known = set(cls.__dataclass_fields__)
        unknown = set(raw) - known
        if unknown:
            raise ValueError(f"normalization: unknown fields {', '.join(sorted(unknown))}")
        return cls(**raw)

    def __str__(self) -> str:
        if self.mode == "global":
            return "global statistics"
        return (f"adaptive per stream ({'+'.join(self.groups)}; tau {self.tau_s:g} s, prior {self.prior_s:g} s, "
                f"weight {self.weight:g}, {'mean+std' if self.scale else 'mean only'}; speech = {GATE} > 0)")


class Normalizer:
    """One stream's normaliser: ``process`` frames in order; ``reset`` for a new speaker.

    The arithmetic is the native ``Normalizer`` (csrc/ser/normalizer.h), the one each engine
    stream owns, so training and serving normalise with the same bits.
    """

    def __init__(self, cfg: NormConfig, names: list[str], mean, std) -> None:
        self.cfg = cfg
        self.options = native_options(cfg, names, mean, std)
        self._native = _native.Normalizer(**self.options)

    def process(self, frames: np.ndarray) -> np.ndarray:
        """(n, dim) raw features -> (n, dim) float32 normalised, updating the stream's state."""
        return self._native.process(np.ascontiguousarray(frames, np.float32))

    def reset(self) -> None:
        self._native.reset()

    @property
    def speech_frames(self) -> int:
        return self._native.speech_frames


def native_options(cfg: NormConfig, names: list[str], mean, std) -> dict:
    """The keyword arguments of _native.Normalizer (and of the recognizer's normalizer)."""
    opts = {"mean": np.asarray(mean, np.float32).tolist(), "std": np.asarray(std, np.float32).tolist(),
            "adaptive": cfg.mode == "adaptive"}
    if cfg.mode == "adaptive":
        var = np.square(np.asarray(cfg.speech_std, np.float64)).astype(np.float32)
        opts.update(speech_mean=list(cfg.speech_mean), speech_var=var.tolist(),
                    adapt=[int(group_of(n) in cfg.groups) for n in names],
                    gate_column=names.index(GATE), gate_threshold=0.0,
                    tau_frames=cfg.tau_s * FRAMES_PER_S, prior_frames=cfg.prior_s * FRAMES_PER_S,
                    weight=cfg.weight, adapt_scale=cfg.scale)
    return opts


def speech_mask(frames: np.ndarray, names: list[str]) -> np.ndarray:
    """The frames that count as speech for adaptation (voiced)."""
    return np.asarray(frames)[:, names.index(GATE)] > 0


def speech_stats(arrays: list[np.ndarray], names: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Mean and std over the speech frames of many utterances (the adaptive prior)."""
    x = np.concatenate([a[speech_mask(a, names)] for a in arrays]).astype(np.float64)
    std = x.std(axis=0)
    return x.mean(axis=0).astype(np.float32), np.where(std > 1e-8, std, 1.0).astype(np.float32)
