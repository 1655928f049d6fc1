"""The Parquet data lake: layers, atomic batch writes, catalog, compaction and archive."""

from patron.lake._catalog import Catalog, CatalogState, LogEntry, Transaction
from patron.lake._lake import (
    LAYERS,
    Lake,
    TableStatus,
    batch_id_for,
    file_sha256,
    parquet_scan_sql,
)
from patron.lake._maintenance import (
    ArchiveResult,
    CompactionResult,
    archive,
    compact,
    parse_age,
)

__all__ = [
    "LAYERS",
    "ArchiveResult",
    "Catalog",
    "CatalogState",
    "CompactionResult",
    "Lake",
    "LogEntry",
    "TableStatus",
    "Transaction",
    "archive",
    "batch_id_for",
    "compact",
    "file_sha256",
    "parquet_scan_sql",
    "parse_age",
]
