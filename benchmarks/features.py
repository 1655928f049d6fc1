"""Benchmark: patron's order features and RFM summary against their baselines.

For each size (order lines) it generates a canonical orders Parquet file with DuckDB
``range()`` (about 10 lines per customer over two years, 8 categories) and times:

* ``scan``: DuckDB reading just the columns the features use (the floor);
* ``patron``: recency, frequency, spend (total and 30/90/365 days), AOV, inter-purchase
  days, preferred category and return rate (:func:`patron.features.order_features` +
  :func:`patron.features.basket_features`, compiled by Ibis to DuckDB);
* ``sql``: the same features hand-written in DuckDB SQL (results checked equal);
* ``pandas``: the same features in pandas (up to ``--pandas-max`` rows);
* ``rfm`` vs ``lifetimes``: :func:`patron.features.rfm_summary` against lifetimes'
  ``summary_data_from_transaction_data`` (up to ``--lifetimes-max`` rows).

Results go to ``benchmarks/results/features.json`` and a table is printed.
Usage: ``python benchmarks/features.py --sizes 1000000,10000000``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import ibis
import pandas as pd

from patron.features import basket_features, order_features, rfm_summary

AS_OF = datetime(2026, 1, 1)
WINDOWS = (30, 90, 365)
RESULTS = Path(__file__).resolve().parent / "results" / "features.json"


def generate_orders(path: Path, rows: int, seed: int = 0) -> None:
    """Canonical-looking order lines: ~10 lines per customer, 2 lines per order."""
    customers = max(rows // 10, 1)
    con = duckdb.connect()
    con.execute(f"SELECT setseed({(seed % 1000) / 1000})")
    con.execute(f"""
        COPY (
          SELECT
            'o' || (i // 2) AS order_id,
            CAST(i % 2 AS VARCHAR) AS line_id,
            'c' || lpad(CAST(hash(i // 2, {seed}) % {customers} AS VARCHAR), 9, '0')
              AS customer_id,
            TIMESTAMP '2024-01-01' + to_seconds(CAST(hash(i // 2, 'ts') % (730 * 86400)
              AS BIGINT)) AS ts,
            (['Electronics', 'Apparel', 'Home', 'Beauty', 'Sports', 'Books', 'Grocery',
              'Toys'])[1 + CAST(hash(i, 'cat') % 8 AS INTEGER)] AS category,
            1 + CAST(hash(i, 'q') % 3 AS BIGINT) AS quantity,
            round(5 + (hash(i, 'p') % 10000) / 100.0, 2) AS unit_price,
            CASE WHEN hash(i // 2, 'st') % 100 < 85 THEN 'completed'
                 WHEN hash(i // 2, 'st') % 100 < 95 THEN 'returned' ELSE 'cancelled' END
              AS status
          FROM range({rows}) t(i)
        ) TO '{path}' (FORMAT parquet, COMPRESSION zstd)
    """)
    con.execute(f"""
        COPY (SELECT *, quantity * unit_price AS revenue,
                     CASE WHEN status = 'completed' THEN quantity * unit_price ELSE 0.0 END
                       AS net_revenue
              FROM '{path}') TO '{path}.tmp' (FORMAT parquet, COMPRESSION zstd)
    """)
    Path(f"{path}.tmp").replace(path)
    con.close()


def _ts(moment: datetime) -> str:
    return f"TIMESTAMP '{moment:%Y-%m-%d %H:%M:%S}'"


def handwritten_sql(path: Path) -> str:
    """The benchmark's features, hand-written for DuckDB."""
    cut = _ts(AS_OF)
    windows_orders = ", ".join(
        f"count(*) FILTER (WHERE order_ts >= {_ts(AS_OF - timedelta(days=w))}) AS orders_{w}d"
        for w in WINDOWS
    )
    windows_spend = ", ".join(
        f"sum(CASE WHEN ts >= {_ts(AS_OF - timedelta(days=w))} THEN net_revenue ELSE 0 END)"
        f" AS spend_{w}d" for w in WINDOWS
    )
    return f"""
    WITH lines AS (SELECT customer_id, order_id, ts, category, quantity, status, net_revenue
                   FROM read_parquet('{path}')
                   WHERE ts < {cut} AND customer_id IS NOT NULL),
    buys AS (SELECT * FROM lines WHERE status <> 'cancelled' AND quantity > 0),
    per_order AS (SELECT customer_id, order_id, min(ts) AS order_ts FROM buys GROUP BY ALL),
    gaps AS (SELECT *, (epoch(order_ts) - epoch(lag(order_ts) OVER (
                 PARTITION BY customer_id ORDER BY order_ts))) / 86400.0 AS gap
             FROM per_order),
    order_stats AS (
      SELECT customer_id, count(*) AS frequency_orders,
             (epoch({cut}) - epoch(max(order_ts))) / 86400.0 AS recency_days,
             (epoch({cut}) - epoch(min(order_ts))) / 86400.0 AS days_since_first_order,
             avg(gap) AS interpurchase_mean_days, stddev_samp(gap) AS interpurchase_std_days,
             {windows_orders}
      FROM gaps GROUP BY customer_id),
    spend AS (SELECT customer_id, sum(net_revenue) AS spend_total, {windows_spend}
              FROM lines GROUP BY customer_id),
    cats AS (SELECT customer_id, category, count(*) AS n FROM buys
             WHERE category IS NOT NULL GROUP BY ALL),
    preferred AS (
      SELECT customer_id, arg_min(category, (-n, category)) AS preferred_category,
             max(n) / sum(n) AS preferred_category_share, count(*) AS category_count
      FROM cats GROUP BY customer_id),
    returns AS (SELECT customer_id, avg(CAST(status = 'returned' AS INTEGER)) AS return_rate
                FROM buys GROUP BY customer_id)
    SELECT s.*, o.* EXCLUDE (customer_id),
           s.spend_total / nullif(o.frequency_orders, 0) AS aov,
           r.return_rate, p.preferred_category, p.preferred_category_share, p.category_count
    FROM spend s LEFT JOIN order_stats o USING (customer_id)
    LEFT JOIN returns r USING (customer_id) LEFT JOIN preferred p USING (customer_id)
    """


def patron_expr(con, path: Path):
    orders = con.read_parquet(str(path), table_name="bench_orders")
    features = order_features(orders, AS_OF, WINDOWS)
    basket = basket_features(orders, AS_OF)
    joined = features.left_join(basket, "customer_id")
    return joined.drop(*[c for c in joined.columns if c.endswith("_right")])


def pandas_features(path: Path) -> pd.DataFrame:
    o = pd.read_parquet(path, columns=["customer_id", "order_id", "ts", "category", "quantity",
                                       "status", "net_revenue"])
    o = o[(o.ts < AS_OF) & o.customer_id.notna()]
    buys = o[(o.status != "cancelled") & (o.quantity > 0)]
    per_order = buys.groupby(["customer_id", "order_id"], as_index=False).ts.min()
    per_order = per_order.sort_values(["customer_id", "ts"])
    per_order["gap"] = per_order.groupby("customer_id").ts.diff().dt.total_seconds() / 86400
    g = per_order.groupby("customer_id")
    out = pd.DataFrame({"frequency_orders": g.size(),
                        "recency_days": (AS_OF - g.ts.max()).dt.total_seconds() / 86400,
                        "days_since_first_order": (AS_OF - g.ts.min()).dt.total_seconds() / 86400,
                        "interpurchase_mean_days": g.gap.mean(),
                        "interpurchase_std_days": g.gap.std()})
    for w in WINDOWS:
        recent = per_order[per_order.ts >= AS_OF - timedelta(days=w)]
        out[f"orders_{w}d"] = recent.groupby("customer_id").size()
    spend = o.groupby("customer_id").net_revenue.sum().rename("spend_total").to_frame()
    for w in WINDOWS:
        spend[f"spend_{w}d"] = (o.net_revenue.where(o.ts >= AS_OF - timedelta(days=w), 0.0)
                                .groupby(o.customer_id).sum())
    out = spend.join(out)
    out["aov"] = out.spend_total / out.frequency_orders
    out["return_rate"] = (buys.status == "returned").groupby(buys.customer_id).mean()
    cats = buys.dropna(subset=["category"]).groupby(["customer_id", "category"]).size()
    cats = cats.rename("n").reset_index().sort_values(["customer_id", "n", "category"],
                                                      ascending=[True, False, True])
    first = cats.groupby("customer_id").first()
    out["preferred_category"] = first.category
    out["preferred_category_share"] = first.n / cats.groupby("customer_id").n.sum()
    out["category_count"] = cats.groupby("customer_id").size()
    return out


def _best(fn, repeat: int) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - started)
    return best, result


def _check_equal(ours, sql_result) -> None:
    a = ours.to_pandas().sort_values("customer_id").reset_index(drop=True)
    b = sql_result.to_pandas().sort_values("customer_id").reset_index(drop=True)
    b = b[a.columns]
    pd.testing.assert_frame_equal(a, b, check_dtype=False, rtol=1e-9, atol=1e-9)


PEAK_RSS = """
import resource, sys
import ibis
sys.path.insert(0, sys.argv[2])
from features import patron_expr
patron_expr(ibis.duckdb.connect(), sys.argv[1]).to_pyarrow()
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def patron_peak_rss_mb(path: Path) -> float:
    """Peak RSS (MB) of patron's features computed alone in a fresh process."""
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", PEAK_RSS, str(path), str(Path(__file__).parent)],
                         capture_output=True, text=True, check=True)
    return round(int(out.stdout.split()[-1]) / 1024, 1)


def run(size: int, work: Path, repeat: int, pandas_max: int, lifetimes_max: int) -> dict:
    path = work / f"orders_{size}.parquet"
    started = time.perf_counter()
    generate_orders(path, size)
    result: dict[str, float | int | None] = {"rows": size,
                                             "generate_s": time.perf_counter() - started}
    con = ibis.duckdb.connect()
    raw = con.con
    scan_sql = (f"SELECT min(customer_id), min(order_id), max(ts), min(category), "
                f"sum(quantity), min(status), sum(net_revenue) FROM read_parquet('{path}')")
    result["scan_s"], _ = _best(lambda: raw.execute(scan_sql).fetchall(), repeat)
    expr = patron_expr(con, path)
    result["patron_s"], ours = _best(lambda: expr.to_pyarrow(), repeat)
    sql = handwritten_sql(path)
    result["sql_s"], theirs = _best(lambda: raw.execute(sql).to_arrow_table(), repeat)
    _check_equal(ours, theirs)
    result["patron_peak_rss_mb"] = patron_peak_rss_mb(path)
    result["customers"] = ours.num_rows
    result["pandas_s"] = _best(lambda: pandas_features(path), 1)[0] if size <= pandas_max else None
    orders = con.table("bench_orders")
    rfm = rfm_summary(orders, as_of=AS_OF - timedelta(days=1), value_col="net_revenue")
    result["rfm_s"], _ = _best(lambda: rfm.to_pyarrow(), repeat)
    if size <= lifetimes_max:
        from lifetimes.utils import summary_data_from_transaction_data

        frame = pd.read_parquet(path, columns=["customer_id", "ts", "net_revenue"])
        frame = frame[frame.ts < AS_OF]
        result["lifetimes_s"], _ = _best(
            lambda: summary_data_from_transaction_data(
                frame, "customer_id", "ts", monetary_value_col="net_revenue",
                observation_period_end=AS_OF - timedelta(days=1)), 1)
    else:
        result["lifetimes_s"] = None
    result["patron_vs_sql"] = result["patron_s"] / result["sql_s"]
    result["patron_vs_scan"] = result["patron_s"] / result["scan_s"]
    result["pandas_vs_patron"] = (result["pandas_s"] / result["patron_s"]
                                  if result["pandas_s"] else None)
    result["lifetimes_vs_rfm"] = (result["lifetimes_s"] / result["rfm_s"]
                                  if result["lifetimes_s"] else None)
    con.disconnect()
    path.unlink()
    return result


def _fmt(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.2f}"
    return f"{value:,}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000000,10000000",
                        help="comma-separated numbers of order lines")
    parser.add_argument("--repeat", type=int, default=3, help="runs per timing (best kept)")
    parser.add_argument("--pandas-max", type=int, default=10_000_000)
    parser.add_argument("--lifetimes-max", type=int, default=5_000_000)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s]
    rows = []
    with tempfile.TemporaryDirectory() as work:
        for size in sizes:
            rows.append(run(size, Path(work), args.repeat, args.pandas_max, args.lifetimes_max))
            print(json.dumps(rows[-1]), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    payload = {"machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                           "duckdb": duckdb.__version__, "ibis": ibis.__version__},
               "as_of": AS_OF.isoformat(), "results": rows}
    args.out.write_text(json.dumps(payload, indent=2))
    columns = ["rows", "customers", "scan_s", "patron_s", "sql_s", "pandas_s", "rfm_s",
               "lifetimes_s", "patron_vs_sql", "patron_vs_scan", "pandas_vs_patron",
               "lifetimes_vs_rfm"]
    print(" | ".join(columns))
    for row in rows:
        print(" | ".join(_fmt(row.get(c)) for c in columns))


if __name__ == "__main__":
    main()
