"""The chunked driver: draws customers chunk by chunk and streams every file."""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Literal

import numpy as np
import pyarrow as pa

from patron.errors import ConfigError
from patron.schema import CUSTOMERS
from patron.synth import _model as m
from patron.synth._customers import Customers, crm_updates, customers_table, draw_customers
from patron.synth._dirt import PLANS, empty_counts, inject
from patron.synth._events import draw_marketing, draw_posts, draw_sessions, draw_tickets
from patron.synth._orders import Orders, draw_orders, ground_truth_table, orders_table
from patron.synth._writers import (
    CsvSink,
    JsonLinesSink,
    ParquetSink,
    as_parquet_table,
    as_text_table,
    json_lines_to_array,
    write_parquet,
    write_xlsx,
)

logger = logging.getLogger("patron.synth")

OrdersFormat = Literal["mixed", "csv", "parquet"]
ALL: frozenset[str] = frozenset(
    {"customers", "orders", "sessions", "support_tickets", "social_posts", "marketing",
     "ground_truth"}
)
#: Above this many posts, social posts are written as JSON lines instead of a JSON array.
JSON_ARRAY_MAX_POSTS = 200_000
#: CRM updates in ``crm_updates.xlsx``: one per this many customers, at most the cap.
CRM_UPDATE_EVERY = 20
CRM_UPDATE_CAP = 500

# Independent random streams per chunk; a number names a stream forever, so adding a
# source never changes the data of the others.
_STREAMS = {"customers": 0, "orders": 1, "sessions": 2, "support_tickets": 3,
            "social_posts": 4, "marketing": 5, "crm": 6, "dirt": 7}
_DIRT_FILES = ("customers.csv", "orders.csv", "orders_store.csv", "orders.parquet",
               "sessions.jsonl", "support_tickets.csv", "social_posts.jsonl", "marketing.csv")


@dataclass
class SynthResult:
    """What :func:`generate` wrote.

    ``files`` lists paths per canonical kind (plus ``ground_truth`` and ``dirt_log``);
    ``rows`` counts data rows written per kind (header lines excluded, injected duplicates
    included; ``customers`` counts ``customers.csv`` plus ``crm_updates.xlsx``);
    ``seconds`` is wall time. Rows per file are in ``dirt_log.json``.
    """

    out_dir: Path
    files: dict[str, list[Path]] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


def _rng(seed: int, chunk: int, stream: str, sub: int = 0) -> np.random.Generator:
    sequence = np.random.SeedSequence(seed, spawn_key=(chunk, _STREAMS[stream], sub))
    return np.random.Generator(np.random.PCG64(sequence))


def _parse_day(value: str | dt.date, name: str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise ConfigError(f"synth: {name}={value!r} is not a date; expected YYYY-MM-DD") from None


def _epoch(day: dt.date) -> int:
    return int(np.datetime64(day, "s").astype(np.int64))


class _Outputs:
    """The open sinks of one run, keyed by file name, with per-file dirt counts."""

    def __init__(self, out_dir: Path, dirt: float, seed: int) -> None:
        self.out_dir = out_dir
        self.dirt = dirt
        self.seed = seed
        self.sinks: dict[str, CsvSink | JsonLinesSink | ParquetSink] = {}
        self.parts: dict[str, int] = {}
        self.part_rows: dict[str, int] = {}
        self.dirt_counts: dict[str, dict[str, int]] = {}
        self.kind_of: dict[str, str] = {}

    def _dirty(self, kind: str, name: str, table: pa.Table, chunk: int) -> pa.Table:
        plan_file = _DIRT_FILES.index(name if not name.startswith("orders/") else "orders.parquet")
        rng = _rng(self.seed, chunk, "dirt", plan_file)
        table, counts = inject(table, rng, self.dirt, PLANS[kind])
        total = self.dirt_counts.setdefault(name, empty_counts())
        for k, v in counts.items():
            total[k] += v
        return table

    def text(self, kind: str, name: str, table: pa.Table, chunk: int) -> None:
        table = self._dirty(kind, name, as_text_table(table), chunk)
        if name not in self.sinks:
            path = self.out_dir / name
            sink_type = JsonLinesSink if name.endswith(".jsonl") else CsvSink
            self.sinks[name] = sink_type(path)
            self.kind_of[name] = kind
        self.sinks[name].write(table)

    def parquet_part(self, kind: str, folder: str, table: pa.Table, chunk: int) -> None:
        if table.num_rows == 0:
            return
        index = self.parts.get(folder, 0)
        self.parts[folder] = index + 1
        name = f"{folder}/part-{index:05d}.parquet"
        (self.out_dir / folder).mkdir(exist_ok=True)
        table = self._dirty(kind, name, as_parquet_table(table), chunk)
        write_parquet(self.out_dir / name, table)
        self.part_rows[name] = table.num_rows
        self.kind_of[name] = kind

    def parquet(self, kind: str, name: str, table: pa.Table) -> None:
        if name not in self.sinks:
            self.sinks[name] = ParquetSink(self.out_dir / name)
            self.kind_of[name] = kind
        self.sinks[name].write(as_parquet_table(table))

    def close(self) -> dict[str, int]:
        """Close every sink; return rows per file name."""
        rows = dict(self.part_rows)
        for name, sink in self.sinks.items():
            sink.close()
            rows[name] = sink.rows
        return rows


_OUTPUT_NAMES = ("customers.csv", "crm_updates.xlsx", "orders.csv", "orders_store.csv",
                 "sessions.jsonl", "support_tickets.csv", "social_posts.json",
                 "social_posts.jsonl", "marketing.csv", "ground_truth.parquet", "dirt_log.json")


def _remove_previous_output(out: Path) -> None:
    """Delete files an earlier run wrote here (and only those), so none go stale."""
    for name in _OUTPUT_NAMES:
        (out / name).unlink(missing_ok=True)
    for part in (out / "orders").glob("part-*.parquet"):
        part.unlink()


def _validate(customers: int, dirt: float, orders_format: str, chunk_customers: int,
              sources: Iterable[str], start: dt.date, end: dt.date) -> frozenset[str]:
    if customers < 1:
        raise ConfigError(f"synth: customers={customers}; expected at least 1")
    if not 0.0 <= dirt <= 1.0:
        raise ConfigError(f"synth: dirt={dirt}; expected a rate between 0 and 1")
    if orders_format not in ("mixed", "csv", "parquet"):
        raise ConfigError(
            f"synth: orders_format={orders_format!r}; expected 'mixed', 'csv' or 'parquet'")
    if chunk_customers < 1:
        raise ConfigError(f"synth: chunk_customers={chunk_customers}; expected at least 1")
    if end < start:
        raise ConfigError(f"synth: end {end} is before start {start}")
    chosen = frozenset(sources)
    unknown = chosen - ALL
    if unknown:
        raise ConfigError(
            f"synth: unknown sources {sorted(unknown)}; expected some of {sorted(ALL)}")
    return chosen


def generate(
    out_dir: str | Path,
    *,
    customers: int = 20_000,
    seed: int = 0,
    start: str | dt.date = "2023-10-01",
    end: str | dt.date = "2026-09-30",
    dirt: float = 0.0,
    orders_format: OrdersFormat = "mixed",
    chunk_customers: int = 50_000,
    sources: Iterable[str] = ALL,
    progress: Callable[[int, int], None] | None = None,
) -> SynthResult:
    """Write a synthetic multi-source customer data set with known ground truth.

    Customers are drawn in chunks of ``chunk_customers``, each from its own random
    stream, and every file is appended chunk by chunk, so memory is bounded by the chunk
    (about 2.5M order lines per 50k customers) whatever ``customers`` is. The same
    arguments give byte-identical files. Every timestamp lies in ``[start, end + 1 day)``.

    Args:
        out_dir: folder to write into (created if missing).
        customers: number of customers (about 50 order lines each over three years).
        seed: seed of every random stream.
        start, end: first and last calendar day of the data (inclusive).
        dirt: share of rows (0..1) given one defect each; counts go to ``dirt_log.json``.
        orders_format: ``"mixed"`` writes web/app lines as Parquet parts in ``orders/``
            and store lines to ``orders_store.csv``; ``"csv"`` one ``orders.csv``;
            ``"parquet"`` only Parquet parts.
        chunk_customers: customers drawn and written per step.
        sources: which of :data:`ALL` to write.
        progress: called as ``progress(done_customers, total_customers)`` after a chunk.
    """
    began = time.perf_counter()
    first_day, last_day = _parse_day(start, "start"), _parse_day(end, "end")
    chosen = _validate(customers, dirt, orders_format, chunk_customers, sources, first_day,
                       last_day)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    _remove_previous_output(out)
    start_s = _epoch(first_day)
    end_s = _epoch(last_day + dt.timedelta(days=1))
    calendar = m.Calendar(start_s, end_s)
    outputs = _Outputs(out, dirt, seed)
    crm_total = min(CRM_UPDATE_CAP, max(1, customers // CRM_UPDATE_EVERY))
    crm_rows: list[list[object]] = []
    counters = {"orders": 1, "sessions": 1, "tickets": 1, "posts": 1}

    n_chunks = -(-customers // chunk_customers)
    # One writer thread formats, dirties and writes chunk i while the caller's thread
    # draws chunk i + 1: two chunks in memory at most, and both cores busy.
    try:
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="patron-synth-writer"
                                ) as writer:
            pending: Future[None] | None = None
            done = 0
            for chunk in range(n_chunks):
                lo = chunk * chunk_customers
                size = min(chunk_customers, customers - lo)
                jobs, crm = _draw_chunk(seed, chunk, lo, size, calendar, last_day.year, end_s,
                                        chosen, orders_format, outputs, counters,
                                        crm_total * (lo + size) // customers
                                        - crm_total * lo // customers)
                crm_rows += crm
                if pending is not None:
                    pending.result()
                    if progress is not None:
                        progress(done, customers)
                pending = writer.submit(_run_jobs, jobs)
                done = lo + size
            if pending is not None:
                pending.result()
                if progress is not None:
                    progress(done, customers)
    finally:
        rows_by_file = outputs.close()
    if "social_posts" in chosen and rows_by_file.get("social_posts.jsonl", 0) <= (
            JSON_ARRAY_MAX_POSTS):
        json_lines_to_array(out / "social_posts.jsonl", out / "social_posts.json")
        rows_by_file["social_posts.json"] = rows_by_file.pop("social_posts.jsonl")
        outputs.kind_of["social_posts.json"] = "social_posts"
        if "social_posts.jsonl" in outputs.dirt_counts:
            outputs.dirt_counts["social_posts.json"] = outputs.dirt_counts.pop(
                "social_posts.jsonl")
    if "customers" in chosen:
        header = CUSTOMERS.names
        crm_rows.sort(key=lambda row: (row[-1], row[0]))
        stamp = dt.datetime.combine(last_day, dt.time())
        write_xlsx(out / "crm_updates.xlsx", "customers", header, crm_rows, stamp)
        rows_by_file["crm_updates.xlsx"] = len(crm_rows)
        outputs.kind_of["crm_updates.xlsx"] = "customers"

    result = SynthResult(out_dir=out)
    for name in sorted(rows_by_file):
        kind = outputs.kind_of[name]
        result.files.setdefault(kind, []).append(out / name)
        result.rows[kind] = result.rows.get(kind, 0) + rows_by_file[name]
    log = {
        "seed": seed,
        "dirt_rate": dirt,
        "customers": customers,
        "start": first_day.isoformat(),
        "end": last_day.isoformat(),
        "files": {
            name: {"kind": outputs.kind_of[name], "rows": rows_by_file[name],
                   "dirt": outputs.dirt_counts.get(name, empty_counts())}
            for name in sorted(rows_by_file)
        },
    }
    (out / "dirt_log.json").write_text(json.dumps(log, indent=2) + "\n")
    result.files["dirt_log"] = [out / "dirt_log.json"]
    result.seconds = time.perf_counter() - began
    logger.info("synth: %d customers → %s in %.1f s (%s)", customers, out, result.seconds,
                ", ".join(f"{k}={v}" for k, v in sorted(result.rows.items())))
    return result


def _run_jobs(jobs: list[Callable[[], None]]) -> None:
    for job in jobs:
        job()


def _draw_chunk(seed: int, chunk: int, lo: int, size: int, calendar: m.Calendar, end_year: int,
                end_s: int, chosen: frozenset[str], orders_format: str, outputs: _Outputs,
                counters: dict[str, int], crm_share: int
                ) -> tuple[list[Callable[[], None]], list[list[object]]]:
    """Draw one chunk; return the writes to run (in order) and its CRM update rows."""
    people = draw_customers(_rng(seed, chunk, "customers"), lo + 1, size, calendar, end_year)
    orders, truth = draw_orders(_rng(seed, chunk, "orders"), people, calendar)
    order_numbers = counters["orders"] + np.arange(len(orders), dtype=np.int64)
    counters["orders"] += len(orders)
    jobs: list[Callable[[], None]] = []
    crm: list[list[object]] = []
    if "customers" in chosen:
        jobs.append(partial(outputs.text, "customers", "customers.csv",
                            customers_table(people), chunk))
        crm = crm_updates(_rng(seed, chunk, "crm"), people, crm_share, end_s)
    if "orders" in chosen:
        jobs += _order_jobs(outputs, orders_format, orders, people, order_numbers, chunk)
    if "sessions" in chosen:
        table = draw_sessions(_rng(seed, chunk, "sessions"), people, orders, order_numbers,
                              truth, calendar, counters["sessions"])
        counters["sessions"] += table.num_rows
        jobs.append(partial(outputs.text, "sessions", "sessions.jsonl", table, chunk))
    if "support_tickets" in chosen:
        table = draw_tickets(_rng(seed, chunk, "support_tickets"), people, truth, calendar,
                             counters["tickets"])
        counters["tickets"] += table.num_rows
        jobs.append(partial(outputs.text, "support_tickets", "support_tickets.csv", table,
                            chunk))
    if "social_posts" in chosen:
        table = draw_posts(_rng(seed, chunk, "social_posts"), people, truth, calendar,
                           counters["posts"])
        counters["posts"] += table.num_rows
        jobs.append(partial(outputs.text, "social_posts", "social_posts.jsonl", table, chunk))
    if "marketing" in chosen:
        table = draw_marketing(_rng(seed, chunk, "marketing"), people, truth, calendar)
        jobs.append(partial(outputs.text, "marketing", "marketing.csv", table, chunk))
    if "ground_truth" in chosen:
        jobs.append(partial(outputs.parquet, "ground_truth", "ground_truth.parquet",
                            ground_truth_table(people, orders, truth)))
    logger.debug("synth chunk %d: %d customers, %d order lines", chunk, size,
                 len(orders.line_order))
    return jobs, crm


def _order_jobs(outputs: _Outputs, orders_format: str, orders: Orders, people: Customers,
                order_numbers: np.ndarray, chunk: int) -> list[Callable[[], None]]:
    if orders_format == "csv":
        table = orders_table(orders, people, order_numbers)
        return [partial(outputs.text, "orders", "orders.csv", table, chunk)]
    if orders_format == "parquet":
        table = orders_table(orders, people, order_numbers)
        return [partial(outputs.parquet_part, "orders", "orders", table, chunk)]
    in_store = orders.channel[orders.line_order] == m.ORDER_CHANNELS.index("store")
    online = orders_table(orders, people, order_numbers, np.flatnonzero(~in_store))
    store = orders_table(orders, people, order_numbers, np.flatnonzero(in_store))
    return [partial(outputs.parquet_part, "orders", "orders", online, chunk),
            partial(outputs.text, "orders", "orders_store.csv", store, chunk)]
