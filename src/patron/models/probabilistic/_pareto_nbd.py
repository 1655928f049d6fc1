"""Pareto/NBD (Schmittlein, Morrison & Colombo 1987), likelihood as in Fader & Hardie (2005)."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from numpy.polynomial.legendre import leggauss
from scipy import special

from patron.models.probabilistic._base import ProbabilisticModel
from patron.models.probabilistic._data import RFM_COLUMNS, broadcast_horizon, check_rfm

#: Gauss-Legendre nodes on [-1, 1] for the dropout integral (see ``_dropout_integral``).
_NODES, _WEIGHTS = leggauss(32)
#: Rows per block, so that the (rows x nodes) work arrays stay in cache-sized pieces (4 MB).
_BLOCK = 16_384


def log_tail_integral(
    t: np.ndarray, p: np.ndarray, q: np.ndarray, alpha: float, beta: float
) -> np.ndarray:
    """log of G(t) = int_t^inf (alpha + u)^-p (beta + u)^-q du, by the hypergeometric form.

    G(t) = (M + t)^-k / k * 2F1(k, e; k + 1; |alpha - beta| / (M + t)) with k = p + q - 1,
    M = max(alpha, beta) and e the exponent of the factor of min(alpha, beta). Euler's
    transformation 2F1(k, e; k + 1; z) = (1 - z)^(1 - e) 2F1(1, k + 1 - e; k + 1; z) leaves a
    series of positive terms bounded by 1 / (1 - z), so nothing overflows and the log is
    taken of a number between 1 and 1 / (1 - z).
    """
    k = p + q - 1.0
    big, small = max(alpha, beta), min(alpha, beta)
    e_small = q if alpha >= beta else p
    z = (big - small) / (big + t)
    log_f = (1.0 - e_small) * np.log1p(-z) + np.log(special.hyp2f1(1.0, k + 1.0 - e_small,
                                                                    k + 1.0, z))
    return -k * np.log(big + t) - np.log(k) + log_f


def _dropout_integral(
    p: np.ndarray, q: float, alpha: float, beta: float, t_x: np.ndarray, age: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """log I and d log I / d(r, alpha, s, beta), I = int_{t_x}^T (alpha+u)^-p (beta+u)^-q du.

    I is the likelihood contribution of dying between the last purchase and T. Its closed
    form needs 2F1 derivatives in its parameters, which no library offers; instead the
    integral and its parameter derivatives (differentiation under the integral sign) are
    computed by the same Gauss-Legendre rule in v = log(min(alpha, beta) + u). In v the
    integrand is analytic in the strip |Im v| < pi, so 32 nodes reach about 1e-12 even on
    long histories; the range is cut where a bound on the integrand's decay falls below
    e^-46, which keeps heavy buyers' sharply decaying integrands resolved.
    """
    small, big = min(alpha, beta), max(alpha, beta)
    gap = big - small
    # Exponents of the factors (small + u) and (big + u).
    e_small, e_big = (p, np.full_like(p, q)) if alpha <= beta else (np.full_like(p, q), p)
    v0 = np.log(small + t_x)
    v1 = np.log(small + age)
    rho = (small + t_x) / (big + t_x)
    rate = e_small - 1.0 + e_big * rho
    safe_rate = np.where(rate > 0, rate, 1.0)
    v_hi = np.where(rate > 0, np.minimum(v1, v0 + 46.0 / safe_rate), v1)
    half = 0.5 * (v_hi - v0)
    empty = half <= 0
    v = v0[:, None] + half[:, None] * (_NODES[None, :] + 1.0)
    # log(small + u) = v exactly; log(big + u) = v + log1p(gap e^-v).
    exp_v = np.exp(v)
    log_big_minus_v = np.log1p(gap / exp_v)
    log_terms = (1.0 - e_small - e_big)[:, None] * v - e_big[:, None] * log_big_minus_v
    # Scale by the integrand at the lower end, which is within e^(|rate| range) of the max.
    log_scale = log_terms[:, 0]
    terms = np.exp(log_terms - log_scale[:, None]) * _WEIGHTS[None, :]
    total = terms.sum(axis=1)
    share = terms / np.where(total > 0, total, 1.0)[:, None]
    log_integral = log_scale + np.log(total) + np.log(np.where(empty, 1.0, half))
    # d log f / d theta at fixed u: -log(alpha+u), -p/(alpha+u), -log(beta+u), -q/(beta+u).
    mean_v = (share * v).sum(axis=1)
    mean_log_big = mean_v + (share * log_big_minus_v).sum(axis=1)
    mean_inv_small = (share / exp_v).sum(axis=1)
    mean_inv_big = (share / (exp_v + gap)).sum(axis=1)
    if alpha <= beta:
        grad = np.stack([-mean_v, -p * mean_inv_small, -mean_log_big, -q * mean_inv_big], axis=1)
    else:
        grad = np.stack([-mean_log_big, -p * mean_inv_big, -mean_v, -q * mean_inv_small], axis=1)
    log_integral = np.where(empty, -np.inf, log_integral)
    grad = np.where(empty[:, None], 0.0, grad)
    return log_integral, grad


class ParetoNBDModel(ProbabilisticModel):
    """Pareto/NBD: Poisson purchasing, exponential lifetime, gamma heterogeneity in both.

    Schmittlein, Morrison & Colombo (1987), "Counting your customers: who are they and what
    will they do next?", Management Science 33(1); likelihood in the form of Fader & Hardie
    (2005), "A note on deriving the Pareto/NBD model and related expressions". Purchase rate
    lambda ~ Gamma(r, alpha), dropout rate mu ~ Gamma(s, beta) (alpha and beta in periods).
    For x repeat purchases, the last at t_x, observed until T:

        L = Gamma(r + x) alpha^r beta^s / Gamma(r)
            * [ (alpha + T)^-(r + x) (beta + T)^-s
                + s int_{t_x}^T (alpha + u)^-(r + x) (beta + u)^-(s + 1) du ]

    The integral equals the note's A_0 term, s / (r + s + x) A_0, written with the Gaussian
    hypergeometric function 2F1; predictions and the reported log-likelihood use that
    closed form, evaluated in log space after Euler's transformation.
    """

    _param_names: ClassVar[tuple[str, ...]] = ("r", "alpha", "s", "beta")
    _columns: ClassVar[tuple[str, ...]] = RFM_COLUMNS

    def _validate(self, arrays: dict[str, np.ndarray], *, for_fit: bool) -> None:
        check_rfm(arrays, self._name, for_fit=for_fit)

    def _start(self, arrays: dict[str, np.ndarray], weights: np.ndarray) -> np.ndarray:
        rate = max(float(weights @ arrays["frequency"]) / float(weights @ arrays["T"]), 1e-6)
        mean_age = float(weights @ arrays["T"]) / float(weights.sum())
        return np.log([1.0, 1.0 / rate, 1.0, mean_age])

    def _loglik_grad(self, params: np.ndarray, data: dict[str, Any]) -> tuple[float, np.ndarray]:
        r, alpha, s, beta = params
        x, t_x, age, w = data["frequency"], data["recency"], data["T"], data["weights"]
        loglik = 0.0
        grad = np.zeros(4)
        for start in range(0, x.size, _BLOCK):
            block = slice(start, start + _BLOCK)
            xb, tb, ab, wb = x[block], t_x[block], age[block], w[block]
            p = r + xb
            log_i, d_log_i = _dropout_integral(p, s + 1.0, alpha, beta, tb, ab)
            log_age_a, log_age_b = np.log(alpha + ab), np.log(beta + ab)
            alive = -p * log_age_a - s * log_age_b
            dead = np.log(s) + log_i
            total = np.logaddexp(alive, dead)
            omega = np.exp(dead - total)
            base = (
                special.gammaln(p) - special.gammaln(r) + r * np.log(alpha) + s * np.log(beta)
            )
            loglik += float(wb @ (base + total))
            grad += np.array(
                [
                    wb @ (special.digamma(p) - special.digamma(r) + np.log(alpha)
                          - (1 - omega) * log_age_a + omega * d_log_i[:, 0]),
                    wb @ (r / alpha - (1 - omega) * p / (alpha + ab) + omega * d_log_i[:, 1]),
                    wb @ (np.log(beta) - (1 - omega) * log_age_b
                          + omega * (1.0 / s + d_log_i[:, 2])),
                    wb @ (s / beta - (1 - omega) * s / (beta + ab) + omega * d_log_i[:, 3]),
                ]
            )
        return loglik, grad

    # closed forms -------------------------------------------------------------------
    @staticmethod
    def _log_terms(
        params: np.ndarray, x: np.ndarray, t_x: np.ndarray, age: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(constant, alive, dead) log terms of the likelihood, by the 2F1 closed form."""
        r, alpha, s, beta = params
        p = r + x
        q = np.full_like(p, s + 1.0)
        log_g_last = log_tail_integral(t_x, p, q, alpha, beta)
        log_g_age = log_tail_integral(age, p, q, alpha, beta)
        with np.errstate(divide="ignore"):
            log_i = log_g_last + np.log(-np.expm1(np.minimum(log_g_age - log_g_last, 0.0)))
        base = special.gammaln(p) - special.gammaln(r) + r * np.log(alpha) + s * np.log(beta)
        alive = -p * np.log(alpha + age) - s * np.log(beta + age)
        return base, alive, np.log(s) + log_i

    def _exact_log_likelihood(
        self, params: np.ndarray, arrays: dict[str, np.ndarray], weights: np.ndarray
    ) -> float:
        base, alive, dead = self._log_terms(
            params, arrays["frequency"], arrays["recency"], arrays["T"]
        )
        return float(weights @ (base + np.logaddexp(alive, dead)))

    def individual_log_likelihood(self, summary: Any) -> np.ndarray:
        """Log-likelihood of each customer's history at the fitted parameters."""
        params = self._check_fitted()
        arrays, _ = self._arrays(summary, for_fit=False)
        base, alive, dead = self._log_terms(
            params, arrays["frequency"], arrays["recency"], arrays["T"]
        )
        return base + np.logaddexp(alive, dead)

    # predictions --------------------------------------------------------------------
    def probability_alive(self, summary: Any) -> np.ndarray:
        """P(customer still alive at T | frequency, recency, T), one value per customer."""
        params = self._check_fitted()
        arrays, _ = self._arrays(summary, for_fit=False)
        _, alive, dead = self._log_terms(
            params, arrays["frequency"], arrays["recency"], arrays["T"]
        )
        return special.expit(alive - dead)

    def conditional_expected_purchases(self, summary: Any, t: Any) -> np.ndarray:
        """Expected purchases in (T, T + t] given the history; t in periods (scalar or 1-D)."""
        r, alpha, s, beta = self._check_fitted()
        arrays, _ = self._arrays(summary, for_fit=False)
        x, age = arrays["frequency"], arrays["T"]
        p_alive = self.probability_alive(summary)
        t, x, age, p_alive = broadcast_horizon(t, x, age, p_alive)
        log_ratio = np.log1p(t / (beta + age))
        survival_integral = _one_minus_power_over(s - 1.0, log_ratio)
        return p_alive * (r + x) / (alpha + age) * (beta + age) * survival_integral

    def predict(self, X: Any, t: Any = 1.0) -> np.ndarray:
        """Alias of :meth:`conditional_expected_purchases` (t in periods)."""
        return self.conditional_expected_purchases(X, t)

    def expected_purchases_new_customer(self, t: Any) -> np.ndarray:
        """E[X(t)]: expected purchases in (0, t] of a customer just acquired (t in periods)."""
        r, alpha, s, beta = self._check_fitted()
        t = np.asarray(t, dtype=float)
        return r * beta / alpha * _one_minus_power_over(s - 1.0, np.log1p(t / beta))


def _one_minus_power_over(k: float, log_ratio: np.ndarray) -> np.ndarray:
    """(1 - exp(-k log_ratio)) / k, with its limit log_ratio at k = 0, without cancellation."""
    if abs(k) < 1e-12:
        return log_ratio
    return -np.expm1(-k * log_ratio) / k
