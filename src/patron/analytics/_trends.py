"""Top-line trends: revenue, orders and active customers per day (or week, month).

These are the first numbers anyone asks for and the sanity check on everything else: a gap
in daily orders is a missing file, a spike is a duplicated batch. Revenue is in the
orders' currency; ``customers`` counts distinct known customers who bought in the period
(guest orders count toward orders and revenue but not customers).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Literal

import ibis
import ibis.expr.types as ir

from patron.analytics._tables import as_timestamp, line_revenue, vocab
from patron.errors import PatronError

Frequency = Literal["day", "week", "month"]
_UNITS = {"day": "D", "week": "W", "month": "M"}


def _completed(
    orders: ir.Table,
    statuses: Sequence[str],
    start: date | datetime | str | None,
    end: date | datetime | str | None,
) -> ir.Table:
    table = orders
    if "status" in table.columns:
        table = table.filter(table.status.strip().lower().isin([s.lower() for s in statuses]))
    if start is not None:
        table = table.filter(table.ts >= ibis.literal(as_timestamp(start)))
    if end is not None:
        table = table.filter(table.ts < ibis.literal(as_timestamp(end)))
    return table


def revenue_trends(
    orders: ir.Table,
    *,
    freq: Frequency = "day",
    start: date | datetime | str | None = None,
    end: date | datetime | str | None = None,
    statuses: Sequence[str] = ("completed",),
) -> ir.Table:
    """Revenue, orders, order lines and active customers per period in ``[start, end)``.

    Returns ``period`` (timestamp: start of the day, ISO week or month), ``revenue``
    (currency), ``orders`` (distinct order ids), ``lines``, ``customers`` (distinct known
    customers) and ``revenue_per_order`` (currency), ordered by period. Periods without
    any order are absent (fill them when plotting if a continuous axis matters).
    """
    if freq not in _UNITS:
        raise PatronError(f"trend frequency {freq!r}: expected one of {list(_UNITS)}")
    table = _completed(orders, statuses, start, end)
    table = table.mutate(period=table.ts.cast("timestamp").truncate(_UNITS[freq]),
                         _revenue=line_revenue(table))
    grouped = table.group_by("period").aggregate(
        revenue=table._revenue.sum(),
        orders=table.order_id.nunique(),
        lines=table.count(),
        customers=table.customer_id.nunique(),
    )
    return grouped.mutate(
        revenue_per_order=grouped.revenue / grouped.orders.cast("float64")
    ).order_by("period")


def top_categories(
    orders: ir.Table,
    *,
    by: str = "category",
    limit: int = 10,
    start: date | datetime | str | None = None,
    end: date | datetime | str | None = None,
    statuses: Sequence[str] = ("completed",),
) -> ir.Table:
    """The ``limit`` values of ``by`` with the most revenue, with orders and customers.

    Values are trimmed and lower-cased; a missing value is ``unknown``. Returns
    ``<by>, revenue, orders, customers, revenue_share`` (share of all revenue, 0–1).
    """
    if by not in orders.columns:
        raise PatronError(f"orders have no column {by!r}; available: {list(orders.columns)}")
    table = _completed(orders, statuses, start, end)
    table = table.mutate(_key=vocab(table[by].cast("string")), _revenue=line_revenue(table))
    grouped = table.group_by("_key").aggregate(
        revenue=table._revenue.sum(),
        orders=table.order_id.nunique(),
        customers=table.customer_id.nunique(),
    )
    total = grouped.revenue.sum().over(ibis.window())
    ranked = grouped.mutate(revenue_share=ibis.ifelse(total == 0, 0.0, grouped.revenue / total))
    ranked = ranked.rename({by: "_key"})
    return ranked.order_by([ibis.desc("revenue"), by]).limit(limit)
