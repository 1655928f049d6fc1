"""Point-in-time customer features: one row per customer, from data strictly before ``as_of``.

Every builder is a pure function ``Table -> Table`` that filters its input to rows with
``ts < as_of`` *before* aggregating, so nothing at or after the cut-off can reach a
feature (the leakage test perturbs exactly that data). Day counts are fractional days,
money is in the orders' currency, rates and shares are fractions in [0, 1].

Sources are the clean tables (``clean_customers``, ``clean_orders``, ``clean_sessions``,
``clean_support_tickets``, ``clean_social_posts``, ``clean_marketing``). A table that does
not exist removes its features from the result (the columns are absent, not null), so a
lake with only orders still gets order features. Customers without any activity in a
table get 0 for its counts and null for its means, rates and day counts.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import ibis
import ibis.expr.types as ir

from patron.features._time import as_datetime, days_between, timestamp_literal, window_start
from patron.schema import DEVICES, ORDER_CHANNELS

log = logging.getLogger(__name__)

CUSTOMER = "customer_id"
DEFAULT_WINDOWS = (30, 90, 365)


def _before(t: ir.Table, as_of: datetime, column: str = "ts") -> ir.Table:
    """Rows of known customers strictly before the cut-off."""
    return t.filter(t[column] < timestamp_literal(as_of), t[CUSTOMER].notnull())


def _share(condition: ir.BooleanValue) -> ir.FloatingValue:
    return condition.cast("int64").mean().cast("float64")


def _count_if(condition: ir.BooleanValue) -> ir.IntegerValue:
    return condition.cast("int64").sum().cast("int64")


def purchase_lines(orders: ir.Table) -> ir.Table:
    """Lines that record a purchase: not cancelled and a positive quantity (returned lines
    were bought, so they count as purchases; reversal lines do not)."""
    return orders.filter(orders.status != "cancelled", orders.quantity > 0)


# -- orders ---------------------------------------------------------------------------------


def order_features(
    orders: ir.Table, as_of: datetime, windows: Sequence[int] = DEFAULT_WINDOWS
) -> ir.Table:
    """Recency, frequency, spend, order value and tenure from ``clean_orders``.

    * ``recency_days``: days from the last purchase to ``as_of``;
    * ``frequency_orders``: distinct orders with a purchase line; ``orders_<w>d`` within
      the last ``w`` days;
    * ``spend_total``, ``spend_<w>d`` (currency): sum of ``net_revenue`` (returns and
      cancellations netted, see :func:`patron.clean.net_returns`);
    * ``aov``: average order value (currency) = ``spend_total / frequency_orders``;
    * ``days_since_first_order``; ``interpurchase_mean_days`` and ``interpurchase_std_days``
      (sample std) of the days between consecutive orders (null below 2 and 3 orders).
    """
    lines = _before(orders, as_of)
    value = "net_revenue" if "net_revenue" in lines.columns else "revenue"
    purchases = purchase_lines(lines)
    per_order = purchases.group_by([CUSTOMER, "order_id"]).agg(order_ts=purchases.ts.min())
    gap_window = ibis.window(group_by=per_order[CUSTOMER], order_by=per_order.order_ts)
    per_order = per_order.mutate(
        gap_days=days_between(per_order.order_ts.lag().over(gap_window), per_order.order_ts)
    )
    order_stats = per_order.group_by(CUSTOMER).agg(
        frequency_orders=per_order.count(),
        recency_days=days_between(per_order.order_ts.max(), as_of),
        days_since_first_order=days_between(per_order.order_ts.min(), as_of),
        interpurchase_mean_days=per_order.gap_days.mean(),
        interpurchase_std_days=per_order.gap_days.std(),
        **{
            f"orders_{w}d": _count_if(
                per_order.order_ts >= timestamp_literal(window_start(as_of, w))
            )
            for w in windows
        },
    )
    net = lines[value].cast("float64")
    spend = lines.group_by(CUSTOMER).agg(
        spend_total=net.sum(),
        **{
            f"spend_{w}d": ibis.ifelse(
                lines.ts >= timestamp_literal(window_start(as_of, w)), net, 0.0
            ).sum()
            for w in windows
        },
    )
    out = _join_all(spend, [order_stats])
    return out.mutate(aov=out.spend_total / out.frequency_orders.nullif(0).cast("float64"))


def basket_features(orders: ir.Table, as_of: datetime) -> ir.Table:
    """What and how a customer buys, as shares of their purchase lines (fractions).

    ``preferred_category`` (most lines; ties → alphabetically first) and
    ``preferred_category_share``; ``category_count`` (distinct categories);
    ``discount_share`` (lines bought with a discount); ``return_rate`` (lines returned);
    ``channel_share_<c>`` and ``device_share_<d>`` over the schema's channels and devices.
    """
    purchases = purchase_lines(_before(orders, as_of))
    by_category = (
        purchases.filter(purchases.category.notnull())
        .group_by([CUSTOMER, "category"])
        .agg(lines=ibis._.count())
    )
    rank = ibis.row_number().over(
        group_by=by_category[CUSTOMER],
        order_by=[ibis.desc(by_category.lines), ibis.asc(by_category.category)],
    )
    ranked = by_category.mutate(
        rank=rank, categorised=by_category.lines.sum().over(group_by=by_category[CUSTOMER])
    )
    preferred = ranked.group_by(CUSTOMER).agg(
        preferred_category=ranked.category.min(where=ranked["rank"] == 0),
        preferred_category_share=(
            ranked.lines.max().cast("float64") / ranked.categorised.max().cast("float64")
        ),
        category_count=ranked.count().cast("int64"),
    )
    discount = purchases.discount.fill_null(0.0) if "discount" in purchases.columns else None
    mix: dict[str, ir.Value] = {
        "return_rate": _share(purchases.status == "returned"),
    }
    if discount is not None:
        mix["discount_share"] = _share(discount > 0)
    if "channel" in purchases.columns:
        mix.update({f"channel_share_{c}": _share((purchases.channel == c).fill_null(False))
                    for c in ORDER_CHANNELS})
    if "device" in purchases.columns:
        mix.update({f"device_share_{d}": _share((purchases.device == d).fill_null(False))
                    for d in DEVICES})
    shares = purchases.group_by(CUSTOMER).agg(**mix)
    return _join_all(shares, [preferred])


# -- other sources ----------------------------------------------------------------------------


def session_features(sessions: ir.Table, as_of: datetime) -> ir.Table:
    """``sessions_count``, ``sessions_30d``, ``session_conversion_rate`` (fraction of
    sessions that converted), ``days_since_last_session``, ``session_pages_mean`` (pages)
    and ``session_duration_mean_s`` (seconds)."""
    s = _before(sessions, as_of)
    aggs: dict[str, ir.Value] = {
        "sessions_count": s.count(),
        "sessions_30d": _count_if(s.ts >= timestamp_literal(window_start(as_of, 30))),
        "days_since_last_session": days_between(s.ts.max(), as_of),
    }
    if "converted" in s.columns:
        aggs["session_conversion_rate"] = _share(s.converted.fill_null(False))
    if "pages" in s.columns:
        aggs["session_pages_mean"] = s.pages.cast("float64").mean()
    if "duration_s" in s.columns:
        aggs["session_duration_mean_s"] = s.duration_s.cast("float64").mean()
    return s.group_by(CUSTOMER).agg(**aggs)


def support_features(tickets: ir.Table, as_of: datetime) -> ir.Table:
    """``tickets_count``, ``tickets_open`` (opened before ``as_of`` and not resolved before
    it — a resolution after the cut-off is not known yet, so the ticket is still open) and
    ``satisfaction_mean`` (1–5, only tickets resolved before ``as_of`` or without a
    resolution time: a score given later is future information)."""
    t = _before(tickets, as_of)
    cutoff = timestamp_literal(as_of)
    aggs: dict[str, ir.Value] = {"tickets_count": t.count()}
    if "resolved_ts" in t.columns:
        resolved_before = t.resolved_ts.notnull() & (t.resolved_ts < cutoff)
        aggs["tickets_open"] = _count_if(~resolved_before)
        if "satisfaction" in t.columns:
            known = t.resolved_ts.isnull() | resolved_before
            aggs["satisfaction_mean"] = ibis.ifelse(
                known, t.satisfaction.cast("float64"), ibis.null("float64")
            ).mean()
    elif "satisfaction" in t.columns:
        aggs["satisfaction_mean"] = t.satisfaction.cast("float64").mean()
    return t.group_by(CUSTOMER).agg(**aggs)


def social_features(posts: ir.Table, as_of: datetime) -> ir.Table:
    """``posts_count``, ``rating_mean`` (1–5 stars) and, when the table carries a
    ``sentiment`` column (VADER compound score in [−1, 1], added by :mod:`patron.text`),
    ``sentiment_mean``."""
    p = _before(posts, as_of)
    aggs: dict[str, ir.Value] = {"posts_count": p.count()}
    if "rating" in p.columns:
        aggs["rating_mean"] = p.rating.cast("float64").mean()
    if "sentiment" in p.columns:
        aggs["sentiment_mean"] = p.sentiment.cast("float64").mean()
    return p.group_by(CUSTOMER).agg(**aggs)


def marketing_features(marketing: ir.Table, as_of: datetime) -> ir.Table:
    """``marketing_touches``, and the fractions of touches opened, clicked and converted
    (``marketing_open_rate``, ``marketing_click_rate``, ``marketing_conversion_rate``).
    Responses are attributed to the touch's time, as the table records them."""
    m = _before(marketing, as_of)
    aggs: dict[str, ir.Value] = {"marketing_touches": m.count()}
    for flag, name in (("opened", "open"), ("clicked", "click"), ("converted", "conversion")):
        if flag in m.columns:
            aggs[f"marketing_{name}_rate"] = _share(m[flag].fill_null(False))
    return m.group_by(CUSTOMER).agg(**aggs)


# -- assembly ---------------------------------------------------------------------------------


def customer_spine(
    as_of: datetime, customers: ir.Table | None = None, orders: ir.Table | None = None
) -> ir.Table:
    """Customers known before ``as_of``: signed up before it, or ordered before it.

    ``first_seen_ts`` (the earlier of sign-up and first order line, any status) gives the
    tenure. Only ``signup_date`` is read from customers: their other attributes are the
    latest version, which may postdate ``as_of``.
    """
    parts = []
    if customers is not None:
        known = customers.filter(
            customers.signup_date.cast("timestamp") < timestamp_literal(as_of)
        )
        parts.append(known.select(CUSTOMER, first_seen_ts=known.signup_date.cast("timestamp")))
    if orders is not None:
        buyers = _before(orders, as_of)
        parts.append(buyers.select(CUSTOMER, first_seen_ts=buyers.ts.cast("timestamp")))
    if not parts:
        raise ValueError("customer_spine needs customers or orders")
    union = parts[0] if len(parts) == 1 else ibis.union(*parts, distinct=False)
    return union.group_by(CUSTOMER).agg(first_seen_ts=union.first_seen_ts.min())


def _join_all(left: ir.Table, others: Sequence[ir.Table]) -> ir.Table:
    out = left
    for other in others:
        out = out.left_join(other, CUSTOMER)
        if f"{CUSTOMER}_right" in out.columns:
            out = out.drop(f"{CUSTOMER}_right")
    return out


def _zero_counts(t: ir.Table) -> ir.Table:
    counts = [c for c in t.columns if c in _COUNT_COLUMNS or c.startswith(("orders_", "spend_"))]
    return t.mutate(**{c: t[c].fill_null(0) for c in counts})


_COUNT_COLUMNS = {"frequency_orders", "spend_total", "category_count", "sessions_count",
                  "sessions_30d", "tickets_count", "tickets_open", "posts_count",
                  "marketing_touches"}


def customer_features(
    con: Any, as_of: date | datetime | str, windows: Sequence[int] = DEFAULT_WINDOWS
) -> ir.Table:
    """One row per customer with every feature computable from data before ``as_of``.

    ``con`` is an Ibis backend from :func:`patron.connect` (DuckDB or PySpark) holding the
    clean tables. ``windows`` are the spend/order windows in days. Columns: ``customer_id``,
    ``tenure_days`` (days since the earlier of sign-up and first order line), then those of
    :func:`order_features`, :func:`basket_features`, :func:`session_features`,
    :func:`support_features`, :func:`social_features` and :func:`marketing_features` for
    the tables that exist.
    """
    cutoff = as_datetime(as_of)
    present = set(con.list_tables())

    def table(name: str) -> ir.Table | None:
        return con.table(f"clean_{name}") if f"clean_{name}" in present else None

    customers, orders = table("customers"), table("orders")
    if customers is None and orders is None:
        from patron.errors import PatronError

        raise PatronError("customer features need clean_customers or clean_orders",
                          hint="produce them with: patron clean")
    spine = customer_spine(cutoff, customers, orders)
    parts: list[ir.Table] = []
    if orders is not None:
        parts += [order_features(orders, cutoff, windows), basket_features(orders, cutoff)]
    builders = (("sessions", session_features), ("support_tickets", support_features),
                ("social_posts", social_features), ("marketing", marketing_features))
    for name, build in builders:
        source = table(name)
        if source is not None:
            parts.append(build(source, cutoff))
        else:
            log.info("no clean_%s table: its features are left out", name)
    out = _join_all(spine, parts)
    out = out.mutate(tenure_days=days_between(out.first_seen_ts, cutoff)).drop("first_seen_ts")
    out = _zero_counts(out)
    ordered = [CUSTOMER, "tenure_days"] + [c for c in out.columns
                                           if c not in (CUSTOMER, "tenure_days")]
    return out.select(*ordered)
