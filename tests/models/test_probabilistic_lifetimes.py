"""Predictions agree with the lifetimes formulas at the same parameters (test-only reference)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

lifetimes = pytest.importorskip("lifetimes")

from patron.models.probabilistic import (  # noqa: E402
    BetaGeoBetaBinomModel,
    BetaGeoModel,
    GammaGammaModel,
    ModifiedBetaGeoModel,
    ParetoNBDModel,
    customer_lifetime_value,
)

RTOL = 1e-6


@pytest.fixture(autouse=True)
def _quiet() -> None:
    warnings.simplefilter("ignore")


def _summary(n: int = 400, seed: int = 5) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    age = rng.uniform(5.0, 80.0, n)
    x = rng.poisson(rng.gamma(0.6, 3.0, n)).astype(float)
    recency = np.where(x > 0, age * rng.uniform(0.05, 1.0, n), 0.0)
    spend = np.where(x > 0, rng.gamma(4.0, 10.0, n), 0.0)
    return pd.DataFrame({"frequency": x, "recency": recency, "T": age, "monetary_value": spend})


def _with_params(model: object, params: dict[str, float]) -> object:
    model.params_ = pd.Series(params)  # type: ignore[attr-defined]
    return model


BG = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
MBG = {"r": 0.525, "alpha": 6.183, "a": 0.891, "b": 1.614}
PARETO = {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.67}
GG = {"p": 6.25, "q": 3.74, "v": 15.44}


@pytest.mark.parametrize(
    ("ours", "theirs", "params"),
    [
        (BetaGeoModel, lifetimes.BetaGeoFitter, BG),
        (ModifiedBetaGeoModel, lifetimes.ModifiedBetaGeoFitter, MBG),
        (ParetoNBDModel, lifetimes.ParetoNBDFitter, PARETO),
    ],
)
def test_transaction_predictions_match_lifetimes(ours, theirs, params) -> None:
    summary = _summary()
    model = _with_params(ours(), params)
    reference = _with_params(theirs(), params)
    x, t_x, age = summary["frequency"], summary["recency"], summary["T"]

    np.testing.assert_allclose(
        model.probability_alive(summary),
        reference.conditional_probability_alive(x, t_x, age),
        rtol=RTOL,
    )
    horizons = np.array([1.0, 10.0, 39.0, 150.0])
    ours_expected = model.conditional_expected_purchases(summary, horizons)
    assert ours_expected.shape == (len(summary), horizons.size)
    for j, t in enumerate(horizons):
        np.testing.assert_allclose(
            ours_expected[:, j],
            reference.conditional_expected_number_of_purchases_up_to_time(t, x, t_x, age),
            rtol=RTOL,
        )
    np.testing.assert_allclose(
        model.expected_purchases_new_customer(horizons),
        [reference.expected_number_of_purchases_up_to_time(t) for t in horizons],
        rtol=RTOL,
    )


def test_bgnbd_purchase_count_distribution_matches_lifetimes() -> None:
    model = _with_params(BetaGeoModel(), BG)
    reference = _with_params(lifetimes.BetaGeoFitter(), BG)
    for t in (5.0, 39.0, 78.0):
        for n in range(6):
            assert model.probability_of_purchases(n, t) == pytest.approx(
                reference.probability_of_n_purchases_up_to_time(t, n), rel=RTOL
            )


@pytest.mark.parametrize(("ours", "params"), [(BetaGeoModel, BG), (ModifiedBetaGeoModel, MBG)])
def test_purchase_count_distribution_sums_to_one_with_the_right_mean(ours, params) -> None:
    model = _with_params(ours(), params)
    counts = np.arange(400)
    pmf = model.probability_of_purchases(counts, 39.0)
    assert pmf.sum() == pytest.approx(1.0, abs=1e-9)
    assert counts @ pmf == pytest.approx(model.expected_purchases_new_customer(39.0), rel=1e-7)


def test_pareto_log_likelihood_matches_lifetimes_per_customer() -> None:
    summary = _summary()
    model = _with_params(ParetoNBDModel(), PARETO)
    reference = lifetimes.ParetoNBDFitter._conditional_log_likelihood(
        tuple(PARETO.values()), summary["frequency"], summary["recency"], summary["T"]
    )
    np.testing.assert_allclose(model.individual_log_likelihood(summary), reference, rtol=1e-9)


def test_pareto_quadrature_likelihood_matches_closed_form() -> None:
    summary = _summary(n=300, seed=9)
    model = ParetoNBDModel()
    arrays = {c: summary[c].to_numpy() for c in ("frequency", "recency", "T")}
    weights = np.ones(len(summary))
    for params in ([0.553, 10.578, 0.606, 11.67], [2.0, 0.5, 3.0, 200.0], [0.1, 80, 0.2, 0.3]):
        quadrature, _ = model._loglik_grad(np.array(params), model._prepare(arrays, weights))
        exact = model._exact_log_likelihood(np.array(params), arrays, weights)
        assert quadrature == pytest.approx(exact, rel=1e-10)


def test_gamma_gamma_and_clv_match_lifetimes() -> None:
    summary = _summary()
    spend = _with_params(GammaGammaModel(), GG)
    reference = _with_params(lifetimes.GammaGammaFitter(), GG)
    np.testing.assert_allclose(
        spend.conditional_expected_average_spend(summary),
        reference.conditional_expected_average_profit(
            summary["frequency"], summary["monetary_value"]
        ),
        rtol=RTOL,
    )
    transactions = _with_params(BetaGeoModel(), BG)
    ours = customer_lifetime_value(
        transactions, spend, summary, horizon_months=6, discount_rate=0.02, periods_per_month=30
    )
    reference_transactions = _with_params(lifetimes.BetaGeoFitter(), BG)
    # lifetimes binds ``predict`` in ``fit``; bind it here since we set params_ directly.
    reference_transactions.predict = (
        reference_transactions.conditional_expected_number_of_purchases_up_to_time
    )
    theirs = reference.customer_lifetime_value(
        reference_transactions,
        summary["frequency"], summary["recency"], summary["T"], summary["monetary_value"],
        time=6, discount_rate=0.02, freq="D",
    )
    np.testing.assert_allclose(ours["clv"], theirs, rtol=RTOL)
    assert list(ours.columns) == ["expected_purchases", "p_alive", "expected_avg_spend", "clv"]
    assert ours.index.equals(summary.index)


def test_bgbb_predictions_match_lifetimes() -> None:
    params = {"alpha": 1.204, "beta": 0.750, "gamma": 0.657, "delta": 2.783}
    model = _with_params(BetaGeoBetaBinomModel(), params)
    reference = _with_params(lifetimes.BetaGeoBetaBinomFitter(), params)
    rng = np.random.default_rng(3)
    n = np.full(50, 6.0)
    recency = rng.integers(0, 7, 50).astype(float)
    x = np.where(recency > 0, np.minimum(rng.integers(1, 7, 50), recency), 0.0)
    summary = pd.DataFrame({"frequency": x, "recency": recency, "n_periods": n})
    for m in (1, 5, 10):
        np.testing.assert_allclose(
            model.conditional_expected_purchases(summary, m),
            reference.conditional_expected_number_of_purchases_up_to_time(m, x, recency, n),
            rtol=RTOL,
        )
        np.testing.assert_allclose(
            model.probability_alive(summary, m),
            reference.conditional_probability_alive(m, x, recency, n),
            rtol=RTOL,
        )
    pmf = model.probability_of_purchases(np.arange(7), 6)
    assert pmf.sum() == pytest.approx(1.0, abs=1e-12)
    assert np.arange(7) @ pmf == pytest.approx(model.expected_purchases_new_customer(6))
