"""Ingest throughput: patron's lossless CSV ingest vs a plain DuckDB CSV → Parquet copy.

Both run on the same orders CSV, each in a fresh process so peak RSS is its own. The
baseline is the floor: DuckDB's own reader and writer with no typing rules, no quarantine
and no accounting. Targets: patron ≤ 1.5× the baseline's time, peak RSS ≤ 4 GB.

    python benchmarks/ingest.py --rows 10000000 --out benchmarks/results/ingest.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

BASELINE = """
import sys, time, resource, duckdb
con = duckdb.connect()
con.execute("SET enable_progress_bar = false")
t = time.perf_counter()
con.execute(f"COPY (SELECT * FROM read_csv('{sys.argv[1]}')) TO '{sys.argv[2]}' "
           "(FORMAT parquet, COMPRESSION zstd)")
print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""

PATRON = """
import sys, time, resource
from patron.ingest import ingest_file
from patron.lake import Lake
t = time.perf_counter()
r = ingest_file(Lake(sys.argv[2]), sys.argv[1], "orders")
assert r.rows_read == r.accepted + r.quarantined
print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
      r.rows_read, r.accepted, r.quarantined)
"""


def make_orders_csv(path: Path, rows: int, dirt: float = 0.01) -> None:
    """Canonical orders with ~1 % dirty lines (bad prices, dates, quantities)."""
    bad = int(1 / dirt) if dirt else 0
    duckdb.sql(
        f"""
        COPY (
          SELECT 'o' || (i // 3) AS order_id, CAST(i % 3 + 1 AS VARCHAR) AS line_id,
                 CASE WHEN i % 41 = 0 THEN '' ELSE 'c' || (hash(i // 3) % 400000) END
                   AS customer_id,
                 CASE WHEN {bad} > 0 AND i % {bad or 1} = 7 THEN 'not a date'
                      ELSE strftime(TIMESTAMP '2023-01-01' + INTERVAL (i // 30) SECOND
                                    * 3, '%Y-%m-%d %H:%M:%S') END AS ts,
                 'p' || (i % 5000) AS product_id,
                 ['Electronics','Apparel','Home','Beauty','Sports','Books'][i % 6 + 1]
                   AS category,
                 CASE WHEN {bad} > 0 AND i % {bad or 1} = 3 THEN '0' ELSE
                   CAST(1 + i % 4 AS VARCHAR) END AS quantity,
                 CASE WHEN {bad} > 0 AND i % {bad or 1} = 5 THEN '-4.5' ELSE
                   CAST(round(3 + (i % 997) * 0.37, 2) AS VARCHAR) END AS unit_price,
                 CAST(round((i % 7) * 0.5, 2) AS VARCHAR) AS discount,
                 'USD' AS currency, ['web','app','store'][i % 3 + 1] AS channel,
                 ['desktop','mobile','tablet'][i % 3 + 1] AS device,
                 ['EU','NA','APAC','LATAM'][i % 4 + 1] AS region,
                 CASE WHEN i % 50 = 0 THEN 'returned' ELSE 'completed' END AS status
          FROM range({rows}) t(i)
        ) TO '{path}' (HEADER)
        """
    )


def run(script: str, *args: str) -> list[float]:
    out = subprocess.run(
        [sys.executable, "-c", script, *args],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ},
    )
    return [float(x) for x in out.stdout.split()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=2, help="runs of each; the best counts")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/ingest.json"))
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="patron-bench-") as tmp:
        tmp = Path(tmp)
        csv = tmp / "orders.csv"
        started = time.perf_counter()
        make_orders_csv(csv, args.rows)
        print(
            f"made {args.rows:,} lines ({csv.stat().st_size / 1e9:.2f} GB) in "
            f"{time.perf_counter() - started:.1f} s"
        )
        base, ours = [], []
        for i in range(args.repeat):
            base.append(run(BASELINE, str(csv), str(tmp / f"baseline{i}.parquet")))
            ours.append(run(PATRON, str(csv), str(tmp / f"lake{i}")))
        b = min(base, key=lambda r: r[0])
        p = min(ours, key=lambda r: r[0])
    result = {
        "rows": args.rows,
        "baseline_duckdb_copy_s": round(b[0], 3),
        "baseline_peak_rss_mb": round(b[1] / 1024, 1),
        "patron_ingest_s": round(p[0], 3),
        "patron_peak_rss_mb": round(p[1] / 1024, 1),
        "ratio_patron_to_baseline": round(p[0] / b[0], 3),
        "patron_rows_per_s": round(args.rows / p[0]),
        "accepted": int(p[3]),
        "quarantined": int(p[4]),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "duckdb": duckdb.__version__,
        },
        "peak_rss_self_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    print(f"{'':28}{'seconds':>10}{'peak RSS MB':>14}")
    print(f"{'DuckDB CSV→Parquet COPY':28}{b[0]:>10.2f}{b[1] / 1024:>14.0f}")
    print(f"{'patron ingest (lossless)':28}{p[0]:>10.2f}{p[1] / 1024:>14.0f}")
    print(
        f"ratio patron/baseline: {result['ratio_patron_to_baseline']:.2f}  "
        f"({result['patron_rows_per_s']:,} lines/s; accepted {result['accepted']:,}, "
        f"quarantined {result['quarantined']:,})"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
