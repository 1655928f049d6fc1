"""Every probabilistic model follows the scikit-learn estimator contract and refuses
degenerate data with a message that names the problem."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from patron.errors import ModelError
from patron.models.probabilistic import (
    BetaGeoBetaBinomModel,
    BetaGeoModel,
    GammaGammaModel,
    ModifiedBetaGeoModel,
    ParetoNBDModel,
    customer_lifetime_value,
    simulate_beta_geo,
    simulate_beta_geo_beta_binom,
    simulate_gamma_gamma,
)

RFM_MODELS = [BetaGeoModel, ModifiedBetaGeoModel, ParetoNBDModel]
ALL_MODELS = [*RFM_MODELS, GammaGammaModel, BetaGeoBetaBinomModel]


def _rfm(n: int = 800, seed: int = 1) -> pd.DataFrame:
    return simulate_beta_geo(n, 0.5, 5.0, 1.0, 3.0, T=40.0, random_state=seed)


def _data_for(model_class: type) -> pd.DataFrame:
    if model_class is GammaGammaModel:
        summary = _rfm()
        summary["monetary_value"] = simulate_gamma_gamma(
            summary["frequency"], 6.0, 4.0, 15.0, random_state=2
        )
        return summary[["frequency", "monetary_value"]]
    if model_class is BetaGeoBetaBinomModel:
        return simulate_beta_geo_beta_binom(2000, 1.2, 0.8, 0.7, 2.8, 6, random_state=3)
    return _rfm()


@pytest.mark.parametrize("model_class", ALL_MODELS)
def test_estimator_contract(model_class: type) -> None:
    model = model_class(penalizer=0.01, n_starts=2)
    assert model.get_params()["penalizer"] == 0.01
    copy = clone(model)
    assert copy.get_params() == model.get_params()
    assert copy.set_params(tol=1e-6) is copy and copy.tol == 1e-6
    with pytest.raises(ModelError, match=f"{model_class.__name__} is not fitted: call fit"):
        model.probability_alive(_data_for(model_class)) if hasattr(
            model, "probability_alive"
        ) else model.predict(_data_for(model_class))

    data = _data_for(model_class)
    assert model.fit(data) is model
    names = list(model.params_.index)
    assert np.all(model.params_ > 0)
    assert list(model.standard_errors_.index) == names
    bounds = model.confidence_intervals_
    assert np.all(bounds["lower"] < model.params_) and np.all(model.params_ < bounds["upper"])
    assert np.isfinite(model.log_likelihood_) and model.bic_ > model.aic_
    assert model.n_customers_ == len(data)
    assert not hasattr(clone(model), "params_")


@pytest.mark.parametrize("model_class", ALL_MODELS)
def test_fit_accepts_a_two_dimensional_array_in_column_order(model_class: type) -> None:
    data = _data_for(model_class)
    from_frame = model_class().fit(data).params_
    from_array = model_class().fit(data.to_numpy()).params_
    np.testing.assert_allclose(from_array, from_frame, rtol=1e-8)


@pytest.mark.parametrize("model_class", RFM_MODELS)
def test_predictions_broadcast_over_customers_and_horizons(model_class: type) -> None:
    summary = _rfm()
    model = model_class().fit(summary)
    horizons = np.array([0.0, 4.0, 13.0, 52.0])
    grid = model.conditional_expected_purchases(summary, horizons)
    assert grid.shape == (len(summary), 4)
    assert np.all(grid[:, 0] == 0) and np.all(np.diff(grid, axis=1) > 0)
    np.testing.assert_allclose(grid[:, 2], model.conditional_expected_purchases(summary, 13.0))
    alive = model.probability_alive(summary)
    assert np.all((alive > 0) & (alive <= 1))
    assert np.all(alive[summary["frequency"].to_numpy() == 0] > 0.2)
    new = model.expected_purchases_new_customer(horizons)
    assert new.shape == (4,) and new[0] == 0 and np.all(np.diff(new) > 0)


def test_clv_converts_months_to_summary_periods_and_discounts() -> None:
    summary = _rfm()
    summary["monetary_value"] = simulate_gamma_gamma(summary["frequency"], 6, 4, 15, random_state=1)
    transactions = BetaGeoModel().fit(summary[["frequency", "recency", "T"]])
    spend = GammaGammaModel().fit(summary[["frequency", "monetary_value"]])
    weekly = customer_lifetime_value(transactions, spend, summary, time_unit="W", discount_rate=0)
    expected = transactions.conditional_expected_purchases(summary, 12 * 365.25 / 12 / 7)
    np.testing.assert_allclose(weekly["expected_purchases"], expected)
    np.testing.assert_allclose(weekly["clv"], expected * weekly["expected_avg_spend"])
    discounted = customer_lifetime_value(
        transactions, spend, summary, time_unit="W", discount_rate=0.05, margin=0.3
    )
    assert np.all(discounted["clv"] < 0.3 * weekly["clv"] + 1e-12)
    with pytest.raises(ModelError, match="time_unit"):
        customer_lifetime_value(transactions, spend, summary, time_unit="fortnight")


DEGENERATE = [
    ("empty", lambda s: s.iloc[:0], "empty"),
    ("no repeat buyers", lambda s: s.assign(frequency=0.0, recency=0.0),
     "no customer has a repeat"),
    ("T zero", lambda s: s.assign(T=np.where(s.index < 3, 0.0, s["T"])), "'T' has 3 value"),
    ("negative frequency", lambda s: s.assign(frequency=-s["frequency"]), "negative"),
    ("recency after T", lambda s: s.assign(recency=s["T"] + 1), "recency > T"),
    ("NaN", lambda s: s.assign(recency=np.where(s.index == 5, np.nan, s["recency"])),
     "'recency' has 1 NaN"),
    ("fractional frequency", lambda s: s.assign(frequency=s["frequency"] + 0.5), "non-integer"),
]


@pytest.mark.parametrize("model_class", RFM_MODELS)
@pytest.mark.parametrize(("case", "corrupt", "message"), DEGENERATE, ids=[d[0] for d in DEGENERATE])
def test_degenerate_summary_is_refused_with_the_reason(model_class, case, corrupt, message) -> None:
    with pytest.raises(ModelError, match=message):
        model_class().fit(corrupt(_rfm()))


def test_gamma_gamma_refuses_non_positive_spend_of_repeat_buyers() -> None:
    data = _data_for(GammaGammaModel).copy()
    data.loc[data["frequency"] > 0, "monetary_value"] = -1.0
    with pytest.raises(ModelError, match=r"'monetary_value' has .* <= 0"):
        GammaGammaModel().fit(data)


def test_bgbb_refuses_more_purchases_than_opportunities() -> None:
    data = _data_for(BetaGeoBetaBinomModel).copy()
    data["frequency"] = data["recency"] + 1
    with pytest.raises(ModelError, match="frequency > recency"):
        BetaGeoBetaBinomModel().fit(data)


def test_unidentified_dropout_is_an_error_not_a_garbage_fit() -> None:
    # Everyone buys at a steady rate and nobody ever drops out: b runs to infinity.
    rng = np.random.default_rng(0)
    x = rng.poisson(5.0, 500).astype(float) + 1
    summary = pd.DataFrame({"frequency": x, "recency": np.full(500, 39.9), "T": np.full(500, 40.0)})
    with pytest.raises(ModelError, match=r"ran off|not identified|did not converge"):
        BetaGeoModel().fit(summary)


def test_penalizer_keeps_thin_data_finite() -> None:
    summary = _rfm(n=60, seed=4)
    model = BetaGeoModel(penalizer=0.05).fit(summary)
    assert np.all(np.isfinite(model.params_)) and np.all(np.isfinite(model.standard_errors_))
