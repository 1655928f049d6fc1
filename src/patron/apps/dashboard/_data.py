"""Every query the dashboard runs, as functions ``(LakeDB, …) -> pandas.DataFrame``.

The pages only lay out what these return, so each number on screen can be checked against
independent SQL in the tests. All aggregation happens in DuckDB over the lake's Parquet
files (frames returned here are small: one row per segment, day, cohort cell or page of
customers), which keeps pages fast at a million customers.

Conventions: revenue is *net* revenue in the orders' currency (``net_revenue`` of the clean
layer: returned and cancelled lines count 0; raw orders fall back to completed lines'
``revenue``). Date ranges are half-open ``[start, end)`` on the order timestamp. Shares
and probabilities are fractions (0–1).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any, Literal

import pandas as pd

from patron.apps._lakedb import LakeDB, producer_of
from patron.apps._scores import (
    count_customers,
    quote,
    score_sheet,
    select_customers,
)

Grain = Literal["day", "week", "month"]

#: numeric features shown as segment profiles (those present are used)
PROFILE_FEATURES: tuple[str, ...] = (
    "recency_days", "frequency_orders", "spend_365d", "aov", "tenure_days", "return_rate",
    "sessions_30d", "session_conversion_rate", "tickets_count", "marketing_open_rate",
)


class MissingData(LookupError):
    """A page needs a lake table that does not exist yet; the message says which command
    produces it."""

    def __init__(self, table: str) -> None:
        self.table = table
        self.command = producer_of(table)
        super().__init__(f"No `{table}` table in the lake yet — produce it with `{self.command}`.")


def require(db: LakeDB, *tables: str) -> None:
    """Raise :class:`MissingData` for the first of ``tables`` the lake lacks."""
    for table in tables:
        if not db.has(table):
            raise MissingData(table)


def _source(db: LakeDB, kind: str) -> str:
    table = db.source(kind)
    if table is None:
        raise MissingData(f"raw_{kind}")
    return table


def _orders(db: LakeDB) -> tuple[str, str, str]:
    """(orders table, net-revenue SQL, completed-line predicate SQL)."""
    table = _source(db, "orders")
    cols = db.columns(table)
    completed = "lower(trim(status)) = 'completed'" if "status" in cols else "TRUE"
    revenue = (
        "net_revenue" if "net_revenue" in cols
        else f"CASE WHEN {completed} THEN revenue ELSE 0 END"
    )
    return table, revenue, completed


def _ibis_sql(db: LakeDB, build: Any) -> str:
    """Compile an Ibis expression ``build(backend)`` to DuckDB SQL over the apps' views."""
    import ibis

    backend = ibis.duckdb.from_connection(db.cursor())
    return str(backend.compile(build(backend)))


# -- overview ---------------------------------------------------------------------------


def date_bounds(db: LakeDB) -> pd.DataFrame:
    """First and last order timestamp (``first_ts``, ``last_ts``)."""
    table, _, _ = _orders(db)
    return db.sql(f"SELECT min(ts) AS first_ts, max(ts) AS last_ts FROM {table}")


def default_range(db: LakeDB, days: int = 365) -> tuple[date, date]:
    """The last ``days`` days of history: ``(start, end)`` with ``end`` the day after the
    last order."""
    bounds = date_bounds(db)
    last = bounds["last_ts"].iloc[0]
    end = (pd.Timestamp(last).normalize() + pd.Timedelta(days=1)).date()
    first = pd.Timestamp(bounds["first_ts"].iloc[0]).date()
    return max(first, end - timedelta(days=days)), end


def overview_kpis(
    db: LakeDB,
    start: date,
    end: date,
    *,
    churn_lookback_days: int = 365,
    churn_horizon_days: int = 90,
) -> pd.DataFrame:
    """One row of headline numbers for orders in ``[start, end)``.

    ``customers`` (all known), ``active_customers`` (≥ 1 completed order in the range),
    ``orders`` (distinct completed orders), ``revenue`` (net, currency), ``aov`` (revenue
    per order), ``observed_churn_rate`` (of customers who bought in the ``churn_lookback_days``
    before ``end − churn_horizon_days``, the share with no purchase in the last
    ``churn_horizon_days`` before ``end``), ``predicted_churn_rate`` (mean churn probability
    of scored customers, null before ``patron score``), ``predicted_clv_total`` and
    ``predicted_clv_mean`` (currency, null before ``patron clv``/``patron score``).
    """
    orders, revenue, completed = _orders(db)
    customers = db.source("customers")
    known = (
        f"(SELECT count(DISTINCT customer_id) FROM {customers})" if customers
        else f"(SELECT count(DISTINCT customer_id) FROM {orders})"
    )
    horizon_start = end - timedelta(days=churn_horizon_days)
    lookback_start = horizon_start - timedelta(days=churn_lookback_days)
    params = [start, end, lookback_start, horizon_start, horizon_start, end]
    frame = db.sql(
        f"""
        WITH sales AS (
            SELECT customer_id, order_id, {revenue} AS revenue, {completed} AS completed
            FROM {orders} WHERE ts >= ?::TIMESTAMP AND ts < ?::TIMESTAMP
        ),
        base AS (
            SELECT DISTINCT customer_id FROM {orders}
            WHERE {completed} AND customer_id IS NOT NULL
              AND ts >= ?::TIMESTAMP AND ts < ?::TIMESTAMP
        ),
        recent AS (
            SELECT DISTINCT customer_id FROM {orders}
            WHERE {completed} AND ts >= ?::TIMESTAMP AND ts < ?::TIMESTAMP
        )
        SELECT
            {known} AS customers,
            (SELECT count(DISTINCT customer_id) FROM sales WHERE completed) AS active_customers,
            (SELECT count(DISTINCT order_id) FROM sales WHERE completed) AS orders,
            (SELECT coalesce(sum(revenue), 0) FROM sales) AS revenue,
            (SELECT count(*) FROM base) AS churn_base,
            (SELECT count(*) FROM base ANTI JOIN recent USING (customer_id)) AS churned
        """,
        params,
    )
    row = frame.iloc[0]
    frame["aov"] = row["revenue"] / row["orders"] if row["orders"] else float("nan")
    frame["observed_churn_rate"] = (
        row["churned"] / row["churn_base"] if row["churn_base"] else float("nan")
    )
    scores = _score_summary(db)
    for column in ("predicted_churn_rate", "scored_customers", "predicted_clv_total",
                   "predicted_clv_mean"):
        frame[column] = scores[column]
    return frame


def _score_summary(db: LakeDB) -> dict[str, Any]:
    sheet = score_sheet(db)
    row = db.sql(
        f"SELECT avg(churn_probability) AS predicted_churn_rate, "
        f"count(churn_probability) AS scored_customers, "
        f"sum(clv) AS predicted_clv_total, avg(clv) AS predicted_clv_mean FROM {sheet}"
    ).iloc[0]
    return row.to_dict()


def revenue_trend(db: LakeDB, start: date, end: date, grain: Grain = "week") -> pd.DataFrame:
    """Per ``grain`` period in ``[start, end)``: ``period``, ``revenue`` (net),
    ``orders`` and ``active_customers`` (completed orders only)."""
    if grain not in ("day", "week", "month"):
        raise ValueError(f"grain {grain!r}: expected day, week or month")
    orders, revenue, completed = _orders(db)
    return db.sql(
        f"""
        SELECT date_trunc('{grain}', ts) AS period,
               sum({revenue}) AS revenue,
               count(DISTINCT order_id) FILTER (WHERE {completed}) AS orders,
               count(DISTINCT customer_id) FILTER (WHERE {completed}) AS active_customers
        FROM {orders} WHERE ts >= ?::TIMESTAMP AND ts < ?::TIMESTAMP
        GROUP BY 1 ORDER BY 1
        """,
        [start, end],
    )


# -- segments ---------------------------------------------------------------------------


def segment_summary(db: LakeDB, kind: Literal["rfm", "model"] = "rfm") -> pd.DataFrame:
    """Per segment: ``customers``, ``customer_share``, ``revenue`` (lifetime net revenue
    before the RFM date), ``revenue_share``, mean recency (days), frequency (orders),
    monetary (currency), CLV and churn probability.

    ``kind="rfm"`` groups by RFM segment, ``"model"`` by the K-Means segment of
    ``scores_segments`` (``patron score``).
    """
    sheet = score_sheet(db)
    cols = db.columns(sheet)
    column = "rfm_segment" if kind == "rfm" else "model_segment"
    if column not in cols:
        raise MissingData("raw_orders" if kind == "rfm" else "scores_segments")
    return db.sql(
        f"""
        SELECT {column} AS segment,
               count(*) AS customers,
               count(*) / sum(count(*)) OVER () AS customer_share,
               coalesce(sum(monetary), 0) AS revenue,
               coalesce(sum(monetary), 0) / nullif(sum(sum(monetary)) OVER (), 0)
                   AS revenue_share,
               avg(recency_days) AS mean_recency_days,
               avg(frequency) AS mean_frequency,
               avg(monetary) AS mean_monetary,
               avg(clv) AS mean_clv,
               avg(churn_probability) AS mean_churn_probability
        FROM {sheet} WHERE {column} IS NOT NULL
        GROUP BY 1 ORDER BY revenue DESC
        """
        if "monetary" in cols
        else f"""
        SELECT {column} AS segment, count(*) AS customers,
               count(*) / sum(count(*)) OVER () AS customer_share,
               NULL AS revenue, NULL AS revenue_share, avg(clv) AS mean_clv,
               avg(churn_probability) AS mean_churn_probability
        FROM {sheet} WHERE {column} IS NOT NULL GROUP BY 1 ORDER BY customers DESC
        """
    )


def segment_profiles(db: LakeDB, kind: Literal["rfm", "model"] = "model") -> pd.DataFrame:
    """Mean of the customer features (:data:`PROFILE_FEATURES`, latest ``as_of``) per segment."""
    require(db, "features_customers")
    sheet = score_sheet(db)
    column = "rfm_segment" if kind == "rfm" else "model_segment"
    if column not in db.columns(sheet):
        raise MissingData("raw_orders" if kind == "rfm" else "scores_segments")
    features = [c for c in PROFILE_FEATURES if c in db.columns("features_customers")]
    means = ", ".join(f"avg(f.{quote(c)}) AS {quote(c)}" for c in features)
    return db.sql(
        f"""
        WITH f AS (SELECT * FROM features_customers
                   WHERE as_of = (SELECT max(as_of) FROM features_customers))
        SELECT s.{column} AS segment, count(*) AS customers, {means}
        FROM f JOIN {sheet} s USING (customer_id)
        WHERE s.{column} IS NOT NULL GROUP BY 1 ORDER BY customers DESC
        """
    )


def rfm_grid(db: LakeDB) -> pd.DataFrame:
    """Customers and mean monetary value (currency) per (R score, F score) cell."""
    sheet = score_sheet(db)
    if "r_score" not in db.columns(sheet):
        raise MissingData("raw_orders")
    return db.sql(
        f"SELECT r_score, f_score, count(*) AS customers, avg(monetary) AS mean_monetary, "
        f"sum(monetary) AS revenue FROM {sheet} WHERE r_score IS NOT NULL "
        "GROUP BY 1, 2 ORDER BY 1, 2"
    )


# -- churn risk -------------------------------------------------------------------------


def churn_filters_ok(db: LakeDB) -> None:
    """Raise :class:`MissingData` until churn scores exist."""
    require(db, "scores_churn")


def risk_bands(db: LakeDB, **filters: Any) -> pd.DataFrame:
    """Per risk band (high, medium, low): ``customers``, ``clv`` at stake (currency) and
    mean churn probability, for customers matching ``filters`` (segment, region, min_clv)."""
    churn_filters_ok(db)
    sheet = score_sheet(db)
    from patron.apps._scores import customer_filter

    where, params = customer_filter(columns=db.columns(sheet), **filters)
    return db.sql(
        f"""
        SELECT risk, count(*) AS customers, coalesce(sum(clv), 0) AS clv,
               avg(churn_probability) AS mean_churn_probability
        FROM {sheet} WHERE risk IS NOT NULL AND {where}
        GROUP BY 1 ORDER BY CASE risk WHEN 'high' THEN 0 WHEN 'medium' THEN 1 ELSE 2 END
        """,
        params,
    )


def top_reasons(db: LakeDB, limit: int = 10, **filters: Any) -> pd.DataFrame:
    """The most common churn reasons (any of ``reason_1..3``) among matching customers.

    Reasons name a feature, its value and direction (``spend_90d=0 (+)``); they are counted
    by feature and direction (``spend_90d (+)``), since values differ per customer."""
    churn_filters_ok(db)
    sheet = score_sheet(db)
    cols = db.columns(sheet)
    reasons = [c for c in ("reason_1", "reason_2", "reason_3") if c in cols]
    if not reasons:
        return pd.DataFrame(columns=["reason", "customers"])
    from patron.apps._scores import customer_filter

    where, params = customer_filter(columns=cols, **filters)
    unions = " UNION ALL ".join(
        f"SELECT customer_id, {_REASON_LABEL.format(r)} AS reason FROM matching "
        f"WHERE nullif({r}, '') IS NOT NULL"
        for r in reasons
    )
    return db.sql(
        f"""
        WITH matching AS (SELECT * FROM {sheet} WHERE {where})
        SELECT reason, count(DISTINCT customer_id) AS customers FROM ({unions})
        GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT {int(limit)}
        """,
        params,
    )


#: SQL turning a reason such as ``aov=46.5 (+)`` into its label ``aov (+)``
_REASON_LABEL = "trim(regexp_replace({}, '=[^(]*', ' '))"

CHURN_COLUMNS: tuple[str, ...] = (
    "customer_id", "segment", "region", "risk", "churn_probability", "clv",
    "reason_1", "reason_2", "reason_3", "email_opt_in",
)


def at_risk_customers(
    db: LakeDB, *, limit: int = 50, offset: int = 0, **filters: Any
) -> pd.DataFrame:
    """A page of matching customers, highest churn probability first."""
    churn_filters_ok(db)
    return select_customers(db, columns=CHURN_COLUMNS, limit=limit, offset=offset, **filters)


def count_matching(db: LakeDB, **filters: Any) -> int:
    return count_customers(db, **filters)


def filter_choices(db: LakeDB) -> pd.DataFrame:
    """Distinct ``kind`` / ``value`` pairs for the segment and region filters."""
    sheet = score_sheet(db)
    cols = db.columns(sheet)
    parts = [
        f"SELECT DISTINCT '{c}' AS kind, CAST({c} AS VARCHAR) AS value FROM {sheet} "
        f"WHERE {c} IS NOT NULL"
        for c in ("segment", "region") if c in cols
    ]
    if not parts:
        return pd.DataFrame(columns=["kind", "value"])
    return db.sql(" UNION ALL ".join(parts) + " ORDER BY 1, 2")


def live_scores(db: LakeDB, limit: int = 20) -> pd.DataFrame:
    """Newest rows of a live-scores table (``scores_live``/``scores_churn_live``), if any."""
    for table in ("scores_churn_live", "scores_live"):
        if db.has(table):
            cols = db.columns(table)
            order = next((c for c in ("scored_at", "ts", "as_of") if c in cols), "customer_id")
            return db.sql(f"SELECT * FROM {table} ORDER BY {order} DESC LIMIT {int(limit)}")
    return pd.DataFrame()


# -- customer 360 -----------------------------------------------------------------------


def find_customers(db: LakeDB, prefix: str, limit: int = 20) -> pd.DataFrame:
    """Customer ids starting with ``prefix`` (case-insensitive), for the search box."""
    sheet = score_sheet(db)
    return db.sql(
        f"SELECT customer_id FROM {sheet} WHERE customer_id ILIKE ? ORDER BY 1 LIMIT {int(limit)}",
        [prefix.strip() + "%"],
    )


def customer_scores(db: LakeDB, customer_id: str) -> pd.DataFrame:
    """The customer's row of the score sheet (segment, risk, CLV, reasons, RFM)."""
    sheet = score_sheet(db)
    return db.sql(f"SELECT * FROM {sheet} WHERE customer_id = ?", [customer_id])


def customer_features(db: LakeDB, customer_id: str) -> pd.DataFrame:
    """The customer's features at the latest ``as_of`` (one row, or none)."""
    if not db.has("features_customers"):
        return pd.DataFrame()
    return db.sql(
        "SELECT * FROM features_customers WHERE customer_id = ? ORDER BY as_of DESC LIMIT 1",
        [customer_id],
    )


def customer_timeline(db: LakeDB, customer_id: str, limit: int = 200) -> pd.DataFrame:
    """The customer's events, newest first: ``ts``, ``kind`` (order, session, ticket, post,
    marketing), ``detail`` and ``amount`` (net revenue of an order, else null)."""
    parts: list[str] = []
    params: list[Any] = []
    orders = db.source("orders")
    if orders:
        _, revenue, _ = _orders(db)
        parts.append(
            f"SELECT min(ts) AS ts, 'order' AS kind, "
            f"order_id || ' · ' || string_agg(DISTINCT category, ', ') || ' · ' || "
            f"string_agg(DISTINCT status, ', ') AS detail, sum({revenue}) AS amount "
            f"FROM {orders} WHERE customer_id = ? GROUP BY order_id"
        )
        params.append(customer_id)
    specs = {
        "sessions": ("session", "coalesce(device, '') || ' · ' || coalesce(channel, '') || "
                     "CASE WHEN converted THEN ' · converted' ELSE '' END"),
        "support_tickets": ("ticket", "coalesce(category, '') || ' · ' || coalesce(priority, '')"),
        "social_posts": ("post", "coalesce(platform, '') || ' · ' || left(coalesce(text, ''), 80)"),
        "marketing": ("marketing", "coalesce(kind, '') || ' ' || coalesce(campaign_id, '') || "
                      "CASE WHEN clicked THEN ' · clicked' WHEN opened THEN ' · opened' "
                      "ELSE '' END"),
    }
    for kind, (label, detail) in specs.items():
        table = db.source(kind)
        if table:
            parts.append(
                f"SELECT ts, '{label}' AS kind, {detail} AS detail, CAST(NULL AS DOUBLE) AS amount "
                f"FROM {table} WHERE customer_id = ?"
            )
            params.append(customer_id)
    if not parts:
        raise MissingData("raw_orders")
    return db.sql(
        " UNION ALL ".join(parts) + f" ORDER BY ts DESC LIMIT {int(limit)}", params
    )


# -- cohorts ----------------------------------------------------------------------------


def cohort_long(db: LakeDB, period: Literal["month", "week"] = "month") -> pd.DataFrame:
    """:func:`patron.analytics.cohort_retention` of all orders, as a long table."""
    from patron.analytics import cohort_retention

    orders = _source(db, "orders")
    return db.sql(_ibis_sql(db, lambda b: cohort_retention(b.table(orders), period=period)))


# -- CLV --------------------------------------------------------------------------------


def clv_available(db: LakeDB) -> None:
    if not (db.has("scores_clv") or db.has("scores_lifetime_value")):
        raise MissingData("scores_lifetime_value")


def clv_histogram(db: LakeDB, bins: int = 40) -> pd.DataFrame:
    """CLV distribution in ``bins`` equal-width bins up to the 99th percentile (the last
    bin holds the tail): ``lower``, ``upper`` (currency) and ``customers``."""
    clv_available(db)
    sheet = score_sheet(db)
    return db.sql(
        f"""
        WITH v AS (SELECT clv FROM {sheet} WHERE clv IS NOT NULL),
        b AS (SELECT greatest(quantile_cont(clv, 0.99), 1e-9) AS top FROM v)
        SELECT least(floor(clv / (top / {bins})), {bins - 1}) * (top / {bins}) AS lower,
               (least(floor(clv / (top / {bins})), {bins - 1}) + 1) * (top / {bins}) AS upper,
               count(*) AS customers
        FROM v, b GROUP BY 1, 2 ORDER BY 1
        """
    )


def clv_summary(db: LakeDB) -> pd.DataFrame:
    """One row: ``customers`` with a CLV, ``total``, ``mean``, ``median``, ``p90`` (currency)
    and ``top_decile_share`` (fraction of total CLV held by the top 10 % of customers)."""
    clv_available(db)
    sheet = score_sheet(db)
    return db.sql(
        f"""
        WITH v AS (SELECT clv, ntile(10) OVER (ORDER BY clv DESC) AS decile
                   FROM {sheet} WHERE clv IS NOT NULL)
        SELECT count(*) AS customers, sum(clv) AS total, avg(clv) AS mean,
               median(clv) AS median, quantile_cont(clv, 0.9) AS p90,
               sum(clv) FILTER (WHERE decile = 1) / nullif(sum(clv), 0) AS top_decile_share
        FROM v
        """
    )


def clv_by_segment(db: LakeDB) -> pd.DataFrame:
    """Per segment: ``customers``, ``total_clv``, ``mean_clv`` (currency), ``mean_p_alive``."""
    clv_available(db)
    sheet = score_sheet(db)
    p_alive = "avg(p_alive)" if "p_alive" in db.columns(sheet) else "NULL"
    return db.sql(
        f"SELECT segment, count(*) AS customers, sum(clv) AS total_clv, avg(clv) AS mean_clv, "
        f"{p_alive} AS mean_p_alive FROM {sheet} WHERE clv IS NOT NULL AND segment IS NOT NULL "
        "GROUP BY 1 ORDER BY total_clv DESC"
    )


def clv_diagnostics(db: LakeDB) -> pd.DataFrame:
    """Parameters and settings of the probabilistic CLV fits, newest first (from the log)."""
    rows = []
    for entry in reversed(db.lake.entries()):
        if entry.meta.get("table") != "scores/lifetime_value":
            continue
        row = {"committed_at": entry.committed_at, "as_of": entry.meta.get("as_of"),
               "model": entry.meta.get("model"),
               "horizon_months": entry.meta.get("horizon_months"),
               "discount_rate_per_month": entry.meta.get("discount_rate_per_month")}
        row.update({f"param_{k}": v for k, v in (entry.meta.get("params") or {}).items()})
        row.update({f"spend_{k}": v for k, v in (entry.meta.get("spend_params") or {}).items()})
        rows.append(row)
    return pd.DataFrame(rows)


def clv_vs_history(db: LakeDB, sample: int = 2000) -> pd.DataFrame:
    """A reproducible sample of customers: past ``monetary`` vs predicted ``clv``."""
    clv_available(db)
    sheet = score_sheet(db)
    if "monetary" not in db.columns(sheet):
        return pd.DataFrame()
    return db.sql(
        f"SELECT customer_id, monetary, clv, segment FROM {sheet} "
        f"WHERE clv IS NOT NULL AND monetary IS NOT NULL "
        f"ORDER BY hash(customer_id) LIMIT {int(sample)}"
    )


# -- insights ---------------------------------------------------------------------------


def conversion(db: LakeDB, by: str = "channel") -> pd.DataFrame:
    """Session conversion per ``by`` value with 95 % Wilson intervals."""
    from patron.analytics import conversion_rates

    sessions = _source(db, "sessions")
    if by not in db.columns(sessions):
        raise ValueError(f"sessions have no column {by!r}")
    return db.sql(_ibis_sql(db, lambda b: conversion_rates(b.table(sessions), by)))


def sentiment_summary(db: LakeDB) -> pd.DataFrame:
    """Per platform and label: ``posts`` and ``mean_sentiment`` (VADER compound −1…1)."""
    require(db, "features_post_sentiment")
    return db.sql(
        "SELECT coalesce(lower(platform), 'unknown') AS platform, sentiment_label, "
        "count(*) AS posts, avg(sentiment) AS mean_sentiment "
        "FROM features_post_sentiment GROUP BY 1, 2 ORDER BY 1, 2"
    )


def sentiment_histogram(db: LakeDB, bins: int = 40) -> pd.DataFrame:
    """Posts per compound-score bin (width 2/``bins``) and label."""
    require(db, "features_post_sentiment")
    return db.sql(
        f"SELECT least(floor((sentiment + 1) * {bins} / 2), {bins - 1}) * 2.0 / {bins} - 1 "
        "AS lower, sentiment_label, count(*) AS posts FROM features_post_sentiment "
        "WHERE sentiment IS NOT NULL GROUP BY 1, 2 ORDER BY 1"
    )


# -- data quality -----------------------------------------------------------------------


def ingest_accounting(db: LakeDB) -> pd.DataFrame:
    """One row per ingest batch: ``source``, ``kind``, ``rows_read``, ``accepted``,
    ``quarantined`` (read = accepted + quarantined) and when it was committed."""
    rows = [
        {
            "committed_at": e.committed_at,
            "kind": e.meta.get("kind"),
            "source": e.meta.get("source"),
            "rows_read": int(e.meta.get("rows_read") or 0),
            "accepted": int(e.meta.get("accepted") or 0),
            "quarantined": int(e.meta.get("quarantined") or 0),
            "batch_id": e.batch_id,
        }
        for e in db.lake.entries()
        if "rows_read" in e.meta
    ]
    columns = ["committed_at", "kind", "source", "rows_read", "accepted", "quarantined",
               "batch_id"]
    return pd.DataFrame(rows, columns=columns)


def quarantine_reasons(db: LakeDB) -> pd.DataFrame:
    """Quarantined rows per ``table`` (kind) and ``rule``, most frequent first."""
    totals: dict[tuple[str, str], int] = {}
    for entry in db.lake.entries():
        kind = entry.meta.get("kind") or entry.operation.removeprefix("ingest ").strip()
        for rule, n in (entry.meta.get("quarantined_by_rule") or {}).items():
            totals[(kind, rule)] = totals.get((kind, rule), 0) + int(n)
    frame = pd.DataFrame(
        [(k, r, n) for (k, r), n in totals.items()], columns=["table", "rule", "rows"]
    )
    return frame.sort_values(["rows", "table", "rule"], ascending=[False, True, True],
                             ignore_index=True)


def quarantine_sample(db: LakeDB, kind: str, limit: int = 100) -> pd.DataFrame:
    """Quarantined rows of one table with their rule, reason and original content."""
    if not db.lake.has_table("quarantine", kind):
        raise MissingData(f"quarantine_{kind}")
    scan = db.lake.scan_sql("quarantine", kind)
    return db.sql(
        f"SELECT _source, _source_row, _rule, _reason, _original FROM {scan} "
        f"ORDER BY _source, _source_row LIMIT {int(limit)}"
    )


def table_status(db: LakeDB) -> pd.DataFrame:
    """Rows, files and last commit of every lake table (from Parquet footers)."""
    return pd.DataFrame([s.__dict__ for s in db.lake.status()])


# -- models -----------------------------------------------------------------------------


def registry_models(db: LakeDB) -> pd.DataFrame:
    """Models in the registry: one row per saved version with its metrics (may be empty)."""
    from patron.apps._registry import list_models

    return list_models(db)
