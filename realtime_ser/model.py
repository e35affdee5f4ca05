"""Model directory format, shared by training (writer) and serving (reader).

    MODEL_DIR/config.json        what the model expects and how it was trained
    MODEL_DIR/model.safetensors  weights (torch names), never pickle
    MODEL_DIR/MODEL_CARD.md      data, licence, measured figures

Serving needs no torch: `load()` returns a `Model`; realtime_ser.lstm runs its BiLSTM.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

FORMAT = "realtime_ser.model/1"
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
CARD_FILE = "MODEL_CARD.md"
EMOTIONS = ("anger", "happiness", "neutral", "sadness")
NULL = "null"
DEFAULT_DIR = Path(__file__).resolve().parent / "models" / "default"

LSTM_WEIGHTS = ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")


class ModelError(ValueError):
    """A model directory that cannot be served; the message is one line naming the directory."""


@dataclass
class ModelConfig:
    """Everything the runtime must know to serve a model; validates itself."""

    system: str = "ctc"
    labels: list[str] = field(default_factory=lambda: list(EMOTIONS))
    blank: int | None = 0  # index of Null in the outputs; None for systems without CTC
    feature_version: str = ""
    feature_names: list[str] = field(default_factory=list)
    norm_mean: list[float] = field(default_factory=list)
    norm_std: list[float] = field(default_factory=list)
    hidden: int = 128
    layers: int = 1
    bidirectional: bool = True
    chunk_frames: int | None = None  # None: trained on whole utterances
    right_context_frames: int | None = None
    target: str | None = None  # wn | pn | pn2 for CTC
    training: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)
    format: str = FORMAT

    @property
    def outputs(self) -> list[str]:
        """Names of the network's outputs, in order."""
        if self.blank is None:
            return list(self.labels)
        out = list(self.labels)
        out.insert(self.blank, NULL)
        return out

    @property
    def input_dim(self) -> int:
        return len(self.feature_names)

    def validate(self) -> None:
        problems = []
        if self.format != FORMAT:
            problems.append(f"format {self.format!r}, expected {FORMAT!r}")
        if not self.labels or len(set(self.labels)) != len(self.labels):
            problems.append("labels must be distinct and non-empty")
        if self.blank is not None and not 0 <= self.blank <= len(self.labels):
            problems.append(f"blank index {self.blank} out of range")
        if not self.feature_names or not self.feature_version:
            problems.append("feature names and version are required")
        if len(self.norm_mean) != self.input_dim or len(self.norm_std) != self.input_dim:
            problems.append("normalisation statistics do not match the feature count")
        elif min(self.norm_std) <= 0:
            problems.append("normalisation std must be positive")
        if self.layers != 1 or not self.bidirectional:
            problems.append("only 1-layer bidirectional LSTMs are served")
        if problems:
            raise ValueError("; ".join(problems))

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1)

    def __str__(self) -> str:
        chunk = "whole utterances" if self.chunk_frames is None else (
            f"chunks of {self.chunk_frames} frames + {self.right_context_frames} right context")
        return (f"{self.system} BiLSTM {self.input_dim}->{self.hidden}x2 -> {self.outputs}; "
                f"features {self.feature_version}; trained on {chunk}")


def save(path: str | Path, config: ModelConfig, weights: dict[str, np.ndarray], card: str) -> Path:
    """Write a model directory (config, safetensors weights, model card)."""
    from safetensors.numpy import save_file

    config.validate()
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    arrays = {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in weights.items()}
    save_file(arrays, str(path / WEIGHTS_FILE), metadata={"format": FORMAT})
    (path / CONFIG_FILE).write_text(config.to_json() + "\n")
    (path / CARD_FILE).write_text(card)
    return path


def load(path: str | Path | None = None, check_features: bool = True) -> "Model":
    """Read a model directory (default: the bundled model). Raises ModelError with one line."""
    from safetensors.numpy import load_file

    path = Path(path) if path is not None else DEFAULT_DIR
    try:
        raw = json.loads((path / CONFIG_FILE).read_text())
        known = set(ModelConfig.__dataclass_fields__)
        config = ModelConfig(**{k: v for k, v in raw.items() if k in known})
        config.validate()
        weights = load_file(str(path / WEIGHTS_FILE))
    except FileNotFoundError as e:
        raise ModelError(f"{path}: not a model directory ({Path(e.filename).name} missing)") from None
    except (ValueError, TypeError, OSError) as e:
        raise ModelError(f"{path}: invalid model ({e})") from None
    if check_features:
        from realtime_ser import features

        if config.feature_version != features.VERSION or config.feature_names != features.NAMES:
            raise ModelError(
                f"{path}: trained on features {config.feature_version!r}, this runtime computes "
                f"{features.VERSION!r}; retrain or use a matching version")
    return Model(config, weights, path)


class Model:
    """A loaded model: normalisation statistics and BiLSTM + linear output weights."""

    def __init__(self, config: ModelConfig, weights: dict[str, np.ndarray], path: Path | None = None):
        self.config = config
        self.path = path
        self.mean = np.asarray(config.norm_mean, np.float32)
        self.inv_std = (1.0 / np.asarray(config.norm_std, np.float64)).astype(np.float32)
        try:
            self.fwd = _LstmWeights.from_dict(weights, "")
            self.bwd = _LstmWeights.from_dict(weights, "_reverse")
            self.out_w = np.asarray(weights["out.weight"], np.float32)
            self.out_b = np.asarray(weights["out.bias"], np.float32)
        except KeyError as e:
            raise ModelError(f"{path}: weight {e.args[0]} missing") from None
        h = config.hidden
        if self.fwd.w_ih.shape != (4 * h, config.input_dim) or self.out_w.shape != (len(config.outputs), 2 * h):
            raise ModelError(f"{path}: weight shapes do not match the config")

    def normalize(self, feats: np.ndarray) -> np.ndarray:
        return ((feats - self.mean) * self.inv_std).astype(np.float32)

    def logits(self, feats: np.ndarray) -> np.ndarray:
        """Raw outputs (T, n_outputs) of a whole utterance of unnormalised features (offline BiLSTM)."""
        from realtime_ser.lstm import StreamingBiLstm

        lstm = StreamingBiLstm(self, None)
        x = self.normalize(feats)
        return np.concatenate([lstm.accept(x), lstm.finish()])

    def posteriors(self, feats: np.ndarray) -> np.ndarray:
        """Softmax outputs (T, n_outputs)."""
        z = self.logits(feats)
        z = np.exp(z - z.max(axis=1, keepdims=True))
        return z / z.sum(axis=1, keepdims=True)


@dataclass
class _LstmWeights:
    w_ih: np.ndarray  # (4H, D), gates i, f, g, o as torch orders them
    w_hh: np.ndarray  # (4H, H)
    bias: np.ndarray  # (4H,)

    @classmethod
    def from_dict(cls, weights, suffix):
        get = lambda name: np.asarray(weights[f"lstm.{name}{suffix}"], np.float32)  # noqa: E731
        return cls(get("weight_ih_l0"), get("weight_hh_l0"), get("bias_ih_l0") + get("bias_hh_l0"))
