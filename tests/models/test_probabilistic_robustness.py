"""Fits converge on hundreds of simulated data sets and the 95 % intervals cover the truth.

Data sets span few repeat buyers, heavy buyers, short and long histories and 100 to
1,000,000 customers, sized so that the maximum likelihood estimate exists (on thinner data
the fit stops with a ModelError, tested in the contract suite). Every fit must succeed,
and across the suite the true parameters must fall inside the 95 % confidence intervals
at about the nominal rate.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass

import numpy as np
import pytest

from patron.models.probabilistic import (
    BetaGeoModel,
    GammaGammaModel,
    ParetoNBDModel,
    simulate_beta_geo,
    simulate_gamma_gamma,
    simulate_pareto_nbd,
)

pytestmark = pytest.mark.slow

# (name, true parameters, range of customer ages in periods)
BG_SCENARIOS = [
    ("cdnow-like", {"r": 0.24, "alpha": 4.4, "a": 0.79, "b": 2.4}, (27.0, 39.0)),
    ("few repeaters", {"r": 0.12, "alpha": 6.0, "a": 1.2, "b": 1.5}, (20.0, 60.0)),
    ("heavy buyers", {"r": 3.0, "alpha": 2.0, "a": 0.6, "b": 6.0}, (30.0, 52.0)),
    ("short histories", {"r": 0.5, "alpha": 2.0, "a": 1.0, "b": 3.0}, (3.0, 10.0)),
    ("long histories, days", {"r": 0.7, "alpha": 30.0, "a": 0.5, "b": 4.0}, (300.0, 900.0)),
]
PARETO_SCENARIOS = [
    ("cdnow-like", {"r": 0.55, "alpha": 10.6, "s": 0.6, "beta": 11.7}, (27.0, 39.0)),
    ("heavy buyers", {"r": 2.0, "alpha": 1.5, "s": 1.5, "beta": 40.0}, (30.0, 52.0)),
    ("long histories, days", {"r": 0.8, "alpha": 40.0, "s": 1.2, "beta": 200.0}, (300.0, 900.0)),
    ("fast churn", {"r": 1.0, "alpha": 5.0, "s": 2.0, "beta": 5.0}, (20.0, 40.0)),
]
GG_SCENARIOS = [
    ("cdnow-like", {"p": 6.25, "q": 3.74, "v": 15.44}),
    ("skewed spend", {"p": 1.5, "q": 2.5, "v": 40.0}),
    ("stable spend", {"p": 12.0, "q": 5.0, "v": 5.0}),
]


@dataclass
class Outcome:
    family: str
    scenario: str
    n_customers: int
    covered: np.ndarray
    error: str | None = None


def _coverage(model, truth: dict[str, float]) -> np.ndarray:
    bounds = model.confidence_intervals_.loc[list(truth)]
    values = np.array(list(truth.values()))
    return (bounds["lower"].to_numpy() <= values) & (values <= bounds["upper"].to_numpy())


def _fit(family: str, scenario: str, n: int, make_model, data, truth) -> Outcome:
    try:
        model = make_model().fit(data)
    except Exception as error:  # the suite reports every failure, not just the first
        return Outcome(family, scenario, n, np.array([], dtype=bool), repr(error))
    return Outcome(family, scenario, n, _coverage(model, truth))


@pytest.fixture(scope="module")
def outcomes() -> list[Outcome]:
    results: list[Outcome] = []
    seeds = itertools.count(1000)
    for (name, truth, ages), n, _ in itertools.product(
        BG_SCENARIOS, (500, 2000, 5000, 20000), range(5)
    ):
        seed = next(seeds)
        age = np.random.default_rng(seed).uniform(*ages, n)
        data = simulate_beta_geo(n, **truth, T=age, random_state=seed)
        results.append(_fit("bgnbd", name, n, BetaGeoModel, data, truth))
    for (name, truth, ages), n, _ in itertools.product(
        PARETO_SCENARIOS, (500, 2000, 8000), range(5)
    ):
        seed = next(seeds)
        age = np.random.default_rng(seed).uniform(*ages, n)
        data = simulate_pareto_nbd(n, **truth, T=age, random_state=seed)
        results.append(_fit("pareto", name, n, ParetoNBDModel, data, truth))
    for (name, truth), n, _ in itertools.product(GG_SCENARIOS, (500, 2000, 10000), range(10)):
        seed = next(seeds)
        rng = np.random.default_rng(seed)
        frequency = rng.poisson(3.0, n) + 1.0
        spend = simulate_gamma_gamma(frequency, **truth, random_state=seed)
        data = np.column_stack([frequency, spend])
        results.append(_fit("gamma-gamma", name, n, GammaGammaModel, data, truth))
    # Heavy buyers identify the model even with 100 customers.
    name, truth, ages = BG_SCENARIOS[2]
    for _ in range(10):
        seed = next(seeds)
        age = np.random.default_rng(seed).uniform(*ages, 100)
        data = simulate_beta_geo(100, **truth, T=age, random_state=seed)
        results.append(_fit("bgnbd", name, 100, BetaGeoModel, data, truth))
    # One data set of a million customers.
    truth = BG_SCENARIOS[0][1]
    age = np.random.default_rng(7).uniform(27.0, 39.0, 1_000_000)
    data = simulate_beta_geo(1_000_000, **truth, T=age, random_state=7)
    started = time.perf_counter()
    results.append(_fit("bgnbd", "cdnow-like", 1_000_000, BetaGeoModel, data, truth))
    results[-1].scenario += f" ({time.perf_counter() - started:.1f} s)"
    return results


def test_suite_has_at_least_200_data_sets(outcomes: list[Outcome]) -> None:
    assert len(outcomes) >= 200


def test_every_fit_converges(outcomes: list[Outcome]) -> None:
    failures = [f"{o.family}/{o.scenario}/n={o.n_customers}: {o.error}" for o in outcomes
                if o.error]
    assert not failures, "\n".join(failures)


def test_confidence_intervals_cover_true_parameters_at_about_95_percent(
    outcomes: list[Outcome],
) -> None:
    covered = np.concatenate([o.covered for o in outcomes])
    rate = covered.mean()
    by_family = {
        family: np.concatenate([o.covered for o in outcomes if o.family == family]).mean()
        for family in ("bgnbd", "pareto", "gamma-gamma")
    }
    assert 0.85 <= rate <= 0.99, by_family
    for family, family_rate in by_family.items():
        assert 0.8 <= family_rate <= 1.0, (family, by_family)
