import numpy as np
import pytest
from scipy.stats import ttest_rel

from training.metrics import confusion, paired_ttest, uar, war

Y_TRUE = [0, 0, 0, 1, 1, 2, 3, 3]
Y_PRED = [0, 0, 1, 1, 0, 2, 3, 0]


def test_confusion_rows_true_columns_pred():
    m = confusion(Y_TRUE, Y_PRED)
    expected = np.array([[2, 1, 0, 0],
                         [1, 1, 0, 0],
                         [0, 0, 1, 0],
                         [1, 0, 0, 1]])
    assert np.array_equal(m, expected)
    assert m.sum() == len(Y_TRUE)


def test_uar_hand_computed():
    # recalls: 2/3, 1/2, 1, 1/2
    assert uar(Y_TRUE, Y_PRED) == pytest.approx(100 * (2 / 3 + 0.5 + 1 + 0.5) / 4)


def test_war_is_accuracy_percent():
    assert war(Y_TRUE, Y_PRED) == pytest.approx(62.5)


def test_uar_differs_from_war_on_imbalance():
    y_true = [0] * 9 + [1]
    y_pred = [0] * 10
    assert war(y_true, y_pred) == pytest.approx(90.0)
    assert uar(y_true, y_pred) == pytest.approx(50.0)


def test_uar_ignores_absent_classes():
    assert uar([0, 0, 2], [0, 1, 2]) == pytest.approx(100 * (0.5 + 1) / 2)


def test_length_mismatch_raises():
    with pytest.raises(ValueError):
        confusion([0, 1], [0])


def test_paired_ttest_matches_scipy():
    rng = np.random.default_rng(0)
    a = rng.normal(60, 5, 10)
    b = a + rng.normal(2, 1, 10)
    t, p = paired_ttest(a, b)
    ref = ttest_rel(a, b)
    assert t == pytest.approx(ref.statistic)
    assert p == pytest.approx(ref.pvalue)
    assert t < 0 and p < 0.01


def test_uar_is_recall_over_the_true_classes():
    """Class counts differ, so swapping the arguments changes UAR (a bug the folds would hide)."""
    y_true, y_pred = [0, 0, 0, 1], [0, 0, 1, 1]
    assert uar(y_true, y_pred) == pytest.approx(100 * (2 / 3 + 1) / 2)
    assert uar(y_pred, y_true) == pytest.approx(100 * (1 + 1 / 2) / 2)
