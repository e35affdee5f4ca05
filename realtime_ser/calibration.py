"""Calibrated scores: temperature scaling of the decoder's score shares.

    p = softmax(log(max(s, FLOOR)) / T)

s are the decision scores (vote fractions of the collapsed best path plus a small share of
the mean posterior; they sum to 1 and their argmax is the decision). T is fitted on held-out
speakers by training.calibrate and stored in the model directory (``temperature``); T = 1
leaves the shares as they are, up to the floor. The argmax never changes.
"""

from __future__ import annotations

import numpy as np

FLOOR = 1e-5  # shares are stored with 5 decimals; below this they carry no information


def calibrate(scores, temperature: float) -> np.ndarray:
    """(..., C) score shares -> (..., C) probabilities under temperature T."""
    z = np.log(np.maximum(np.asarray(scores, np.float64), FLOOR)) / float(temperature)
    z -= z.max(axis=-1, keepdims=True)
    p = np.exp(z)
    return p / p.sum(axis=-1, keepdims=True)
