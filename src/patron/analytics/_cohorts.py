"""Cohort retention: customers grouped by when they first bought, followed over time.

A customer's cohort is the period (calendar month, or ISO week starting Monday) of their
first completed order. Period ``k`` of a cohort is the ``k``-th period after it (0 = the
cohort's own period). For each (cohort, period) the long table holds

* ``customers`` — cohort members with at least one completed order in that period, and
  ``customer_share`` = customers / cohort size (period 0 is 1.0 by construction);
* ``revenue`` — their revenue in that period (currency), and ``revenue_share`` = revenue /
  the cohort's period-0 revenue (can exceed 1 when customers spend more later).

Long tables (one row per cell) keep the expression backend-neutral and are what plots and
pivots want; :func:`retention_matrix` pivots one metric into the familiar triangle.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Literal

import ibis
import ibis.expr.types as ir
import pandas as pd

from patron.analytics._tables import as_timestamp, completed_lines
from patron.errors import PatronError

Period = Literal["month", "week"]
Metric = Literal["customers", "revenue"]

_SECONDS_PER_WEEK = 7 * 86_400


def _period_start(ts: ir.TimestampValue, period: Period) -> ir.TimestampValue:
    if period == "month":
        return ts.truncate("M")
    if period == "week":
        return ts.truncate("W")
    raise PatronError(f"cohort period {period!r}: expected 'month' or 'week'")


def _period_number(start: ir.TimestampValue, period: Period) -> ir.IntegerValue:
    """A running number of the period that ``start`` begins (months or weeks since 1970)."""
    if period == "month":
        return start.year().cast("int64") * 12 + start.month().cast("int64")
    return (start.epoch_seconds() / _SECONDS_PER_WEEK).round().cast("int64")


def cohort_retention(
    orders: ir.Table,
    *,
    period: Period = "month",
    as_of: date | datetime | str | None = None,
    statuses: Sequence[str] = ("completed",),
) -> ir.Table:
    """Customer and revenue retention by first-purchase cohort, as a long table.

    Returns ``cohort`` (timestamp: start of the cohort's period), ``period`` (0, 1, …),
    ``cohort_customers``, ``customers``, ``customer_share``, ``cohort_revenue`` (period-0
    revenue), ``revenue`` and ``revenue_share``, ordered by cohort and period. Only
    orders before ``as_of`` (exclusive) count; cells where nobody bought are absent.
    """
    lines = completed_lines(orders, as_of=as_of, statuses=statuses)
    lines = lines.mutate(period_start=_period_start(lines.ts, period))
    lines = lines.mutate(period_no=_period_number(lines.period_start, period))
    first = lines.group_by("customer_id").aggregate(
        cohort=lines.period_start.min(), cohort_no=lines.period_no.min()
    )
    activity = lines.group_by(["customer_id", "period_no"]).aggregate(
        revenue=lines.revenue.sum()
    )
    joined = activity.inner_join(first, "customer_id")
    joined = joined.mutate(period=(joined.period_no - joined.cohort_no).cast("int64"))
    cells = joined.group_by(["cohort", "period"]).aggregate(
        customers=joined.customer_id.count(), revenue=joined.revenue.sum()
    )
    base = cells.filter(cells.period == 0).select(
        "cohort", cohort_customers=cells.customers, cohort_revenue=cells.revenue
    )
    out = cells.inner_join(base, "cohort")
    return out.select(
        "cohort",
        "period",
        "cohort_customers",
        "customers",
        customer_share=out.customers.cast("float64") / out.cohort_customers,
        cohort_revenue=out.cohort_revenue,
        revenue=out.revenue,
        revenue_share=ibis.ifelse(
            out.cohort_revenue == 0, ibis.null("float64"), out.revenue / out.cohort_revenue
        ),
    ).order_by(["cohort", "period"])


def active_by_cohort(
    orders: ir.Table,
    as_of: date | datetime | str,
    *,
    days: int = 120,
    period: Period = "month",
    statuses: Sequence[str] = ("completed",),
) -> ir.Table:
    """Per cohort: how many customers bought in the ``days`` days before ``as_of``.

    The "who is still with us" view of a cohort chart, comparable across cohorts of any
    age. Returns ``cohort, cohort_customers, active_customers, active_share`` (0–1) and
    ``active_revenue`` (currency, in the window).
    """
    if days <= 0:
        raise PatronError(f"days = {days}: the activity window must be at least 1 day")
    lines = completed_lines(orders, as_of=as_of, statuses=statuses)
    window_start = ibis.literal(as_timestamp(as_of) - timedelta(days=days))
    lines = lines.mutate(
        period_start=_period_start(lines.ts, period),
        in_window=lines.ts >= window_start,
    )
    per_customer = lines.group_by("customer_id").aggregate(
        cohort=lines.period_start.min(),
        active=lines.in_window.any(),
        window_revenue=lines.revenue.sum(where=lines.in_window),
    )
    grouped = per_customer.group_by("cohort").aggregate(
        cohort_customers=per_customer.customer_id.count(),
        active_customers=per_customer.customer_id.count(where=per_customer.active),
        active_revenue=per_customer.window_revenue.sum(),
    )
    return grouped.mutate(
        active_share=grouped.active_customers.cast("float64") / grouped.cohort_customers,
        active_revenue=grouped.active_revenue.fill_null(0.0),
    ).order_by("cohort")


def retention_matrix(
    long: pd.DataFrame, metric: Metric = "customers", *, period: Period = "month"
) -> pd.DataFrame:
    """Pivot :func:`cohort_retention` output into cohorts × periods of shares (0–1).

    ``metric="customers"`` gives ``customer_share``, ``"revenue"`` gives
    ``revenue_share``. ``period`` must be the one the long table was built with. A cell
    inside the observed history where nobody bought is 0; cells later than the last period
    with any purchase are empty (NaN), so young cohorts show as the familiar triangle.
    """
    if metric not in ("customers", "revenue"):
        raise PatronError(f"retention metric {metric!r}: expected 'customers' or 'revenue'")
    column = "customer_share" if metric == "customers" else "revenue_share"
    if long.empty:
        return pd.DataFrame()
    cohorts = pd.to_datetime(long["cohort"])
    cohort_no = _pandas_period_number(cohorts, period)
    last = int((cohort_no + long["period"]).max())
    matrix = long.pivot_table(index="cohort", columns="period", values=column, aggfunc="sum")
    matrix = matrix.reindex(columns=range(int(long["period"].max()) + 1))
    ages = dict(zip(cohorts, last - cohort_no, strict=True))
    for cohort in matrix.index:
        observed = matrix.columns <= ages[pd.Timestamp(cohort)]
        matrix.loc[cohort, observed] = matrix.loc[cohort, observed].fillna(0.0)
    matrix.index = pd.to_datetime(matrix.index)
    matrix.columns.name = "period"
    return matrix


def _pandas_period_number(starts: pd.Series, period: Period) -> pd.Series:
    if period == "month":
        return starts.dt.year * 12 + starts.dt.month
    return (starts - pd.Timestamp("1970-01-05")).dt.days // 7
