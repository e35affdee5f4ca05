"""Export a model directory's BiLSTM to ONNX: whole utterances, normalised features in, posteriors out.

    python -m training.export_onnx MODEL_DIR OUT.onnx [--opset 17]

Graph: input `features` float32 (1, frames, D), D = the model's feature count, already
normalised as the runtime does (realtime_ser.normalize: the model's statistics, or the
stream's adaptive ones); output `posteriors` float32 (1, frames, outputs), the softmax
of the frame logits, outputs in the model's order (Null included, see metadata `outputs`).
The backward direction sees the whole input: this is the offline model, not the
latency-controlled streaming one. Needs `pip install -e ".[train]"` (torch, onnx).
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

PROG = "python -m training.export_onnx"


def build(model):
    """A torch module with the model's weights: nn.LSTM (bidirectional) + linear + softmax."""
    import torch
    from safetensors.numpy import load_file
    from torch import nn

    from realtime_ser.model import WEIGHTS_FILE

    cfg = model.config
    weights = {k: torch.from_numpy(v.copy()) for k, v in load_file(Path(model.path) / WEIGHTS_FILE).items()}

    class Offline(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lstm = nn.LSTM(cfg.input_dim, cfg.hidden, batch_first=True, bidirectional=True)
            self.out = nn.Linear(2 * cfg.hidden, len(cfg.outputs))

        def forward(self, features):
            h, _ = self.lstm(features)
            return torch.softmax(self.out(h), dim=-1)

    net = Offline()
    missing = set(net.state_dict()) - set(weights)
    if missing:
        raise ValueError(f"{model.path}: weights missing for ONNX export: {', '.join(sorted(missing))}")
    net.load_state_dict({k: weights[k] for k in net.state_dict()})
    return net.eval()


def export(model_dir: str | None, out: str | Path, opset: int = 17) -> Path:
    import onnx
    import torch

    from realtime_ser import model as model_lib

    model = model_lib.load(model_dir)
    cfg = model.config
    if cfg.blank is None or not cfg.bidirectional or cfg.layers != 1:
        raise ValueError(f"{model.path}: only one-layer bidirectional CTC models can be exported")
    net = build(model)
    example = torch.zeros(1, 50, cfg.input_dim)
    out = Path(out)
    with warnings.catch_warnings():  # the legacy exporter's deprecation notice; it handles nn.LSTM well
        warnings.simplefilter("ignore")
        torch.onnx.export(net, (example,), str(out), input_names=["features"], output_names=["posteriors"],
                          dynamic_axes={"features": {1: "frames"}, "posteriors": {1: "frames"}},
                          opset_version=opset, dynamo=False)
    graph = onnx.load(str(out))
    for key, value in (("outputs", json.dumps(cfg.outputs)), ("feature_version", cfg.feature_version),
                       ("feature_names", json.dumps(cfg.feature_names)), ("source", str(model.path))):
        entry = graph.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(graph, str(out))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    ap.add_argument("model_dir", metavar="MODEL_DIR")
    ap.add_argument("out", metavar="OUT.onnx")
    ap.add_argument("--opset", type=int, default=17)
    args = ap.parse_args(argv)
    try:
        path = export(args.model_dir, args.out, args.opset)
    except (ValueError, OSError, ImportError) as err:
        print(f"{PROG}: error: {' '.join(str(err).split())}", file=sys.stderr)
        return 2
    print(f"wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
