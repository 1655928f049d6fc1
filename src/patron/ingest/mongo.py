"""MongoDB collections as a source: documents flattened to columns, mapped like files.

A document becomes one row whose columns are dot paths of its fields: ``{"device":
{"type": "mobile"}}`` gives a column ``device.type`` that a mapping can name, ``_id``
becomes its string form. Values are read as text (documents need not agree on types) and
typed by validation, so a field that is a number in one document and a word in the next is
quarantined, not fatal. With ``explode="items"`` each element of the ``items`` array
becomes a row of its own, its fields as ``items.<field>`` and its 1-based position as
``items._index``; a document whose array is missing or empty still gives one row, so
nothing is lost. Other arrays are kept as JSON text.

With ``incremental_field`` (a timestamp field, or ``_id`` whose ObjectIds grow with
insertion time) the read position is stored with the commit, as for PostgreSQL.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import date, datetime
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

_HINT_CONNECT = "check that MongoDB is running and the URL is mongodb://[USER:PASSWORD@]HOST:PORT"


def ingest_mongo(
    lake: Lake,
    url: str,
    *,
    db: str,
    collection: str,
    kind: str | None = None,
    mapping: Mapping | None = None,
    preset: str | None = None,
    mapping_file: str | Path | None = None,
    incremental_field: str | None = None,
    explode: str | None = None,
    query: dict[str, Any] | None = None,
    chunk_rows: int = 50_000,
    default_currency: str = "USD",
    max_future_skew_hours: float = 24.0,
    partition_by_region: bool = False,
    server_timeout_s: float = 5.0,
) -> IngestResult:
    """Ingest a MongoDB collection as canonical ``kind`` rows.

    Args:
        url: ``mongodb://[user:password@]host:port``; recorded without the password, as
            ``mongodb://user@host:port/db/collection``.
        incremental_field: dot path of a timestamp or number field, or ``_id``; the next
            run reads only documents at or after the stored watermark (documents at exactly
            the watermark that were already stored are recognised and skipped).
        explode: dot path of an array of sub-documents to turn into one row per element.
        query: an extra MongoDB filter, e.g. ``{"status": "paid"}``.
        chunk_rows: documents per batch fetched from the server (memory bound).
    """
    started = time.perf_counter()
    pymongo = require("pymongo", "mongo")
    from pymongo.errors import PyMongoError

    shown = safe_url(url)
    base = shown.split("?", 1)[0].rstrip("/")
    if base.count("/") > 2:  # a default database in the URL: not part of the source name
        base = base.rsplit("/", 1)[0]
    where = f"{base}/{db}/{collection}"
    client = pymongo.MongoClient(url, serverSelectionTimeoutMS=int(server_timeout_s * 1000))
    spool: Spool | None = None
    try:
        try:
            client.admin.command("ping")
            names = client[db].list_collection_names()
        except PyMongoError as exc:
            raise SourceError(
                f"{shown}: cannot reach MongoDB: {redact(first_line(exc), url)}",
                hint=_HINT_CONNECT,
            ) from None
        if collection not in names:
            raise SourceError(
                f"{where}: collection {collection!r} does not exist in database {db!r}; "
                f"expected one of: {', '.join(sorted(names)) or '(no collections)'}"
            )
        key = f"{where}#{incremental_field}" if incremental_field else where
        previous = last_watermark(lake, key) if incremental_field else None
        tracker = WatermarkTracker(previous)
        mongo_filter: dict[str, Any] = dict(query or {})
        sort = None
        if incremental_field is not None:
            if previous is not None:
                mongo_filter[incremental_field] = {"$gte": previous.value}
            sort = [(incremental_field, 1)]

        cursor = client[db][collection].find(mongo_filter, sort=sort, batch_size=chunk_rows)
        columns: list[str] | None = None
        chunk: list[dict[str, str | None]] = []
        try:
            for document in cursor:
                if incremental_field is not None:
                    value = _get(document, incremental_field)
                    if not tracker.admit(value, (document,)):
                        continue
                chunk.extend(flatten(document, explode))
                if len(chunk) >= chunk_rows:
                    if spool is None:
                        mapping, columns, spool = _open_spool(
                            lake, chunk, kind, mapping, preset, mapping_file, where
                        )
                    spool.write(_arrow_columns(chunk, columns))
                    tracker.end_chunk()
                    chunk = []
        except PyMongoError as exc:
            raise SourceError(f"{where}: reading failed: {redact(first_line(exc), url)}") from None
        if chunk or spool is None:
            if spool is None:
                mapping, columns, spool = _open_spool(
                    lake, chunk, kind, mapping, preset, mapping_file, where
                )
            spool.write(_arrow_columns(chunk, columns or []))
        assert mapping is not None and columns is not None
        watermark: Watermark | None = None
        if incremental_field is not None:
            watermark = tracker.watermark(key, incremental_field)
        low = previous.value if previous is not None else None
        high = watermark.value if watermark is not None else None
        read = LiveRead(
            source_name=where,
            kind=mapping.kind,
            mapping=mapping,
            spool=spool,
            source_columns=columns,
            source_types={c: "VARCHAR" for c in columns},
            batch_parts=(
                "mongodb",
                where,
                incremental_field or "",
                explode or "",
                json.dumps(query or {}, sort_keys=True, default=str),
                repr(encode_value(low)) if low is not None else "",
                repr(encode_value(high)) if high is not None else "",
            ),
            watermark=watermark,
            low=low,
            meta={"explode": explode} if explode else {},
        )
        return commit_read(
            lake,
            read,
            started=started,
            default_currency=default_currency,
            max_future_skew_hours=max_future_skew_hours,
            partition_by_region=partition_by_region,
        )
    finally:
        if spool is not None:
            spool.remove()
        client.close()


def _open_spool(
    lake: Lake,
    rows: list[dict[str, str | None]],
    kind: str | None,
    mapping: Mapping | None,
    preset: str | None,
    mapping_file: str | Path | None,
    where: str,
) -> tuple[Mapping, list[str], Spool]:
    """Fix the columns from the first chunk (plus the mapping's), resolve the mapping."""
    seen = list(dict.fromkeys(k for row in rows for k in row))
    if mapping is None:
        mapping = resolve_mapping(kind, seen, preset=preset, mapping_file=mapping_file)
    wanted = [cm.source for cm in mapping.columns.values() if cm.source is not None]
    columns = list(dict.fromkeys([*seen, *(c for c in wanted if c not in seen)]))
    # documents need not share fields: a mapped path absent from the first chunk is null
    # there (and quarantined if required), not an error
    check_mapping(mapping, columns, where)
    absent = [c for c in wanted if c not in seen]
    if rows and absent:
        log.warning("%s: mapped field(s) %s not in the first %d row(s)", where, absent, len(rows))
    schema = pa.schema([pa.field(c, pa.string()) for c in columns])
    return mapping, columns, Spool(lake, schema)


def _get(document: dict[str, Any], path: str) -> Any:
    value: Any = document
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _text(value: Any) -> str | None:
    """A BSON value as text: what validation casts from."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, dict | list):
        return json.dumps(value, default=str, ensure_ascii=False)
    return str(value)  # ObjectId, Decimal128, UUID, bytes


def _flatten_into(
    out: dict[str, str | None],
    document: dict[str, Any],
    prefix: str,
    explode: str | None,
    arrays: list[list[Any]],
) -> None:
    for name, value in document.items():
        path = f"{prefix}{name}"
        if isinstance(value, dict) and value:
            _flatten_into(out, value, path + ".", explode, arrays)
        elif path == explode and isinstance(value, list):
            arrays.append(value)
        else:
            out[path] = _text(value)


def flatten(document: dict[str, Any], explode: str | None = None) -> list[dict[str, str | None]]:
    """A document as rows of dot-path columns: one row, or one per element of ``explode``."""
    base: dict[str, str | None] = {}
    arrays: list[list[Any]] = []
    _flatten_into(base, document, "", explode, arrays)
    if explode is None or not arrays or not arrays[0]:
        return [base]
    rows = []
    for index, element in enumerate(arrays[0], start=1):
        row = dict(base)
        if isinstance(element, dict):
            _flatten_into(row, element, explode + ".", None, [])
        else:
            row[explode] = _text(element)
        row[f"{explode}._index"] = str(index)
        rows.append(row)
    return rows


def _arrow_columns(rows: list[dict[str, str | None]], columns: list[str]) -> list[pa.Array]:
    if not rows:
        return []
    return [pa.array([row.get(c) for row in rows], pa.string()) for c in columns]
