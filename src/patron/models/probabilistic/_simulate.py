"""Simulate customer summaries from the buy-till-you-die models with known parameters.

Useful to check a fit (are the true parameters inside the confidence intervals?), to size
data collection (how many customers identify the dropout process?) and to test code.
All times are in periods; ``T`` is the customers' age at the end of observation (scalar or
one value per customer).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd


def _ages(n_customers: int, T: Any) -> np.ndarray:
    return np.broadcast_to(np.asarray(T, dtype=float), (n_customers,)).copy()


def _last_purchase(
    rng: np.random.Generator, x: np.ndarray, n_arrivals: np.ndarray, span: np.ndarray
) -> np.ndarray:
    """Time of the x-th of n Poisson arrivals in (0, span]: the x-th order statistic of n
    uniforms, span * Beta(x, n - x + 1); 0 when x = 0."""
    has = x > 0
    recency = np.zeros(x.size)
    recency[has] = span[has] * rng.beta(x[has], n_arrivals[has] - x[has] + 1)
    return recency


def simulate_beta_geo(
    n_customers: int, r: float, alpha: float, a: float, b: float, T: Any,
    *, modified: bool = False, random_state: int | np.random.Generator | None = None,
) -> pd.DataFrame:
    """BG/NBD (or MBG/NBD with ``modified=True``) summaries: frequency, recency, T."""
    rng = np.random.default_rng(random_state)
    age = _ages(n_customers, T)
    rate = rng.gamma(r, 1.0 / alpha, n_customers)
    dropout = rng.beta(a, b, n_customers)
    # Purchases made before dropping out (the coin is tossed after each purchase, and in
    # MBG/NBD also at time 0).
    lifetime_purchases = rng.geometric(np.clip(dropout, 1e-300, 1.0)) - int(modified)
    arrivals = rng.poisson(rate * age)
    x = np.minimum(lifetime_purchases, arrivals)
    recency = _last_purchase(rng, x, arrivals, age)
    return pd.DataFrame({"frequency": x.astype(float), "recency": recency, "T": age})


def simulate_pareto_nbd(
    n_customers: int, r: float, alpha: float, s: float, beta: float, T: Any,
    *, random_state: int | np.random.Generator | None = None,
) -> pd.DataFrame:
    """Pareto/NBD summaries: frequency, recency, T."""
    rng = np.random.default_rng(random_state)
    age = _ages(n_customers, T)
    rate = rng.gamma(r, 1.0 / alpha, n_customers)
    death_rate = rng.gamma(s, 1.0 / beta, n_customers)
    alive_span = np.minimum(rng.exponential(1.0 / death_rate), age)
    x = rng.poisson(rate * alive_span)
    recency = _last_purchase(rng, x, x, alive_span)
    return pd.DataFrame({"frequency": x.astype(float), "recency": recency, "T": age})


def simulate_gamma_gamma(
    frequency: Any, p: float, q: float, v: float,
    *, random_state: int | np.random.Generator | None = None,
) -> np.ndarray:
    """Mean transaction value (currency) of customers with the given repeat frequencies;
    0 for customers without repeat transactions."""
    rng = np.random.default_rng(random_state)
    x = np.asarray(frequency, dtype=float)
    nu = rng.gamma(q, 1.0 / v, x.size)
    spend = np.zeros(x.size)
    has = x > 0
    spend[has] = rng.gamma(p * x[has], 1.0 / (nu[has] * x[has]))
    return spend


def simulate_beta_geo_beta_binom(
    n_customers: int, alpha: float, beta: float, gamma: float, delta: float, n_periods: int,
    *, random_state: int | np.random.Generator | None = None,
) -> pd.DataFrame:
    """BG/BB summaries over ``n_periods`` opportunities: frequency, recency, n_periods."""
    rng = np.random.default_rng(random_state)
    buy = rng.beta(alpha, beta, n_customers)
    die = rng.beta(gamma, delta, n_customers)
    alive = np.ones(n_customers, dtype=bool)
    x = np.zeros(n_customers)
    recency = np.zeros(n_customers)
    for period in range(1, n_periods + 1):
        alive &= rng.random(n_customers) >= die
        bought = alive & (rng.random(n_customers) < buy)
        x += bought
        recency[bought] = period
    return pd.DataFrame(
        {"frequency": x, "recency": recency, "n_periods": np.full(n_customers, float(n_periods))}
    )
