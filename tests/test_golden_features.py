"""Golden frames: the features of realtime_ser/samples/speech.wav are pinned to features.VERSION.

tests/data/golden_features.csv holds every 27th frame of the sample (all DIM columns, four
significant digits) and the column means over all frames, under the VERSION that produced
them. The bundled model was trained on these numbers, so a change that moves them must bump
the descriptor version (kLldVersion in csrc/ser/online_lld.h) and then regenerate the file:

    PYTHONPATH=$PWD python tests/test_golden_features.py --update

A version bump without regenerating fails too, so the file always names the version it pins.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import numpy as np
import pytest

from realtime_ser import _native, audio, features

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "realtime_ser" / "samples" / "speech.wav"
GOLDEN = ROOT / "tests" / "data" / "golden_features.csv"
FIRST, STEP = 13, 27  # frames 13, 40, 67, ...: about 30 frames across speech and pauses
DIGITS = 4  # significant digits kept
# Float rounding (the AVX2 and portable builds sum in different orders) moves values far less.
RTOL = 2e-3
ATOL_OF_COLUMN = 1e-3  # times the column's largest magnitude in the file


def _round(x: np.ndarray) -> list[str]:
    return [f"{v:.{DIGITS}g}" for v in x]


def _rows() -> tuple[list[int], np.ndarray, np.ndarray]:
    feats = features.extract(audio.load(SAMPLE), audio.SAMPLE_RATE)
    frames = list(range(FIRST, feats.shape[0], STEP))
    return frames, feats[frames].astype(np.float64), feats.astype(np.float64).mean(0)


def write_golden() -> None:
    frames, picked, mean = _rows()
    GOLDEN.parent.mkdir(parents=True, exist_ok=True)
    with open(GOLDEN, "w", newline="") as f:
        f.write(f"# version={features.VERSION} sample=realtime_ser/samples/speech.wav; "
                f"regenerate: PYTHONPATH=$PWD python tests/test_golden_features.py --update\n")
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["frame", *features.NAMES])
        for t, row in zip(frames, picked):
            w.writerow([str(t), *_round(row)])
        w.writerow(["mean", *_round(mean)])


def read_golden() -> tuple[str, list[str], list[str], np.ndarray]:
    with open(GOLDEN, newline="") as f:
        head = f.readline()
        version = head.split("version=", 1)[1].split()[0]
        rows = list(csv.reader(f))
    names, body = rows[0][1:], rows[1:]
    return version, names, [r[0] for r in body], np.array([[float(v) for v in r[1:]] for r in body])


def test_golden_file_is_for_this_version():
    version, names, _, _ = read_golden()
    assert version == features.VERSION, (
        f"{GOLDEN.name} pins {version} but features.VERSION is {features.VERSION}: after a version "
        f"bump regenerate it (PYTHONPATH=$PWD python tests/test_golden_features.py --update)")
    assert names == features.NAMES, f"{GOLDEN.name}: the descriptor names or their order changed"


def check_against_golden(got: np.ndarray, want: np.ndarray, labels: list[str], version: str) -> None:
    """Raises AssertionError (naming the version bump) if got differs from want beyond rounding."""
    atol = ATOL_OF_COLUMN * np.abs(want).max(0) + 1e-6
    bad = ~(np.abs(got - want) <= RTOL * np.abs(want) + atol)
    if bad.any():
        r, c = np.argwhere(bad)[0]
        cols = sorted({features.NAMES[j] for j in np.nonzero(bad.any(0))[0]})
        raise AssertionError(
            f"features of speech.wav changed without a version bump ({bad.sum()} values in {len(cols)} "
            f"columns, e.g. {features.NAMES[c]} at row {labels[r]}: {got[r, c]:.6g} vs golden {want[r, c]:.6g}; "
            f"columns: {', '.join(cols[:12])}{' ...' if len(cols) > 12 else ''}). The bundled model was trained "
            f"on these numbers: if the change is meant, bump kLldVersion in csrc/ser/online_lld.h (now "
            f"{version}) and regenerate {GOLDEN.name} (PYTHONPATH=$PWD python tests/test_golden_features.py --update).")


def test_features_match_golden_frames():
    version, _, labels, want = read_golden()
    frames, picked, mean = _rows()
    assert labels == [str(t) for t in frames] + ["mean"], f"{GOLDEN.name}: the frame count of the sample changed"
    check_against_golden(np.vstack([picked, mean]), want, labels, version)


def test_a_changed_descriptor_fails_with_the_bump_message():
    version, _, labels, want = read_golden()
    col = features.NAMES.index("mfcc_3")
    got = want.copy()
    got[5, col] *= 1.01  # a 1 % change in one value
    with pytest.raises(AssertionError, match="without a version bump.*mfcc_3.*bump kLldVersion"):
        check_against_golden(got, want, labels, version)
    check_against_golden(want * (1 + 1e-5), want, labels, version)  # float rounding passes


def test_descriptor_table_totals():
    names = [n for n, _ in _native.lld_descriptors()]
    assert len(names) == _native.OnlineLld.dim == 121 and len(set(names)) == len(names)
    assert features.DIM == len(set(features.NAMES)) == _native.FEATURE_DIM == 238


if __name__ == "__main__":
    if sys.argv[1:] != ["--update"]:
        sys.exit("usage: PYTHONPATH=$PWD python tests/test_golden_features.py --update")
    write_golden()
    print(f"wrote {GOLDEN} for {features.VERSION}")
