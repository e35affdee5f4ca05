"""Calibrated scores: temperature scaling of the decoder's score shares, with a floor.

    p = softmax(log(s + floor) / T)

s are the decision scores (vote fractions of the collapsed best path plus a small share of
the mean posterior; they sum to 1 and their argmax is the decision). A vote of 1 against 0
says little about how sure a decision is; the floor bounds that log-ratio, and T scales it.
Both are fitted on held-out speakers by training.calibrate and stored in the model directory
(``temperature``, ``score_floor``). A decision without votes (no spike: the rule falls back to
the mean posterior) has scores of another kind, so it gets its own pair (``posterior_temperature``,
``posterior_floor``; absent in older models: the same pair for both). T = 1 with the default
floor leaves the shares as they are (up to 1e-5). The argmax never changes.
"""

from __future__ import annotations

import numpy as np

FLOOR = 1e-5  # the default floor: shares are stored with 5 decimals


def calibrate(scores, temperature: float, floor: float = FLOOR) -> np.ndarray:
    """(..., C) score shares -> (..., C) probabilities under temperature T and floor."""
    z = np.log(np.maximum(np.asarray(scores, np.float64), 0.0) + float(floor)) / float(temperature)
    z -= z.max(axis=-1, keepdims=True)
    p = np.exp(z)
    return p / p.sum(axis=-1, keepdims=True)


def is_identity(temperature: float, floor: float) -> bool:
    """Whether (T, floor) leaves the shares as they are: an uncalibrated model."""
    return temperature == 1.0 and floor == FLOOR
