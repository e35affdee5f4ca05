"""Evaluation metrics.

uar and war return percentages (0..100); confusion returns counts;
paired_ttest returns (t, p) from scipy.stats.ttest_rel on per-fold values
(in whatever unit they are given).
"""
from __future__ import annotations

import numpy as np


def confusion(y_true, y_pred, n_classes: int = 4) -> np.ndarray:
    """(n_classes, n_classes) counts; rows = true class, columns = predicted."""
    y_true = np.asarray(y_true, int).ravel()
    y_pred = np.asarray(y_pred, int).ravel()
    if y_true.shape != y_pred.shape:
        raise ValueError("y_true and y_pred differ in length")
    m = np.zeros((n_classes, n_classes), np.int64)
    np.add.at(m, (y_true, y_pred), 1)
    return m


def uar(y_true, y_pred, n_classes: int = 4) -> float:
    """Unweighted average recall in percent: mean of per-class recalls over
    the classes that occur in y_true."""
    m = confusion(y_true, y_pred, n_classes)
    support = m.sum(1)
    present = support > 0
    if not present.any():
        return float("nan")
    recalls = np.diag(m)[present] / support[present]
    return float(100.0 * recalls.mean())


def war(y_true, y_pred, n_classes: int = 4) -> float:
    """Weighted average recall (= accuracy) in percent."""
    y_true = np.asarray(y_true, int).ravel()
    y_pred = np.asarray(y_pred, int).ravel()
    if y_true.size == 0:
        return float("nan")
    return float(100.0 * np.mean(y_true == y_pred))


def paired_ttest(per_fold_a, per_fold_b) -> tuple[float, float]:
    """Two-sided paired t-test over folds: (t statistic, p value)."""
    from scipy.stats import ttest_rel

    res = ttest_rel(np.asarray(per_fold_a, float), np.asarray(per_fold_b, float))
    return float(res.statistic), float(res.pvalue)
