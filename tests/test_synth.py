"""The synthetic data generator: reproducible, canonical, bounded, and carrying real signal."""

from __future__ import annotations

import collections
import datetime as dt
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import numpy as np
import openpyxl
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.dataset as ds
import pyarrow.json as pajson
import pyarrow.parquet as pq
import pytest

import patron.synth
from patron.errors import ConfigError
from patron.schema import TABLES
from patron.synth import ALL, TYPE_NAMES, SynthResult, generate

START, END = "2024-01-01", "2025-12-31"
WINDOW_START = dt.datetime(2024, 1, 1)
WINDOW_END = dt.datetime(2026, 1, 1)  # exclusive


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> SynthResult:
    """4,000 customers over two years, no dirt, mixed order formats, four chunks."""
    out = tmp_path_factory.mktemp("synth_clean")
    return generate(out, customers=4_000, seed=7, start=START, end=END, chunk_customers=1_000)


@pytest.fixture(scope="module")
def dirty(tmp_path_factory: pytest.TempPathFactory) -> SynthResult:
    """2,000 customers with 5 % dirt, every order line in one CSV."""
    out = tmp_path_factory.mktemp("synth_dirty")
    return generate(out, customers=2_000, seed=3, start=START, end=END, dirt=0.05,
                    orders_format="csv", chunk_customers=700)


def _digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*")) if p.is_file()
    }


def _sql(query: str) -> list[tuple]:
    return duckdb.connect().execute(query).fetchall()


def _orders_sql(result: SynthResult) -> str:
    """A DuckDB relation over every orders file of a run (Parquet parts and CSV)."""
    parts = []
    for path in result.files["orders"]:
        if path.suffix == ".parquet":
            parts.append(f"SELECT * FROM read_parquet('{path}')")
        else:
            parts.append(f"SELECT * FROM read_csv('{path}', header=true)")
    return "(" + " UNION ALL BY NAME ".join(parts) + ")"


def _reader(path: Path) -> str:
    return {
        ".csv": f"read_csv('{path}', header=true)",
        ".parquet": f"read_parquet('{path}')",
        ".jsonl": f"read_json('{path}', format='newline_delimited')",
        ".json": f"read_json('{path}', format='array')",
    }[path.suffix]


# --------------------------------------------------------------------------- reproducibility


def test_same_seed_and_arguments_write_identical_bytes(tmp_path: Path) -> None:
    kwargs = dict(customers=600, seed=11, start=START, end=END, dirt=0.03,
                  chunk_customers=250)
    generate(tmp_path / "a", **kwargs)
    generate(tmp_path / "b", **kwargs)
    first, second = _digest(tmp_path / "a"), _digest(tmp_path / "b")
    assert "crm_updates.xlsx" in first and "orders/part-00000.parquet" in first
    assert first == second


def test_a_different_seed_writes_different_data(tmp_path: Path) -> None:
    generate(tmp_path / "a", customers=300, seed=1, start=START, end=END)
    generate(tmp_path / "b", customers=300, seed=2, start=START, end=END)
    first, second = _digest(tmp_path / "a"), _digest(tmp_path / "b")
    assert first.keys() == second.keys()
    changed = [name for name in first if first[name] != second[name]]
    assert "customers.csv" in changed and "orders_store.csv" in changed
    assert "ground_truth.parquet" in changed


# --------------------------------------------------------------------------- shape


def test_every_file_is_readable_by_duckdb_and_pyarrow_with_canonical_columns(
    clean: SynthResult,
) -> None:
    for kind, paths in clean.files.items():
        if kind not in TABLES:
            continue
        expected = TABLES[kind].names
        for path in paths:
            if path.suffix == ".xlsx":
                header = next(openpyxl.load_workbook(path, read_only=True).active.values)
                assert list(header) == expected, path
                continue
            columns = [row[0] for row in _sql(f"DESCRIBE SELECT * FROM {_reader(path)}")]
            assert columns == expected, path
            rows = _sql(f"SELECT count(*) FROM {_reader(path)}")[0][0]
            if path.suffix == ".csv":
                table = pacsv.read_csv(path)
            elif path.suffix == ".parquet":
                table = pq.read_table(path)
            elif path.suffix == ".jsonl":
                table = pajson.read_json(path)
            else:  # a JSON array: the standard library parses it, Arrow takes the records
                table = pa.Table.from_pylist(json.loads(path.read_text()))
            assert table.column_names == expected, path
            assert table.num_rows == rows
    assert set(clean.files) == {*TABLES, "ground_truth", "dirt_log"}
    assert clean.rows["orders"] == sum(
        _sql(f"SELECT count(*) FROM {_reader(p)}")[0][0] for p in clean.files["orders"])


def test_orders_parquet_parts_carry_canonical_types(clean: SynthResult) -> None:
    parts = [p for p in clean.files["orders"] if p.suffix == ".parquet"]
    assert len(parts) == 4  # one per chunk
    schema = ds.dataset(parts).schema
    assert schema == TABLES["orders"].arrow_schema(lineage=False)


def test_mixed_format_splits_store_orders_from_online_orders(clean: SynthResult) -> None:
    store = clean.out_dir / "orders_store.csv"
    online = clean.out_dir / "orders"
    assert _sql(f"SELECT DISTINCT channel FROM {_reader(store)}") == [("store",)]
    channels = _sql(f"SELECT DISTINCT channel FROM read_parquet('{online}/*.parquet') ORDER BY 1")
    assert channels == [("app",), ("web",)]


@pytest.mark.parametrize(("orders_format", "expected"), [
    ("csv", ["orders.csv"]),
    ("parquet", ["part-00000.parquet", "part-00001.parquet"]),
])
def test_orders_format_chooses_the_order_files(tmp_path: Path, orders_format: str,
                                               expected: list[str]) -> None:
    result = generate(tmp_path, customers=200, seed=1, start=START, end=END,
                      orders_format=orders_format, chunk_customers=100,
                      sources={"orders"})
    assert [p.name for p in result.files["orders"]] == expected
    assert set(result.files) == {"orders", "dirt_log"}


def test_no_timestamp_falls_outside_the_window(clean: SynthResult) -> None:
    out = clean.out_dir
    checks = [
        (f"read_csv('{out}/customers.csv', header=true)", ["signup_date", "updated_at"]),
        (_orders_sql(clean), ["ts"]),
        (_reader(out / "sessions.jsonl"), ["ts"]),
        (_reader(out / "support_tickets.csv"), ["ts", "resolved_ts"]),
        (_reader(out / "social_posts.json"), ["ts"]),
        (_reader(out / "marketing.csv"), ["ts"]),
        (_reader(out / "ground_truth.parquet"),
         ["signup_date", "dropout_ts", "first_order_ts", "last_order_ts"]),
    ]
    for relation, columns in checks:
        for column in columns:
            low, high = _sql(
                f"SELECT min(CAST({column} AS TIMESTAMP)), max(CAST({column} AS TIMESTAMP)) "
                f"FROM {relation}")[0]
            assert low >= WINDOW_START, (relation, column, low)
            assert high < WINDOW_END, (relation, column, high)


def test_a_few_percent_of_orders_are_guest_checkouts(clean: SynthResult) -> None:
    guests, total = _sql(
        "SELECT count(DISTINCT order_id) FILTER (WHERE customer_id IS NULL), "
        f"count(DISTINCT order_id) FROM {_orders_sql(clean)}")[0]
    assert 0.015 < guests / total < 0.06


def test_customers_average_about_fifty_order_lines_over_three_years(tmp_path: Path) -> None:
    result = generate(tmp_path, customers=3_000, seed=5, sources={"orders", "ground_truth"},
                      orders_format="parquet")
    lines = _sql(f"SELECT count(*) FROM read_parquet('{tmp_path}/orders/*.parquet') "
                 "WHERE customer_id IS NOT NULL")[0][0]
    assert 40 <= lines / 3_000 <= 60
    assert result.rows["ground_truth"] == 3_000


def test_order_revenue_is_quantity_times_price_less_discount(clean: SynthResult) -> None:
    worst, negative = _sql(
        "SELECT max(abs(revenue - (quantity * unit_price - discount))), "
        f"count(*) FILTER (WHERE unit_price <= 0 OR quantity <= 0 OR discount < 0) "
        f"FROM {_orders_sql(clean)}")[0]
    assert worst < 0.011
    assert negative == 0


# --------------------------------------------------------------------------- ground truth


def test_ground_truth_agrees_with_the_orders(clean: SynthResult) -> None:
    truth = clean.out_dir / "ground_truth.parquet"
    rows = _sql(f"""
        WITH o AS (
            SELECT customer_id, count(DISTINCT order_id) AS n, max(ts) AS last_ts
            FROM {_orders_sql(clean)} WHERE customer_id IS NOT NULL GROUP BY 1)
        SELECT
            count(*),
            count(*) FILTER (WHERE coalesce(o.n, 0) <> g.n_orders),
            count(*) FILTER (WHERE g.dropout_ts IS NOT NULL AND o.last_ts > g.dropout_ts),
            count(*) FILTER (WHERE g.dropout_ts IS NOT NULL AND o.last_ts <> g.dropout_ts),
            count(*) FILTER (WHERE g.alive_at_end AND g.purchase_rate_per_day <= 0),
            count(*) FILTER (WHERE g.alive_at_end <> (g.dropout_date IS NULL)),
            count(*) FILTER (WHERE NOT g.alive_at_end)
        FROM read_parquet('{truth}') g LEFT JOIN o USING (customer_id)""")[0]
    total, wrong_count, after_dropout, last_not_dropout, dead_rate, inconsistent, gone = rows
    assert total == 4_000
    assert wrong_count == 0
    assert after_dropout == 0
    assert last_not_dropout == 0
    assert dead_rate == 0
    assert inconsistent == 0
    assert 0.2 * total < gone < 0.8 * total


def test_ground_truth_lists_every_customer_with_its_type(clean: SynthResult) -> None:
    truth = pq.read_table(clean.out_dir / "ground_truth.parquet")
    customers = pacsv.read_csv(clean.out_dir / "customers.csv")
    assert truth.column("customer_id").to_pylist() == customers.column("customer_id").to_pylist()
    assert set(truth.column("latent_type").to_pylist()) == set(TYPE_NAMES)
    dropout = np.array(truth.column("dropout_prob"))
    assert ((dropout > 0) & (dropout < 1)).all()


def test_churn_prone_customers_drop_out_most(clean: SynthResult) -> None:
    rates = dict(_sql(
        "SELECT latent_type, avg(CASE WHEN alive_at_end THEN 0 ELSE 1 END) "
        f"FROM read_parquet('{clean.out_dir}/ground_truth.parquet') GROUP BY 1"))
    assert rates["churn_prone"] == max(rates.values())
    assert rates["churn_prone"] > 2 * rates["loyal_high_value"]


# --------------------------------------------------------------------------- behaviour


def test_mobile_sessions_convert_worse_than_desktop(clean: SynthResult) -> None:
    rates = dict(_sql(
        "SELECT device, avg(CAST(converted AS INTEGER)) "
        f"FROM {_reader(clean.out_dir / 'sessions.jsonl')} GROUP BY 1"))
    assert rates["mobile"] < 0.8 * rates["desktop"]
    converted_without_order = _sql(
        f"SELECT count(*) FROM {_reader(clean.out_dir / 'sessions.jsonl')} "
        "WHERE converted <> (order_id IS NOT NULL)")[0][0]
    assert converted_without_order == 0


def test_converted_sessions_point_at_real_online_orders(clean: SynthResult) -> None:
    orphans = _sql(f"""
        SELECT count(*) FROM {_reader(clean.out_dir / 'sessions.jsonl')} s
        LEFT JOIN (SELECT DISTINCT order_id, channel, customer_id FROM {_orders_sql(clean)}) o
        USING (order_id)
        WHERE s.converted AND (o.order_id IS NULL OR o.channel = 'store'
              OR s.customer_id IS DISTINCT FROM o.customer_id)""")[0][0]
    assert orphans == 0


def test_churn_prone_customers_file_more_tickets_and_rate_lower(clean: SynthResult) -> None:
    out = clean.out_dir
    stats = {row[0]: row[1:] for row in _sql(f"""
        WITH t AS (SELECT customer_id, count(*) AS n, avg(satisfaction) AS sat
                   FROM {_reader(out / 'support_tickets.csv')} GROUP BY 1),
             r AS (SELECT customer_id, avg(rating) AS rating
                   FROM {_reader(out / 'social_posts.json')} WHERE kind = 'review' GROUP BY 1)
        SELECT g.latent_type, avg(coalesce(t.n, 0)), avg(t.sat), avg(r.rating)
        FROM read_parquet('{out}/ground_truth.parquet') g
        LEFT JOIN t USING (customer_id) LEFT JOIN r USING (customer_id)
        GROUP BY 1""")}
    tickets, satisfaction, rating = (
        {k: v[i] for k, v in stats.items()} for i in range(3))
    assert tickets["churn_prone"] == max(tickets.values())
    assert satisfaction["churn_prone"] == min(satisfaction.values())
    assert rating["churn_prone"] < rating["loyal_high_value"] - 1.0


def test_posts_turn_negative_before_customers_drop_out(clean: SynthResult) -> None:
    out = clean.out_dir
    near, far = _sql(f"""
        SELECT
            avg(CASE WHEN p.text LIKE '%disappointed%' OR p.text LIKE '%Terrible%'
                     OR p.text LIKE '%unhappy%' OR p.text LIKE '%Awful%'
                     OR p.text LIKE '%Frustrated%' THEN 1 ELSE 0 END)
                FILTER (WHERE g.dropout_ts IS NOT NULL
                        AND p.ts BETWEEN g.dropout_ts - INTERVAL 45 DAY
                                     AND g.dropout_ts + INTERVAL 20 DAY),
            avg(CASE WHEN p.text LIKE '%disappointed%' OR p.text LIKE '%Terrible%'
                     OR p.text LIKE '%unhappy%' OR p.text LIKE '%Awful%'
                     OR p.text LIKE '%Frustrated%' THEN 1 ELSE 0 END)
                FILTER (WHERE g.alive_at_end)
        FROM {_reader(out / 'social_posts.json')} p
        JOIN read_parquet('{out}/ground_truth.parquet') g USING (customer_id)""")[0]
    assert near > far + 0.2


def test_crm_updates_are_later_versions_of_known_customers(clean: SynthResult) -> None:
    sheet = openpyxl.load_workbook(clean.out_dir / "crm_updates.xlsx", read_only=True).active
    header, *rows = list(sheet.values)
    assert 100 <= len(rows) <= 500
    first = {
        row["customer_id"]: row
        for row in pacsv.read_csv(clean.out_dir / "customers.csv").to_pylist()
    }
    for values in rows:
        update = dict(zip(header, values, strict=True))
        original = first[update["customer_id"]]
        assert update["updated_at"] > original["updated_at"]
        assert update["updated_at"] < WINDOW_END


def test_marketing_reaches_customers_who_left_but_they_stop_responding(
    clean: SynthResult,
) -> None:
    out = clean.out_dir
    alive, gone = _sql(f"""
        SELECT avg(CAST(m.opened AS INTEGER)) FILTER (WHERE g.alive_at_end),
               avg(CAST(m.opened AS INTEGER)) FILTER (WHERE m.ts > g.dropout_ts)
        FROM {_reader(out / 'marketing.csv')} m
        JOIN read_parquet('{out}/ground_truth.parquet') g USING (customer_id)""")[0]
    assert gone < 0.5 * alive


# --------------------------------------------------------------------------- dirt


def _log(result: SynthResult) -> dict:
    return json.loads((result.out_dir / "dirt_log.json").read_text())["files"]


def test_clean_run_logs_no_dirt(clean: SynthResult) -> None:
    for name, entry in _log(clean).items():
        assert not any(entry["dirt"].values()), name


def test_dirt_log_counts_the_duplicated_lines_in_every_text_file(dirty: SynthResult) -> None:
    log = _log(dirty)
    for name in ("orders.csv", "customers.csv", "support_tickets.csv", "marketing.csv",
                 "sessions.jsonl", "social_posts.json"):
        lines = (dirty.out_dir / name).read_bytes().splitlines()
        if name.endswith(".json"):
            lines = [line.rstrip(b",") for line in lines[1:-1]]
        else:
            lines = lines[1:] if name.endswith(".csv") else lines
        repeats = sum(c - 1 for c in collections.Counter(lines).values())
        assert repeats == log[name]["dirt"]["duplicate"] > 0, name
        assert len(lines) == log[name]["rows"], name


def test_dirt_log_counts_the_negative_prices(dirty: SynthResult) -> None:
    negative = _sql(
        f"SELECT count(*) FROM read_csv('{dirty.out_dir}/orders.csv', header=true, "
        "all_varchar=true) WHERE TRY_CAST(unit_price AS DOUBLE) < 0")[0][0]
    assert negative == _log(dirty)["orders.csv"]["dirt"]["negative_price"] > 0


def test_dirt_includes_every_defect_kind_in_orders(dirty: SynthResult) -> None:
    counts = _log(dirty)["orders.csv"]["dirt"]
    assert all(v > 0 for v in counts.values()), counts
    rows = _log(dirty)["orders.csv"]["rows"]
    assert 0.03 < sum(counts.values()) / rows < 0.07
    path = dirty.out_dir / "orders.csv"
    bad_dates, unknown, shouting = _sql(f"""
        SELECT count(*) FILTER (WHERE ts IS NOT NULL AND TRY_CAST(ts AS TIMESTAMP) IS NULL),
               count(*) FILTER (WHERE category IN ('Misc??', 'electronics ', 'toys!!',
                                                   'Other/misc')),
               count(*) FILTER (WHERE channel <> lower(trim(channel))
                                   OR device <> lower(trim(device))
                                   OR status <> lower(trim(status)))
        FROM read_csv('{path}', header=true, all_varchar=true)""")[0]
    assert bad_dates == counts["malformed_date"]
    assert unknown == counts["unknown_category"]
    assert shouting == counts["mixed_case"]


def test_dirt_in_parquet_orders_is_logged_per_part(tmp_path: Path) -> None:
    result = generate(tmp_path, customers=400, seed=2, start=START, end=END, dirt=0.1,
                      orders_format="parquet", chunk_customers=200, sources={"orders"})
    log = _log(result)
    for path in result.files["orders"]:
        name = str(path.relative_to(tmp_path))
        total, distinct, negative = _sql(
            f"SELECT count(*), (SELECT count(*) FROM (SELECT DISTINCT * FROM "
            f"read_parquet('{path}'))), count(*) FILTER (WHERE unit_price < 0) "
            f"FROM read_parquet('{path}')")[0]
        assert total - distinct == log[name]["dirt"]["duplicate"] > 0
        assert negative == log[name]["dirt"]["negative_price"]
        assert log[name]["dirt"]["malformed_date"] == 0  # typed timestamps cannot be malformed


# --------------------------------------------------------------------------- chunks and API


def test_tiny_chunks_stream_the_same_kind_of_output(tmp_path: Path) -> None:
    calls: list[tuple[int, int]] = []
    result = generate(tmp_path, customers=1_000, seed=4, start=START, end=END,
                      chunk_customers=64, progress=lambda done, total: calls.append((done, total)))
    assert calls[0] == (64, 1_000) and calls[-1] == (1_000, 1_000) and len(calls) == 16
    assert result.rows["ground_truth"] == 1_000
    assert len([p for p in result.files["orders"] if p.suffix == ".parquet"]) == 16
    ids = pacsv.read_csv(tmp_path / "customers.csv").column("customer_id").to_pylist()
    assert ids == [f"C{i:08d}" for i in range(1, 1_001)]
    order_ids = _sql(f"SELECT count(DISTINCT order_id), max(order_id) FROM {_orders_sql(result)}")
    assert order_ids[0][1] == f"O{order_ids[0][0]:010d}"  # numbered without gaps


_PEAK_RSS_SCRIPT = """
import resource, sys
from patron.synth import generate
generate(sys.argv[1], customers=int(sys.argv[2]), chunk_customers=10_000, seed=0)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def _peak_rss_kib(out: Path, customers: int) -> int:
    source_root = str(Path(patron.synth.__file__).parents[2])
    env = {**os.environ,
           "PYTHONPATH": os.pathsep.join([source_root, os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-c", _PEAK_RSS_SCRIPT, str(out), str(customers)],
                          check=True, capture_output=True, text=True, env=env)
    return int(done.stdout.split()[-1])


@pytest.mark.slow
def test_memory_stays_bounded_by_the_chunk_not_the_customer_count(tmp_path: Path) -> None:
    small = _peak_rss_kib(tmp_path / "small", 20_000)
    large = _peak_rss_kib(tmp_path / "large", 160_000)  # 8x the customers, same chunk
    assert large < 1.5 * small, (small, large)


def test_social_posts_become_json_lines_above_the_array_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("patron.synth._generate.JSON_ARRAY_MAX_POSTS", 10)
    result = generate(tmp_path, customers=300, seed=1, start=START, end=END,
                      sources={"social_posts"})
    assert [p.name for p in result.files["social_posts"]] == ["social_posts.jsonl"]


def test_sources_limit_what_is_written(tmp_path: Path) -> None:
    result = generate(tmp_path, customers=100, seed=1, start=START, end=END,
                      sources={"customers", "ground_truth"})
    assert set(result.files) == {"customers", "ground_truth", "dirt_log"}
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "crm_updates.xlsx", "customers.csv", "dirt_log.json", "ground_truth.parquet"]
    assert {*TABLES, "ground_truth"} == set(ALL)


@pytest.mark.parametrize("kwargs", [
    {"customers": 0},
    {"dirt": 1.5},
    {"orders_format": "xlsx"},
    {"chunk_customers": 0},
    {"start": "2025-01-01", "end": "2024-01-01"},
    {"start": "31/12/2024"},
    {"sources": {"orders", "tweets"}},
])
def test_invalid_arguments_raise_config_error(tmp_path: Path, kwargs: dict) -> None:
    with pytest.raises(ConfigError):
        generate(tmp_path, **{"customers": 10, **kwargs})


def test_vader_scores_churn_prone_posts_lowest(clean: SynthResult) -> None:
    vader = pytest.importorskip("vaderSentiment.vaderSentiment")
    analyzer = vader.SentimentIntensityAnalyzer()
    rows = _sql(f"""
        SELECT g.latent_type, p.text
        FROM {_reader(clean.out_dir / 'social_posts.json')} p
        JOIN read_parquet('{clean.out_dir}/ground_truth.parquet') g USING (customer_id)""")
    scores: dict[str, list[float]] = collections.defaultdict(list)
    for latent_type, text in rows:
        scores[latent_type].append(analyzer.polarity_scores(text)["compound"])
    mean = {k: float(np.mean(v)) for k, v in scores.items()}
    assert mean["churn_prone"] == min(mean.values())
    assert mean["loyal_high_value"] - mean["churn_prone"] > 0.4


def test_a_rerun_into_the_same_folder_leaves_no_stale_files(tmp_path: Path) -> None:
    generate(tmp_path, customers=300, seed=1, start=START, end=END, chunk_customers=100)
    (tmp_path / "notes.txt").write_text("mine")
    result = generate(tmp_path, customers=300, seed=1, start=START, end=END,
                      chunk_customers=300)
    assert sorted(p.name for p in (tmp_path / "orders").iterdir()) == ["part-00000.parquet"]
    assert (tmp_path / "notes.txt").read_text() == "mine"
    assert result.files["orders"][0].name == "part-00000.parquet"
