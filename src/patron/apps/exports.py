"""Scores leave the lake for the tools marketers use: BI (PostgreSQL, Tableau) and mailings.

* :func:`publish_postgres` upserts the score sheet (:mod:`patron.apps._scores`) into three
  PostgreSQL tables keyed by ``customer_id`` — ``<prefix>scores`` (churn, purchase, spend
  and reasons), ``<prefix>segments`` (K-Means and RFM) and ``<prefix>clv`` — with
  ``INSERT … ON CONFLICT (customer_id) DO UPDATE``. ``updated_at`` moves only when a row's
  values change, so BI tools can read "what changed since" and re-publishing the same scores
  is a no-op. Rows stream through ``COPY`` in chunks, so a million customers never sit in
  Python memory at once.
* :func:`export_hyper` writes the score sheet as a Tableau Hyper extract (table
  ``"Extract"."Extract"``, the name Tableau opens by default).
* :func:`campaign_frame` / :func:`write_campaign` produce a mailing list: the columns a
  mailing tool needs, filtered by segment, risk band, region and minimum CLV.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from patron.apps._lakedb import LakeDB
from patron.apps._scores import quote, score_sheet, select_customers
from patron.errors import PatronError, require

log = logging.getLogger(__name__)

#: columns of a campaign list, in order
CAMPAIGN_COLUMNS: tuple[str, ...] = (
    "customer_id", "email_opt_in", "region", "country", "segment", "risk",
    "churn_probability", "clv", "top_reason",
)

#: PostgreSQL tables (after the prefix) and the score-sheet columns each one holds;
#: ``None`` means "every remaining model score column" (churn, purchase, spend…)
PUBLISHED: dict[str, tuple[str, ...] | None] = {
    "segments": ("segment", "model_segment", "segments_model_version", "rfm_segment",
                 "r_score", "f_score", "m_score", "recency_days", "frequency", "monetary",
                 "region", "country", "email_opt_in"),
    "clv": ("clv", "clv_probabilistic", "p_alive", "expected_purchases", "expected_avg_spend",
            "clv_model_version", "clv_as_of", "lifetime_value_as_of"),
    "scores": None,
}
_ALL_PUBLISHED = {c for cols in PUBLISHED.values() if cols for c in cols}
#: customer attributes that are not scores (kept out of the catch-all ``scores`` table)
_ATTRIBUTES = {"acquisition_channel", "signup_date", "rfm_as_of"}

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,40}$")


# -- campaign lists ---------------------------------------------------------------------


def campaign_frame(
    db: LakeDB,
    *,
    segment: str | None = None,
    risk: str | Sequence[str] | None = None,
    region: str | Sequence[str] | None = None,
    min_clv: float | None = None,
    opted_in_only: bool = False,
) -> pd.DataFrame:
    """The campaign list: :data:`CAMPAIGN_COLUMNS` of every matching customer, highest
    churn probability (then CLV) first. ``top_reason`` is the churn model's first reason."""
    if risk and not db.has("scores_churn"):
        raise PatronError("filtering by churn risk needs churn scores",
                          hint="produce them with: patron train && patron score")
    frame = select_customers(
        db,
        segment=segment,
        risk=risk,
        region=region,
        min_clv=min_clv,
        email_opt_in=True if opted_in_only else None,
    )
    frame["top_reason"] = frame.get("reason_1")
    for column in CAMPAIGN_COLUMNS:
        if column not in frame:
            frame[column] = None
    return frame[list(CAMPAIGN_COLUMNS)].reset_index(drop=True)


def write_campaign(
    frame: pd.DataFrame, out: Path, fmt: Literal["csv", "parquet"] | None = None
) -> Path:
    """Write a campaign list as CSV or Parquet (``fmt`` defaults to the file's suffix)."""
    fmt = fmt or ("parquet" if out.suffix.lower() == ".parquet" else "csv")
    if fmt not in ("csv", "parquet"):
        raise PatronError(f"--format {fmt!r}: expected csv or parquet")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    if fmt == "csv":
        frame.to_csv(tmp, index=False)
    else:
        frame.to_parquet(tmp, index=False)
    tmp.replace(out)
    return out


# -- PostgreSQL -------------------------------------------------------------------------


@dataclass(frozen=True)
class PublishResult:
    """What :func:`publish_postgres` did: per table, rows sent and rows inserted/changed."""

    schema: str
    sent: dict[str, int]
    changed: dict[str, int]


_PG_TYPES = {
    "VARCHAR": "text", "DOUBLE": "double precision", "FLOAT": "double precision",
    "BIGINT": "bigint", "INTEGER": "bigint", "HUGEINT": "numeric", "SMALLINT": "bigint",
    "BOOLEAN": "boolean", "DATE": "date", "TIMESTAMP": "timestamp",
    "TIMESTAMP WITH TIME ZONE": "timestamptz", "UBIGINT": "numeric", "UINTEGER": "bigint",
}


def _sheet_types(db: LakeDB) -> dict[str, str]:
    sheet = score_sheet(db)
    rows = db.sql(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = ? "
        "ORDER BY ordinal_position",
        [sheet],
    )
    return dict(zip(rows["column_name"], rows["data_type"], strict=True))


def _published_columns(types: dict[str, str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for table, wanted in PUBLISHED.items():
        if wanted is None:
            cols = [c for c in types if c != "customer_id" and c not in _ALL_PUBLISHED
                    and c not in _ATTRIBUTES]
        else:
            cols = [c for c in wanted if c in types]
        out[table] = cols
    return out


def _check_identifier(value: str, what: str) -> str:
    if not _IDENTIFIER.match(value):
        raise PatronError(f"{what} {value!r}: use letters, digits and underscores only")
    return value


def publish_postgres(
    db: LakeDB,
    url: str,
    *,
    schema: str = "public",
    prefix: str = "patron_",
    chunk_rows: int = 50_000,
) -> PublishResult:
    """Upsert scores, segments and CLV into PostgreSQL at ``url`` (see module docstring)."""
    require("psycopg", "postgres")
    import psycopg

    _check_identifier(schema, "schema")
    if prefix:
        _check_identifier(prefix, "table prefix")
    types = _sheet_types(db)
    groups = _published_columns(types)
    sheet = score_sheet(db)
    sent: dict[str, int] = {}
    changed: dict[str, int] = {}
    try:
        conn = psycopg.connect(url, autocommit=False)
    except psycopg.Error as exc:
        raise PatronError(f"cannot connect to PostgreSQL: {exc}".strip()) from None
    with conn:
        conn.execute(f"CREATE SCHEMA IF NOT EXISTS {quote(schema)}")
        for short, columns in groups.items():
            table = f"{quote(schema)}.{quote(prefix + short)}"
            _ensure_table(conn, table, prefix + short, columns, types)
            staging = quote(f"_patron_stage_{short}")
            conn.execute(f"CREATE TEMP TABLE {staging} (LIKE {table} INCLUDING DEFAULTS) "
                         "ON COMMIT DROP")
            all_cols = ["customer_id", *columns]
            col_list = ", ".join(quote(c) for c in all_cols)
            n = 0
            with conn.cursor() as cur, cur.copy(f"COPY {staging} ({col_list}) FROM STDIN") as cp:
                for rows in _chunks(db, sheet, all_cols, chunk_rows):
                    for row in rows:
                        cp.write_row(row)
                    n += len(rows)
            sent[short] = n
            updates = ", ".join(f"{quote(c)} = EXCLUDED.{quote(c)}" for c in columns)
            distinct = (
                f"({', '.join(f't.{quote(c)}' for c in columns)}) IS DISTINCT FROM "
                f"({', '.join(f'EXCLUDED.{quote(c)}' for c in columns)})"
            )
            sql = (
                f"INSERT INTO {table} AS t ({col_list}, updated_at) "
                f"SELECT {col_list}, now() FROM {staging} "
                + (
                    f"ON CONFLICT (customer_id) DO UPDATE SET {updates}, updated_at = now() "
                    f"WHERE {distinct}"
                    if columns
                    else "ON CONFLICT (customer_id) DO NOTHING"
                )
            )
            changed[short] = conn.execute(sql).rowcount
            log.info("published %s: %d rows sent, %d inserted or changed", table, n,
                     changed[short])
    conn.close()
    return PublishResult(schema=schema, sent=sent, changed=changed)


def _ensure_table(conn: Any, table: str, name: str, columns: list[str],
                  types: dict[str, str]) -> None:
    defs = ", ".join(f"{quote(c)} {_PG_TYPES.get(types[c].upper(), 'text')}" for c in columns)
    conn.execute(
        f"CREATE TABLE IF NOT EXISTS {table} (customer_id text PRIMARY KEY"
        + (f", {defs}" if defs else "")
        + ", updated_at timestamptz NOT NULL DEFAULT now())"
    )
    for c in columns:  # a newer model may add score columns
        conn.execute(f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {quote(c)} "
                     f"{_PG_TYPES.get(types[c].upper(), 'text')}")
    conn.execute(f"CREATE INDEX IF NOT EXISTS {quote(name + '_updated_at')} "
                 f"ON {table} (updated_at)")
    for c in ("segment", "risk", "clv", "region"):
        if c in columns:
            index = quote(f"{name}_{c}")
            conn.execute(f"CREATE INDEX IF NOT EXISTS {index} ON {table} ({quote(c)})")


def _clean(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _chunks(db: LakeDB, sheet: str, columns: list[str], size: int) -> Iterator[list[tuple]]:
    """Rows of the sheet as Python tuples, ``size`` at a time (bounded memory)."""
    db.refresh()
    cur = db.cursor()
    try:
        cur.execute(f"SELECT {', '.join(quote(c) for c in columns)} FROM {sheet} "
                    "ORDER BY customer_id")
        while rows := cur.fetchmany(size):
            yield [tuple(_clean(v) for v in row) for row in rows]
    finally:
        cur.close()


# -- Tableau Hyper ----------------------------------------------------------------------


@dataclass(frozen=True)
class HyperResult:
    path: Path
    table: str
    rows: int
    columns: int


def _hyper_type(duck: str) -> Any:
    from tableauhyperapi import SqlType

    duck = duck.upper()
    if duck in ("DOUBLE", "FLOAT") or duck.startswith("DECIMAL"):
        return SqlType.double()
    if duck in ("BIGINT", "INTEGER", "SMALLINT", "TINYINT", "UINTEGER"):
        return SqlType.big_int()
    if duck == "BOOLEAN":
        return SqlType.bool()
    if duck == "DATE":
        return SqlType.date()
    if duck.startswith("TIMESTAMP"):
        return SqlType.timestamp()
    return SqlType.text()


def export_hyper(db: LakeDB, path: Path, *, chunk_rows: int = 50_000) -> HyperResult:
    """Write the score sheet to a Tableau Hyper extract at ``path`` (replaced atomically)."""
    require("tableauhyperapi", "tableau")
    from tableauhyperapi import (
        Connection,
        CreateMode,
        HyperProcess,
        Inserter,
        Nullability,
        TableDefinition,
        TableName,
        Telemetry,
    )

    types = _sheet_types(db)
    sheet = score_sheet(db)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp.hyper")
    tmp.unlink(missing_ok=True)
    table_name = TableName("Extract", "Extract")
    definition = TableDefinition(
        table_name,
        [TableDefinition.Column(c, _hyper_type(t), Nullability.NULLABLE)
         for c, t in types.items()],
    )
    rows = 0
    columns = list(types)
    converters = [_hyper_value(types[c]) for c in columns]
    with HyperProcess(telemetry=Telemetry.DO_NOT_SEND_USAGE_DATA_TO_TABLEAU) as hyper, \
            Connection(hyper.endpoint, tmp, CreateMode.CREATE_AND_REPLACE) as conn:
        conn.catalog.create_schema_if_not_exists("Extract")
        conn.catalog.create_table(definition)
        with Inserter(conn, definition) as inserter:
            for chunk in _chunks(db, sheet, columns, chunk_rows):
                inserter.add_rows(
                    [tuple(f(v) for f, v in zip(converters, row, strict=True)) for row in chunk]
                )
                rows += len(chunk)
            inserter.execute()
    tmp.replace(path)
    return HyperResult(path=path, table='"Extract"."Extract"', rows=rows, columns=len(columns))


def _hyper_value(duck: str) -> Any:
    duck = duck.upper()
    if duck.startswith("TIMESTAMP"):
        return lambda v: None if v is None else pd.Timestamp(v).to_pydatetime()
    if duck in ("HUGEINT", "UBIGINT"):
        return lambda v: None if v is None else int(v)
    return lambda v: v
