"""Benchmark of ``patron.synth.generate`` against the I/O floor of writing the same lines.

Runs the generator in this process, then, as a baseline in the same run, writes the same
number of order lines with plain ``pyarrow.csv.write_csv`` from a pre-built in-memory
table (no generation, no formatting: the cost of the bytes alone). Reports wall time,
order lines per second, peak resident memory and the ratio to the floor.

    python benchmarks/synth.py --customers 1000000 --out benchmarks/results/synth.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.dataset as ds

from patron.synth import generate

BLOCK_LINES = 1_000_000


def _peak_rss_mb() -> float:
    """Peak resident set size of this process so far (MiB; Linux reports KiB)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 if sys.platform != "darwin" else peak / 2**20


def _folder_bytes(folder: Path) -> dict[str, int]:
    sizes: dict[str, int] = {}
    for path in folder.rglob("*"):
        if path.is_file():
            top = path.relative_to(folder).parts[0]
            sizes[top] = sizes.get(top, 0) + path.stat().st_size
    return sizes


def _order_block(folder: Path) -> pa.Table:
    """About a million generated order lines, timestamps as text, as the CSV would hold."""
    parts = sorted((folder / "orders").glob("*.parquet"))
    if parts:
        table = ds.dataset(parts).head(BLOCK_LINES)
    else:
        table = pacsv.read_csv(folder / "orders.csv").slice(0, BLOCK_LINES)
    columns = [
        pc.strftime(c, format="%Y-%m-%dT%H:%M:%S") if pa.types.is_timestamp(c.type) else c
        for c in table.columns
    ]
    return pa.table(columns, names=table.column_names).combine_chunks()


def io_floor(block: pa.Table, lines: int, path: Path) -> float:
    """Seconds to write ``lines`` rows to one CSV by repeated ``write_csv`` of ``block``."""
    began = time.perf_counter()
    with pa.OSFile(str(path), "wb") as sink:
        pacsv.write_csv(block.slice(0, 0), sink)  # header
        written = 0
        options = pacsv.WriteOptions(include_header=False)
        while written < lines:
            piece = block.slice(0, min(len(block), lines - written))
            pacsv.write_csv(piece, sink, write_options=options)
            written += len(piece)
    return time.perf_counter() - began


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--chunk-customers", type=int, default=50_000)
    parser.add_argument("--orders-format", choices=("mixed", "csv", "parquet"),
                        default="mixed")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/synth.json"))
    parser.add_argument("--workdir", type=Path, default=None,
                        help="where to write the data (default: a temporary folder)")
    parser.add_argument("--keep", action="store_true", help="keep the generated files")
    args = parser.parse_args(argv)

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="patron-synth-bench-"))
    data = workdir / "data"
    if data.exists():
        shutil.rmtree(data)
    try:
        load_before = os.getloadavg()[0]
        cpu_before = time.process_time()
        result = generate(data, customers=args.customers, seed=args.seed,
                          chunk_customers=args.chunk_customers,
                          orders_format=args.orders_format)
        cpu_s = time.process_time() - cpu_before
        peak_mb = _peak_rss_mb()
        lines = result.rows["orders"]
        sizes = _folder_bytes(data)
        block = _order_block(data)
        if not args.keep:
            shutil.rmtree(data)
        floor_s = io_floor(block, lines, workdir / "floor.csv")
        floor_bytes = (workdir / "floor.csv").stat().st_size
        (workdir / "floor.csv").unlink()
    finally:
        if args.workdir is None and not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)

    report = {
        "customers": args.customers,
        "chunk_customers": args.chunk_customers,
        "orders_format": args.orders_format,
        "order_lines": lines,
        "rows": result.rows,
        "bytes_written": sizes,
        "synth_seconds": round(result.seconds, 2),
        "synth_order_lines_per_s": round(lines / result.seconds),
        "synth_cpu_seconds": round(cpu_s, 1),
        "load_average_before": round(load_before, 2),
        "peak_rss_mb": round(peak_mb),
        "floor_seconds": round(floor_s, 2),
        "floor_order_lines_per_s": round(lines / floor_s),
        "floor_csv_bytes": floor_bytes,
        "ratio_to_floor": round(result.seconds / floor_s, 2),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "pyarrow": pa.__version__,
    }
    rows = [
        ("customers", f"{args.customers:,}"),
        ("order lines", f"{lines:,}"),
        ("all rows written", f"{sum(result.rows.values()):,}"),
        ("bytes written", f"{sum(sizes.values()) / 2**30:.2f} GiB"),
        ("generate wall time", f"{result.seconds:.1f} s"),
        ("generate CPU time (both threads)", f"{cpu_s:.1f} s"),
        ("generate order lines/s", f"{lines / result.seconds:,.0f}"),
        ("peak RSS", f"{peak_mb:,.0f} MiB"),
        ("I/O floor: write_csv same lines", f"{floor_s:.1f} s ({floor_bytes / 2**30:.2f} GiB)"),
        ("floor order lines/s", f"{lines / floor_s:,.0f}"),
        ("ratio generate / floor", f"{result.seconds / floor_s:.2f}x"),
        ("machine load average before", f"{load_before:.2f} on {os.cpu_count()} CPUs"),
    ]
    width = max(len(k) for k, _ in rows)
    print(f"{'measure':<{width}}  value")
    print(f"{'-' * width}  {'-' * 24}")
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    return report


if __name__ == "__main__":
    main()
