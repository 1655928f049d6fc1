"""The Parquet lake: layers of hive-partitioned tables, written atomically by batch.

Layers follow the data's journey: ``raw`` (accepted as received, typed), ``quarantine``
(rejected rows with their reason), ``clean``, ``features``, ``scores``, and ``archive`` (the
default cold tier). A table lives at ``<root>/<layer>/<table>/`` and event tables are
partitioned by ``month=YYYY-MM`` (and ``region=`` when configured). Every file name carries
the id of the batch that wrote it, which makes re-runs idempotent and orphans easy to find.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import duckdb

from patron.errors import PatronError
from patron.lake._catalog import Catalog, LogEntry, Transaction

log = logging.getLogger(__name__)

Layer = Literal["raw", "quarantine", "clean", "features", "scores", "archive"]
LAYERS: tuple[str, ...] = ("raw", "quarantine", "clean", "features", "scores", "archive")


def batch_id_for(*parts: str) -> str:
    """A stable batch id from what defines a write (source content hash, kind, mapping)."""
    digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()
    return digest[:16]


def file_sha256(path: Path, chunk_bytes: int = 8 << 20) -> str:
    """Content hash of a file, read in 8 MiB chunks (bounded memory for any size)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(chunk_bytes):
            h.update(chunk)
    return h.hexdigest()


@dataclass(frozen=True)
class TableStatus:
    layer: str
    table: str
    files: int
    partitions: int
    rows: int
    bytes: int
    archived_files: int
    last_batch: str | None
    last_commit: str | None


class Lake:
    """A lake rooted at a local directory; ``cold`` is where archived partitions go."""

    def __init__(self, root: str | Path, *, cold: str | Path | None = None) -> None:
        self.root = Path(root).expanduser().resolve()
        self.cold = str(cold) if cold else str(self.root / "archive")
        self.catalog = Catalog(self.root)

    @classmethod
    def from_settings(cls, settings: Any) -> Lake:
        return cls(settings.lake_path, cold=settings.cold_path)

    def __repr__(self) -> str:
        return f"Lake({str(self.root)!r})"

    # -- layout ------------------------------------------------------------------------
    @staticmethod
    def key(layer: str, table: str) -> str:
        if layer not in LAYERS:
            raise PatronError(f"unknown lake layer {layer!r}; expected one of {LAYERS}")
        return f"{layer}/{table}"

    def init(self) -> None:
        """Create the layer folders (an empty lake)."""
        for layer in LAYERS:
            (self.root / layer).mkdir(parents=True, exist_ok=True)

    def exists(self) -> bool:
        return (self.root / "raw").is_dir()

    def tables(self, layer: str) -> list[str]:
        prefix = f"{layer}/"
        state = self.catalog.state()
        keys = set(state.tables) | set(state.archived)
        return sorted(k[len(prefix) :] for k in keys if k.startswith(prefix))

    def files(self, layer: str, table: str, *, include_archive: bool = False) -> list[str]:
        """Absolute paths (or URLs) of the committed files of a table."""
        state = self.catalog.state()
        key = self.key(layer, table)
        files = [self._abs(f) for f in state.tables.get(key, [])]
        if include_archive:
            files += [self._abs(f) for f in state.archived.get(key, [])]
        return files

    def has_table(self, layer: str, table: str) -> bool:
        return bool(self.files(layer, table))

    def _abs(self, rel: str) -> str:
        if "://" in rel or os.path.isabs(rel):
            return rel
        return str(self.root / rel)

    def entries(self) -> list[LogEntry]:
        return self.catalog.entries()

    def find_batch(self, batch_id: str) -> LogEntry | None:
        return self.catalog.find_batch(batch_id)

    # -- writing -----------------------------------------------------------------------
    def transaction(self, batch_id: str, operation: str):
        """Context manager yielding a :class:`Transaction`; see :mod:`patron.lake._catalog`."""
        self.init()
        return self.catalog.transaction(batch_id, operation)

    def stage_partitioned(
        self,
        tx: Transaction,
        layer: str,
        table: str,
        staged_dir: Path,
    ) -> list[str]:
        """Move every Parquet file under ``staged_dir`` (hive layout) into the table.

        Files are renamed ``part-<batch>-<n>.parquet`` inside the same partition folders.
        """
        key = self.key(layer, table)
        moved = []
        for n, path in enumerate(sorted(staged_dir.rglob("*.parquet"))):
            partition = path.parent.relative_to(staged_dir).as_posix()
            partition = "" if partition == "." else partition + "/"
            rel = f"{layer}/{table}/{partition}part-{tx.batch_id}-{n:05d}.parquet"
            tx.add_file(key, path, rel)
            moved.append(rel)
        return moved

    def write_relation(
        self,
        con: duckdb.DuckDBPyConnection,
        sql: str,
        layer: str,
        table: str,
        *,
        batch_id: str,
        partition_by: Sequence[str] = (),
        mode: Literal["append", "overwrite"] = "overwrite",
        meta: dict[str, Any] | None = None,
        operation: str | None = None,
    ) -> list[str]:
        """Run a DuckDB query and commit its result as a table of the lake.

        ``overwrite`` replaces the table in the same commit (readers see old or new, never a
        mix); ``append`` adds the files as a new batch.
        """
        with self.transaction(batch_id, operation or f"write {layer}/{table}") as tx:
            out = tx.staging / "out"
            _copy_to_parquet(con, sql, out, partition_by)
            if mode == "overwrite":
                tx.replace_table(self.key(layer, table))
            files = self.stage_partitioned(tx, layer, table, out)
            tx.meta.update(meta or {})
            tx.meta.setdefault("table", f"{layer}/{table}")
        return files

    def write_arrow(
        self,
        table_data: Any,
        layer: str,
        table: str,
        *,
        batch_id: str,
        partition_by: Sequence[str] = (),
        mode: Literal["append", "overwrite"] = "overwrite",
        meta: dict[str, Any] | None = None,
    ) -> list[str]:
        """Commit a pandas DataFrame or Arrow table as a lake table (see :meth:`write_relation`)."""
        con = duckdb.connect()
        try:
            con.register("_patron_frame", table_data)
            return self.write_relation(
                con,
                "SELECT * FROM _patron_frame",
                layer,
                table,
                batch_id=batch_id,
                partition_by=partition_by,
                mode=mode,
                meta=meta,
            )
        finally:
            con.close()

    # -- reading helpers ----------------------------------------------------------------
    def scan_sql(self, layer: str, table: str, *, include_archive: bool = False) -> str:
        """A DuckDB ``read_parquet`` expression over the committed files of a table."""
        files = self.files(layer, table, include_archive=include_archive)
        if not files:
            raise PatronError(
                f"the lake has no {layer}/{table} table yet",
                hint=_hint_for(layer, table),
            )
        return parquet_scan_sql(files)

    def read(self, layer: str, table: str, *, include_archive: bool = False):
        """Read a whole table into pandas (for small tables: scores, summaries, reports)."""
        con = duckdb.connect()
        try:
            return con.sql(
                f"SELECT * FROM {self.scan_sql(layer, table, include_archive=include_archive)}"
            ).df()
        finally:
            con.close()

    def status(self) -> list[TableStatus]:
        """Rows, bytes, partitions and last batch of every table (rows from Parquet footers)."""
        import pyarrow.parquet as pq

        state = self.catalog.state()
        last: dict[str, tuple[str, str]] = {}
        for entry in self.entries():
            for key in {*entry.added, *entry.removed}:
                last[key] = (entry.batch_id, entry.committed_at)
        out = []
        for key in sorted(set(state.tables) | set(state.archived)):
            layer, table = key.split("/", 1)
            files = state.tables.get(key, [])
            rows = size = 0
            partitions = set()
            for rel in files:
                path = self.root / rel
                try:
                    rows += pq.ParquetFile(path).metadata.num_rows
                    size += path.stat().st_size
                except OSError:
                    continue
                partitions.add(str(Path(rel).parent))
            batch, when = last.get(key, (None, None))
            out.append(
                TableStatus(
                    layer=layer,
                    table=table,
                    files=len(files),
                    partitions=len(partitions),
                    rows=rows,
                    bytes=size,
                    archived_files=len(state.archived.get(key, [])),
                    last_batch=batch,
                    last_commit=when,
                )
            )
        return out


def parquet_scan_sql(files: Iterable[str]) -> str:
    listing = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
    return f"read_parquet([{listing}], hive_partitioning = true, union_by_name = true)"


def _copy_to_parquet(
    con: duckdb.DuckDBPyConnection, sql: str, out: Path, partition_by: Sequence[str]
) -> None:
    out.mkdir(parents=True, exist_ok=True)
    if partition_by:
        cols = ", ".join(partition_by)
        con.execute(
            f"COPY ({sql}) TO '{out.as_posix()}' "
            f"(FORMAT parquet, COMPRESSION zstd, PARTITION_BY ({cols}), OVERWRITE_OR_IGNORE)"
        )
    else:
        target = (out / "data.parquet").as_posix()
        con.execute(f"COPY ({sql}) TO '{target}' (FORMAT parquet, COMPRESSION zstd)")


_PRODUCERS = {
    "raw": "patron ingest FILE --kind KIND (or patron demo)",
    "quarantine": "patron ingest (rejected rows land here)",
    "clean": "patron clean",
    "features": "patron features --as-of DATE",
    "scores": "patron score / patron clv",
}


def _hint_for(layer: str, table: str) -> str:
    return f"produce it with: {_PRODUCERS.get(layer, 'patron demo')}"
