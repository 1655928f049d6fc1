"""Gamma-Gamma spend model (Fader, Hardie & Lee 2005, "RFM and CLV: using iso-value curves")."""

from __future__ import annotations

import logging
from typing import Any, ClassVar

import numpy as np
from scipy import special

from patron.errors import ModelError
from patron.models.probabilistic._base import ProbabilisticModel
from patron.models.probabilistic._data import SPEND_COLUMNS, check_finite

logger = logging.getLogger(__name__)


class GammaGammaModel(ProbabilisticModel):
    """Gamma-Gamma: the average value of a customer's repeat transactions.

    Fader, Hardie & Lee (2005), "RFM and CLV: using iso-value curves for customer base
    analysis", Journal of Marketing Research 42(4). Each transaction value is
    Gamma(p, nu), so the mean m of x transactions is Gamma(p x, nu x); across customers
    nu ~ Gamma(q, gamma). For x >= 1 repeat transactions with mean value m (currency):

        f(m | x) = Gamma(p x + q) / (Gamma(p x) Gamma(q))
                   * gamma^q x^(p x) m^(p x - 1) / (gamma + x m)^(p x + q)

    Columns: ``frequency`` (repeat transactions) and ``monetary_value`` (their mean value).
    Rows with frequency 0 carry no spend information and are left out of the fit; spend
    is assumed independent of the purchase process (check the correlation before use).
    """

    _param_names: ClassVar[tuple[str, ...]] = ("p", "q", "v")
    _columns: ClassVar[tuple[str, ...]] = SPEND_COLUMNS

    def _validate(self, arrays: dict[str, np.ndarray], *, for_fit: bool) -> None:
        check_finite(arrays, self._name)
        x, spend = arrays["frequency"], arrays["monetary_value"]
        if (x < 0).any() or (x != np.round(x)).any():
            bad = int(np.count_nonzero((x < 0) | (x != np.round(x))))
            raise ModelError(
                f"{self._name}: column 'frequency' has {bad} negative or non-integer value(s); "
                "it counts repeat transactions"
            )
        bad_spend = (x > 0) & (spend <= 0)
        if bad_spend.any():
            raise ModelError(
                f"{self._name}: column 'monetary_value' has {int(bad_spend.sum())} value(s) <= 0 "
                "among customers with repeat transactions; the model needs positive spend "
                "(drop returns/refunds first)"
            )
        if for_fit:
            repeaters = int(np.count_nonzero(x > 0))
            if repeaters < 2:
                raise ModelError(
                    f"{self._name}: {repeaters} customer(s) with frequency > 0; the spend "
                    "model needs repeat transactions from at least 2 customers"
                )
            if np.unique(spend[x > 0]).size < 2:
                raise ModelError(
                    f"{self._name}: 'monetary_value' is the same for every repeat customer; "
                    "the spread of spend cannot be estimated"
                )

    def _prepare(self, arrays: dict[str, np.ndarray], weights: np.ndarray) -> dict[str, Any]:
        keep = arrays["frequency"] > 0
        if not keep.all():
            logger.info("%s: %d rows with frequency 0 left out of the fit",
                        self._name, int((~keep).sum()))
        x = arrays["frequency"][keep]
        spend = arrays["monetary_value"][keep]
        return {
            "x": x,
            "spend": spend,
            "weights": weights[keep],
            "log_x": np.log(x),
            "log_spend": np.log(spend),
            "total": x * spend,
        }

    def _start(self, arrays: dict[str, np.ndarray], weights: np.ndarray) -> np.ndarray:
        keep = arrays["frequency"] > 0
        mean_spend = float(np.average(arrays["monetary_value"][keep], weights=weights[keep]))
        p, q = 2.0, 3.0
        return np.log([p, q, mean_spend * (q - 1.0) / p])

    def _loglik_grad(self, params: np.ndarray, data: dict[str, Any]) -> tuple[float, np.ndarray]:
        p, q, v = params
        x, w = data["x"], data["weights"]
        px = p * x
        log_denominator = np.log(v + data["total"])
        loglik = w @ (
            special.gammaln(px + q) - special.gammaln(px) - special.gammaln(q) + q * np.log(v)
            + (px - 1.0) * data["log_spend"] + px * data["log_x"] - (px + q) * log_denominator
        )
        psi_pxq = special.digamma(px + q)
        grad = np.array(
            [
                w @ (x * (psi_pxq - special.digamma(px) + data["log_spend"] + data["log_x"]
                          - log_denominator)),
                w @ (psi_pxq - special.digamma(q) + np.log(v) - log_denominator),
                w @ (q / v - (px + q) / (v + data["total"])),
            ]
        )
        return float(loglik), grad

    def conditional_expected_average_spend(self, summary: Any) -> np.ndarray:
        """E[mean transaction value | x, m] (currency): a credibility-weighted average of the
        customer's own mean and the population mean; the population mean when x = 0."""
        p, q, v = self._check_fitted()
        arrays, _ = self._arrays(summary, for_fit=False)
        x, spend = arrays["frequency"], arrays["monetary_value"]
        individual_weight = p * x / (p * x + q - 1.0)
        population_mean = v * p / (q - 1.0)
        return (1.0 - individual_weight) * population_mean + individual_weight * np.where(
            x > 0, spend, 0.0
        )

    def predict(self, X: Any) -> np.ndarray:
        """Alias of :meth:`conditional_expected_average_spend`."""
        return self.conditional_expected_average_spend(X)

    def spend_density(self, spend: Any, x: Any) -> np.ndarray:
        """Model density of a customer's mean transaction value ``spend`` given ``x``
        repeat transactions (per currency unit); spend and x broadcast."""
        p, q, v = self._check_fitted()
        spend = np.asarray(spend, dtype=float)
        x = np.asarray(x, dtype=float)
        px = p * x
        return np.exp(
            special.gammaln(px + q) - special.gammaln(px) - special.gammaln(q) + q * np.log(v)
            + (px - 1.0) * np.log(spend) + px * np.log(x) - (px + q) * np.log(v + x * spend)
        )
