"""One place that opens an Ibis backend over the lake.

``patron.connect()`` returns an Ibis backend in which every committed lake table is a
table named ``<layer>_<table>`` (``raw_orders``, ``clean_orders``, ``features_customers``…).
DuckDB (a file ``patron.duckdb`` in the lake, so any DuckDB client can open the same views)
is the default; PySpark runs the same expressions when one machine is not enough.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

import duckdb
import ibis

from patron.config import Settings
from patron.errors import ConfigError, PatronError, require
from patron.lake import Lake, parquet_scan_sql

log = logging.getLogger(__name__)

DUCKDB_FILE = "patron.duckdb"

#: columns kept in lake files for accounting but hidden from analysis
HIDDEN_COLUMNS = ("_rule", "_reason", "_original", "_layer")


def table_name(layer: str, table: str) -> str:
    return f"{layer}_{table}"


def connect(
    settings: Settings | None = None,
    *,
    lake: Lake | None = None,
    backend: str | None = None,
    include_archive: bool = False,
) -> Any:
    """Open an Ibis backend with every lake table registered (see module docstring)."""
    settings = settings or Settings.load()
    lake = lake or Lake.from_settings(settings)
    backend = backend or settings.engine.backend
    if backend == "duckdb":
        return _connect_duckdb(lake, settings, include_archive)
    if backend == "spark":
        return _connect_spark(lake, settings, include_archive)
    raise ConfigError(f"engine.backend = {backend!r}: expected 'duckdb' or 'spark'")


def _apply_duckdb_settings(con: duckdb.DuckDBPyConnection, settings: Settings | None) -> None:
    if settings is None:
        return
    if settings.engine.threads:
        con.execute(f"SET threads = {int(settings.engine.threads)}")
    if settings.engine.memory_limit:
        con.execute(f"SET memory_limit = '{settings.engine.memory_limit}'")


def register_views(
    con: duckdb.DuckDBPyConnection,
    lake: Lake,
    *,
    include_archive: bool = False,
    temporary: bool = False,
) -> list[str]:
    """(Re)create one view per committed lake table; returns the view names."""
    state = lake.catalog.state()
    keys = sorted(set(state.tables) | (set(state.archived) if include_archive else set()))
    names = []
    kind = "TEMP VIEW" if temporary else "VIEW"
    for key in keys:
        layer, table = key.split("/", 1)
        files = lake.files(layer, table, include_archive=include_archive)
        if not files:
            continue
        scan = parquet_scan_sql(files)
        hidden = [c for c in _columns(con, scan) if c in HIDDEN_COLUMNS]
        exclude = f" EXCLUDE ({', '.join(hidden)})" if hidden else ""
        name = table_name(layer, table)
        con.execute(f'CREATE OR REPLACE {kind} "{name}" AS SELECT *{exclude} FROM {scan}')
        names.append(name)
    if not temporary:
        existing = {
            r[0]
            for r in con.execute(
                "SELECT view_name FROM duckdb_views() WHERE NOT internal AND NOT temporary"
            ).fetchall()
        }
        for stale in existing - set(names):
            con.execute(f'DROP VIEW IF EXISTS "{stale}"')
    return names


def _columns(con: duckdb.DuckDBPyConnection, scan: str) -> list[str]:
    return [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {scan}").fetchall()]


def _connect_duckdb(lake: Lake, settings: Settings, include_archive: bool) -> Any:
    lake.root.mkdir(parents=True, exist_ok=True)
    path = lake.root / DUCKDB_FILE
    try:
        backend = ibis.duckdb.connect(str(path))
        temporary = False
    except duckdb.IOException:
        # another process holds the file (a running dashboard or ingest): work in memory
        log.info("%s is in use by another process; using an in-memory catalog", path)
        backend = ibis.duckdb.connect()
        temporary = True
    raw = backend.con
    _apply_duckdb_settings(raw, settings)
    try:
        register_views(raw, lake, include_archive=include_archive, temporary=temporary)
    except duckdb.Error as exc:
        raise PatronError(f"cannot open the lake at {lake.root}: {exc}") from None
    return backend


_SPARK: dict[str, Any] = {}


def spark_session(master: str = "local[2]") -> Any:
    """One shared local Spark session (JVM start-up takes ~20 s, so it is reused)."""
    require("pyspark", "spark")
    from pyspark.sql import SparkSession

    if "session" not in _SPARK:
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        _SPARK["session"] = (
            SparkSession.builder.master(master)
            .appName("patron")
            .config("spark.ui.enabled", "false")
            .config("spark.sql.shuffle.partitions", "4")
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.driver.memory", "2g")
            .config("spark.sql.ansi.enabled", "false")
            .getOrCreate()
        )
    return _SPARK["session"]


def _connect_spark(lake: Lake, settings: Settings, include_archive: bool) -> Any:
    session = spark_session(settings.engine.spark_master)
    backend = ibis.pyspark.connect(session)
    state = lake.catalog.state()
    keys = sorted(set(state.tables) | (set(state.archived) if include_archive else set()))
    for key in keys:
        layer, table = key.split("/", 1)
        files = lake.files(layer, table, include_archive=include_archive)
        if not files:
            continue
        frame = (
            session.read.option("basePath", str(lake.root / layer / table))
            .option("mergeSchema", "true")
            .parquet(*files)
        )
        keep = [c for c in frame.columns if c not in HIDDEN_COLUMNS]
        frame.select(*keep).createOrReplaceTempView(table_name(layer, table))
    return backend
