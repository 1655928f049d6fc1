"""What the live sources (PostgreSQL, MongoDB) share: safe URLs, watermarks, one commit.

A live read streams the source in chunks into a *spool*, a Parquet file in the lake's
scratch folder ``_spool/``, hashing the chunks as they go. Only when the read is complete is
the batch id known — a hash of the source, the watermark range, the content and the
mapping — so reading the same rows again is recognised and skipped. The spool is then
mapped and validated by the same :func:`~patron.ingest.validate.canonical_sql` query that
file ingest uses, and committed in one lake transaction together with the new watermark.

Watermarks live in the lake itself, in the ``meta`` of the commit that wrote the rows: the
data and the position it was read up to become visible at the same instant, so a crash can
never store one without the other. An incremental read takes rows whose value is *greater
than or equal to* the stored high value (rows sharing a timestamp may arrive in separate
transactions), and drops rows at exactly that value whose content hash was stored with the
watermark: every row is read, none twice.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re
import shutil
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pyarrow as pa
import pyarrow.parquet as pq

from patron.errors import SchemaError
from patron.ingest._run import (
    IngestResult,
    _connect,
    already_ingested,
    copy_canonical,
    stage_batch,
)
from patron.ingest.mapping import Mapping, missing_required
from patron.ingest.validate import canonical_sql, quote_literal
from patron.lake import Lake, batch_id_for
from patron.schema import table_spec

log = logging.getLogger(__name__)

SPOOL_DIR = "_spool"

_SECRET_PARAMS = {"password", "pass", "pwd", "secret", "token", "sslpassword"}


# -- URLs ------------------------------------------------------------------------------


def safe_url(url: str) -> str:
    """The URL without its password (and without secret query parameters), for messages.

    ``postgresql://app:s3cret@db:5432/shop?sslmode=require&password=x`` becomes
    ``postgresql://app@db:5432/shop?sslmode=require``. A libpq keyword string
    (``host=db password=x``) loses its ``password=`` pair.
    """
    if "://" not in url:
        return re.sub(r"\b(password|passwd|pwd)\s*=\s*('[^']*'|\S+)", r"\1=***", url, flags=re.I)
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}@{host}" if user else host
    query = urlencode(
        [(k, v) for k, v in parse_qsl(parts.query) if k.lower() not in _SECRET_PARAMS]
    )
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def redact(text: str, url: str) -> str:
    """Remove the URL's password from a driver message, wherever it appears."""
    if "://" in url:
        password = urlsplit(url).password
        if password:
            text = text.replace(password, "***")
    return text.replace(url, safe_url(url))


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


# -- watermarks ------------------------------------------------------------------------


def encode_value(value: Any) -> dict[str, Any]:
    """A watermark value as JSON with its type, so it compares correctly when read back."""
    if isinstance(value, datetime):
        return {"type": "datetime", "value": value.isoformat()}
    if isinstance(value, date):
        return {"type": "date", "value": value.isoformat()}
    if isinstance(value, bool):
        return {"type": "bool", "value": value}
    if isinstance(value, int):
        return {"type": "int", "value": value}
    if isinstance(value, float):
        return {"type": "float", "value": value}
    if isinstance(value, str):
        return {"type": "str", "value": value}
    if type(value).__name__ == "ObjectId":
        return {"type": "objectid", "value": str(value)}
    if isinstance(value, bytes):
        return {"type": "bytes", "value": base64.b64encode(value).decode()}
    return {"type": "str", "value": str(value)}


def decode_value(payload: dict[str, Any]) -> Any:
    kind, value = payload["type"], payload["value"]
    if kind == "datetime":
        return datetime.fromisoformat(value)
    if kind == "date":
        return date.fromisoformat(value)
    if kind == "objectid":
        from bson import ObjectId

        return ObjectId(value)
    if kind == "bytes":
        return base64.b64decode(value)
    return value


@dataclass(frozen=True)
class Watermark:
    """How far a source was read: the highest value of ``column`` and the rows at it."""

    key: str
    column: str
    value: Any
    #: content hashes of the rows whose ``column`` equals ``value`` (already stored)
    boundary: frozenset[str] = frozenset()
    batch_id: str | None = None

    def to_meta(self, low: Any | None) -> dict[str, Any]:
        return {
            "key": self.key,
            "column": self.column,
            "low": None if low is None else encode_value(low),
            "high": encode_value(self.value),
            "boundary": sorted(self.boundary),
        }


def last_watermark(lake: Lake, key: str) -> Watermark | None:
    """The watermark of the latest commit that read source ``key``, or None."""
    for entry in reversed(lake.entries()):
        meta = entry.meta.get("watermark")
        if isinstance(meta, dict) and meta.get("key") == key and meta.get("high") is not None:
            return Watermark(
                key=key,
                column=meta["column"],
                value=decode_value(meta["high"]),
                boundary=frozenset(meta.get("boundary", ())),
                batch_id=entry.batch_id,
            )
    return None


def row_hash(row: Iterable[Any]) -> str:
    """A content hash of one source row (16 hex digits), stable across runs."""
    return hashlib.blake2b(repr(tuple(row)).encode(), digest_size=8).hexdigest()


class WatermarkTracker:
    """Follows the highest watermark value of a read and drops rows stored before.

    ``previous`` is the stored watermark: rows at exactly its value whose hash it lists are
    skipped (they were committed by the previous read). The tracker keeps the rows at the
    current highest value to hash them once a chunk ends, so memory stays bounded.
    """

    def __init__(self, previous: Watermark | None) -> None:
        self.previous = previous
        self.high: Any | None = None
        self._at_high: list[tuple[Any, ...]] = []
        self._hashes_at_high: set[str] = set()
        self.skipped = 0
        self.null_values = 0

    def admit(self, value: Any, row: tuple[Any, ...]) -> bool:
        """Whether to keep a row; updates the high value. ``row`` is hashed lazily."""
        prev = self.previous
        if (
            prev is not None
            and prev.boundary
            and value is not None
            and value == prev.value
            and row_hash(row) in prev.boundary
        ):
            self.skipped += 1
            return False
        if value is None:
            self.null_values += 1
            return True
        if self.high is None or value > self.high:
            self.high = value
            self._at_high = [row]
            self._hashes_at_high = set()
        elif value == self.high:
            self._at_high.append(row)
        return True

    def end_chunk(self) -> None:
        self._hashes_at_high.update(row_hash(r) for r in self._at_high)
        self._at_high = []

    def watermark(self, key: str, column: str) -> Watermark | None:
        self.end_chunk()
        if self.high is None:
            return self.previous
        boundary = set(self._hashes_at_high)
        if self.previous is not None and self.high == self.previous.value:
            boundary |= self.previous.boundary  # nothing newer: the old rows still sit there
        return Watermark(key=key, column=column, value=self.high, boundary=frozenset(boundary))


# -- spool -----------------------------------------------------------------------------


class Spool:
    """Arrow chunks of a live read, written to one Parquet file and hashed as they arrive.

    Rows get ``_row`` (1-based position in the read) and a null ``_reader_error``, the two
    columns :func:`canonical_sql` expects of a source relation.
    """

    def __init__(self, lake: Lake, schema: pa.Schema) -> None:
        self.dir = lake.root / SPOOL_DIR / uuid.uuid4().hex
        self.dir.mkdir(parents=True, exist_ok=True)
        self.path = self.dir / "spool.parquet"
        self.schema = schema.append(pa.field("_row", pa.int64())).append(
            pa.field("_reader_error", pa.string())
        )
        self._writer = pq.ParquetWriter(self.path, self.schema, compression="zstd")
        self._hash = hashlib.sha256()
        self.rows = 0

    def write(self, columns: list[pa.Array]) -> None:
        n = len(columns[0]) if columns else 0
        if n == 0:
            return
        rows = pa.array(range(self.rows + 1, self.rows + n + 1), pa.int64())
        errors = pa.nulls(n, pa.string())
        batch = pa.RecordBatch.from_arrays([*columns, rows, errors], schema=self.schema)
        for column in batch.columns[:-2]:
            for buffer in column.buffers():
                if buffer is not None:
                    self._hash.update(buffer)
        self._writer.write_batch(batch)
        self.rows += n

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None  # type: ignore[assignment]

    def remove(self) -> None:
        self.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def check_mapping(mapping: Mapping, columns: list[str], where: str) -> None:
    """Required canonical columns must be mapped and mapped columns must exist."""
    missing = missing_required(mapping, mapping.kind)
    absent = [
        f"{canonical} ← {cm.source}"
        for canonical, cm in mapping.columns.items()
        if cm.source is not None and cm.source not in columns
    ]
    if missing or absent:
        parts = []
        if missing:
            parts.append(f"no source column for required {mapping.kind} column(s) {missing}")
        if absent:
            parts.append(f"mapped source column(s) not in the source: {absent}")
        raise SchemaError(
            f"{where}: " + "; ".join(parts) + f". Source columns: {columns}. "
            f"Mapping used: {mapping.describe()}",
            hint="pass --preset generic or --mapping FILE.toml",
        )


# -- commit ----------------------------------------------------------------------------

ARROW_TO_DUCKDB: dict[str, str] = {
    "int64": "BIGINT",
    "double": "DOUBLE",
    "bool": "BOOLEAN",
    "string": "VARCHAR",
    "large_string": "VARCHAR",
    "date32[day]": "DATE",
    "timestamp[us]": "TIMESTAMP",
}


def duckdb_types(schema: pa.Schema) -> dict[str, str]:
    out = {}
    for f in schema:
        text = str(f.type)
        out[f.name] = (
            "TIMESTAMP WITH TIME ZONE"
            if text.startswith("timestamp[us, tz")
            else ARROW_TO_DUCKDB.get(text, "VARCHAR")
        )
    return out


@dataclass
class LiveRead:
    """A completed read of a live source, ready to commit."""

    source_name: str
    kind: str
    mapping: Mapping
    spool: Spool
    source_columns: list[str]
    source_types: dict[str, str]
    batch_parts: tuple[str, ...]
    watermark: Watermark | None = None
    low: Any | None = None
    meta: dict[str, Any] = field(default_factory=dict)


def commit_read(
    lake: Lake,
    read: LiveRead,
    *,
    started: float,
    default_currency: str = "USD",
    max_future_skew_hours: float = 24.0,
    partition_by_region: bool = False,
    memory_limit: str | None = None,
    threads: int | None = None,
    hint_no_rows: str = "no new rows",
) -> IngestResult:
    """Map, validate and commit a spooled read in one lake transaction (with its watermark)."""
    spool = read.spool
    spool.close()
    mapping = read.mapping
    spec = table_spec(read.kind)
    batch_id = batch_id_for("live", read.kind, *read.batch_parts, spool.sha256, mapping.signature())
    result = IngestResult(
        source=read.source_name,
        kind=read.kind,
        batch_id=batch_id,
        content_sha256=spool.sha256,
        mapping=mapping.name,
        guessed=dict(mapping.guessed),
    )
    if spool.rows == 0:
        result.skipped = True
        result.seconds = time.perf_counter() - started
        log.info("%s: %s", read.source_name, hint_no_rows)
        return result
    if already_ingested(lake, result, started):
        return result

    con = _connect(memory_limit, threads)
    try:
        con.execute("SET TimeZone = 'UTC'")
        relation = f"read_parquet({quote_literal(spool.path.as_posix())})"
        ingested_at = datetime.now(UTC).replace(tzinfo=None)
        query = canonical_sql(
            spec,
            mapping,
            relation,
            source_types=read.source_types,
            source_columns=read.source_columns,
            batch_id=batch_id,
            source_name=read.source_name,
            ingested_at=ingested_at,
            default_currency=default_currency,
            max_future_skew=timedelta(hours=max_future_skew_hours),
        )
        with lake.transaction(batch_id, f"ingest {read.kind}") as tx:
            staged = copy_canonical(
                con,
                tx,
                query.sql,
                spec,
                partition_by_region,
                where=read.source_name,
                hint="check the sql expressions of the mapping",
            )
            stage_batch(
                con, lake, tx, staged, result, rejects=[], source=None, expected_rows=spool.rows
            )
            tx.meta["ingested_at"] = ingested_at.isoformat()
            tx.meta["format"] = read.source_name.split("://", 1)[0]
            tx.meta["mapping_detail"] = mapping.describe()
            if read.watermark is not None:
                tx.meta["watermark"] = read.watermark.to_meta(read.low)
            tx.meta.update(read.meta)
    finally:
        con.close()
        spool.remove()
    result.seconds = time.perf_counter() - started
    return result
