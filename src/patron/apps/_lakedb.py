"""A read-only DuckDB view of the lake for the apps (dashboard, API, exports).

:class:`LakeDB` keeps one in-memory DuckDB database with a view per committed lake table
(``clean_orders``, ``scores_churn``…, the names of :func:`patron.engine.connect`). The lake's
catalog sequence number (``lake.catalog.state().seq``) grows with every commit, so the apps
compare it on each query and re-create the views only when something new was committed:
readers never see a half-written batch, and a quiet lake costs one small JSON read per
query. Derived tables the apps need often (the per-customer score sheet of
:mod:`patron.apps._scores`) are materialised once per sequence number.

Queries run through ``cursor()`` so that the dashboard's and the API's worker threads can
read at the same time.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from patron.config import Settings
from patron.engine import register_views
from patron.lake import Lake

log = logging.getLogger(__name__)

#: the command that produces each lake table the apps read (for "no data yet" messages)
PRODUCERS: dict[str, str] = {
    "raw": "patron ingest FILE (or patron demo)",
    "quarantine": "patron ingest FILE (rejected rows land here)",
    "clean": "patron clean",
    "features_customers": "patron features --as-of DATE",
    "features_post_sentiment": "patron sentiment",
    "scores_lifetime_value": "patron clv",
    "scores_churn": "patron train && patron score",
    "scores_purchase": "patron train && patron score",
    "scores_spend": "patron train && patron score",
    "scores_clv": "patron train && patron score",
    "scores_segments": "patron train && patron score",
}


def producer_of(table: str) -> str:
    """The command that writes lake table ``table`` (``<layer>_<name>``)."""
    if table in PRODUCERS:
        return PRODUCERS[table]
    layer = table.split("_", 1)[0]
    return PRODUCERS.get(layer, "patron demo")


class LakeDB:
    """In-memory DuckDB over a lake, refreshed when the catalog's sequence number changes."""

    def __init__(self, lake: Lake, settings: Settings | None = None) -> None:
        self.lake = lake
        self.settings = settings
        self._con = duckdb.connect()
        if settings is not None:
            if settings.engine.threads:
                self._con.execute(f"SET threads = {int(settings.engine.threads)}")
            if settings.engine.memory_limit:
                self._con.execute(f"SET memory_limit = '{settings.engine.memory_limit}'")
        self._lock = threading.RLock()
        self._seq: int | None = None
        self._tables: frozenset[str] = frozenset()
        self._derived: dict[str, int] = {}

    @classmethod
    def from_config(cls, config: str | Path | None = None) -> LakeDB:
        """Open the lake of a ``patron.toml`` (default: ``$PATRON_CONFIG``, ``./patron.toml``)."""
        settings = Settings.load(config)
        return cls(Lake.from_settings(settings), settings)

    # -- freshness -----------------------------------------------------------------------
    @property
    def seq(self) -> int:
        """The lake's current catalog sequence number (one more per commit)."""
        return self.lake.catalog.state().seq

    def refresh(self) -> bool:
        """Re-create the views if the lake committed since the last call; True if it did."""
        seq = self.seq
        if seq == self._seq:
            return False
        with self._lock:
            if seq == self._seq:
                return False
            names = register_views(self._con, self.lake) if self.lake.root.exists() else []
            self._tables = frozenset(names)
            self._derived.clear()
            self._seq = seq
            log.info("lake views refreshed at catalog seq %d (%d tables)", seq, len(names))
            return True

    # -- reading -------------------------------------------------------------------------
    def tables(self) -> frozenset[str]:
        """Names of the lake tables (``<layer>_<table>``) as of the latest commit."""
        self.refresh()
        return self._tables

    def has(self, table: str) -> bool:
        return table in self.tables()

    def source(self, kind: str, layers: Sequence[str] = ("clean", "raw")) -> str | None:
        """``clean_<kind>`` when it exists, else ``raw_<kind>``, else None."""
        tables = self.tables()
        for layer in layers:
            if f"{layer}_{kind}" in tables:
                return f"{layer}_{kind}"
        return None

    def columns(self, table: str) -> list[str]:
        """Column names of a table or view (empty when it does not exist)."""
        self.refresh()
        rows = self.cursor().execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = ? "
            "ORDER BY ordinal_position",
            [table],
        ).fetchall()
        return [r[0] for r in rows]

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A connection to the same in-memory database, safe to use from one thread."""
        return self._con.cursor()

    def sql(self, query: str, params: Sequence[Any] | dict[str, Any] | None = None) -> pd.DataFrame:
        """Run a query against the current views and return a DataFrame."""
        self.refresh()
        cur = self.cursor()
        try:
            return cur.execute(query, params).df() if params else cur.execute(query).df()
        finally:
            cur.close()

    def scalar(self, query: str, params: Sequence[Any] | None = None) -> Any:
        """The first value of the first row of a query (None when there is no row)."""
        self.refresh()
        cur = self.cursor()
        try:
            row = cur.execute(query, params or []).fetchone()
        finally:
            cur.close()
        return None if row is None else row[0]

    def derived(self, name: str, build: Callable[[LakeDB, duckdb.DuckDBPyConnection], None]) -> str:
        """Materialise table ``name`` with ``build`` once per catalog sequence number.

        ``build(db, con)`` must ``CREATE OR REPLACE TABLE name``; it runs under the lock, so
        concurrent readers wait for one build instead of starting their own.
        """
        self.refresh()
        with self._lock:
            if self._derived.get(name) != self._seq:
                cur = self.cursor()
                try:
                    build(self, cur)
                finally:
                    cur.close()
                self._derived[name] = self._seq  # type: ignore[assignment]
        return name

    def close(self) -> None:
        self._con.close()
