"""RFM: recency, frequency and monetary scores per customer, and the named segments.

For every customer with at least one completed order before ``as_of``:

* ``recency_days`` — calendar days from the day of the last purchase to the day of
  ``as_of`` (1 = bought the day before); lower is better.
* ``frequency`` — number of distinct completed orders (not lines).
* ``monetary`` — total revenue of those orders, in the orders' currency.
* ``tenure_days`` — days from the first purchase to ``as_of``.

Each measure becomes a quintile score 1–5 (5 = best: most recent, most frequent, highest
spend) from the customer's rank: ``score = 1 + floor(5 · rank / n)`` with ``rank`` the
0-based *minimum* rank among ``n`` customers. With distinct values this is exact
quintiles; tied customers share one score (a customer's score never depends on row
order), so heavily tied measures such as frequency may leave some scores unused.

Segments come from the R × F grid most RFM write-ups use (recency rows, frequency
columns; the monetary score refines within a segment but does not move customers
between them):

======  ==============  ==============  ==================  ==================  =========
R \\ F   1               2               3                   4                   5
======  ==============  ==============  ==================  ==================  =========
5       New             Potential loy.  Potential loyalist  Champions           Champions
4       Promising       Potential loy.  Potential loyalist  Loyal               Loyal
3       About to sleep  About to sleep  Need attention      Loyal               Loyal
2       Hibernating     Hibernating     At risk             At risk             Can't lose
1       Lost            Hibernating     At risk             At risk             Can't lose
======  ==============  ==============  ==================  ==================  =========

"Lost" is the bottom-left cell (R = 1 and F = 1: one old purchase); the rest of the
low-R, low-F block is "Hibernating".
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

import ibis
import ibis.expr.types as ir

from patron.analytics._tables import completed_lines, day_index, epoch_day

#: Segment names, best first (the order reports and plots use).
SEGMENTS: tuple[str, ...] = (
    "Champions",
    "Loyal",
    "Potential loyalist",
    "New",
    "Promising",
    "Need attention",
    "About to sleep",
    "At risk",
    "Can't lose",
    "Hibernating",
    "Lost",
)

#: (segment, recency scores, frequency scores); the cells do not overlap and cover 5 × 5.
SEGMENT_RULES: tuple[tuple[str, tuple[int, ...], tuple[int, ...]], ...] = (
    ("Champions", (5,), (4, 5)),
    ("Loyal", (3, 4), (4, 5)),
    ("Potential loyalist", (4, 5), (2, 3)),
    ("New", (5,), (1,)),
    ("Promising", (4,), (1,)),
    ("Need attention", (3,), (3,)),
    ("About to sleep", (3,), (1, 2)),
    ("At risk", (1, 2), (3, 4)),
    ("Can't lose", (1, 2), (5,)),
    ("Lost", (1,), (1,)),
    ("Hibernating", (1, 2), (1, 2)),
)

#: number of score levels (quintiles)
LEVELS = 5


def segment_for(r_score: int, f_score: int) -> str:
    """The segment of one (R, F) cell; the plain-Python twin of :func:`rfm_scores`."""
    for name, recency, frequency in SEGMENT_RULES:
        if r_score in recency and f_score in frequency:
            return name
    raise ValueError(f"RFM scores must be 1–{LEVELS}; got R={r_score}, F={f_score}")


def _score(value: ir.NumericColumn, n: ir.IntegerValue, *, descending: bool) -> ir.IntegerValue:
    """Quintile score 1–5 from the 0-based minimum rank (see module docstring)."""
    order = ibis.desc(value) if descending else ibis.asc(value)
    rank = ibis.rank().over(order_by=order)
    return ((rank * LEVELS) / n).floor().cast("int64") + 1


def rfm_scores(
    orders: ir.Table,
    as_of: date | datetime | str,
    *,
    statuses: Sequence[str] = ("completed",),
) -> ir.Table:
    """Per-customer RFM measures, quintile scores and segment as of ``as_of``.

    ``orders`` is a canonical orders table (clean or raw). Only lines with a status in
    ``statuses`` before ``as_of`` (exclusive) count. Returns one row per customer with
    ``customer_id, recency_days, frequency, monetary, tenure_days, r_score, f_score,
    m_score, rfm_score`` (e.g. ``"545"``) and ``segment``.
    """
    lines = completed_lines(orders, as_of=as_of, statuses=statuses)
    lines = lines.mutate(day=day_index(lines.ts))
    per_customer = lines.group_by("customer_id").aggregate(
        first_day=lines.day.min(),
        last_day=lines.day.max(),
        frequency=lines.order_id.nunique(),
        monetary=lines.revenue.sum(),
    )
    today = epoch_day(as_of)
    measures = per_customer.select(
        "customer_id",
        recency_days=(ibis.literal(today) - per_customer.last_day).cast("int64"),
        frequency=per_customer.frequency.cast("int64"),
        monetary=per_customer.monetary.cast("float64"),
        tenure_days=(ibis.literal(today) - per_customer.first_day).cast("int64"),
    )
    n = measures.customer_id.count().over(ibis.window())
    scored = measures.mutate(
        r_score=_score(measures.recency_days, n, descending=True),
        f_score=_score(measures.frequency, n, descending=False),
        m_score=_score(measures.monetary, n, descending=False),
    )
    scored = scored.mutate(
        rfm_score=scored.r_score.cast("string").concat(
            scored.f_score.cast("string"), scored.m_score.cast("string")
        ),
        segment=_segment_expr(scored.r_score, scored.f_score),
    )
    return scored


def _segment_expr(r: ir.IntegerValue, f: ir.IntegerValue) -> ir.StringValue:
    branches = [
        (r.isin(list(recency)) & f.isin(list(frequency)), name)
        for name, recency, frequency in SEGMENT_RULES
    ]
    return ibis.cases(*branches, else_="Unscored")


def segment_summary(scores: ir.Table) -> ir.Table:
    """One row per segment: customers, revenue and their shares, mean R/F/M measures.

    ``scores`` is the output of :func:`rfm_scores`. Shares are fractions (0–1) of all
    scored customers and of their total revenue; revenue is in currency units, recency in
    days, frequency in orders.
    """
    grouped = scores.group_by("segment").aggregate(
        customers=scores.customer_id.count(),
        revenue=scores.monetary.sum(),
        mean_recency_days=scores.recency_days.mean(),
        mean_frequency=scores.frequency.mean(),
        mean_monetary=scores.monetary.mean(),
    )
    everyone = ibis.window()
    total_revenue = grouped.revenue.sum().over(everyone)
    return grouped.mutate(
        customer_share=grouped.customers.cast("float64") / grouped.customers.sum().over(everyone),
        revenue_share=ibis.ifelse(total_revenue == 0, 0.0, grouped.revenue / total_revenue),
    ).order_by(ibis.desc("revenue"))


def rfm_grid(scores: ir.Table) -> ir.Table:
    """Customers and mean monetary value (currency) per (R score, F score) cell."""
    return (
        scores.group_by(["r_score", "f_score"])
        .aggregate(
            customers=scores.customer_id.count(),
            mean_monetary=scores.monetary.mean(),
            revenue=scores.monetary.sum(),
        )
        .order_by(["r_score", "f_score"])
    )
