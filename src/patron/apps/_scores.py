"""The per-customer score sheet that the dashboard, the API and the exports share.

One row per known customer, built in DuckDB from whatever the lake holds:

* from ``customers``: ``region``, ``country``, ``acquisition_channel``, ``email_opt_in``,
  ``signup_date``;
* RFM (:func:`patron.analytics.rfm_scores` on the orders, as of ``rfm_as_of``):
  ``rfm_segment``, ``recency_days``, ``frequency``, ``monetary`` (currency) and the 1–5
  scores;
* every model score table ``scores_churn``, ``scores_purchase``, ``scores_spend``,
  ``scores_clv``, ``scores_segments`` (written by ``patron score``), latest ``as_of`` per
  customer: their score columns as they are named there, ``<table>_model_version`` and
  ``<table>_as_of``; the churn table's ``reason_1..reason_3`` keep their names;
* the probabilistic CLV of ``scores_lifetime_value`` (``patron clv``): ``clv_probabilistic``,
  ``p_alive``, ``expected_purchases``;
* live rescores of ``scores_live`` (``patron stream`` with live scoring): when a customer's
  newest live score is newer than the batch churn score, its churn probability and reasons
  replace the batch ones, and ``live_scored_at`` says when.

Then three columns every consumer relies on, whichever tables exist:

* ``segment`` — the K-Means segment name when ``scores_segments`` exists, else the RFM one;
* ``churn_probability`` and ``risk`` — ``high`` (≥ :data:`HIGH_RISK`), ``medium``
  (≥ :data:`MEDIUM_RISK`) or ``low``; null when churn was not scored;
* ``clv`` — the regression CLV of ``scores_clv`` when present, else the probabilistic one
  (currency, over the model's horizon), floored at 0 (the raw model outputs stay in their
  own columns).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Literal

import duckdb
import pandas as pd

from patron.apps._lakedb import LakeDB

log = logging.getLogger(__name__)

#: churn probability (0–1) at or above which a customer is high risk
HIGH_RISK = 0.5
#: churn probability (0–1) at or above which a customer is medium risk
MEDIUM_RISK = 0.25
Risk = Literal["high", "medium", "low"]
RISKS: tuple[str, ...] = ("high", "medium", "low")

#: model score tables written by ``patron score`` (lake layer ``scores``)
MODEL_TABLES: tuple[str, ...] = ("churn", "purchase", "spend", "clv", "segments")
#: the name of the materialised score sheet in the apps' DuckDB
SHEET = "customer_scores"
#: lake bookkeeping columns never shown to users
_BOOKKEEPING = {"_batch_id", "_ingested_at", "_source", "_source_row", "event_id", "month"}


def quote(name: str) -> str:
    """A DuckDB identifier, quoted."""
    return '"' + name.replace('"', '""') + '"'


def risk_case(probability: str) -> str:
    """SQL that turns a churn-probability expression into its risk band."""
    return (
        f"CASE WHEN {probability} IS NULL THEN NULL "
        f"WHEN {probability} >= {HIGH_RISK} THEN 'high' "
        f"WHEN {probability} >= {MEDIUM_RISK} THEN 'medium' ELSE 'low' END"
    )


def score_sheet(db: LakeDB) -> str:
    """Name of the score-sheet table, (re)built if the lake changed since the last call."""
    return db.derived(SHEET, _build_sheet)


def sheet_columns(db: LakeDB) -> list[str]:
    return db.columns(score_sheet(db))


def rfm_as_of(db: LakeDB) -> Any:
    """The date RFM is computed at: the newest ``as_of`` of churn scores or features, else the
    day after the last order."""
    for table in ("scores_churn", "features_customers"):
        if db.has(table) and "as_of" in db.columns(table):
            value = db.scalar(f"SELECT max(as_of) FROM {table}")
            if value is not None:
                return pd.Timestamp(value).date()
    orders = db.source("orders")
    if orders is None:
        return None
    last = db.scalar(f"SELECT max(ts) FROM {orders}")
    return None if last is None else (pd.Timestamp(last).normalize() + pd.Timedelta(days=1)).date()


def _latest(table: str, columns: list[str]) -> str:
    if "as_of" in columns:
        return (
            f"(SELECT * FROM {table} QUALIFY row_number() OVER "
            f"(PARTITION BY customer_id ORDER BY as_of DESC) = 1)"
        )
    return f"(SELECT * FROM {table} QUALIFY row_number() OVER (PARTITION BY customer_id) = 1)"


def _build_sheet(db: LakeDB, con: duckdb.DuckDBPyConnection) -> None:
    tables = db.tables()
    selects: dict[str, str] = {"customer_id": "ids.customer_id"}
    joins: list[str] = []
    id_sources: list[str] = []

    customers = db.source("customers")
    if customers:
        cols = db.columns(customers)
        order = "updated_at DESC NULLS LAST" if "updated_at" in cols else "customer_id"
        joins.append(
            f"LEFT JOIN (SELECT * FROM {customers} WHERE customer_id IS NOT NULL QUALIFY "
            f"row_number() OVER (PARTITION BY customer_id ORDER BY {order}) = 1) c "
            "USING (customer_id)"
        )
        id_sources.append(f"SELECT DISTINCT customer_id FROM {customers}")
        for name, alias in (("region", "region"), ("country", "country"),
                            ("channel", "acquisition_channel"), ("email_opt_in", "email_opt_in"),
                            ("signup_date", "signup_date")):
            if name in cols:
                selects[alias] = f"c.{quote(name)}"

    orders = db.source("orders")
    as_of = rfm_as_of(db)
    if orders and as_of is not None:
        _materialise_rfm(con, orders, as_of)
        joins.append("LEFT JOIN _rfm r USING (customer_id)")
        id_sources.append("SELECT customer_id FROM _rfm")
        selects["rfm_segment"] = "r.segment"
        for name in ("recency_days", "frequency", "r_score", "f_score", "m_score"):
            selects[name] = f"r.{name}"
        # parallel float sums differ in the last bits between runs; cents are what matter
        selects["monetary"] = "round(r.monetary, 4)"
        selects["rfm_as_of"] = f"DATE '{as_of}'"

    clv_columns: list[str] = []
    for short in MODEL_TABLES:
        table = f"scores_{short}"
        if table not in tables:
            continue
        cols = db.columns(table)
        if "customer_id" not in cols:
            log.warning("%s has no customer_id column; left out of the score sheet", table)
            continue
        alias = f"s_{short}"
        joins.append(f"LEFT JOIN {_latest(table, cols)} {alias} USING (customer_id)")
        id_sources.append(f"SELECT DISTINCT customer_id FROM {table}")
        for col in cols:
            if col == "customer_id" or col in _BOOKKEEPING:
                continue
            per_model = col in ("model_version", "as_of", "model", "scored_at")
            if per_model or (col.startswith("reason_") and short != "churn"):
                name = f"{short}_{col}"
            elif col == "segment" and short == "segments":
                name = "model_segment"
            elif col in selects:
                name = f"{short}_{col}"
            else:
                name = col
            selects[name] = f"{alias}.{quote(col)}"
            if short == "clv" and "clv" in col.lower() and col not in ("model_version",):
                clv_columns.append(name)

    if "scores_lifetime_value" in tables:
        cols = db.columns("scores_lifetime_value")
        joins.append(f"LEFT JOIN {_latest('scores_lifetime_value', cols)} lv USING (customer_id)")
        id_sources.append("SELECT DISTINCT customer_id FROM scores_lifetime_value")
        selects["clv_probabilistic"] = "lv.clv"
        for col in ("p_alive", "expected_purchases", "expected_avg_spend"):
            if col in cols:
                selects[col if col not in selects else f"lifetime_value_{col}"] = f"lv.{col}"
        selects["lifetime_value_as_of"] = "lv.as_of" if "as_of" in cols else "NULL"

    # the three columns every consumer relies on
    segment_parts = [selects[k] for k in ("model_segment", "rfm_segment") if k in selects]
    selects["segment"] = f"coalesce({', '.join(segment_parts)})" if segment_parts else "NULL"
    churn = _churn_column(selects)
    if churn is not None and churn != "churn_probability":
        selects["churn_probability"] = selects[churn]
    churn_sql = selects.get("churn_probability", "NULL")
    live_cols = db.columns("scores_live") if "scores_live" in tables else []
    if {"customer_id", "scored_at", "churn_probability"} <= set(live_cols):
        # a live rescore newer than the batch scores wins (patron stream --live-scores)
        joins.append(
            "LEFT JOIN (SELECT * FROM scores_live QUALIFY row_number() OVER (PARTITION BY "
            "customer_id ORDER BY scored_at DESC) = 1) live USING (customer_id)"
        )
        id_sources.append("SELECT DISTINCT customer_id FROM scores_live")
        batch_as_of = selects.get("churn_as_of", "NULL")
        newer = (f"(live.scored_at IS NOT NULL AND ({batch_as_of} IS NULL OR "
                 f"live.scored_at >= CAST({batch_as_of} AS TIMESTAMP)))")
        churn_sql = f"CASE WHEN {newer} THEN live.churn_probability ELSE {churn_sql} END"
        for k in (1, 2, 3):
            reason = f"reason_{k}"
            if reason in live_cols:
                batch = selects.get(reason, "CAST(NULL AS VARCHAR)")
                selects[reason] = f"CASE WHEN {newer} THEN live.{reason} ELSE {batch} END"
        selects["live_scored_at"] = "live.scored_at"
    selects["churn_probability"] = f"CAST({churn_sql} AS DOUBLE)"
    existing_risk = next((k for k in ("risk", "risk_band", "churn_risk") if k in selects), None)
    selects["risk"] = (
        f"lower(CAST({selects[existing_risk]} AS VARCHAR))" if existing_risk
        else risk_case(selects["churn_probability"])
    )
    clv_parts = [selects[c] for c in clv_columns] + (
        [selects["clv_probabilistic"]] if "clv_probabilistic" in selects else []
    )
    # a regression can predict below zero; no customer is worth less than nothing
    selects["clv"] = (
        f"greatest(CAST(coalesce({', '.join(clv_parts)}) AS DOUBLE), 0.0)" if clv_parts
        else "CAST(NULL AS DOUBLE)"
    )

    if not id_sources:
        con.execute(f"CREATE OR REPLACE TABLE {SHEET} (customer_id VARCHAR, segment VARCHAR, "
                    "churn_probability DOUBLE, risk VARCHAR, clv DOUBLE)")
        return
    ids = " UNION ".join(id_sources)
    body = ",\n  ".join(f"{expr} AS {quote(name)}" for name, expr in selects.items())
    sql = (
        f"CREATE OR REPLACE TABLE {SHEET} AS SELECT\n  {body}\n"
        f"FROM (SELECT DISTINCT customer_id FROM ({ids}) WHERE customer_id IS NOT NULL) ids\n"
        + "\n".join(joins)
        + "\nORDER BY customer_id"
    )
    con.execute(sql)
    con.execute("DROP TABLE IF EXISTS _rfm")


def _churn_column(selects: dict[str, str]) -> str | None:
    if "churn_probability" in selects:
        return "churn_probability"
    for name in selects:
        if "churn" in name and ("prob" in name or "score" in name) and "model" not in name:
            return name
    return None


def _materialise_rfm(con: duckdb.DuckDBPyConnection, orders: str, as_of: Any) -> None:
    """RFM scores of every customer, through the analytics package's Ibis expression."""
    import ibis

    from patron.analytics import rfm_scores

    backend = ibis.duckdb.from_connection(con)
    expr = rfm_scores(backend.table(orders), as_of)
    con.execute(f"CREATE OR REPLACE TEMP TABLE _rfm AS {backend.compile(expr)}")


# -- queries shared by the apps ---------------------------------------------------------


def customer_filter(
    *,
    segment: str | None = None,
    risk: str | Sequence[str] | None = None,
    region: str | Sequence[str] | None = None,
    min_clv: float | None = None,
    min_churn_probability: float | None = None,
    email_opt_in: bool | None = None,
    columns: Sequence[str] = (),
) -> tuple[str, list[Any]]:
    """A SQL ``WHERE`` clause (with ``?`` parameters) over the score sheet.

    ``segment`` matches the K-Means or the RFM segment, ignoring case; ``risk`` and
    ``region`` take one value or several. Filters on columns the sheet lacks match nothing.
    """
    clauses: list[str] = ["TRUE"]
    params: list[Any] = []
    if segment:
        names = [c for c in ("segment", "rfm_segment", "model_segment") if c in columns]
        if names:
            clauses.append("(" + " OR ".join(f"lower({c}) = lower(?)" for c in names) + ")")
            params.extend([segment] * len(names))
        else:
            clauses.append("FALSE")
    for column, value in (("risk", risk), ("region", region)):
        if value is None or (not isinstance(value, str) and not value):
            continue
        values = [value] if isinstance(value, str) else list(value)
        if column not in columns:
            clauses.append("FALSE")
            continue
        clauses.append(f"lower({column}) IN ({', '.join('lower(?)' for _ in values)})")
        params.extend(values)
    if min_clv is not None:
        clauses.append("clv >= ?")
        params.append(float(min_clv))
    if min_churn_probability is not None:
        clauses.append("churn_probability >= ?")
        params.append(float(min_churn_probability))
    if email_opt_in is not None:
        if "email_opt_in" in columns:
            clauses.append("email_opt_in = ?")
            params.append(bool(email_opt_in))
        else:
            clauses.append("FALSE")
    return " AND ".join(clauses), params


def select_customers(
    db: LakeDB,
    *,
    columns: Sequence[str] | None = None,
    limit: int | None = None,
    offset: int = 0,
    order_by: str = "churn_probability DESC NULLS LAST, clv DESC NULLS LAST, customer_id",
    **filters: Any,
) -> pd.DataFrame:
    """Rows of the score sheet matching ``filters`` (see :func:`customer_filter`), paged."""
    sheet = score_sheet(db)
    available = db.columns(sheet)
    where, params = customer_filter(columns=available, **filters)
    wanted = [c for c in (columns or available) if c in available]
    cols = ", ".join(quote(c) for c in wanted) or "*"
    page = ""
    if limit is not None:
        page = f" LIMIT {int(limit)} OFFSET {int(offset)}"
    return db.sql(f"SELECT {cols} FROM {sheet} WHERE {where} ORDER BY {order_by}{page}", params)


def count_customers(db: LakeDB, **filters: Any) -> int:
    """How many score-sheet rows match ``filters``."""
    sheet = score_sheet(db)
    where, params = customer_filter(columns=db.columns(sheet), **filters)
    return int(db.scalar(f"SELECT count(*) FROM {sheet} WHERE {where}", params) or 0)


def top_reason_sql(columns: Sequence[str]) -> str:
    """SQL of a customer's first stated churn reason (NULL when churn has no reasons)."""
    return "reason_1" if "reason_1" in columns else "CAST(NULL AS VARCHAR)"
