"""PostgreSQL tables as a source: read in chunks, mapped and validated exactly like files.

Rows are fetched through a server-side cursor (psycopg 3), ``chunk_rows`` at a time, so a
table of any size is read in bounded memory. psycopg rather than ADBC: it is the driver
patron already uses to publish scores, its server-side cursors and ``REPEATABLE READ``
snapshot give a consistent, ordered incremental read, and it turns every PostgreSQL type
into a Python value we can type precisely (ADBC returns ``numeric`` as text and adds a
native library). Fetching costs ~1 µs per value; validation and the Parquet write, done by
DuckDB over the spooled chunks, are cheaper than the fetch.

With ``incremental_column`` (e.g. ``updated_at``) the read position is stored with the
commit (see :mod:`patron.ingest._live`), and the next run reads only rows at or after it.
For versioned tables such as ``customers`` every version is kept in the raw layer; the
clean layer keeps the latest per customer by ``updated_at``.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import pyarrow as pa

from patron.errors import SourceError, require
from patron.ingest._live import (
    LiveRead,
    Spool,
    Watermark,
    WatermarkTracker,
    check_mapping,
    commit_read,
    duckdb_types,
    encode_value,
    first_line,
    last_watermark,
    redact,
    safe_url,
)
from patron.ingest._run import IngestResult
from patron.ingest.mapping import Mapping, resolve_mapping
from patron.lake import Lake

log = logging.getLogger(__name__)

#: PostgreSQL type OIDs read as typed Arrow columns; every other type is read as text
_ARROW_BY_OID: dict[int, pa.DataType] = {
    16: pa.bool_(),  # bool
    20: pa.int64(),  # int8
    21: pa.int64(),  # int2
    23: pa.int64(),  # int4
    700: pa.float64(),  # float4
    701: pa.float64(),  # float8
    1700: pa.float64(),  # numeric (loaded as float)
    1082: pa.date32(),  # date
    1114: pa.timestamp("us"),  # timestamp
    1184: pa.timestamp("us", tz="UTC"),  # timestamptz
    25: pa.string(),  # text
    1043: pa.string(),  # varchar
    1042: pa.string(),  # bpchar
    19: pa.string(),  # name
}

_HINT_CONNECT = (
    "check that PostgreSQL is running and the URL is postgresql://USER[:PASSWORD]@HOST:PORT/DB"
)


def ingest_postgres(
    lake: Lake,
    url: str,
    *,
    table: str,
    kind: str | None = None,
    mapping: Mapping | None = None,
    preset: str | None = None,
    mapping_file: str | Path | None = None,
    incremental_column: str | None = None,
    chunk_rows: int = 100_000,
    default_currency: str = "USD",
    max_future_skew_hours: float = 24.0,
    partition_by_region: bool = False,
    connect_timeout_s: int = 10,
    memory_limit: str | None = None,
    threads: int | None = None,
) -> IngestResult:
    """Ingest a PostgreSQL table (``schema.table`` or ``table``) as canonical ``kind`` rows.

    Args:
        url: ``postgresql://user[:password]@host:port/db``; the password never appears
            in messages, logs or the lake (sources are recorded as ``postgresql://user@
            host:port/db/table``).
        incremental_column: read only rows whose value is at or after the stored
            watermark of this column (timestamp or number); rows at exactly the watermark
            that were already stored are recognised by content and skipped. Rows with a
            null value are read only by the first (full) run.
        chunk_rows: rows per fetch from the server-side cursor (memory bound).

    Returns:
        The accounting; ``skipped`` when there was nothing new (same content and range).
    """
    started = time.perf_counter()
    psycopg = require("psycopg", "postgres")
    from psycopg import sql
    from psycopg.types.numeric import FloatLoader
    from psycopg.types.string import TextLoader

    shown = safe_url(url)
    where = f"{shown.split('?', 1)[0].rstrip('/')}/{table}"
    ident = sql.Identifier(*table.split("."))
    try:
        conn = psycopg.connect(url, connect_timeout=connect_timeout_s, autocommit=False)
    except psycopg.Error as exc:
        raise SourceError(
            f"{shown}: cannot connect to PostgreSQL: {redact(first_line(exc), url)}",
            hint=_HINT_CONNECT,
        ) from None
    spool: Spool | None = None
    try:
        conn.adapters.register_loader("numeric", FloatLoader)
        for name in ("json", "jsonb", "uuid"):
            conn.adapters.register_loader(name, TextLoader)
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        columns, oids = _describe(conn, ident, where, table)
        if mapping is None:
            mapping = resolve_mapping(kind, columns, preset=preset, mapping_file=mapping_file)
        check_mapping(mapping, columns, where)
        if incremental_column is not None and incremental_column not in columns:
            raise SourceError(
                f"{where}: incremental column {incremental_column!r} is not in the table; "
                f"expected one of {columns}"
            )
        schema = pa.schema(
            [
                pa.field(c, _ARROW_BY_OID.get(oid, pa.string()))
                for c, oid in zip(columns, oids, strict=True)
            ]
        )
        key = f"{where}#{incremental_column}" if incremental_column else where
        previous = last_watermark(lake, key) if incremental_column else None
        tracker = WatermarkTracker(previous)
        position = columns.index(incremental_column) if incremental_column else -1

        query = sql.SQL("SELECT * FROM {}").format(ident)
        params: list[Any] = []
        if incremental_column is not None:
            col = sql.Identifier(incremental_column)
            if previous is not None:
                query += sql.SQL(" WHERE {} >= %s").format(col)
                params.append(previous.value)
            query += sql.SQL(" ORDER BY {} NULLS FIRST").format(col)

        spool = Spool(lake, schema)
        with conn.cursor(name="patron_read") as cur:
            cur.itersize = chunk_rows
            try:
                cur.execute(query, params)
                while rows := cur.fetchmany(chunk_rows):
                    if position >= 0:
                        rows = [r for r in rows if tracker.admit(r[position], r)]
                        tracker.end_chunk()
                    spool.write(_arrow_columns(rows, schema, where))
            except psycopg.Error as exc:
                raise SourceError(
                    f"{where}: reading failed: {redact(first_line(exc), url)}"
                ) from None
        conn.rollback()
        watermark: Watermark | None = None
        if incremental_column is not None:
            watermark = tracker.watermark(key, incremental_column)
            if tracker.skipped:
                log.info(
                    "%s: %d row(s) at the watermark were stored before", where, tracker.skipped
                )
        low = previous.value if previous is not None else None
        high = watermark.value if watermark is not None else None
        read = LiveRead(
            source_name=where,
            kind=mapping.kind,
            mapping=mapping,
            spool=spool,
            source_columns=columns,
            source_types=duckdb_types(schema),
            batch_parts=(
                "postgresql",
                where,
                incremental_column or "",
                repr(encode_value(low)) if low is not None else "",
                repr(encode_value(high)) if high is not None else "",
            ),
            watermark=watermark,
            low=low,
        )
        return commit_read(
            lake,
            read,
            started=started,
            default_currency=default_currency,
            max_future_skew_hours=max_future_skew_hours,
            partition_by_region=partition_by_region,
            memory_limit=memory_limit,
            threads=threads,
        )
    finally:
        if spool is not None:
            spool.remove()
        conn.close()


def _describe(conn: Any, ident: Any, where: str, table: str) -> tuple[list[str], list[int]]:
    """Column names and type OIDs of the table, or a SourceError listing the tables there."""
    import psycopg
    from psycopg import sql

    try:
        with conn.cursor() as cur:
            cur.execute(sql.SQL("SELECT * FROM {} LIMIT 0").format(ident))
            description = cur.description or []
    except psycopg.errors.UndefinedTable:
        conn.rollback()
        with conn.cursor() as cur:
            cur.execute(
                "SELECT table_schema || '.' || table_name FROM information_schema.tables "
                "WHERE table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1"
            )
            known = [r[0] for r in cur.fetchall()]
        conn.rollback()
        raise SourceError(
            f"{where}: table {table!r} does not exist; expected one of: "
            f"{', '.join(known[:30]) or '(no tables)'}"
        ) from None
    except psycopg.Error as exc:
        conn.rollback()
        raise SourceError(f"{where}: cannot read table {table!r}: {first_line(exc)}") from None
    conn.rollback()
    return [d.name for d in description], [d.type_code for d in description]


def _arrow_columns(rows: list[tuple[Any, ...]], schema: pa.Schema, where: str) -> list[pa.Array]:
    """Transpose fetched rows into typed Arrow arrays (text for types without a mapping)."""
    if not rows:
        return []
    arrays = []
    for field, values in zip(schema, zip(*rows, strict=True), strict=True):
        if pa.types.is_string(field.type):
            values = [v if v is None or isinstance(v, str) else str(v) for v in values]
        try:
            arrays.append(pa.array(values, type=field.type))
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError) as exc:
            raise SourceError(
                f"{where}: column {field.name!r} cannot be read as {field.type}: "
                f"{first_line(exc)}"
            ) from None
    return arrays
