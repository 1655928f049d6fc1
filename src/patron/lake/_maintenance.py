"""Keeping a lake healthy: compaction of small files and archiving of old partitions."""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb

from patron.errors import PatronError
from patron.lake._lake import Lake, batch_id_for, parquet_scan_sql

log = logging.getLogger(__name__)

_MONTH = re.compile(r"(?:^|/)month=(\d{4})-(\d{2})(?:/|$)")


def parse_age(text: str) -> int:
    """Parse an age: ``24M`` (months), ``2Y`` (years) or ``90D`` (days, rounded up to months)."""
    match = re.fullmatch(r"\s*(\d+)\s*([MmYyDd]?)\s*", text)
    if not match:
        raise PatronError(
            f"cannot read the age {text!r}; expected a number with M (months), Y or D, e.g. 24M"
        )
    n, unit = int(match.group(1)), (match.group(2) or "M").upper()
    return {"M": n, "Y": 12 * n, "D": -(-n // 30)}[unit]


@dataclass(frozen=True)
class ArchiveResult:
    files: int
    partitions: int
    bytes: int
    destination: str


def archive(lake: Lake, older_than_months: int, *, today: date | None = None) -> ArchiveResult:
    """Move ``month=`` partitions older than the cut-off to the cold tier.

    A partition is old when its month ends before ``today`` minus ``older_than_months``.
    Archived files stay in the catalog (``archived``) so ``connect(include_archive=True)``
    still queries them. The cold tier may be a local path or any URL pyarrow understands.
    """
    import pyarrow.fs as pafs

    today = today or date.today()
    cutoff = today.year * 12 + (today.month - 1) - older_than_months
    cold_fs, cold_root = pafs.FileSystem.from_uri(_as_uri(lake.cold))
    moved = size = 0
    moved_paths: list[Path] = []
    partitions: set[str] = set()
    with lake.catalog.lock():
        state = lake.catalog.state()
        for key in list(state.tables):
            keep = []
            for rel in state.tables[key]:
                match = _MONTH.search(rel)
                if not match or int(match.group(1)) * 12 + int(match.group(2)) - 1 >= cutoff:
                    keep.append(rel)
                    continue
                src = lake.root / rel
                dest = f"{cold_root.rstrip('/')}/{rel}"
                cold_fs.create_dir(dest.rsplit("/", 1)[0], recursive=True)
                pafs.copy_files(str(src), dest, destination_filesystem=cold_fs)
                size += src.stat().st_size
                moved_paths.append(src)
                state.archived.setdefault(key, []).append(_display(lake.cold, rel))
                partitions.add(str(Path(rel).parent))
                moved += 1
            state.tables[key] = keep
        state.tables = {k: v for k, v in state.tables.items() if v}
        if moved:
            lake.catalog.commit_state(
                state,
                batch_id_for("archive", str(today), str(older_than_months)),
                "archive",
                {"older_than_months": older_than_months, "files": moved, "bytes": size},
            )
            for src in moved_paths:
                src.unlink(missing_ok=True)
    return ArchiveResult(moved, len(partitions), size, lake.cold)


def _as_uri(path: str) -> str:
    return path if "://" in path else Path(path).resolve().as_uri()


def _display(cold: str, rel: str) -> str:
    if "://" in cold:
        return f"{cold.rstrip('/')}/{rel}"
    return str(Path(cold).resolve() / rel)


@dataclass(frozen=True)
class CompactionResult:
    partitions: int
    files_before: int
    files_after: int


def compact(lake: Lake, layer: str, table: str, *, below_mb: float = 32.0) -> CompactionResult:
    """Merge the small files of each partition of a table into one file per partition.

    Only files smaller than ``below_mb`` megabytes are merged, and only where a partition
    has two or more of them. The merge is one commit: readers see the old files or the new
    ones, never both.
    """
    key = lake.key(layer, table)
    files = lake.catalog.state().tables.get(key, [])
    groups: dict[str, list[str]] = defaultdict(list)
    for rel in files:
        path = lake.root / rel
        if path.exists() and path.stat().st_size < below_mb * 1e6:
            groups[str(Path(rel).parent)].append(rel)
    groups = {part: rels for part, rels in groups.items() if len(rels) > 1}
    if not groups:
        return CompactionResult(0, len(files), len(files))
    batch = batch_id_for("compact", key, *sorted(f for rels in groups.values() for f in rels))
    con = duckdb.connect()
    try:
        with lake.transaction(batch, f"compact {key}") as tx:
            for n, (part, rels) in enumerate(sorted(groups.items())):
                staged = tx.staging / f"{n}.parquet"
                scan = parquet_scan_sql(str(lake.root / r) for r in rels).replace(
                    "hive_partitioning = true", "hive_partitioning = false"
                )
                con.execute(
                    f"COPY (SELECT * FROM {scan}) TO '{staged.as_posix()}' "
                    "(FORMAT parquet, COMPRESSION zstd)"
                )
                tx.add_file(key, staged, f"{part}/part-{batch}-{n:05d}.parquet")
                tx.remove_files(key, rels)
            tx.meta.update({"table": key, "merged_files": sum(map(len, groups.values()))})
    finally:
        con.close()
    merged = sum(map(len, groups.values()))
    return CompactionResult(len(groups), len(files), len(files) - merged + len(groups))
