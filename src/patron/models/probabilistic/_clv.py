"""Customer lifetime value as a discounted cash flow of model-predicted purchases."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pandas as pd

from patron.errors import ModelError

TimeUnit = Literal["H", "D", "W", "M"]

#: Periods of each summary time unit in one month (a month is 365.25 / 12 days).
PERIODS_PER_MONTH: dict[str, float] = {
    "H": 365.25 * 24 / 12,
    "D": 365.25 / 12,
    "W": 365.25 / 12 / 7,
    "M": 1.0,
}


def customer_lifetime_value(
    transaction_model: Any,
    spend_model: Any,
    summary: pd.DataFrame,
    *,
    horizon_months: int = 12,
    discount_rate: float = 0.01,
    margin: float = 1.0,
    time_unit: TimeUnit = "D",
    periods_per_month: float | None = None,
) -> pd.DataFrame:
    """Expected discounted margin of each customer over the next ``horizon_months`` months.

    CLV = margin * E[average spend] * sum_m E[purchases in month m] / (1 + discount_rate)^m,
    m = 1 .. horizon_months. Purchases come from a fitted transaction model (BG/NBD,
    MBG/NBD or Pareto/NBD), average spend from a fitted Gamma-Gamma model.

    ``summary`` holds ``frequency, recency, T`` in ``time_unit`` periods ("H" hours, "D"
    days, "W" weeks, "M" months) and ``monetary_value`` (currency per transaction);
    ``periods_per_month`` overrides the conversion (30 for a 30-day month).
    ``discount_rate`` is per month, ``margin`` the share of revenue kept. The result is
    indexed like ``summary``: expected_purchases (undiscounted, over the horizon),
    p_alive (now), expected_avg_spend (currency) and clv (currency).
    """
    if not isinstance(summary, pd.DataFrame):
        raise ModelError("customer_lifetime_value: summary must be a DataFrame with columns "
                         "frequency, recency, T, monetary_value")
    if periods_per_month is None:
        if time_unit not in PERIODS_PER_MONTH:
            raise ModelError(f"customer_lifetime_value: time_unit {time_unit!r} is not one of "
                             f"{sorted(PERIODS_PER_MONTH)}")
        periods_per_month = PERIODS_PER_MONTH[time_unit]
    if horizon_months < 1 or int(horizon_months) != horizon_months:
        raise ModelError(f"customer_lifetime_value: horizon_months must be a positive whole "
                         f"number of months, got {horizon_months!r}")
    if discount_rate <= -1:
        raise ModelError(f"customer_lifetime_value: discount_rate must be > -1 per month, "
                         f"got {discount_rate!r}")
    months = np.arange(int(horizon_months) + 1)
    horizon = months * float(periods_per_month)
    cumulative = np.asarray(
        transaction_model.conditional_expected_purchases(summary, horizon[1:])
    )
    cumulative = np.concatenate([np.zeros((cumulative.shape[0], 1)), cumulative], axis=1)
    per_month = np.diff(cumulative, axis=1)
    discount = (1.0 + discount_rate) ** -months[1:]
    spend = np.asarray(spend_model.conditional_expected_average_spend(summary))
    clv = margin * spend * (per_month @ discount)
    return pd.DataFrame(
        {
            "expected_purchases": cumulative[:, -1],
            "p_alive": np.asarray(transaction_model.probability_alive(summary)),
            "expected_avg_spend": spend,
            "clv": clv,
        },
        index=summary.index,
    )
