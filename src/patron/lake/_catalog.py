"""The lake's catalog: which Parquet files are committed, and the history of batches.

A write never becomes visible piece by piece. Writers put files under their final names
(each name carries the batch id, so two batches never collide), append a log entry, and
only then atomically replace ``_catalog.json`` — the single commit point. Readers list
files from the catalog, never by globbing, so a process killed mid-write leaves files
that nobody sees; :meth:`Catalog.recover` deletes them on the next write.

Layout::

    <root>/_catalog.json          committed state: {seq, tables: {"raw/orders": [files]}, archived}
    <root>/_log/<seq>-<batch>.json one entry per commit: batch id, files added/removed, metadata
    <root>/_lock                  writers hold an exclusive flock while they commit
    <root>/_staging/<batch>/      scratch space of writes under way
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

CATALOG_FILE = "_catalog.json"
LOG_DIR = "_log"
STAGING_DIR = "_staging"
LOCK_FILE = "_lock"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def write_json_atomic(path: Path, payload: Any) -> None:
    """Write JSON to ``path`` so readers see either the old or the new content, never half."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(payload, fh, indent=1, default=str)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


@dataclass
class CatalogState:
    """A snapshot of the committed lake: files per ``layer/table`` (paths relative to root)."""

    seq: int = 0
    tables: dict[str, list[str]] = field(default_factory=dict)
    archived: dict[str, list[str]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"seq": self.seq, "tables": self.tables, "archived": self.archived}

    @classmethod
    def from_json(cls, payload: dict[str, Any]) -> CatalogState:
        return cls(
            seq=int(payload.get("seq", 0)),
            tables={k: list(v) for k, v in payload.get("tables", {}).items()},
            archived={k: list(v) for k, v in payload.get("archived", {}).items()},
        )


@dataclass
class LogEntry:
    """One committed write: the unit that ingest accounting and `lake status` report on."""

    seq: int
    batch_id: str
    committed_at: str
    operation: str
    added: dict[str, list[str]]
    removed: dict[str, list[str]]
    meta: dict[str, Any]

    @classmethod
    def from_json(cls, payload: dict[str, Any]) -> LogEntry:
        return cls(**{k: payload[k] for k in cls.__dataclass_fields__})


class Transaction:
    """Files and metadata of one write, committed all at once by :meth:`Catalog.commit`."""

    def __init__(self, catalog: Catalog, batch_id: str, operation: str) -> None:
        self.catalog = catalog
        self.batch_id = batch_id
        self.operation = operation
        self.staging = catalog.root / STAGING_DIR / batch_id
        self.added: dict[str, list[str]] = {}
        self.removed: dict[str, list[str]] = {}
        self.meta: dict[str, Any] = {}

    def add_file(self, key: str, staged: Path, final_relpath: str) -> None:
        """Move a staged file to its final place; it stays invisible until commit."""
        target = self.catalog.root / final_relpath
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staged, target)
        self.added.setdefault(key, []).append(final_relpath)

    def replace_table(self, key: str) -> None:
        """Mark every committed file of ``key`` for removal (a full rewrite of the table)."""
        self.removed[key] = list(self.catalog.state().tables.get(key, []))

    def remove_files(self, key: str, relpaths: list[str]) -> None:
        self.removed.setdefault(key, []).extend(relpaths)


class Catalog:
    """Reads and commits the lake's catalog. One writer at a time (flock), many readers."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    # -- reading -----------------------------------------------------------------------
    def state(self) -> CatalogState:
        path = self.root / CATALOG_FILE
        if not path.exists():
            return CatalogState()
        with open(path, encoding="utf-8") as fh:
            return CatalogState.from_json(json.load(fh))

    def entries(self) -> list[LogEntry]:
        """Committed log entries, oldest first."""
        seq = self.state().seq
        out = []
        log_dir = self.root / LOG_DIR
        if not log_dir.exists():
            return out
        for path in sorted(log_dir.glob("*.json")):
            entry_seq = int(path.name.split("-", 1)[0])
            if entry_seq <= seq:
                with open(path, encoding="utf-8") as fh:
                    out.append(LogEntry.from_json(json.load(fh)))
        return out

    def find_batch(self, batch_id: str) -> LogEntry | None:
        """The latest committed entry of a batch; log file names carry the batch id."""
        seq = self.state().seq
        log_dir = self.root / LOG_DIR
        if not log_dir.exists():
            return None
        for path in sorted(log_dir.glob(f"*-{batch_id}.json"), reverse=True):
            if int(path.name.split("-", 1)[0]) <= seq:
                with open(path, encoding="utf-8") as fh:
                    return LogEntry.from_json(json.load(fh))
        return None

    # -- writing -----------------------------------------------------------------------
    @contextlib.contextmanager
    def lock(self, timeout_s: float = 600.0) -> Iterator[None]:
        """Hold the writers' lock; waits up to ``timeout_s`` seconds for another writer."""
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / LOCK_FILE, "a+") as fh:
            deadline = time.monotonic() + timeout_s
            while True:
                try:
                    fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        from patron.errors import PatronError

                        raise PatronError(
                            f"the lake at {self.root} is locked by another writer"
                        ) from None
                    time.sleep(0.05)
            try:
                yield
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)

    @contextlib.contextmanager
    def transaction(self, batch_id: str, operation: str) -> Iterator[Transaction]:
        """Open a write. Commits when the block ends normally; discards staging otherwise."""
        with self.lock():
            self._recover_locked()
            tx = Transaction(self, batch_id, operation)
            tx.staging.mkdir(parents=True, exist_ok=True)
            try:
                yield tx
                self._commit_locked(tx)
            except BaseException:
                self._discard(tx)
                raise
            finally:
                shutil.rmtree(tx.staging, ignore_errors=True)

    def _commit_locked(self, tx: Transaction) -> None:
        state = self.state()
        for key, files in tx.removed.items():
            gone = set(files)
            state.tables[key] = [f for f in state.tables.get(key, []) if f not in gone]
            state.archived[key] = [f for f in state.archived.get(key, []) if f not in gone]
        for key, files in tx.added.items():
            state.tables.setdefault(key, []).extend(files)
        state.seq += 1
        state.tables = {k: v for k, v in state.tables.items() if v}
        state.archived = {k: v for k, v in state.archived.items() if v}
        self._write_commit(state, tx.batch_id, tx.operation, tx.added, tx.removed, tx.meta)
        for files in tx.removed.values():
            for rel in files:
                if not _is_url(rel):
                    (self.root / rel).unlink(missing_ok=True)

    def commit_state(self, state: CatalogState, batch_id: str, operation: str, meta: dict) -> None:
        """Commit a state edited outside a transaction (archive); caller holds the lock."""
        state.seq += 1
        self._write_commit(state, batch_id, operation, {}, {}, meta)

    def _write_commit(
        self,
        state: CatalogState,
        batch_id: str,
        operation: str,
        added: dict[str, list[str]],
        removed: dict[str, list[str]],
        meta: dict[str, Any],
    ) -> None:
        """Append the log entry of ``state.seq``, then replace the catalog: the commit point."""
        entry = {
            "seq": state.seq,
            "batch_id": batch_id,
            "committed_at": _now(),
            "operation": operation,
            "added": added,
            "removed": removed,
            "meta": meta,
        }
        (self.root / LOG_DIR).mkdir(parents=True, exist_ok=True)
        write_json_atomic(self.root / LOG_DIR / f"{state.seq:09d}-{batch_id}.json", entry)
        write_json_atomic(self.root / CATALOG_FILE, state.to_json())

    def _discard(self, tx: Transaction) -> None:
        for files in tx.added.values():
            for rel in files:
                (self.root / rel).unlink(missing_ok=True)

    def recover(self) -> int:
        """Delete what a killed writer left behind; returns the number of files removed.

        Looks at every Parquet file of the lake; writes only look for the files of batches
        whose staging folder a killed writer left behind, which keeps a commit cheap however
        many files the lake holds.
        """
        with self.lock():
            return self._recover_locked(full=True)

    def _recover_locked(self, *, full: bool = False) -> int:
        state = self.state()
        log_dir = self.root / LOG_DIR
        if log_dir.exists():
            for name in os.listdir(log_dir):
                if name.endswith(".json") and int(name.split("-", 1)[0]) > state.seq:
                    (log_dir / name).unlink(missing_ok=True)
        staging = self.root / STAGING_DIR
        interrupted = sorted(p.name for p in staging.iterdir()) if staging.exists() else []
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
        if not full and not interrupted:
            return 0
        committed = {
            os.path.normpath(f if os.path.isabs(f) else os.path.join(self.root, f))
            for files in (*state.tables.values(), *state.archived.values())
            for f in files
            if not _is_url(f)
        }
        removed = 0
        patterns = ["*.parquet"] if full else [f"*-{batch}-*.parquet" for batch in interrupted]
        for pattern in patterns:
            for parquet in self.root.rglob(pattern):
                rel = parquet.relative_to(self.root).as_posix()
                if rel.startswith("_") or os.path.normpath(parquet) in committed:
                    continue
                parquet.unlink(missing_ok=True)
                removed += 1
        if removed:
            log.warning("removed %d uncommitted file(s) left by an interrupted write", removed)
        return removed


def _is_url(path: str) -> bool:
    return "://" in path
