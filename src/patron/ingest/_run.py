"""Ingest one source into the lake with full row accounting.

Every row read ends in exactly one place: the ``raw`` layer (typed, as received) or the
``quarantine`` layer (original values as JSON, source, row number, rule and reason). The
accounting — read, accepted, anonymous, quarantined by rule — is stored with the batch in
the lake's log, and ``read == accepted + quarantined`` holds by construction and is
checked before commit. A batch id is derived from the content hash, the table kind and the
mapping, so ingesting the same content again is a no-op that says so.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from patron.errors import PatronError, SchemaError
from patron.ingest.files import SourceRelation, csv_rejects, open_source, retype_csv
from patron.ingest.mapping import Mapping, missing_required, resolve_mapping
from patron.ingest.validate import EXPECTED, canonical_sql, native_source_types
from patron.lake import Lake, Transaction, batch_id_for, file_sha256
from patron.schema import table_spec

log = logging.getLogger(__name__)



@dataclass
class IngestResult:
    """What one ingest did: the accounting table the CLI prints."""

    source: str
    kind: str
    batch_id: str
    content_sha256: str
    mapping: str
    rows_read: int = 0
    accepted: int = 0
    anonymous: int = 0
    quarantined: int = 0
    quarantined_by_rule: dict[str, int] = field(default_factory=dict)
    guessed: dict[str, str] = field(default_factory=dict)
    skipped: bool = False
    previously_committed_at: str | None = None
    seconds: float = 0.0

    @property
    def balanced(self) -> bool:
        return self.rows_read == self.accepted + self.quarantined

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _connect(
    memory_limit: str | None = None, threads: int | None = None
) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    if memory_limit:
        con.execute(f"SET memory_limit = '{memory_limit}'")
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    con.execute("SET preserve_insertion_order = false")
    con.execute("SET enable_progress_bar = false")
    return con


def ingest_file(
    lake: Lake,
    path: str | Path,
    kind: str | None = None,
    *,
    preset: str | None = None,
    mapping: Mapping | None = None,
    mapping_file: str | Path | None = None,
    encoding: str = "utf-8",
    default_currency: str = "USD",
    max_future_skew_hours: float = 24.0,
    partition_by_region: bool = False,
    sheet: str | None = None,
    memory_limit: str | None = None,
    threads: int | None = None,
) -> IngestResult:
    """Ingest a CSV/TSV, Parquet, JSON(L) or Excel file as canonical ``kind`` rows."""
    started = time.perf_counter()
    path = Path(path).expanduser().resolve()
    con = _connect(memory_limit, threads)
    source: SourceRelation | None = None
    try:
        source = open_source(
            con,
            path,
            encoding=(mapping.encoding if mapping and mapping.encoding else encoding),
            delimiter=mapping.delimiter if mapping else None,
            quote=mapping.quote if mapping else None,
            header=mapping.header if mapping else True,
            sheet=sheet,
        )
        if mapping is None:
            mapping = resolve_mapping(
                kind, source.columns, preset=preset, mapping_file=mapping_file
            )
        kind = mapping.kind
        spec = table_spec(kind)
        _check_columns(mapping, source, path)
        native = native_source_types(mapping, spec)
        source = retype_csv(con, source, native, mapping.missing_values)

        content = file_sha256(path)
        batch_id = batch_id_for("ingest", kind, content, mapping.signature())
        result = IngestResult(
            source=str(path),
            kind=kind,
            batch_id=batch_id,
            content_sha256=content,
            mapping=mapping.name,
            guessed=dict(mapping.guessed),
        )
        if already_ingested(lake, result, started):
            return result

        ingested_at = datetime.now(UTC).replace(tzinfo=None)
        query = canonical_sql(
            spec,
            mapping,
            source.relation,
            source_types=source.types,
            source_columns=source.columns,
            batch_id=batch_id,
            source_name=str(path),
            ingested_at=ingested_at,
            default_currency=default_currency,
            max_future_skew=timedelta(hours=max_future_skew_hours),
            reader_nulls=source.null_strings == mapping.missing_values,
        )
        with lake.transaction(batch_id, f"ingest {kind}") as tx:
            staged = copy_canonical(con, tx, query.sql, spec, partition_by_region, where=str(path))
            rejects = csv_rejects(con, source, encoding, _cast_rules(mapping, spec, native))
            stage_batch(
                con, lake, tx, staged, result, rejects=rejects, source=source, expected_rows=None
            )
            tx.meta.update(
                {
                    "ingested_at": ingested_at.isoformat(),
                    "format": source.format,
                    "mapping_detail": mapping.describe(),
                }
            )
        result.seconds = time.perf_counter() - started
        return result
    finally:
        if source is not None:
            source.close()
        con.close()


def already_ingested(lake: Lake, result: IngestResult, started: float) -> bool:
    """Fill ``result`` from the committed batch of the same id, if there is one: ingesting
    the same content again is a no-op that reports what the first run did."""
    previous = lake.find_batch(result.batch_id)
    if previous is None:
        return False
    result.skipped = True
    result.previously_committed_at = previous.committed_at
    for key in ("rows_read", "accepted", "anonymous", "quarantined"):
        setattr(result, key, previous.meta.get(key, 0))
    result.quarantined_by_rule = dict(previous.meta.get("quarantined_by_rule", {}))
    result.seconds = time.perf_counter() - started
    log.info("%s: already ingested as batch %s", result.source, result.batch_id)
    return True


def copy_canonical(
    con: duckdb.DuckDBPyConnection,
    tx: Transaction,
    sql: str,
    spec: Any,
    partition_by_region: bool,
    *,
    where: str,
    hint: str | None = None,
) -> Path:
    """Run the canonical query once into the transaction's staging folder, split by
    ``_layer`` (raw / quarantine) and ``month`` (and ``region`` when configured)."""
    partitions = ["_layer"]
    if spec.partition_by_month:
        partitions.append("month")
    if partition_by_region and "region" in spec:
        partitions.append("region")
    staged = tx.staging / "out"
    staged.mkdir(parents=True)
    try:
        con.execute(
            f"COPY ({sql}) TO '{staged.as_posix()}' (FORMAT parquet, COMPRESSION zstd, "
            f"PARTITION_BY ({', '.join(partitions)}), FILENAME_PATTERN 'data_{{i}}')"
        )
    except duckdb.Error as exc:
        raise PatronError(
            f"{where}: reading failed: {str(exc).strip().splitlines()[0]}", hint=hint
        ) from None
    return staged


def stage_batch(
    con: duckdb.DuckDBPyConnection,
    lake: Lake,
    tx: Transaction,
    staged: Path,
    result: IngestResult,
    *,
    rejects: list[tuple[int, str, str, str]],
    source: SourceRelation | None,
    expected_rows: int | None,
) -> None:
    """Count what the canonical query staged, check the accounting, and add the raw and
    quarantine files and the accounting to the transaction.

    ``expected_rows`` is the number of rows the caller read itself, when it knows it; the
    batch is refused (nothing committed) if the counts disagree.
    """
    _account(con, result, staged, rejects, result.kind)
    read = result.rows_read if expected_rows is None else expected_rows
    if read != result.accepted + result.quarantined:  # pragma: no cover - a bug, never data
        raise PatronError(
            f"{result.source}: accounting does not balance: read {read}, accepted "
            f"{result.accepted}, quarantined {result.quarantined}"
        )
    raw_dir = staged / "_layer=raw"
    if raw_dir.exists():
        lake.stage_partitioned(tx, "raw", result.kind, raw_dir)
    _stage_quarantine(con, tx, lake, result.kind, staged, rejects, source, result)
    tx.meta.update({k: v for k, v in result.to_dict().items() if k not in ("skipped", "seconds")})


def _cast_rules(mapping: Mapping, spec, native: dict[str, str]) -> dict[str, tuple[str, str]]:
    """Source column → (canonical column, what was expected) for natively parsed columns."""
    return {
        cm.source: (name, EXPECTED[spec[name].dtype])
        for name, cm in mapping.columns.items()
        if cm.source in native and name in spec
    }


def _check_columns(mapping: Mapping, source: SourceRelation, path: Path) -> None:
    missing = missing_required(mapping, mapping.kind)
    absent = [
        f"{canonical} ← {cm.source}"
        for canonical, cm in mapping.columns.items()
        if cm.source is not None and cm.source not in source.columns
    ]
    if missing or absent:
        parts = []
        if missing:
            parts.append(f"no source column for required {mapping.kind} column(s) {missing}")
        if absent:
            parts.append(f"mapped source column(s) not in the file: {absent}")
        raise SchemaError(
            f"{path}: "
            + "; ".join(parts)
            + f". File columns: {source.columns}. Mapping used: {mapping.describe()}",
            hint="pass --preset generic, --preset uci-retail or --mapping FILE.toml",
        )


def _account(
    con: duckdb.DuckDBPyConnection,
    result: IngestResult,
    staged: Path,
    rejects: list[tuple[int, str, str, str]],
    kind: str,
) -> None:
    files = sorted(str(p) for p in staged.rglob("*.parquet"))
    by_rule: dict[str, int] = {}
    accepted = anonymous = 0
    if files:
        listing = ", ".join(f"'{f}'" for f in files)
        anon = "customer_id IS NULL" if kind in ("orders", "sessions", "social_posts") else "FALSE"
        rows = con.sql(
            f"SELECT _layer, _rule, count(*), count(*) FILTER (WHERE {anon}) "
            f"FROM read_parquet([{listing}], hive_partitioning = true) GROUP BY ALL"
        ).fetchall()
        for layer, rule, n, n_anon in rows:
            if layer == "raw":
                accepted += n
                anonymous += n_anon
            else:
                by_rule[rule] = by_rule.get(rule, 0) + n
    for _, rule, _, _ in rejects:
        by_rule[rule] = by_rule.get(rule, 0) + 1
    result.accepted = accepted
    result.anonymous = anonymous
    result.quarantined = sum(by_rule.values())
    result.quarantined_by_rule = dict(sorted(by_rule.items(), key=lambda kv: -kv[1]))
    result.rows_read = result.accepted + result.quarantined


def _stage_quarantine(
    con: duckdb.DuckDBPyConnection,
    tx: Transaction,
    lake: Lake,
    kind: str,
    staged: Path,
    rejects: list[tuple[int, str, str, str]],
    source: SourceRelation | None,
    result: IngestResult,
) -> None:
    """Write the quarantined rows of a batch as one file with their physical row numbers.

    ``source`` is needed only for ``rejects`` (CSV lines DuckDB could not parse).
    """
    q_dir = staged / "_layer=quarantine"
    files = sorted(str(p) for p in q_dir.rglob("*.parquet")) if q_dir.exists() else []
    columns = ", ".join(QUARANTINE_COLUMNS)
    tables = []
    if files:
        listing = ", ".join(f"'{f}'" for f in files)
        tables.append(
            con.sql(
                f"SELECT {columns} FROM read_parquet([{listing}], hive_partitioning = false) "
                "ORDER BY _source_row"
            ).to_arrow_table()
        )
    if not tables and not rejects:
        return
    quarantine = pa.concat_tables(tables).cast(_QUARANTINE_SCHEMA) if tables else None
    if quarantine is not None and rejects and source is not None:
        reject_lines = [line for line, *_ in rejects]
        quarantine = _physical_rows(quarantine, reject_lines, source.header_lines)
    if rejects:
        now = datetime.now(UTC).replace(tzinfo=None)
        extra = pa.table(
            {
                "_source": [str(source.path if source else "")] * len(rejects),
                "_source_row": [line for line, *_ in rejects],
                "_rule": [rule for _, rule, _, _ in rejects],
                "_reason": [reason for _, _, reason, _ in rejects],
                "_original": [original for *_, original in rejects],
                "_batch_id": [result.batch_id] * len(rejects),
                "_ingested_at": [now] * len(rejects),
            },
            schema=_QUARANTINE_SCHEMA,
        )
        quarantine = extra if quarantine is None else pa.concat_tables([quarantine, extra])
    out = tx.staging / "quarantine.parquet"
    pq.write_table(quarantine, out, compression="zstd")
    tx.add_file(
        lake.key("quarantine", kind), out, f"quarantine/{kind}/part-{tx.batch_id}-00000.parquet"
    )


_QUARANTINE_SCHEMA = pa.schema(
    [
        ("_source", pa.string()),
        ("_source_row", pa.int64()),
        ("_rule", pa.string()),
        ("_reason", pa.string()),
        ("_original", pa.string()),
        ("_batch_id", pa.string()),
        ("_ingested_at", pa.timestamp("us")),
    ]
)


#: the columns of every quarantine file
QUARANTINE_COLUMNS: tuple[str, ...] = tuple(_QUARANTINE_SCHEMA.names)


def _physical_rows(table: pa.Table, reject_lines: list[int], header_lines: int) -> pa.Table:
    """Turn CSV record numbers of quarantined rows into line numbers.

    DuckDB numbers the records it parsed, skipping the lines it rejected. The k-th parsed
    record sits at line ``header + k + #{j : L_j - header - j < k}``, where ``L_1 < L_2 < …``
    are the rejected lines (1-based j). Only quarantined rows are renumbered: they are few,
    and a user fixing a file needs their exact lines; raw rows keep the record number.
    """
    import numpy as np

    lines = np.asarray(sorted(set(reject_lines)), dtype=np.int64)
    thresholds = lines - header_lines - np.arange(1, len(lines) + 1)
    records = table.column("_source_row").to_numpy(zero_copy_only=False) - header_lines
    physical = header_lines + records + np.searchsorted(thresholds, records, side="left")
    index = table.schema.get_field_index("_source_row")
    return table.set_column(index, "_source_row", pa.array(physical, pa.int64()))
