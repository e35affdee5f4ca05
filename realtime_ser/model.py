"""Model directory format, shared by training (writer) and serving (reader).

    MODEL_DIR/config.json        what the model expects and how it was trained
    MODEL_DIR/model.safetensors  weights (torch names), never pickle
    MODEL_DIR/MODEL_CARD.md      data, licence, measured figures

Serving needs no torch: `load()` returns a `Model`; realtime_ser.lstm runs its BiLSTM.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from realtime_ser import _native

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
    # realtime_ser.normalize.NormConfig as a dict; empty: global statistics (older models)
    normalization: dict = field(default_factory=dict)
    # calibrated scores softmax(log(shares + score_floor) / temperature) (realtime_ser.calibration);
    # 1.0 and 1e-5: uncalibrated. posterior_*: the pair for decisions without votes (None: the same)
    temperature: float = 1.0
    score_floor: float = 1e-5
    posterior_temperature: float | None = None
    posterior_floor: float | None = None
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
    def norm_config(self):
        """The input normalisation (realtime_ser.normalize.NormConfig)."""
        from realtime_ser.normalize import NormConfig

        return NormConfig.from_dict(self.normalization or None)

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
        try:
            self.norm_config.validate(self.input_dim)
        except (ValueError, TypeError) as e:
            problems.append(str(e))
        for name, low, high in (("temperature", 0.05, 20), ("score_floor", 1e-6, 1),
                                ("posterior_temperature", 0.05, 20), ("posterior_floor", 1e-6, 1)):
            v = getattr(self, name)
            if v is None and name.startswith("posterior"):
                continue
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not low <= v <= high:
                problems.append(f"{name} must be a number in [{low:g}, {high:g}], got {v!r}")
        if (self.posterior_temperature is None) != (self.posterior_floor is None):
            problems.append("posterior_temperature and posterior_floor come together")
        if problems:
            raise ValueError("; ".join(problems))

    def calibration(self, voted: bool) -> tuple[float, float]:
        """(temperature, floor) for a decision by votes, or by the mean posterior (no votes)."""
        if voted or self.posterior_temperature is None:
            return self.temperature, self.score_floor
        return self.posterior_temperature, self.posterior_floor

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
    """Read a model directory (default: the bundled model), everything validated up front.

    Raises ModelError, one line naming the directory and the problem: a missing file, a
    corrupt safetensors file, config.json not a JSON object or a field of the wrong type,
    a weight of the wrong dtype (float32 only) or shape, or holding NaN/inf. Weights are
    read with safetensors only: nothing is ever unpickled.
    """
    path = Path(path) if path is not None else DEFAULT_DIR
    try:
        config = _read_config(path)
        weights = _read_weights(path / WEIGHTS_FILE)
        _check_weights(config, weights)
    except _Missing as e:
        raise ModelError(f"{path}: not a model directory ({e})") from None
    except _Invalid as e:
        raise ModelError(f"{path}: invalid model ({e})") from None
    if check_features:
        from realtime_ser import features

        if config.feature_version != features.VERSION or config.feature_names != features.NAMES:
            raise ModelError(
                f"{path}: trained on features {config.feature_version!r}, this runtime computes "
                f"{features.VERSION!r}; retrain or use a matching version")
    return Model(config, weights, path)


class _Missing(Exception):
    """A file of the model directory is not there."""


class _Invalid(Exception):
    """A file is there but unusable; the message says why, in one line."""


def _one_line(err: object) -> str:
    text = " ".join(str(err).split()) or type(err).__name__
    return text if len(text) <= 300 else text[:297] + "..."


def _read_config(path: Path) -> ModelConfig:
    if not path.is_dir():
        raise _Missing("not a directory" if path.exists() else "no such directory")
    if not (path / CONFIG_FILE).is_file():
        raise _Missing(f"{CONFIG_FILE} missing")
    try:
        text = (path / CONFIG_FILE).read_bytes().decode("utf-8")
    except OSError as e:
        raise _Invalid(f"cannot read {CONFIG_FILE}: {e.strerror or e}") from None
    except UnicodeDecodeError:
        raise _Invalid(f"{CONFIG_FILE} is not UTF-8 text") from None
    try:
        raw = json.loads(text, parse_constant=_no_constant)
    except ValueError as e:
        raise _Invalid(f"{CONFIG_FILE} is not valid JSON: {_one_line(e)}") from None
    if not isinstance(raw, dict):
        raise _Invalid(f"{CONFIG_FILE} must hold a JSON object, not {type(raw).__name__}")
    problems = [p for key, check in _FIELD_CHECKS.items() if key in raw for p in [check(key, raw[key])] if p]
    if problems:
        raise _Invalid("; ".join(problems[:3]) + ("; ..." if len(problems) > 3 else ""))
    known = set(ModelConfig.__dataclass_fields__)  # fields this runtime does not know are ignored
    try:
        config = ModelConfig(**{k: v for k, v in raw.items() if k in known})
        config.validate()
    except Exception as e:  # noqa: BLE001 - any failure of a newer field's own checks
        raise _Invalid(_one_line(e)) from None
    return config


def _no_constant(name: str):
    raise ValueError(f"{name} is not a JSON number")


# Type checks of config.json fields, before ModelConfig sees them; each returns a problem or None.
# Fields not listed here (newer ones) are left to ModelConfig.validate().


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _text(key, v):
    return None if isinstance(v, str) else f"{key} must be a string, got {v!r:.40}"


def _text_or_none(key, v):
    return None if v is None else _text(key, v)


def _mapping(key, v):
    return None if isinstance(v, dict) else f"{key} must be a JSON object, got {type(v).__name__}"


def _flag(key, v):
    return None if isinstance(v, bool) else f"{key} must be true or false, got {v!r:.40}"


def _positive_int(key, v):
    return None if _is_int(v) and v > 0 else f"{key} must be a positive integer, got {v!r:.40}"


def _int_or_none(key, v):
    return None if v is None or _is_int(v) else f"{key} must be an integer or null, got {v!r:.40}"


def _frames(minimum: int):
    def check(key, v):
        if v is None or (_is_int(v) and v >= minimum):
            return None
        return f"{key} must be null or an integer >= {minimum}, got {v!r:.40}"
    return check


def _labels(key, v):
    if not isinstance(v, list) or not v or not all(isinstance(x, str) and x for x in v):
        return f"{key} must be a non-empty list of non-empty strings, got {v!r:.60}"
    if len(set(v)) != len(v):
        return f"{key} must be distinct, got {v!r:.60}"
    return None


def _names(key, v):
    if isinstance(v, list) and all(isinstance(x, str) for x in v):
        return None
    return f"{key} must be a list of strings"


def _numbers(positive: bool):
    def check(key, v):
        if not isinstance(v, list):
            return f"{key} must be a list of numbers, got {type(v).__name__}"
        for i, x in enumerate(v):
            if not _is_number(x):
                return f"{key}[{i}] must be a finite number, got {x!r:.40}"
            if positive and x <= 0:
                return f"{key}[{i}] must be positive, got {x!r}"
        return None
    return check


_FIELD_CHECKS = {
    "format": _text,
    "system": _text,
    "labels": _labels,
    "blank": _int_or_none,
    "feature_version": _text,
    "feature_names": _names,
    "norm_mean": _numbers(positive=False),
    "norm_std": _numbers(positive=True),
    "hidden": _positive_int,
    "layers": _positive_int,
    "bidirectional": _flag,
    "chunk_frames": _frames(1),
    "right_context_frames": _frames(0),
    "target": _text_or_none,
    "training": _mapping,
    "metrics": _mapping,
    "normalization": _mapping,
}


def _read_weights(file: Path) -> dict[str, np.ndarray]:
    """Every tensor of a safetensors file, float32 only; _Invalid for anything else."""
    if not file.is_file():
        raise _Missing(f"{file.name} missing")
    weights = _read_plain_safetensors(file)
    if weights is not None:
        return weights
    from safetensors import safe_open

    try:
        with safe_open(file, framework="np") as f:
            names = list(f.keys())
            for name in names:
                dtype = f.get_slice(name).get_dtype()
                if dtype != "F32":
                    raise _Invalid(f"weight {name} is {dtype}, expected F32 (float32)")
            return {name: f.get_tensor(name) for name in names}
    except _Invalid:
        raise
    except Exception as e:  # noqa: BLE001 - SafetensorError (corrupt, truncated, empty), OSError, ...
        raise _Invalid(f"{WEIGHTS_FILE} is not a valid safetensors file: {_one_line(e)}") from None


_MAX_HEADER = 100_000_000  # safetensors' own limit on the JSON header


def _read_plain_safetensors(file: Path) -> dict[str, np.ndarray] | None:
    """The tensors of a well-formed safetensors file holding only little-endian float32 tensors,
    read with numpy (sparing the safetensors import); None for anything else, which the
    safetensors library then reads or reports as before.

    Well-formed, strictly: a JSON-object header of entries {dtype "F32", shape of non-negative
    ints, data_offsets [begin, end]} (plus an optional "__metadata__" of strings), whose byte
    ranges tile the data that follows exactly, in order, each of the size its shape implies.
    Names come in safetensors' order (sorted); the arrays equal safe_open(...).get_tensor()."""
    try:
        with open(file, "rb") as fh:
            data = fh.read()
        if len(data) < 8:
            return None
        n = int.from_bytes(data[:8], "little")
        if n > _MAX_HEADER or 8 + n > len(data) or data[8:9] != b"{":
            return None
        header = json.loads(data[8:8 + n].decode("utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(header, dict):
        return None
    meta = header.pop("__metadata__", None)
    if meta is not None and not (isinstance(meta, dict) and all(isinstance(v, str) for v in meta.values())):
        return None
    spans = []
    for name, entry in header.items():
        if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"} or entry["dtype"] != "F32":
            return None
        shape, offsets = entry["shape"], entry["data_offsets"]
        if not (isinstance(shape, list) and all(_is_int(d) and d >= 0 for d in shape)):
            return None
        if not (isinstance(offsets, list) and len(offsets) == 2 and all(_is_int(o) for o in offsets)):
            return None
        begin, end = offsets
        if end - begin != 4 * math.prod(shape):
            return None
        spans.append((begin, end, name, shape))
    spans.sort()
    body = 8 + n
    pos = 0
    for begin, end, _, _ in spans:
        if begin != pos or end < begin:
            return None
        pos = end
    if pos != len(data) - body:
        return None
    buffer = bytearray(memoryview(data)[body:])  # writable, as get_tensor's arrays are
    out = {}
    for begin, end, name, shape in sorted(spans, key=lambda s: s[2]):
        out[name] = np.frombuffer(buffer, "<f4", (end - begin) // 4, begin).reshape(shape).astype(np.float32, copy=False)
    return out


def _check_weights(config: ModelConfig, weights: dict[str, np.ndarray]) -> None:
    """Every weight the BiLSTM needs, of the shape the config implies, and finite."""
    h, d, n = config.hidden, config.input_dim, len(config.outputs)
    expected = {}
    for suffix in ("", "_reverse"):
        expected[f"lstm.weight_ih_l0{suffix}"] = (4 * h, d)
        expected[f"lstm.weight_hh_l0{suffix}"] = (4 * h, h)
        expected[f"lstm.bias_ih_l0{suffix}"] = (4 * h,)
        expected[f"lstm.bias_hh_l0{suffix}"] = (4 * h,)
    expected["out.weight"] = (n, 2 * h)
    expected["out.bias"] = (n,)
    for name, shape in expected.items():
        if name not in weights:
            raise _Invalid(f"weight {name} missing")
        if weights[name].shape != shape:
            raise _Invalid(f"weight {name} has shape {weights[name].shape}, expected {shape} "
                           f"(hidden {h}, {d} features, {n} outputs)")
    for name, w in weights.items():
        if not np.isfinite(w).all():
            raise _Invalid(f"weight {name} holds NaN or infinite values")


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

    def new_normalizer(self):
        """A fresh stream's input normalisation (realtime_ser.normalize.Normalizer)."""
        from realtime_ser.normalize import Normalizer

        c = self.config
        return Normalizer(c.norm_config, c.feature_names, c.norm_mean, c.norm_std)

    def normalize(self, feats: np.ndarray) -> np.ndarray:
        """Features of one utterance, normalised as one stream from its start."""
        return self.new_normalizer().process(feats)

    def logits(self, feats: np.ndarray) -> np.ndarray:
        """Raw outputs (T, n_outputs) of a whole utterance of unnormalised features (offline BiLSTM)."""
        from realtime_ser.lstm import StreamingBiLstm

        lstm = StreamingBiLstm(self, None)
        x = self.normalize(feats)
        return np.concatenate([lstm.accept(x), lstm.finish()])

    def posteriors(self, feats: np.ndarray) -> np.ndarray:
        """Softmax outputs (T, n_outputs), float32: the native softmax the engine's tracker runs."""
        return _native.softmax(self.logits(feats))


@dataclass
class _LstmWeights:
    w_ih: np.ndarray  # (4H, D), gates i, f, g, o as torch orders them
    w_hh: np.ndarray  # (4H, H)
    bias: np.ndarray  # (4H,)

    @classmethod
    def from_dict(cls, weights, suffix):
        get = lambda name: np.asarray(weights[f"lstm.{name}{suffix}"], np.float32)  # noqa: E731
        return cls(get("weight_ih_l0"), get("weight_hh_l0"), get("bias_ih_l0") + get("bias_hh_l0"))
