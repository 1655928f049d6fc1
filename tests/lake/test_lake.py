"""The lake: atomic commits, crash safety, status, compaction and archive."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pytest

import patron
from patron.config import Settings
from patron.lake import Lake, archive, compact, parse_age


def orders_frame(n: int, month: str = "2024-01", start: int = 0) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "order_id": [f"o{i}" for i in range(start, start + n)],
            "revenue": [float(i) for i in range(start, start + n)],
            "month": [month] * n,
        }
    )


def test_overwrite_replaces_a_table_in_one_commit(lake):
    lake.write_arrow(orders_frame(10), "clean", "orders", batch_id="b1", partition_by=["month"])
    lake.write_arrow(orders_frame(3), "clean", "orders", batch_id="b2", partition_by=["month"])
    assert len(lake.read("clean", "orders")) == 3
    assert len(list((lake.root / "clean" / "orders").rglob("*.parquet"))) == 1


def test_failed_write_leaves_nothing_visible_or_on_disk(lake):
    lake.write_arrow(orders_frame(5), "clean", "orders", batch_id="b1", partition_by=["month"])
    with pytest.raises(RuntimeError), lake.transaction("b2", "test") as tx:
        staged = tx.staging / "x.parquet"
        orders_frame(7).to_parquet(staged)
        tx.add_file("clean/orders", staged, "clean/orders/month=2024-01/part-b2-00000.parquet")
        raise RuntimeError("boom")
    assert len(lake.read("clean", "orders")) == 5
    assert not (lake.root / "clean/orders/month=2024-01/part-b2-00000.parquet").exists()


def test_orphan_files_are_invisible_and_recovered(lake):
    lake.write_arrow(orders_frame(5), "clean", "orders", batch_id="b1", partition_by=["month"])
    orphan = lake.root / "clean/orders/month=2024-02/part-dead-00000.parquet"
    orphan.parent.mkdir(parents=True)
    orders_frame(9, "2024-02").drop(columns="month").to_parquet(orphan)

    con = patron.connect(Settings.load(), lake=lake)
    assert con.table("clean_orders").count().execute() == 5
    assert lake.catalog.recover() == 1 and not orphan.exists()


CRASH_SCRIPT = textwrap.dedent(
    """
    import sys
    from patron.ingest import ingest_file
    from patron.lake import Lake
    ingest_file(Lake(sys.argv[1]), sys.argv[2], "orders")
    """
)


@pytest.mark.slow
def test_sigkill_mid_ingest_leaves_no_partial_data_and_a_rerun_completes(tmp_path):
    n = 1_500_000
    csv = tmp_path / "orders.csv"
    duckdb.sql(
        f"COPY (SELECT 'o' || i AS order_id, 'c' || (i % 5000) AS customer_id, "
        "TIMESTAMP '2023-01-01' + INTERVAL (i % 700) DAY AS ts, 1 + i % 3 AS quantity, "
        f"round(5 + (i % 97) * 0.5, 2) AS unit_price FROM range({n}) t(i)) TO '{csv}'"
    )
    lake_dir = tmp_path / "lake"
    script = tmp_path / "ingest.py"
    script.write_text(CRASH_SCRIPT)
    env = {**os.environ, "PYTHONPATH": str(Path(patron.__file__).parents[1])}
    outcomes = []
    for delay in (0.2, 0.5, 0.9, 1.4, 2.0, 3.0):
        proc = subprocess.Popen([sys.executable, str(script), str(lake_dir), str(csv)], env=env)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        lake = Lake(lake_dir)
        rows = (
            duckdb.sql(f"SELECT count(*) FROM {lake.scan_sql('raw', 'orders')}").fetchone()[0]
            if lake.files("raw", "orders")
            else 0
        )
        outcomes.append(rows)
        assert rows in (0, n), f"partial data visible after SIGKILL at {delay} s: {rows} rows"
        if rows == n:
            break
    lake = Lake(lake_dir)
    subprocess.run([sys.executable, str(script), str(lake_dir), str(csv)], env=env, check=True)
    con = patron.connect(Settings.load(), lake=lake)
    assert con.table("raw_orders").count().execute() == n
    assert not (lake_dir / "_staging").exists() or not any((lake_dir / "_staging").iterdir())
    # no file on disk is outside the catalog after the re-run
    on_disk = {p for p in (lake_dir / "raw").rglob("*.parquet")}
    assert on_disk == {Path(f) for f in lake.files("raw", "orders")}
    assert 0 in outcomes  # at least one kill landed before the commit


def test_status_counts_rows_partitions_and_bytes(lake):
    lake.write_arrow(
        orders_frame(4, "2024-01"), "clean", "orders", batch_id="b1", partition_by=["month"]
    )
    lake.write_arrow(
        orders_frame(6, "2024-02", start=4),
        "clean",
        "orders",
        batch_id="b2",
        partition_by=["month"],
        mode="append",
    )
    (status,) = lake.status()
    assert (status.layer, status.table, status.rows, status.partitions, status.files) == (
        "clean",
        "orders",
        10,
        2,
        2,
    )
    assert status.bytes > 0 and status.last_batch == "b2"


def test_compaction_merges_small_files_without_changing_rows(lake):
    for i in range(5):
        lake.write_arrow(
            orders_frame(10, "2024-01", start=10 * i),
            "raw",
            "orders",
            batch_id=f"b{i}",
            partition_by=["month"],
            mode="append",
        )
    before = lake.read("raw", "orders").sort_values("order_id").reset_index(drop=True)
    result = compact(lake, "raw", "orders")
    after = lake.read("raw", "orders").sort_values("order_id").reset_index(drop=True)
    assert (result.files_before, result.files_after) == (5, 1)
    pd.testing.assert_frame_equal(before, after)
    assert len(list((lake.root / "raw").rglob("*.parquet"))) == 1


def test_archive_moves_old_months_to_the_cold_tier_and_keeps_them_queryable(tmp_path):
    lake = Lake(tmp_path / "lake", cold=tmp_path / "cold")
    for month, start in (("2022-01", 0), ("2023-06", 10), ("2024-11", 20)):
        lake.write_arrow(
            orders_frame(10, month, start),
            "raw",
            "orders",
            batch_id=month,
            partition_by=["month"],
            mode="append",
        )
    result = archive(lake, parse_age("24M"), today=date(2025, 12, 15))
    assert (result.files, result.partitions) == (2, 2)
    assert len(lake.read("raw", "orders")) == 10
    assert len(lake.read("raw", "orders", include_archive=True)) == 30
    cold_files = list((tmp_path / "cold").rglob("*.parquet"))
    assert len(cold_files) == 2 and all("month=202" in str(p) for p in cold_files)
    assert not list((lake.root / "raw" / "orders").glob("month=2022-01/*.parquet"))
    con = patron.connect(Settings.load(), lake=lake, include_archive=True)
    assert con.table("raw_orders").count().execute() == 30


@pytest.mark.parametrize(("text", "months"), [("24M", 24), ("2y", 24), ("90D", 3), ("6", 6)])
def test_parse_age(text, months):
    assert parse_age(text) == months


def test_parse_age_rejects_nonsense():
    with pytest.raises(patron.PatronError, match="24M"):
        parse_age("two years")


def test_recovery_keeps_partitions_archived_inside_the_lake(lake):
    for month, start in (("2020-01", 0), ("2026-10", 10)):
        lake.write_arrow(
            orders_frame(10, month, start),
            "raw",
            "orders",
            batch_id=month,
            partition_by=["month"],
            mode="append",
        )
    assert archive(lake, 24, today=date(2026, 11, 1)).files == 1
    assert lake.catalog.recover() == 0
    assert len(lake.read("raw", "orders", include_archive=True)) == 20
