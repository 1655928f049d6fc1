"""Labels after a cut-off and training sets stacked over rolling cut-offs.

For a cut-off ``as_of`` and horizon ``H`` days, the *label window* is
``[as_of, as_of + H days)`` — it starts exactly where the features end (features use data
strictly before ``as_of``), so no order is both a feature and a label, and none is lost.

* churn: among customers who bought in ``[as_of − lookback, as_of)``, 1 if they buy
  nothing in the label window;
* purchase: 1 if the customer buys at least once in the window (7 and 30 days by
  default);
* spend: revenue in the window (currency, returns and cancellations netted);
* clv: revenue in the next 12 months (a spend label with ``H = 365``).

A purchase is an order line that is not cancelled with a positive quantity
(:func:`patron.features.purchase_lines`), the same rule as the features. A training set
stacks several cut-offs (rolling snapshots), each row a (customer, cut-off) pair, so the
model learns from more than one moment of the calendar.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal

import ibis
import ibis.expr.types as ir
import pandas as pd

from patron.errors import ModelError

log = logging.getLogger(__name__)

Task = Literal["churn", "purchase", "spend", "clv"]
TASKS: tuple[str, ...] = ("churn", "purchase", "spend", "clv")
TARGET = "target"


@dataclass(frozen=True)
class LabelDefinition:
    """What a label means: the task, its horizon (days) and, for churn, the look-back (days).

    Printed with every result (:meth:`describe`) and stored with every saved model, so a
    metric is never read without knowing what was predicted.
    """

    task: Task
    horizon_days: int
    lookback_days: int | None = None

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ModelError(f"label task {self.task!r} is not one of {', '.join(TASKS)}")
        if self.horizon_days < 1:
            raise ModelError(f"label horizon_days must be >= 1, got {self.horizon_days}")
        if self.task == "churn" and (self.lookback_days or 0) < 1:
            raise ModelError("a churn label needs lookback_days >= 1")

    @property
    def name(self) -> str:
        """Model name in the registry: ``churn``, ``purchase_30d``, ``spend``, ``clv``."""
        return f"purchase_{self.horizon_days}d" if self.task == "purchase" else self.task

    def describe(self) -> str:
        h = self.horizon_days
        if self.task == "churn":
            return (f"churn = bought in the {self.lookback_days} days before the cut-off and "
                    f"nothing in the {h} days from it")
        if self.task == "purchase":
            return f"purchase = at least one purchase in the {h} days from the cut-off"
        if self.task == "clv":
            return f"clv = net revenue (currency) in the {h} days from the cut-off"
        return f"spend = net revenue (currency) in the {h} days from the cut-off"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "description": self.describe()}

    @classmethod
    def from_settings(cls, models: Any, task: str, horizon_days: int | None = None
                      ) -> LabelDefinition:
        """The definition configured in ``[models]`` (``Settings().models``)."""
        if task == "churn":
            return cls("churn", horizon_days or models.churn_horizon_days,
                       models.churn_lookback_days)
        if task == "purchase":
            return cls("purchase", horizon_days or max(models.purchase_horizons_days))
        if task == "spend":
            return cls("spend", horizon_days or models.spend_horizon_days)
        if task == "clv":
            return cls("clv", horizon_days or models.clv_horizon_days)
        raise ModelError(f"label task {task!r} is not one of {', '.join(TASKS)}")


def _day(value: date | datetime | str) -> datetime:
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value)
        except ValueError:
            raise ModelError(f"as_of {value!r}: expected a date like 2026-10-01") from None
    if isinstance(value, datetime):
        return value
    return datetime(value.year, value.month, value.day)


def _orders(con: Any) -> ir.Table:
    if "clean_orders" not in con.list_tables():
        raise ModelError("labels need the clean_orders table", )
    return con.table("clean_orders")


def orders_end(con: Any) -> date:
    """The day after the last order line: label windows must end on or before it."""
    last = _orders(con).ts.max().execute()
    if last is None or pd.isna(last):
        raise ModelError("clean_orders is empty: there is nothing to label")
    return (pd.Timestamp(last) + pd.Timedelta(days=1)).date()


def matured_cutoffs(
    end: date, horizon_days: int, count: int, spacing_days: int, *, latest: date | None = None
) -> list[date]:
    """``count`` cut-offs ``spacing_days`` apart, newest first, whose labels have matured.

    The newest is ``min(latest, end − horizon)``: its label window closes by ``end``.
    """
    newest = end - timedelta(days=horizon_days)
    if latest is not None:
        newest = min(newest, latest)
    return [newest - timedelta(days=i * spacing_days) for i in range(count)]


def labels(con: Any, as_of: date | datetime | str, definition: LabelDefinition) -> ir.Table:
    """Per-customer label for one cut-off: ``customer_id, target`` (an Ibis expression).

    Churn rows are the active population only; purchase/spend/clv rows are customers who
    bought in the window (everyone else has 0 — :func:`training_set` fills it in).
    Raises ``ModelError`` when the window ends after the data does (label not matured).
    """
    from patron.features import purchase_lines

    cutoff = _day(as_of)
    window_end = cutoff + timedelta(days=definition.horizon_days)
    end = orders_end(con)
    if window_end.date() > end:
        raise ModelError(
            f"{definition.name} labels as of {cutoff:%Y-%m-%d} need orders until "
            f"{window_end:%Y-%m-%d}, but the data ends {end:%Y-%m-%d}",
            hint=f"use a cut-off on or before {end - timedelta(days=definition.horizon_days)}",
        )
    orders = _orders(con).filter(ibis._.customer_id.notnull())
    start_lit = ibis.literal(cutoff, type="timestamp")
    end_lit = ibis.literal(window_end, type="timestamp")
    in_window = orders.filter(orders.ts >= start_lit, orders.ts < end_lit)
    bought = purchase_lines(in_window)
    if definition.task in ("churn", "purchase"):
        buyers = bought.select("customer_id").distinct().mutate(bought=ibis.literal(1))
        if definition.task == "purchase":
            return buyers.select("customer_id", target=buyers.bought.cast("int64"))
        look_lit = ibis.literal(cutoff - timedelta(days=int(definition.lookback_days or 0)),
                                type="timestamp")
        before = purchase_lines(orders.filter(orders.ts >= look_lit, orders.ts < start_lit))
        active = before.select("customer_id").distinct()
        joined = active.left_join(buyers, "customer_id")
        joined = joined.select(active.customer_id, bought=joined.bought)
        return joined.select("customer_id",
                             target=(joined.bought.isnull()).cast("int64"))
    value = "net_revenue" if "net_revenue" in orders.columns else "revenue"
    return in_window.group_by("customer_id").agg(target=in_window[value].cast("float64").sum())


FeatureFunction = Callable[[Any, datetime], Any]


def training_set(
    con: Any,
    definition: LabelDefinition,
    cutoffs: Sequence[date | datetime | str],
    *,
    features: FeatureFunction | None = None,
) -> pd.DataFrame:
    """Features at each cut-off joined with the label after it, stacked.

    Columns: ``customer_id``, ``as_of`` (the cut-off, a date), the features, ``target``.
    ``features(con, as_of)`` defaults to :func:`patron.features.customer_features`. Feature
    columns empty in every row (a source with no data yet) are dropped, with a log line.
    """
    if features is None:
        from patron.features import customer_features

        def features(c: Any, day: datetime) -> Any:
            return customer_features(c, day)

    parts = []
    for cutoff in cutoffs:
        day = _day(cutoff)
        table = features(con, day)
        frame = table.execute() if hasattr(table, "execute") else table
        target = labels(con, day, definition).execute()
        how = "inner" if definition.task == "churn" else "left"
        merged = frame.merge(target, on="customer_id", how=how)
        merged[TARGET] = merged[TARGET].fillna(0)
        merged.insert(1, "as_of", day.date())
        parts.append(merged)
        log.info("%s as of %s: %d customers, label mean %.4g", definition.name, day.date(),
                 len(merged), float(merged[TARGET].mean()) if len(merged) else float("nan"))
    if not parts:
        raise ModelError("training_set needs at least one cut-off")
    stacked = pd.concat(parts, ignore_index=True)
    empty = [c for c in stacked.columns if c not in ("customer_id", "as_of", TARGET)
             and stacked[c].isna().all()]
    if empty:
        log.info("dropping feature columns without any value: %s", ", ".join(empty))
        stacked = stacked.drop(columns=empty)
    if stacked.empty:
        raise ModelError(f"{definition.name}: no customers at cut-offs "
                         f"{', '.join(str(_day(c).date()) for c in cutoffs)}")
    return stacked
