"""BG/NBD (Fader, Hardie & Lee 2005) and MBG/NBD (Batislam, Denizel & Filiztekin 2007)."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from scipy import special, stats

from patron.models.probabilistic._base import ProbabilisticModel
from patron.models.probabilistic._data import RFM_COLUMNS, broadcast_horizon, check_rfm


def _group_by_frequency(x: np.ndarray, weights: np.ndarray) -> dict[str, np.ndarray]:
    """Distinct frequencies and their weighted counts: the gamma-function terms depend on
    the customer only through x, so they are evaluated once per distinct x."""
    distinct, inverse = np.unique(x, return_inverse=True)
    return {
        "x_distinct": distinct,
        "x_inverse": inverse,
        "x_counts": np.bincount(inverse, weights=weights, minlength=distinct.size),
    }


class _BetaGeoFamily(ProbabilisticModel):
    """Shared code of BG/NBD (``_shift = 0``) and MBG/NBD (``_shift = 1``)."""

    _param_names: ClassVar[tuple[str, ...]] = ("r", "alpha", "a", "b")
    _columns: ClassVar[tuple[str, ...]] = RFM_COLUMNS
    _shift: ClassVar[int] = 0

    def _validate(self, arrays: dict[str, np.ndarray], *, for_fit: bool) -> None:
        check_rfm(arrays, self._name, for_fit=for_fit)

    def _prepare(self, arrays: dict[str, np.ndarray], weights: np.ndarray) -> dict[str, Any]:
        return {**arrays, "weights": weights, **_group_by_frequency(arrays["frequency"], weights)}

    def _start(self, arrays: dict[str, np.ndarray], weights: np.ndarray) -> np.ndarray:
        # Purchase rate ~ repeat purchases per period of observed age; r = 1 start.
        rate = max(float(weights @ arrays["frequency"]) / float(weights @ arrays["T"]), 1e-6)
        return np.log([1.0, 1.0 / rate, 1.0, 3.0])

    def _loglik_grad(self, params: np.ndarray, data: dict[str, Any]) -> tuple[float, np.ndarray]:
        r, alpha, a, b = params
        shift = self._shift
        ux, inv, cx = data["x_distinct"], data["x_inverse"], data["x_counts"]
        x, t_x, age, w = data["frequency"], data["recency"], data["T"], data["weights"]

        # Terms that depend on the customer through x only.
        bx = b + ux + shift
        per_x = (
            special.gammaln(r + ux) - special.gammaln(r) + r * np.log(alpha)
            + special.gammaln(a + b) + special.gammaln(bx)
            - special.gammaln(b) - special.gammaln(a + bx)
        )
        active_u = (ux > 0) | (shift == 1)
        dropout_base = np.where(active_u, bx - 1.0, 1.0)
        log_dead_const = np.where(active_u, np.log(a) - np.log(dropout_base), -np.inf)[inv]

        # log L = per_x + logaddexp(alive, dead); written out to share the exponential.
        p = r + x
        log_age = np.log(alpha + age)
        log_last = np.log(alpha + t_x)
        alive = -p * log_age
        dead = log_dead_const - p * log_last
        gap = dead - alive
        small = np.exp(-np.abs(gap))
        total = np.maximum(alive, dead) + np.log1p(small)
        share_dead = np.where(gap > 0, 1.0, small) / (1.0 + small)
        w_dead = w * share_dead
        w_alive = w - w_dead

        loglik = float(cx @ per_x + w @ total)
        psi_ab = special.digamma(a + b)
        psi_abx = special.digamma(a + bx)
        dead_by_x = np.bincount(inv, weights=w_dead, minlength=ux.size)
        grad = np.array(
            [
                cx @ (special.digamma(r + ux) - special.digamma(r) + np.log(alpha))
                - (w_alive @ log_age + w_dead @ log_last),
                float(cx.sum()) * r / alpha
                - (w_alive * p) @ (1.0 / (alpha + age)) - (w_dead * p) @ (1.0 / (alpha + t_x)),
                cx @ (psi_ab - psi_abx) + dead_by_x.sum() / a,
                cx @ (psi_ab + special.digamma(bx) - special.digamma(b) - psi_abx)
                - dead_by_x @ np.where(active_u, 1.0 / dropout_base, 0.0),
            ]
        )
        return loglik, grad

    # predictions --------------------------------------------------------------------
    def _rfm(self, summary: Any) -> tuple[np.ndarray, ...]:
        params = self._check_fitted()
        arrays, _ = self._arrays(summary, for_fit=False)
        return params, arrays["frequency"], arrays["recency"], arrays["T"]

    def _log_odds_dead(self, params: np.ndarray, x: np.ndarray, t_x: np.ndarray,
                       age: np.ndarray) -> np.ndarray:
        r, alpha, a, b = params
        log_odds = (
            np.log(a) - np.log(np.where(x + self._shift > 0, b + x - 1.0 + self._shift, 1.0))
            + (r + x) * (np.log(alpha + age) - np.log(alpha + t_x))
        )
        return np.where((x > 0) | (self._shift == 1), log_odds, -np.inf)

    def probability_alive(self, summary: Any) -> np.ndarray:
        """P(customer still alive at T | frequency, recency, T), one value per customer."""
        params, x, t_x, age = self._rfm(summary)
        return special.expit(-self._log_odds_dead(params, x, t_x, age))

    def conditional_expected_purchases(self, summary: Any, t: Any) -> np.ndarray:
        """Expected purchases in (T, T + t] given the history; t in periods.

        A scalar t gives one value per customer, a 1-D array of h horizons gives an
        (n customers, h) matrix.
        """
        params, x, t_x, age = self._rfm(summary)
        r, alpha, a, b = params
        p_alive = special.expit(-self._log_odds_dead(params, x, t_x, age))
        t, x, age, p_alive = broadcast_horizon(t, x, age, p_alive)
        c = a + b + x - 1.0 + self._shift
        z = t / (alpha + age + t)
        # Euler's transformation of (1-z)^(r+x) 2F1(r+x, b+x+shift; c; z), finite for z -> 1.
        tail = (1.0 - z) ** (a - 1.0) * special.hyp2f1(c - r - x, a - 1.0, c, z)
        return (c / (a - 1.0)) * (1.0 - tail) * p_alive

    def predict(self, X: Any, t: Any = 1.0) -> np.ndarray:
        """Alias of :meth:`conditional_expected_purchases` (t in periods)."""
        return self.conditional_expected_purchases(X, t)

    def expected_purchases_new_customer(self, t: Any) -> np.ndarray:
        """E[X(t)]: expected repeat purchases in (0, t] of a customer just acquired."""
        r, alpha, a, b = self._check_fitted()
        t = np.asarray(t, dtype=float)
        c = a + b - 1.0 + self._shift
        z = t / (alpha + t)
        tail = (1.0 - z) ** (a - 1.0) * special.hyp2f1(c - r, a - 1.0, c, z)
        # (a + b - 1) / (a - 1) for BG/NBD, b / (a - 1) for MBG/NBD.
        return (c - self._shift * a) / (a - 1.0) * (1.0 - tail)

    def probability_of_purchases(self, x: Any, t: Any) -> np.ndarray:
        """P(X(t) = x): probability that a new customer makes exactly x purchases in (0, t].

        x and t broadcast (numpy rules); t in periods.
        """
        r, alpha, a, b = self._check_fitted()
        x = np.asarray(x, dtype=float)
        t = np.asarray(t, dtype=float)
        prob_zero = alpha / (alpha + t)
        log_nb_pmf = stats.nbinom.logpmf(x, r, prob_zero)
        at_least = stats.nbinom.sf(x - 1.0, r, prob_zero)
        shift = self._shift
        alive = np.exp(special.betaln(a, b + x + shift) - special.betaln(a, b) + log_nb_pmf)
        died = np.exp(special.betaln(a + 1.0, b + x - 1.0 + shift) - special.betaln(a, b))
        return alive + np.where((x > 0) | (shift == 1), died * at_least, 0.0)


class BetaGeoModel(_BetaGeoFamily):
    """BG/NBD: Pareto/NBD purchasing with dropout right after a purchase.

    Fader, Hardie & Lee (2005), "Counting your customers the easy way: an alternative to
    the Pareto/NBD model", Marketing Science 24(2). While alive a customer buys as a
    Poisson process with rate lambda ~ Gamma(r, alpha); after each repeat purchase the
    customer drops out with probability p ~ Beta(a, b). For x repeat purchases, the last at
    t_x, observed until T (all in periods):

        L = B(a, b + x) / B(a, b) * Gamma(r + x) alpha^r / Gamma(r)
            * [ (alpha + T)^-(r + x) + 1{x > 0} a / (b + x - 1) (alpha + t_x)^-(r + x) ]

    Parameters: r (shape), alpha (periods), a and b (dropout Beta).
    """


class ModifiedBetaGeoModel(_BetaGeoFamily):
    """MBG/NBD: BG/NBD where a customer can also drop out right after the first purchase.

    Batislam, Denizel & Filiztekin (2007), "Empirical validation and comparison of models
    for customer base analysis", International Journal of Research in Marketing 24(3).
    Same processes as BG/NBD, but the dropout coin is also tossed at time 0, so customers
    without repeat purchases can be dead:

        L = B(a, b + x + 1) / B(a, b) * Gamma(r + x) alpha^r / Gamma(r)
            * [ (alpha + T)^-(r + x) + a / (b + x) (alpha + t_x)^-(r + x) ]
    """

    _shift: ClassVar[int] = 1
