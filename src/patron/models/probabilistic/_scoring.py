"""Probabilistic CLV for every customer of the lake, as of a date.

Fits a transaction model (BG/NBD by default, or Pareto/NBD) and a Gamma-Gamma spend model
on the RFM summary of orders strictly before ``as_of`` and returns one row per customer:
expected purchases over the horizon, probability alive, expected average spend and the
discounted CLV (currency). Time is counted in days.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal

import pandas as pd

from patron.errors import ModelError
from patron.models.probabilistic._beta_geo import BetaGeoModel, ModifiedBetaGeoModel
from patron.models.probabilistic._clv import customer_lifetime_value
from patron.models.probabilistic._gamma_gamma import GammaGammaModel
from patron.models.probabilistic._pareto_nbd import ParetoNBDModel

log = logging.getLogger(__name__)

TransactionModelName = Literal["bgnbd", "mbgnbd", "pareto"]
TRANSACTION_MODELS = {
    "bgnbd": BetaGeoModel,
    "mbgnbd": ModifiedBetaGeoModel,
    "pareto": ParetoNBDModel,
}


@dataclass
class CLVScores:
    """The per-customer table and the fitted models it came from."""

    table: pd.DataFrame
    transaction_model: Any
    spend_model: GammaGammaModel
    as_of: date
    horizon_months: int
    discount_rate: float
    margin: float


def score_clv(
    con: Any,
    *,
    as_of: date | datetime | str,
    horizon_months: int = 12,
    discount_rate: float = 0.01,
    margin: float = 1.0,
    model: TransactionModelName = "bgnbd",
) -> CLVScores:
    """Fit the models on orders before ``as_of`` and score every customer who bought.

    ``con`` is a backend from :func:`patron.connect`; clean orders are used when the lake has
    them (``net_revenue`` after returns), raw orders otherwise. ``discount_rate`` is per
    month and ``margin`` the share of revenue kept, as in :func:`customer_lifetime_value`.
    """
    from patron.features import purchase_lines, rfm_summary

    if model not in TRANSACTION_MODELS:
        raise ModelError(f"unknown CLV model {model!r}; expected one of {list(TRANSACTION_MODELS)}")
    as_of_date = pd.Timestamp(as_of).date()
    tables = set(con.list_tables())
    name = "clean_orders" if "clean_orders" in tables else "raw_orders"
    if name not in tables:
        raise ModelError(
            "the lake has no orders yet", hint="run `patron ingest` (and `patron clean`) first"
        )
    orders = purchase_lines(con.table(name))
    value = "net_revenue" if "net_revenue" in orders.columns else "revenue"
    # rfm_summary counts the as_of day itself; the day before keeps the future out
    last_day = datetime.combine(as_of_date - timedelta(days=1), datetime.min.time())
    summary = (
        rfm_summary(orders, as_of=last_day, time_unit="D", value_col=value)
        .to_pandas()
        .set_index("customer_id")
        .sort_index()
    )
    if summary.empty:
        raise ModelError(f"no customer bought before {as_of_date}; nothing to score")
    # T counts to the start of as_of's day: every customer is observed up to the cut-off
    summary["T"] = summary["T"] + 1.0
    transactions = TRANSACTION_MODELS[model]().fit(summary[["frequency", "recency", "T"]])
    repeaters = summary[(summary["frequency"] > 0) & (summary["monetary_value"] > 0)]
    spend = GammaGammaModel().fit(repeaters[["frequency", "monetary_value"]])
    # a repeat buyer whose repeat purchases were all returned nets nothing per transaction;
    # Gamma-Gamma needs positive spend, so such customers count one cent
    valued = summary.assign(monetary_value=summary["monetary_value"].clip(lower=0.01))
    table = customer_lifetime_value(
        transactions,
        spend,
        valued,
        horizon_months=horizon_months,
        discount_rate=discount_rate,
        margin=margin,
        time_unit="D",
    )
    table = summary.join(table)
    table.insert(0, "as_of", pd.Timestamp(as_of_date))
    table["model"] = model
    log.info("CLV scored for %d customers (%s + gamma-gamma)", len(table), model)
    return CLVScores(
        table.reset_index(), transactions, spend, as_of_date, horizon_months, discount_rate, margin
    )
