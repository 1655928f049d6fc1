"""PostgreSQL ingest: chunked reads validated like files, watermarks, versions kept once."""

from __future__ import annotations

import json
import uuid

import duckdb
import pytest

from patron.errors import SourceError
from patron.ingest.sql import ingest_postgres
from support import service_unavailable

pytestmark = pytest.mark.services

#: trust auth accepts any password: the URL carries one so tests can check it never leaks
URL = "postgresql://postgres:s3cret-pw@127.0.0.1:5432/test"


@pytest.fixture
def pg():
    """A connection to the test database and a fresh schema, dropped afterwards."""
    psycopg = pytest.importorskip("psycopg")
    try:
        conn = psycopg.connect(URL, autocommit=True, connect_timeout=5)
    except psycopg.Error as exc:
        service_unavailable(f"PostgreSQL is not reachable at 127.0.0.1:5432: {exc}")
    schema = f"patron_{uuid.uuid4().hex[:8]}"
    conn.execute(f"CREATE SCHEMA {schema}")
    try:
        yield conn, schema
    finally:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")
        conn.close()


def _orders(conn, schema: str, n: int) -> None:
    conn.execute(
        f"CREATE TABLE {schema}.orders (order_id text, line_no int, customer_id bigint, "
        "ts timestamptz, quantity int, unit_price numeric(10, 2), status text, device text)"
    )
    conn.execute(
        f"INSERT INTO {schema}.orders SELECT 'o' || g, 1, g % 40, "
        "TIMESTAMPTZ '2024-03-01 12:00:00+00' + g * INTERVAL '1 minute', "
        "CASE WHEN g % 50 = 0 THEN 0 ELSE 1 + g % 3 END, 9.99, "
        "CASE WHEN g % 70 = 0 THEN 'shipped' ELSE 'completed' END, 'mobile' "
        f"FROM generate_series(1, {n}) g"
    )


def test_rows_are_validated_like_files_and_quarantined_with_a_url_without_password(pg, lake):
    conn, schema = pg
    _orders(conn, schema, 1_000)

    result = ingest_postgres(lake, URL, table=f"{schema}.orders", kind="orders", chunk_rows=128)

    # g % 50 = 0 → quantity 0 (20 rows); g % 70 = 0 → status shipped (14, of which 2 overlap)
    assert (result.rows_read, result.accepted, result.quarantined) == (1_000, 968, 32)
    assert result.quarantined_by_rule == {"quantity:zero": 20, "status:allowed": 12}
    source = f"postgresql://postgres@127.0.0.1:5432/test/{schema}.orders"
    assert result.source == source
    q = lake.read("quarantine", "orders")
    assert set(q["_source"]) == {source}
    assert json.loads(q.sort_values("_source_row")["_original"].iloc[0])["order_id"] == "o50"
    raw = lake.read("raw", "orders")
    assert raw["customer_id"].map(type).eq(str).all()  # bigint source, string canonical
    assert raw["unit_price"].eq(9.99).all()
    assert str(raw["ts"].min()) == "2024-03-01 12:01:00"  # timestamptz read as UTC
    stored = "".join(p.read_text() for p in (lake.root / "_log").glob("*.json"))
    assert "s3cret-pw" not in stored


def test_rerun_with_no_new_rows_is_a_noop(pg, lake):
    conn, schema = pg
    _orders(conn, schema, 200)
    first = ingest_postgres(lake, URL, table=f"{schema}.orders", kind="orders")
    again = ingest_postgres(lake, URL, table=f"{schema}.orders", kind="orders")
    assert not first.skipped and again.skipped and again.batch_id == first.batch_id
    assert len(lake.read("raw", "orders")) == first.accepted


def test_incremental_reads_pick_up_exactly_the_new_rows_and_keep_each_version_once(pg, lake):
    conn, schema = pg
    table = f"{schema}.crm_customers"
    conn.execute(
        f"CREATE TABLE {table} (customer_id text, signup_date date, region text, "
        "updated_at timestamp)"
    )
    conn.execute(
        f"INSERT INTO {table} SELECT 'c' || g, DATE '2023-01-01' + g, 'EU', "
        "TIMESTAMP '2024-01-01' + (g / 10) * INTERVAL '1 hour' FROM generate_series(1, 100) g"
    )

    def read_new():
        return ingest_postgres(
            lake, URL, table=table, kind="customers", incremental_column="updated_at"
        )

    first = read_new()
    nothing = read_new()
    # 5 customers change region (a new version each), 3 arrive at the very watermark time,
    # 2 arrive later
    conn.execute(
        f"INSERT INTO {table} SELECT customer_id, signup_date, 'NA', TIMESTAMP '2024-02-01' "
        f"FROM {table} WHERE customer_id IN ('c1', 'c2', 'c3', 'c4', 'c5')"
    )
    conn.execute(
        f"INSERT INTO {table} VALUES ('c201', '2023-06-01', 'EU', TIMESTAMP '2024-01-01 10:00'), "
        "('c202', '2023-06-01', 'EU', TIMESTAMP '2024-01-01 10:00'), "
        "('c203', '2023-06-01', 'EU', TIMESTAMP '2024-01-01 10:00'), "
        "('c301', '2023-06-01', 'EU', TIMESTAMP '2024-03-01'), "
        "('c302', '2023-06-01', 'EU', TIMESTAMP '2024-03-01')"
    )
    second = read_new()

    assert first.rows_read == 100 and nothing.skipped and nothing.rows_read == 0
    assert second.rows_read == 10 and second.accepted == 10
    scan = lake.scan_sql("raw", "customers")
    versions, distinct, customers = duckdb.sql(
        f"SELECT count(*), count(DISTINCT (customer_id, updated_at)), "
        f"count(DISTINCT customer_id) FROM {scan}"
    ).fetchone()
    assert (versions, distinct, customers) == (110, 110, 105)
    latest = duckdb.sql(
        f"SELECT region FROM {scan} WHERE customer_id = 'c3' ORDER BY updated_at DESC LIMIT 1"
    ).fetchone()
    assert latest == ("NA",)
    third = read_new()
    assert third.skipped


def test_unreachable_server_is_one_clear_error_without_password(lake):
    pytest.importorskip("psycopg")
    with pytest.raises(SourceError) as err:
        ingest_postgres(
            lake,
            "postgresql://app:hunter2@127.0.0.1:1/shop",
            table="orders",
            kind="orders",
            connect_timeout_s=2,
        )
    assert str(err.value).startswith("postgresql://app@127.0.0.1:1/shop: cannot connect")
    assert "hunter2" not in str(err.value) and err.value.hint


def test_missing_table_names_the_tables_that_exist(pg, lake):
    conn, schema = pg
    _orders(conn, schema, 5)
    with pytest.raises(SourceError, match=rf"table 'ordrs' does not exist.*{schema}\.orders"):
        ingest_postgres(lake, URL, table="ordrs", kind="orders")


def test_cli_ingest_accepts_a_postgresql_url_and_reads_incrementally(pg, tmp_path):
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    conn, schema = pg
    _orders(conn, schema, 300)
    conn.execute(f"ALTER TABLE {schema}.orders ADD COLUMN updated_at timestamptz DEFAULT now()")
    (tmp_path / "patron.toml").write_text('[lake]\npath = "lake"\n')
    patron = shutil.which("patron", path=str(Path(sys.executable).parent))
    args = [
        patron,
        "ingest",
        URL,
        "--table",
        f"{schema}.orders",
        "--kind",
        "orders",
        "--incremental-column",
        "updated_at",
    ]
    first = subprocess.run(args, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stderr
    assert "s3cret" not in first.stdout + first.stderr
    assert "300" in first.stdout
    conn.execute(
        f"INSERT INTO {schema}.orders SELECT 'n' || g, 1, g, now(), 1, 5, 'completed', 'mobile', "
        "now() + INTERVAL '1 second' FROM generate_series(1, 7) g"
    )
    second = subprocess.run(args, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert second.returncode == 0, second.stderr
    rows = duckdb.sql(
        f"SELECT count(*) FROM read_parquet('{tmp_path}/lake/raw/orders/**/*.parquet')"
    ).fetchone()[0]
    assert rows == 300 - 10 + 7  # 10 of the first 300 were quarantined; 7 new rows
    missing = subprocess.run(
        [*args[:3], "--kind", "orders"], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert missing.returncode == 2 and "needs --table" in missing.stderr
