"""BG/BB for discrete transaction opportunities (Fader, Hardie & Shang 2010)."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from scipy import special

from patron.errors import ModelError
from patron.models.probabilistic._base import ProbabilisticModel
from patron.models.probabilistic._data import DISCRETE_COLUMNS, check_finite


def _dbetaln(a: Any, b: Any) -> tuple[Any, Any]:
    """Partial derivatives of log B(a, b)."""
    psi_ab = special.digamma(a + b)
    return special.digamma(a) - psi_ab, special.digamma(b) - psi_ab


class BetaGeoBetaBinomModel(ProbabilisticModel):
    """BG/BB: Bernoulli purchasing and Bernoulli dropout at discrete opportunities.

    Fader, Hardie & Shang (2010), "Customer-base analysis in a discrete-time noncontractual
    setting", Marketing Science 29(6). At each of n opportunities an alive customer buys
    with probability p ~ Beta(alpha, beta) and then dies with probability
    theta ~ Beta(gamma, delta). For x purchases, the last at opportunity t_x:

        L = B(alpha + x, beta + n - x) / B(alpha, beta) * B(gamma, delta + n) / B(gamma, delta)
            + sum_{i=0}^{n - t_x - 1} B(alpha + x, beta + t_x - x + i) / B(alpha, beta)
                                      * B(gamma + 1, delta + t_x + i) / B(gamma, delta)

    Columns ``frequency, recency, n_periods`` (counts of opportunities); ``weights`` in
    ``fit`` count the customers sharing a row, as in the paper's donation data.
    """

    _param_names: ClassVar[tuple[str, ...]] = ("alpha", "beta", "gamma", "delta")
    _columns: ClassVar[tuple[str, ...]] = DISCRETE_COLUMNS

    def _validate(self, arrays: dict[str, np.ndarray], *, for_fit: bool) -> None:
        check_finite(arrays, self._name)
        x, t_x, n = arrays["frequency"], arrays["recency"], arrays["n_periods"]
        for name, values in arrays.items():
            bad = (values < 0) | (values != np.round(values))
            if bad.any():
                raise ModelError(
                    f"{self._name}: column {name!r} has {int(bad.sum())} negative or "
                    "non-integer value(s); it counts transaction opportunities"
                )
        checks = [
            (n <= 0, "n_periods <= 0; every customer needs at least one opportunity"),
            (x > t_x, "frequency > recency; x purchases need at least x opportunities"),
            (t_x > n, "recency > n_periods"),
            ((x == 0) & (t_x > 0), "frequency 0 but recency > 0"),
        ]
        for mask, why in checks:
            if mask.any():
                raise ModelError(f"{self._name}: {int(mask.sum())} row(s) have {why}")
        if for_fit and not (x > 0).any():
            raise ModelError(f"{self._name}: no customer has a purchase (frequency is 0 in "
                             f"all {x.size} rows); the model cannot be estimated")

    def _start(self, arrays: dict[str, np.ndarray], weights: np.ndarray) -> np.ndarray:
        return np.zeros(4)

    def _terms(
        self, params: np.ndarray, x: np.ndarray, t_x: np.ndarray, n: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Log of each likelihood term, shape (rows, 1 + max(n - t_x)), and its gradient
        (rows, terms, 4); unused cells hold -inf."""
        alpha, beta, gamma, delta = params
        width = int((n - t_x).max()) if n.size else 0
        i = np.arange(width)[None, :]
        used = i < (n - t_x)[:, None]
        b_i = beta + (t_x - x)[:, None] + i
        d_i = delta + t_x[:, None] + i
        xa = (alpha + x)[:, None]
        log_norm = special.betaln(alpha, beta) + special.betaln(gamma, delta)
        first = special.betaln(alpha + x, beta + n - x) + special.betaln(gamma, delta + n)
        rest = special.betaln(xa, b_i) + special.betaln(gamma + 1.0, d_i)
        log_terms = np.concatenate([first[:, None], np.where(used, rest, -np.inf)], axis=1)
        log_terms = log_terms - log_norm

        da0, db0 = _dbetaln(alpha, beta)
        dg0, dd0 = _dbetaln(gamma, delta)
        g_first = np.stack([*_dbetaln(alpha + x, beta + n - x),
                            *_dbetaln(gamma, delta + n)], axis=-1)
        da, db = _dbetaln(xa, b_i)
        dg, dd = _dbetaln(gamma + 1.0, d_i)
        g_rest = np.stack([da, db, dg, dd], axis=-1)
        grads = np.concatenate([g_first[:, None, :], g_rest], axis=1)
        grads = grads - np.array([da0, db0, dg0, dd0])
        return log_terms, grads

    def _loglik_grad(self, params: np.ndarray, data: dict[str, Any]) -> tuple[float, np.ndarray]:
        log_terms, grads = self._terms(
            params, data["frequency"], data["recency"], data["n_periods"]
        )
        loglik = special.logsumexp(log_terms, axis=1)
        share = np.exp(log_terms - loglik[:, None])
        grad = np.einsum("r,rt,rtk->k", data["weights"], share, np.nan_to_num(grads))
        return float(data["weights"] @ loglik), grad

    def _discrete(self, summary: Any) -> tuple[np.ndarray, ...]:
        params = self._check_fitted()
        arrays, _ = self._arrays(summary, for_fit=False)
        x, t_x, n = arrays["frequency"], arrays["recency"], arrays["n_periods"]
        loglik = special.logsumexp(self._terms(params, x, t_x, n)[0], axis=1)
        return params, x, n, loglik

    def probability_alive(self, summary: Any, t: Any = 0) -> np.ndarray:
        """P(alive at opportunity n + t | x, t_x, n); t in opportunities (scalar or 1-D)."""
        params, x, n, loglik = self._discrete(summary)
        alpha, beta, gamma, delta = params
        t = np.asarray(t, dtype=float)
        if t.ndim == 1:
            x, n, loglik, t = x[:, None], n[:, None], loglik[:, None], t[None, :]
        return np.exp(
            special.betaln(alpha + x, beta + n - x) - special.betaln(alpha, beta)
            + special.betaln(gamma, delta + n + t) - special.betaln(gamma, delta) - loglik
        )

    def conditional_expected_purchases(self, summary: Any, t: Any) -> np.ndarray:
        """Expected purchases in the next t opportunities given (x, t_x, n) (eq. 13)."""
        params, x, n, loglik = self._discrete(summary)
        alpha, beta, gamma, delta = params
        t = np.asarray(t, dtype=float)
        if t.ndim == 1:
            x, n, loglik, t = x[:, None], n[:, None], loglik[:, None], t[None, :]
        lead = np.exp(
            special.betaln(alpha + x + 1.0, beta + n - x) - special.betaln(alpha, beta) - loglik
        ) * (delta / (gamma - 1.0))
        ratio_now = np.exp(special.gammaln(1.0 + delta + n) - special.gammaln(gamma + delta + n))
        ratio_later = np.exp(special.gammaln(1.0 + delta + n + t)
                             - special.gammaln(gamma + delta + n + t))
        scale = np.exp(special.gammaln(gamma + delta) - special.gammaln(1.0 + delta))
        return lead * scale * (ratio_now - ratio_later)

    def predict(self, X: Any, t: Any = 1) -> np.ndarray:
        """Alias of :meth:`conditional_expected_purchases` (t in opportunities)."""
        return self.conditional_expected_purchases(X, t)

    def expected_purchases_new_customer(self, n: Any) -> np.ndarray:
        """E[X(n)]: expected purchases of a new customer in the first n opportunities (eq. 8)."""
        alpha, beta, gamma, delta = self._check_fitted()
        n = np.asarray(n, dtype=float)
        decay = np.exp(special.gammaln(gamma + delta) - special.gammaln(gamma + delta + n)
                       + special.gammaln(1.0 + delta + n) - special.gammaln(1.0 + delta))
        return alpha / (alpha + beta) * delta / (gamma - 1.0) * (1.0 - decay)

    def probability_of_purchases(self, x: Any, n: int) -> np.ndarray:
        """P(X(n) = x): a new customer makes exactly x purchases in n opportunities (eq. 7)."""
        alpha, beta, gamma, delta = self._check_fitted()
        x = np.atleast_1d(np.asarray(x, dtype=float))
        norm = special.betaln(alpha, beta) + special.betaln(gamma, delta)
        log_choose = special.gammaln(n + 1.0) - special.gammaln(x + 1.0) - special.gammaln(
            n - x + 1.0)
        first = np.exp(log_choose + special.betaln(alpha + x, beta + n - x)
                       + special.betaln(gamma, delta + n) - norm)
        i = np.arange(n)[None, :]
        xs = x[:, None]
        with np.errstate(invalid="ignore"):
            log_rest = (
                special.gammaln(i + 1.0) - special.gammaln(xs + 1.0) - special.gammaln(i - xs + 1.0)
                + special.betaln(alpha + xs, beta + i - xs)
                + special.betaln(gamma + 1.0, delta + i) - norm
            )
        rest = np.where(i >= xs, np.exp(log_rest), 0.0).sum(axis=1)
        return first + rest
