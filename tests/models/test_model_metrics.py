"""Evaluation metrics against sklearn.metrics and hand-computed answers on small data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from patron.errors import ModelError
from patron.evaluation import (
    calibration_table,
    classification_metrics,
    confusion,
    cross_validate,
    decile_calibration,
    lift_table,
    regression_metrics,
    segmentation_metrics,
    threshold_for_capacity,
    threshold_for_cost,
)
from patron.models import ChurnModel, CLVRegressor

Y = np.array([1, 0, 1, 1, 0, 0, 0, 1, 0, 0])
P = np.array([0.9, 0.8, 0.7, 0.6, 0.4, 0.3, 0.2, 0.15, 0.1, 0.05])


def test_classification_metrics_match_sklearn():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 500)
    p = np.clip(0.3 * y + rng.random(500) * 0.7, 0.001, 0.999)
    m = classification_metrics(y, p, threshold=0.5)
    predicted = (p >= 0.5).astype(int)
    assert m["accuracy"] == pytest.approx(skm.accuracy_score(y, predicted))
    assert m["precision"] == pytest.approx(skm.precision_score(y, predicted))
    assert m["recall"] == pytest.approx(skm.recall_score(y, predicted))
    assert m["f1"] == pytest.approx(skm.f1_score(y, predicted))
    assert m["roc_auc"] == pytest.approx(skm.roc_auc_score(y, p))
    assert m["pr_auc"] == pytest.approx(skm.average_precision_score(y, p))
    assert m["log_loss"] == pytest.approx(skm.log_loss(y, p))
    assert m["brier"] == pytest.approx(skm.brier_score_loss(y, p))


def test_classification_metrics_by_hand_on_ten_customers():
    m = classification_metrics(Y, P, threshold=0.5)
    # predicted positive: the top 4 (0.9 0.8 0.7 0.6) → TP 3, FP 1; FN 1 (0.15), TN 5
    assert confusion(Y, P, 0.5) == {"tp": 3, "fp": 1, "tn": 5, "fn": 1}
    assert m["precision"] == pytest.approx(3 / 4)
    assert m["recall"] == pytest.approx(3 / 4)
    assert m["accuracy"] == pytest.approx(8 / 10)
    # AUC: of 4 × 6 positive/negative pairs, positives rank above negatives in 20
    # (0.9: 6, 0.7: 5, 0.6: 5, 0.15: 2... 0.15 beats 0.1 and 0.05 → 2; ×0.8 loses for 3)
    assert m["roc_auc"] == pytest.approx((6 + 5 + 5 + 2) / 24)
    assert m["base_rate"] == pytest.approx(0.4)


def test_threshold_by_capacity_contacts_the_top_share():
    assert threshold_for_capacity(P, 0.3) == pytest.approx(0.7)  # top 3 of 10
    assert threshold_for_capacity(P, 1.0) == pytest.approx(0.05)
    with pytest.raises(ModelError):
        threshold_for_capacity(P, 0.0)


def test_threshold_by_cost_minimises_expected_cost():
    # a missed churner costs 10, a wasted contact 1: contacting down to 0.15 (8 people)
    # costs 4 FP × 1 = 4 with 0 FN; stopping at 0.6 costs 1 FP + 1 FN × 10 = 11
    threshold = threshold_for_cost(Y, P, cost_false_positive=1, cost_false_negative=10)
    assert threshold == pytest.approx(0.15)
    # when contacts are dear, contact only the top customer, a sure churner: cost 3 < 4
    assert threshold_for_cost(Y, P, cost_false_positive=100, cost_false_negative=1) == 0.9
    # ... and nobody when the top customer is not a churner
    flipped = np.array([0, 1, 1, 1, 0, 0, 0, 1, 0, 0])
    assert threshold_for_cost(flipped, P, cost_false_positive=100,
                              cost_false_negative=1) == np.inf


def test_lift_and_cumulative_gain_by_decile():
    table = lift_table(Y, P, groups=5)  # 2 customers per group
    assert table["positives"].tolist() == [1, 2, 0, 1, 0]
    assert table["lift"].iloc[0] == pytest.approx((1 / 2) / 0.4)
    assert table["cumulative_gain"].tolist() == pytest.approx([0.25, 0.75, 0.75, 1.0, 1.0])
    assert table["cumulative_lift"].iloc[1] == pytest.approx(0.75 / 0.4)


def test_calibration_table_groups_equal_counts():
    table = calibration_table(Y, P, bins=2)
    assert table["customers"].tolist() == [5, 5]
    assert table["mean_predicted"].tolist() == pytest.approx([P[5:].mean(), P[:5].mean()])
    assert table["observed_rate"].tolist() == pytest.approx([1 / 5, 3 / 5])
    fraction, mean_predicted = __import__("sklearn.calibration").calibration.calibration_curve(
        Y, P, n_bins=2, strategy="quantile")
    np.testing.assert_allclose(table["observed_rate"], fraction)
    np.testing.assert_allclose(table["mean_predicted"], mean_predicted)


def test_regression_metrics_by_hand_and_sklearn():
    y = np.array([0.0, 10.0, 20.0, 30.0])
    f = np.array([5.0, 5.0, 25.0, 30.0])
    m = regression_metrics(y, f)
    assert m["mae"] == pytest.approx((5 + 5 + 5 + 0) / 4)
    assert m["rmse"] == pytest.approx(np.sqrt((25 + 25 + 25) / 4))
    assert m["r2"] == pytest.approx(skm.r2_score(y, f))
    table = decile_calibration(y, f, groups=2)
    assert table["mean_actual"].tolist() == pytest.approx([25.0, 5.0])
    assert table["mean_predicted"].tolist() == pytest.approx([27.5, 5.0])


def test_segmentation_metrics_match_sklearn():
    rng = np.random.default_rng(0)
    z = np.vstack([rng.normal(0, 1, (50, 2)), rng.normal(8, 1, (50, 2))])
    labels = np.repeat([0, 1], 50)
    truth = np.repeat(["a", "b"], 50)
    m = segmentation_metrics(z, labels, truth=truth)
    assert m["silhouette"] == pytest.approx(skm.silhouette_score(z, labels))
    assert m["adjusted_rand_index"] == pytest.approx(1.0)
    assert m["sizes"] == {"0": 50, "1": 50}


def test_stratified_cross_validation_keeps_the_base_rate_in_every_fold():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"recency_days": rng.exponential(60, 400), "noise": rng.random(400)})
    y = pd.Series(np.where(rng.random(400) < 1 / (1 + np.exp(-(X.recency_days / 30 - 2))),
                           "Yes", "No"), name="churned")
    result = cross_validate(ChurnModel(algorithm="logistic"), X, y, folds=5)
    rates = [fold["base_rate"] for fold in result.folds]
    assert max(rates) - min(rates) < 0.02  # stratified
    assert len(result.folds) == 5
    assert result.metrics["roc_auc"] > 0.75
    assert result.label == {"target": "churned", "positive_class": "Yes"}
    pooled = skm.roc_auc_score((y == "Yes").astype(int), result.predictions["score"])
    assert result.metrics["roc_auc"] == pytest.approx(pooled)


def test_cross_validation_of_a_regressor_and_a_too_rare_class():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"spend_total": rng.gamma(2, 100, 200)})
    result = cross_validate(CLVRegressor(), X, X["spend_total"] * 2 + 1, folds=4)
    assert result.kind == "regression" and result.metrics["r2"] > 0.99
    y = np.zeros(200, dtype=int)
    y[:3] = 1
    with pytest.raises(ModelError, match="fewer than the 5 folds"):
        cross_validate(ChurnModel(), X, pd.Series(y, name="churned"), folds=5)
