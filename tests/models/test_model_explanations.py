"""Reason codes and importance: the right drivers, with the right sign, by every method."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from patron.models import (
    ChurnModel,
    CLVRegressor,
    SpendModel,
    contributions,
    permutation_importance_table,
    reason_codes,
    shap_available,
)


def churn_data(n: int = 1500, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Churn driven up by recency, down by frequency; ``noise`` does nothing."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"recency_days": rng.uniform(0, 300, n),
                      "frequency_orders": rng.poisson(5, n).astype(float),
                      "noise": rng.normal(0, 1, n),
                      "region": rng.choice(["EU", "NA"], n)})
    logit = 0.03 * (X["recency_days"] - 150) - 0.6 * (X["frequency_orders"] - 5)
    return X, (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)


def test_linear_contributions_are_coefficient_times_standardised_value():
    X, y = churn_data()
    model = ChurnModel(algorithm="logistic").fit(X, y)
    c = contributions(model, X)
    assert c.attrs["method"] == "linear"
    final = model.pipeline_.named_steps["model"]
    z = (X["recency_days"] - X["recency_days"].mean()) / X["recency_days"].std(ddof=0)
    expected = final.coef_[0][0] * z
    np.testing.assert_allclose(c["recency_days"], expected, rtol=1e-6, atol=1e-9)
    # contributions add up to the log-odds minus the log-odds of the average customer
    logit = final.decision_function(model.transformed(X))
    centre = final.intercept_[0] + final.coef_[0] @ model.transformed_mean_
    np.testing.assert_allclose(c.sum(axis=1), logit - centre, atol=1e-9)


@pytest.mark.parametrize("method", ["linear", "replace", "shap"])
def test_reason_codes_name_the_true_driver_with_its_direction(method):
    if method == "shap" and not shap_available():
        pytest.skip("shap is not installed (pip install 'patron[explain]')")
    X, y = churn_data()
    algorithm = "logistic" if method == "linear" else "gradient_boosting"
    model = ChurnModel(algorithm=algorithm, max_iter=60).fit(X, y)
    at_risk = pd.DataFrame({"recency_days": [290.0], "frequency_orders": [5.0],
                            "noise": [0.0], "region": ["EU"]})
    reasons = reason_codes(model, at_risk, method=method)
    assert reasons.attrs["method"] == method
    assert reasons.loc[0, "reason_1"] == "recency_days=290 (+)"  # long absence raises risk
    loyal = at_risk.assign(recency_days=150.0, frequency_orders=14.0)
    assert reason_codes(model, loyal, method=method).loc[0, "reason_1"].startswith(
        "frequency_orders=14 (-)")


def test_fallback_explains_the_two_part_spend_model():
    rng = np.random.default_rng(1)
    X = pd.DataFrame({"frequency_orders": rng.poisson(4, 800).astype(float),
                      "noise": rng.normal(size=800)})
    spend = np.where(rng.random(800) < X["frequency_orders"] / 10, 30 + 5 * rng.random(800), 0)
    model = SpendModel(algorithm="two_part", max_iter=40).fit(X, spend)
    reasons = reason_codes(model, pd.DataFrame({"frequency_orders": [10.0], "noise": [0.0]}))
    assert reasons.attrs["method"] == "replace"
    assert reasons.loc[0, "reason_1"] == "frequency_orders=10 (+)"


def test_permutation_importance_ranks_drivers_above_noise():
    X, y = churn_data()
    model = ChurnModel(max_iter=60).fit(X.iloc[:1000], y[:1000])
    table = permutation_importance_table(model, X.iloc[1000:], y[1000:], n_repeats=3)
    assert table["feature"].iloc[0] == "recency_days"
    noise = table.set_index("feature").loc["noise", "importance"]
    assert abs(noise) < 0.02
    regression = CLVRegressor().fit(X, X["frequency_orders"] * 10)
    table = permutation_importance_table(regression, X, X["frequency_orders"] * 10)
    assert table["feature"].iloc[0] == "frequency_orders"
