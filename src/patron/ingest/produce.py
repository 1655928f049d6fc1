"""Replaying events into Kafka, for demos, tests and benchmarks of ``patron stream``.

Events are JSON objects with a ``kind`` field naming their canonical table, made by DuckDB
from the files :func:`patron.synth.generate` writes (or from the lake's raw tables), so the
stream carries the same data, dirt included, as the batch files.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import duckdb

from patron.errors import SourceError, require
from patron.ingest._discover import discover
from patron.ingest._live import first_line
from patron.ingest.files import detect_format
from patron.ingest.validate import quote_literal
from patron.lake import Lake

log = logging.getLogger(__name__)

#: kinds in the order a replay interleaves them (customers first: later events refer to them)
REPLAY_KINDS = ("customers", "orders", "sessions", "support_tickets", "social_posts", "marketing")


def _as_events(con: duckdb.DuckDBPyConnection, scan: str, kind: str, chunk: int) -> Iterator[list]:
    """Rows of a scan as JSON event payloads (bytes) with ``kind`` first, in chunks."""
    prefix = quote_literal('{"kind":"' + kind + '",')
    columns = [r[0] for r in con.sql(f"DESCRIBE SELECT * FROM {scan}").fetchall()]
    if "kind" in columns:  # a canonical column named kind travels as "type" (see kafka.py)
        scan = f"(SELECT * RENAME (kind AS type) FROM {scan})"
    sql = (
        f"SELECT CASE WHEN to_json(t)::VARCHAR = '{{}}' THEN '{{\"kind\":\"{kind}\"}}' "
        f"ELSE {prefix} || substr(to_json(t)::VARCHAR, 2) END FROM {scan} t"
    )
    reader = con.sql(sql).to_arrow_reader(chunk)
    for batch in reader:
        yield [v.encode() for v in batch.column(0).to_pylist()]


def synthetic_events(data_dir: str | Path, *, chunk: int = 50_000) -> Iterator[list[bytes]]:
    """JSON events from the files of a synthetic data set (``patron synth``), by kind."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise SourceError(
            f"{data_dir}: no such folder of synthetic data",
            hint=f"create it with: patron synth {data_dir}",
        )
    found, _unknown = discover(data_dir)
    by_kind: dict[str, list[Path]] = {}
    for path, kind in found:
        if kind is not None and detect_format(path) in ("csv", "parquet", "json"):
            by_kind.setdefault(kind, []).append(path)
    if not by_kind:
        raise SourceError(f"{data_dir}: no synthetic data files found",
                          hint=f"create them with: patron synth {data_dir}")
    con = duckdb.connect()
    try:
        for kind in REPLAY_KINDS:
            for path in sorted(by_kind.get(kind, [])):
                fmt = detect_format(path)
                name = quote_literal(str(path))
                scan = {
                    "csv": f"read_csv({name}, all_varchar = true)",
                    "parquet": f"read_parquet({name})",
                    "json": f"read_json_auto({name})",
                }[fmt]
                try:
                    yield from _as_events(con, scan, kind, chunk)
                except duckdb.Error as exc:
                    log.warning("%s: skipped (%s)", path, first_line(exc))
    finally:
        con.close()


def lake_events(lake: Lake, *, chunk: int = 50_000) -> Iterator[list[bytes]]:
    """JSON events from the raw layer of a lake (lineage columns left out), by kind."""
    con = duckdb.connect()
    try:
        for kind in REPLAY_KINDS:
            if not lake.has_table("raw", kind):
                continue
            scan = (
                f"(SELECT * EXCLUDE (_batch_id, _ingested_at, _source, _source_row, _rule, "
                f"_reason, _original) FROM {lake.scan_sql('raw', kind)})"
            )
            yield from _as_events(con, scan, kind, chunk)
    finally:
        con.close()


def produce(
    bootstrap: str,
    topic: str,
    chunks: Iterable[list[bytes]],
    *,
    rate: float | None = None,
    limit: int | None = None,
    producer_config: dict | None = None,
) -> int:
    """Send payloads to ``topic``; ``rate`` in events per second (None: as fast as possible).

    Returns the number of events sent (all delivered: the producer is flushed). Delivery
    errors raise :class:`SourceError` naming the broker.
    """
    ck = require("confluent_kafka", "kafka")
    producer = ck.Producer(
        {
            "bootstrap.servers": bootstrap,
            "linger.ms": 20,
            "batch.num.messages": 10_000,
            "queue.buffering.max.messages": 1_000_000,
            "compression.type": "lz4",
            **(producer_config or {}),
        }
    )
    failures: list[str] = []

    def on_delivery(err, _msg) -> None:  # type: ignore[no-untyped-def]
        if err is not None and len(failures) < 5:
            failures.append(str(err))

    sent = 0
    began = time.perf_counter()
    for payloads in chunks:
        for value in payloads:
            if limit is not None and sent >= limit:
                break
            while True:
                try:
                    producer.produce(topic, value, on_delivery=on_delivery)
                    break
                except BufferError:  # local queue full: let librdkafka send
                    producer.poll(0.05)
            sent += 1
            if sent % 10_000 == 0:
                producer.poll(0)
            if rate and sent % max(1, int(rate) // 50 or 1) == 0:
                ahead = sent / rate - (time.perf_counter() - began)
                if ahead > 0:
                    time.sleep(ahead)
        if limit is not None and sent >= limit:
            break
    remaining = producer.flush(60)
    if failures or remaining:
        raise SourceError(
            f"kafka://{bootstrap}/{topic}: {remaining} event(s) not delivered"
            + (f": {failures[0]}" if failures else ""),
            hint="check that the broker is running and the topic exists",
        )
    return sent


def ensure_topic(bootstrap: str, topic: str, *, partitions: int = 2, timeout_s: float = 10) -> bool:
    """Create ``topic`` with ``partitions`` partitions unless it exists; True if created."""
    ck = require("confluent_kafka", "kafka")
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap})
    try:
        metadata = admin.list_topics(timeout=timeout_s)
    except ck.KafkaException as exc:
        raise SourceError(
            f"kafka://{bootstrap}: cannot reach the Kafka broker: {first_line(exc)}",
            hint="start Kafka or pass --bootstrap HOST:PORT",
        ) from None
    if topic in metadata.topics:
        return False
    futures = admin.create_topics([NewTopic(topic, partitions, 1)], operation_timeout=timeout_s)
    try:
        futures[topic].result(timeout_s)
    except ck.KafkaException as exc:
        raise SourceError(
            f"kafka://{bootstrap}: cannot create topic {topic!r}: {first_line(exc)}"
        ) from None
    return True
