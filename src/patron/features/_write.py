"""Materialise customer features as of a date into the lake's ``features/customers`` table.

Each ``as_of`` is one hive partition (``as_of=YYYY-MM-DD``); writing a date again replaces
only that partition, in one atomic commit, so a backtest can keep many cut-offs side by
side and a re-run never duplicates rows.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import ibis

from patron.config import Settings
from patron.features._customer import DEFAULT_WINDOWS, customer_features
from patron.features._time import as_datetime
from patron.lake import Lake, batch_id_for

log = logging.getLogger(__name__)

FEATURES_TABLE = "customers"


@dataclass(frozen=True)
class FeatureWrite:
    """What :func:`write_features` committed: rows, columns and the partition's files."""

    as_of: date
    rows: int
    columns: list[str]
    files: list[str]


def write_features(
    settings: Settings,
    as_of: date | datetime | str,
    *,
    windows: Sequence[int] = DEFAULT_WINDOWS,
    lake: Lake | None = None,
) -> FeatureWrite:
    """Compute :func:`customer_features` on the configured engine and commit them.

    The features carry an ``as_of`` column (a date; the hive partition) so several
    cut-offs can be read together.
    """
    from patron.engine import connect

    lake = lake or Lake.from_settings(settings)
    cutoff = as_datetime(as_of)
    day = cutoff.date()
    con = connect(settings, lake=lake)
    features = customer_features(con, cutoff, windows)
    scratch = None
    if settings.engine.backend == "duckdb":
        duck = con.con
        source_sql = str(ibis.to_sql(features, dialect="duckdb"))
    else:  # compute on Spark, hand the result to DuckDB for the write
        import duckdb

        duck = duckdb.connect()
        scratch = features.to_pyarrow()
        duck.register("_patron_features", scratch)
        source_sql = "SELECT * FROM _patron_features"
    sql = f"SELECT *, DATE '{day.isoformat()}' AS as_of FROM ({source_sql})"
    key = lake.key("features", FEATURES_TABLE)
    batch = batch_id_for("features", day.isoformat(), datetime.now(UTC).isoformat())
    with lake.transaction(batch, f"features as of {day}") as tx:
        out = tx.staging / "out"
        out.mkdir(parents=True, exist_ok=True)
        duck.execute(
            f"COPY ({sql}) TO '{out.as_posix()}' "
            "(FORMAT parquet, COMPRESSION zstd, PARTITION_BY (as_of), OVERWRITE_OR_IGNORE)"
        )
        rows = duck.execute(
            f"SELECT count(*) FROM read_parquet('{out.as_posix()}/**/*.parquet')"
        ).fetchone()[0]
        partition = f"/as_of={day.isoformat()}/"
        stale = [f for f in lake.catalog.state().tables.get(key, []) if partition in f"/{f}"]
        if stale:
            tx.remove_files(key, stale)
        files = lake.stage_partitioned(tx, "features", FEATURES_TABLE, out)
        tx.meta.update({"as_of": day.isoformat(), "rows": int(rows),
                        "table": f"features/{FEATURES_TABLE}"})
    columns = [*features.columns, "as_of"]
    log.info("features as of %s: %d customers, %d columns", day, rows, len(columns))
    return FeatureWrite(as_of=day, rows=int(rows), columns=columns,
                        files=[str(Path(lake.root) / f) for f in files])
