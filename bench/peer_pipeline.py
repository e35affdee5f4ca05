"""The peer pipeline as one process: openSMILE LLDs -> torch BiLSTM -> one decision line.

    python -m bench.peer_pipeline FILE

What someone would write with the paper's tools: openSMILE ComParE_2016 LLDs (65 columns)
plus their deltas (numpy, the HTK/openSMILE regression over +-2 frames: 130 columns; the
paper used 238), per-utterance z-scoring, a torch BiLSTM
(1 layer, 128 + 128 cells, 5 outputs) over the whole file, and the mean posterior of the
4 emotions. The BiLSTM has RANDOM weights (seed 0) with the input size openSMILE gives:
only its cost matters here, not its decision. Prints one JSON line, single thread.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import opensmile  # noqa: E402
import soundfile  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

LABELS = ("anger", "happiness", "neutral", "sadness")  # output 0 is the CTC blank (Null)


class TorchBiLstm(nn.Module):
    """nn.LSTM(D, 128, bidirectional) + nn.Linear(256, 5); names match the model directory."""

    def __init__(self, input_dim: int, hidden: int = 128, outputs: int = 5):
        super().__init__()
        self.lstm = nn.LSTM(input_dim, hidden, batch_first=True, bidirectional=True)
        self.out = nn.Linear(2 * hidden, outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.lstm(x)[0])


def single_thread() -> None:
    torch.set_num_threads(1)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:  # already set, or parallel work already started
        pass


def deltas(x: np.ndarray, w: int = 2) -> np.ndarray:
    """Delta regression over +-w frames, edges repeated."""
    p = np.pad(x, ((w, w), (0, 0)), mode="edge")
    n = len(x)
    num = sum(k * (p[w + k:w + k + n] - p[w - k:w - k + n]) for k in range(1, w + 1))
    return (num / (2 * sum(k * k for k in range(1, w + 1)))).astype(np.float32)


def load_net(input_dim: int) -> TorchBiLstm:
    torch.manual_seed(0)
    return TorchBiLstm(input_dim).eval()


def make_smile() -> opensmile.Smile:
    return opensmile.Smile(feature_set=opensmile.FeatureSet.ComParE_2016,
                           feature_level=opensmile.FeatureLevel.LowLevelDescriptors)


def decide(x: np.ndarray, rate: int, smile: opensmile.Smile, net: TorchBiLstm) -> dict:
    """Features, BiLSTM and decision of one whole signal."""
    lld = smile.process_signal(x, rate).to_numpy(np.float32)
    feats = np.concatenate([lld, deltas(lld)], axis=1)
    feats = (feats - feats.mean(0)) / (feats.std(0) + 1e-5)
    with torch.inference_mode():
        post = torch.softmax(net(torch.from_numpy(feats)[None]), -1)[0].numpy()
    scores = post[:, 1:].mean(0)
    return {"emotion": LABELS[int(scores.argmax())], "frames": len(feats), "features": feats.shape[1]}


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m bench.peer_pipeline FILE", file=sys.stderr)
        return 2
    single_thread()
    x, rate = soundfile.read(argv[0], dtype="float32", always_2d=True)
    x = x.mean(axis=1)
    smile = make_smile()
    net = load_net(2 * len(smile.feature_names))
    t0 = time.perf_counter()
    out = decide(x, rate, smile, net)
    compute_ms_per_s = 1000.0 * (time.perf_counter() - t0) / (len(x) / rate)
    print(json.dumps({"type": "utterance", "compute_ms_per_s": round(compute_ms_per_s, 3), **out,
                      "weights": "random", "source": argv[0]}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
