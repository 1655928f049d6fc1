"""Kafka as a source: JSON events in micro-batches, committed to the lake, then acknowledged.

Each message is one event. Its canonical table comes from the topic (``topic_kinds``, e.g.
``{"shop.orders": "orders"}``) or from a ``kind`` field in the JSON. Messages are gathered
into a micro-batch (``batch_events`` messages or ``batch_seconds``, whichever comes first),
and the batch is handled in DuckDB, not message by message in Python: the raw values go
into an Arrow table, DuckDB parses the JSON, routes rows by kind and runs the same
:func:`~patron.ingest.validate.canonical_sql` as file ingest. One lake commit holds every
kind of the batch plus its quarantine; only after it are the offsets committed to Kafka.

Delivery is at-least-once from Kafka, exactly-once into the lake:

* the batch id is a hash of the topic-partition offset ranges (and the mappings), so a
  batch replayed after a crash between the lake commit and the offset commit is found in
  the lake and skipped;
* each commit records the offsets it covers; messages at or below the last offset the lake
  holds for their partition are dropped before batching, so a replay with different batch
  boundaries adds nothing either. The clean layer's dedupe by ``event_id`` is a third guard.

Nothing stops the stream: bad JSON, a value that is not an object, wrong types, rule
violations and unknown kinds are quarantined with topic, partition, offset and the raw
payload (``quarantine/<kind>``, or ``quarantine/unrouted`` when no kind applies).
SIGTERM and SIGINT end the stream after the current batch is committed.

After each committed batch an optional ``on_batch(customer_ids, batch_id)`` callback gets
the customers the batch touched (for real-time rescoring); the batch meta records the
event-to-commit latency from the producer's message timestamp.
"""

from __future__ import annotations

import json
import logging
import queue
import signal
import threading
import time
from collections.abc import Callable
from collections.abc import Mapping as MappingABC
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb
import pyarrow as pa

from patron.errors import SourceError, require
from patron.ingest._live import first_line
from patron.ingest._run import QUARANTINE_COLUMNS
from patron.ingest.mapping import ColumnMap, Mapping
from patron.ingest.validate import canonical_sql, quote_ident, quote_literal
from patron.lake import Lake, batch_id_for
from patron.lake._catalog import LOG_DIR
from patron.schema import TABLES, table_spec

log = logging.getLogger(__name__)

#: quarantine table of messages no canonical table applies to (bad JSON, unknown kind)
UNROUTED = "unrouted"

#: consumer settings patron sets unless ``consumer_config`` overrides them. A short
#: session timeout makes group joins fast (seconds, not ~25 s on some brokers).
CONSUMER_DEFAULTS: dict[str, Any] = {
    "enable.auto.commit": False,
    "auto.offset.reset": "earliest",
    "enable.partition.eof": False,
    "session.timeout.ms": 6000,
    "heartbeat.interval.ms": 500,
    "fetch.max.bytes": 64 << 20,
    "max.partition.fetch.bytes": 8 << 20,
    "queued.max.messages.kbytes": 256 << 10,
}

OnBatch = Callable[[set[str], str], None]


@dataclass
class BatchReport:
    """One committed micro-batch. Latencies in milliseconds, from message timestamp."""

    batch_id: str
    events: int
    accepted: int
    quarantined: int
    by_kind: dict[str, int]
    quarantined_by_rule: dict[str, int]
    offsets: dict[str, list[int]]
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    latency_max_ms: float | None
    commit_seconds: float
    customers: int
    skipped: bool = False


@dataclass
class StreamStatus:
    """What the stream has done so far: what a status line shows."""

    events: int = 0
    accepted: int = 0
    quarantined: int = 0
    replayed: int = 0
    batches: int = 0
    skipped_batches: int = 0
    elapsed_s: float = 0.0
    #: seconds until the first message arrived (group join, assignment)
    first_message_s: float | None = None
    #: events per second since the first message arrived
    events_per_s: float = 0.0
    lag: int | None = None
    last_batch_id: str | None = None
    latency_p50_ms: float | None = None
    latency_p95_ms: float | None = None
    callback_errors: int = 0


@dataclass
class StreamResult:
    """The final status, every batch report and why the stream ended."""

    status: StreamStatus
    batches: list[BatchReport] = field(default_factory=list)
    stopped_by: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Buffer:
    """Raw messages of the micro-batch being gathered (no parsing)."""

    values: list[bytes | None] = field(default_factory=list)
    topics: list[str] = field(default_factory=list)
    partitions: list[int] = field(default_factory=list)
    offsets: list[int] = field(default_factory=list)
    stamps: list[int | None] = field(default_factory=list)
    started: float = 0.0

    def __len__(self) -> int:
        return len(self.values)


def stream_kafka(
    lake: Lake,
    *,
    bootstrap: str = "127.0.0.1:9092",
    topics: tuple[str, ...] | list[str] = ("events",),
    group: str = "patron",
    topic_kinds: MappingABC[str, str] | None = None,
    kind_field: str = "kind",
    mappings: MappingABC[str, Mapping] | None = None,
    batch_events: int = 50_000,
    batch_seconds: float = 1.0,
    max_events: int | None = None,
    idle_timeout_s: float | None = None,
    on_batch: OnBatch | None = None,
    on_status: Callable[[StreamStatus], None] | None = None,
    status_every_s: float = 1.0,
    stop: threading.Event | None = None,
    handle_signals: bool = True,
    consumer_config: dict[str, Any] | None = None,
    default_currency: str = "USD",
    max_future_skew_hours: float = 24.0,
    connect_timeout_s: float = 10.0,
) -> StreamResult:
    """Consume JSON events from Kafka into the lake's raw layer until told to stop.

    Args:
        bootstrap: Kafka bootstrap servers, ``host:port[,host:port]``.
        topics: topics to subscribe to (consumer group ``group``).
        topic_kinds: topic → canonical table; other topics use the ``kind_field`` of
            each JSON event.
        mappings: kind → mapping of JSON fields to canonical columns; default: fields
            named like the canonical columns.
        batch_events, batch_seconds: a micro-batch is committed at this many messages or
            this many seconds after its first message, whichever comes first.
        max_events: stop after this many messages (replays skipped count too).
        idle_timeout_s: stop after this many seconds without a message, counted from the
            last message or partition assignment (waiting to join the group, e.g. while
            a crashed member's session expires, is not idleness).
        on_batch: called after each committed batch with the customer ids it touched and
            its batch id; an exception there is logged and counted, never fatal.
        on_status: called with the running :class:`StreamStatus` after each batch and
            every ``status_every_s`` seconds.
        stop: set it (from another thread) to end the stream after the current batch.
        handle_signals: SIGTERM/SIGINT end the stream cleanly (main thread only).
        connect_timeout_s: seconds to wait for the broker's metadata at start.
    """
    ck = require("confluent_kafka", "kafka")
    stop = stop or threading.Event()
    config = {
        **CONSUMER_DEFAULTS,
        "bootstrap.servers": bootstrap,
        "group.id": group,
        **(consumer_config or {}),
    }
    router = _Router(topic_kinds or {}, kind_field, mappings or {}, bootstrap)
    status = StreamStatus()
    result = StreamResult(status=status)
    consumer = ck.Consumer(config)
    previous_handlers: dict[int, Any] = {}
    committer: _Committer | None = None
    try:
        _check_topics(consumer, bootstrap, topics, connect_timeout_s)
        lake_offsets = _lake_offsets(lake)
        batcher = _MicroBatcher(
            lake, router, default_currency, timedelta(hours=max_future_skew_hours)
        )
        committer = _Committer(batcher, consumer, ck, status, result, on_batch, lake_offsets)
        pending = [_Buffer()]  # the batch being gathered (a list: callbacks replace it)

        def on_assign(_consumer: Any, partitions: list[Any]) -> None:
            lake_offsets.update(_lake_offsets(lake))  # another member may have written
            idle_since[0] = time.perf_counter()  # waiting for the group is not idleness
            log.info("assigned %s", ", ".join(f"{p.topic}/{p.partition}" for p in partitions))

        def on_revoke(_consumer: Any, partitions: list[Any]) -> None:
            # commit what was read from these partitions before another member gets them
            if pending[0].values:
                committer.submit(pending[0])
                pending[0] = _Buffer()
            committer.drain()

        consumer.subscribe(list(topics), on_assign=on_assign, on_revoke=on_revoke)
        if handle_signals and threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                previous_handlers[sig] = signal.signal(sig, lambda *_: stop.set())

        began = time.perf_counter()
        last_status = began
        idle_since: list[float | None] = [None]  # last message or assignment
        taken = 0  # messages taken off the topic (into batches or skipped as replays)
        while True:
            committer.raise_error()
            buffer = pending[0]
            now = time.perf_counter()
            if stop.is_set():
                result.stopped_by = "signal"
                break
            if max_events is not None and taken >= max_events:
                result.stopped_by = "max_events"
                break
            idle = idle_since[0]
            if idle_timeout_s is not None and idle is not None and now - idle >= idle_timeout_s:
                result.stopped_by = "idle"
                break
            room = batch_events - len(buffer)
            if max_events is not None:
                room = min(room, max_events - taken)
            messages = consumer.consume(num_messages=max(1, min(room, 10_000)), timeout=0.1)
            buffer = pending[0]  # on_revoke may have flushed it
            if messages:
                arrived = idle_since[0] = time.perf_counter()
                if status.first_message_s is None:
                    status.first_message_s = arrived - began
                if not buffer.values:
                    buffer.started = arrived
                replayed = _take(messages, buffer, lake_offsets)
                status.replayed += replayed
                taken += len(messages)
            full = len(buffer) >= batch_events
            due = bool(buffer.values) and time.perf_counter() - buffer.started >= batch_seconds
            if full or due:
                committer.submit(buffer)
                pending[0] = _Buffer()
            if time.perf_counter() - last_status >= status_every_s:
                last_status = time.perf_counter()
                _update_status(status, began, consumer, ck)
                if on_status is not None:
                    on_status(status)
        if pending[0].values:
            committer.submit(pending[0])
            pending[0] = _Buffer()
        committer.close()
        committer.raise_error()
        _update_status(status, began, consumer, ck)
        if on_status is not None:
            on_status(status)
        return result
    finally:
        if committer is not None:
            committer.close()
        for sig, handler in previous_handlers.items():
            signal.signal(sig, handler)
        try:
            consumer.close()
        except Exception as exc:  # closing must never hide the real error
            log.debug("closing the consumer: %s", exc)


class _Committer:
    """Commits micro-batches on a worker thread, one at a time and in order.

    While DuckDB validates and writes batch *k*, the main thread already consumes batch
    *k + 1*: on two cores this nearly halves the time per event. At most one batch waits,
    so memory stays bounded and Kafka is not read far ahead of the lake.
    """

    def __init__(
        self,
        batcher: _MicroBatcher,
        consumer: Any,
        ck: Any,
        status: StreamStatus,
        result: StreamResult,
        on_batch: OnBatch | None,
        lake_offsets: dict[tuple[str, int], int],
    ) -> None:
        self._args = (batcher, consumer, ck, status, result, on_batch, lake_offsets)
        self._queue: queue.Queue[_Buffer | None] = queue.Queue(maxsize=1)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="patron-commit", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            buffer = self._queue.get()
            try:
                if buffer is None:
                    return
                if self._error is None:
                    _flush(buffer, *self._args)
            except BaseException as exc:
                self._error = exc
            finally:
                self._queue.task_done()

    def submit(self, buffer: _Buffer) -> None:
        self.raise_error()
        self._queue.put(buffer)

    def drain(self) -> None:
        """Wait until every submitted batch is committed."""
        if self._thread.is_alive():
            self._queue.join()

    def close(self) -> None:
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()

    def raise_error(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error


def _check_topics(
    consumer: Any, bootstrap: str, topics: tuple[str, ...] | list[str], timeout_s: float
) -> None:
    """One clear line when the broker is unreachable or a topic does not exist."""
    try:
        metadata = consumer.list_topics(timeout=timeout_s)
    except Exception as exc:  # KafkaException
        raise SourceError(
            f"kafka://{bootstrap}: cannot reach the Kafka broker: {first_line(exc)}",
            hint="start Kafka or pass --bootstrap HOST:PORT",
        ) from None
    known = sorted(t for t in metadata.topics if not t.startswith("__"))
    absent = [t for t in topics if t not in metadata.topics]
    if absent:
        raise SourceError(
            f"kafka://{bootstrap}: topic(s) {absent} do not exist; expected one of: "
            f"{', '.join(known) or '(no topics)'}",
            hint="create the topic, or produce to it first (patron produce)",
        )


def _take(messages: list[Any], buffer: _Buffer, lake_offsets: dict[tuple[str, int], int]) -> int:
    """Append messages to the buffer; returns how many the lake already holds (skipped)."""
    values, topics, partitions = buffer.values, buffer.topics, buffer.partitions
    offsets, stamps = buffer.offsets, buffer.stamps
    replayed = 0
    for m in messages:
        if m.error() is not None:
            log.warning("kafka: %s", m.error())
            continue
        topic, partition, offset = m.topic(), m.partition(), m.offset()
        if lake_offsets and offset <= lake_offsets.get((topic, partition), -1):
            replayed += 1
            continue
        values.append(m.value())
        topics.append(topic)
        partitions.append(partition)
        offsets.append(offset)
        kind, stamp = m.timestamp()
        stamps.append(stamp if kind else None)
    return replayed


def _flush(
    buffer: _Buffer,
    batcher: _MicroBatcher,
    consumer: Any,
    ck: Any,
    status: StreamStatus,
    result: StreamResult,
    on_batch: OnBatch | None,
    lake_offsets: dict[tuple[str, int], int],
) -> None:
    """Commit the batch to the lake, then its offsets to Kafka, then tell ``on_batch``."""
    report, customers = batcher.commit(buffer, want_customers=on_batch is not None)
    commit = []
    for key, (_first, last) in report.offsets.items():
        topic, partition = key.rsplit("/", 1)
        commit.append(ck.TopicPartition(topic, int(partition), last + 1))
        lake_offsets[(topic, int(partition))] = max(
            last, lake_offsets.get((topic, int(partition)), -1)
        )
    try:
        consumer.commit(offsets=commit, asynchronous=False)
    except Exception as exc:  # a rebalance: the lake's offsets still protect against replays
        log.warning("kafka: committing offsets failed (%s); the lake already holds the batch",
                    first_line(exc))
    status.events += report.events
    status.accepted += report.accepted
    status.quarantined += report.quarantined
    status.batches += 1
    status.skipped_batches += int(report.skipped)
    status.last_batch_id = report.batch_id
    if report.latency_p50_ms is not None:
        status.latency_p50_ms = report.latency_p50_ms
        status.latency_p95_ms = report.latency_p95_ms
    result.batches.append(report)
    if on_batch is not None and not report.skipped:
        try:
            on_batch(customers, report.batch_id)
        except Exception:
            status.callback_errors += 1
            log.exception("on_batch failed for batch %s (the batch is committed)",
                          report.batch_id)


def _update_status(status: StreamStatus, began: float, consumer: Any, ck: Any) -> None:
    status.elapsed_s = time.perf_counter() - began
    busy = status.elapsed_s - (status.first_message_s or 0.0)
    status.events_per_s = status.events / busy if busy > 0 else 0.0
    try:
        assignment = consumer.assignment()
        if not assignment:
            return
        lag = 0
        for tp in consumer.position(assignment):
            # cached: the high offset of the last fetch, no request to the broker
            offsets = consumer.get_watermark_offsets(
                ck.TopicPartition(tp.topic, tp.partition), cached=True
            )
            if offsets is None or offsets[1] < 0 or tp.offset < 0:
                continue
            lag += max(0, offsets[1] - tp.offset)
        status.lag = lag
    except Exception as exc:  # lag is informative only
        log.debug("lag unknown: %s", exc)


def _lake_offsets(lake: Lake) -> dict[tuple[str, int], int]:
    """The last offset the lake holds per (topic, partition), from the commit log."""
    out: dict[tuple[str, int], int] = {}
    for entry in lake.entries():
        offsets = entry.meta.get("kafka_offsets")
        if not isinstance(offsets, dict):
            continue
        for key, (_first, last) in offsets.items():
            topic, partition = key.rsplit("/", 1)
            tp = (topic, int(partition))
            out[tp] = max(out.get(tp, -1), int(last))
    return out


def _batch_committed(lake: Lake, batch_id: str) -> bool:
    """Whether the lake holds ``batch_id`` (a file listing first: no log is read if not)."""
    log_dir = lake.root / LOG_DIR
    if not any(log_dir.glob(f"*-{batch_id}.json")):
        return False
    return lake.find_batch(batch_id) is not None


class _Router:
    """Which canonical table a message goes to and how its JSON fields are read."""

    def __init__(
        self,
        topic_kinds: MappingABC[str, str],
        kind_field: str,
        mappings: MappingABC[str, Mapping],
        bootstrap: str,
    ) -> None:
        for kind in [*topic_kinds.values(), *mappings]:
            table_spec(kind)  # SchemaError naming the known kinds
        self.topic_kinds = dict(topic_kinds)
        self.kind_field = kind_field
        self.bootstrap = bootstrap.split(",", 1)[0]
        self.mappings: dict[str, Mapping] = {}
        self.fields: dict[str, list[str]] = {}
        for kind in TABLES:
            mapping = mappings.get(kind) or _json_mapping(kind, kind_field)
            self.mappings[kind] = mapping
            fields = [cm.source for cm in mapping.columns.values() if cm.source is not None]
            self.fields[kind] = list(dict.fromkeys(fields))
        self.signature = json.dumps(
            {
                "topic_kinds": self.topic_kinds,
                "kind_field": kind_field,
                "mappings": {k: m.signature() for k, m in sorted(self.mappings.items())},
            },
            sort_keys=True,
        )

    def kind_sql(self) -> str:
        from_json = (
            "CASE WHEN _reader_error IS NULL THEN lower(trim(json_extract_string(value, "
            f"{quote_literal('$.' + json.dumps(self.kind_field))}))) END"
        )
        if not self.topic_kinds:
            return from_json
        cases = " ".join(
            f"WHEN {quote_literal(t)} THEN {quote_literal(k)}" for t, k in self.topic_kinds.items()
        )
        return f"CASE topic {cases} ELSE {from_json} END"

    def source_relation(self, kind: str) -> str:
        """The messages of one kind as a relation of their JSON fields (all text)."""
        fields = self.fields[kind]
        paths = "[" + ", ".join(quote_literal("$." + json.dumps(f)) for f in fields) + "]"
        selected = ", ".join(
            f"nullif(_f[{i}], '') AS {quote_ident(f)}" for i, f in enumerate(fields, 1)
        )
        return (
            f"(SELECT _row, _reader_error, {selected} FROM (SELECT _row, _reader_error, "
            "json_extract_string(CASE WHEN _reader_error IS NULL THEN value ELSE '{}' END, "
            f"{paths}) AS _f FROM _routed WHERE _kind = {quote_literal(kind)}))"
        )

    def source_sql(self) -> str:
        return f"'kafka://{self.bootstrap}/' || topic || '/' || CAST(\"partition\" AS VARCHAR)"


def _json_mapping(kind: str, kind_field: str) -> Mapping:
    """Default mapping of JSON events: fields named like the canonical columns.

    A canonical column named like the routing field (``kind`` of marketing touches and
    social posts) is read from the field ``type`` instead, so ``{"kind": "marketing",
    "type": "email"}`` is an email touch.
    """
    spec = table_spec(kind)
    columns = {c: ColumnMap(source=c) for c in [*spec.names, "event_id"]}
    if kind_field in columns:
        columns[kind_field] = ColumnMap(source="type")
    return Mapping(name="kafka-json", kind=kind, columns=columns)


#: quarantine columns of files, plus where in Kafka the message was
_QUARANTINE_COLUMNS = ", ".join((*QUARANTINE_COLUMNS, "_topic", "_partition", "_offset"))


class _MicroBatcher:
    """Turns a buffer of raw messages into one lake commit (all kinds + quarantine)."""

    def __init__(
        self,
        lake: Lake,
        router: _Router,
        default_currency: str,
        max_future_skew: timedelta,
    ) -> None:
        self.lake = lake
        self.con = duckdb.connect()
        self.con.execute("SET enable_progress_bar = false")
        self.con.execute("SET TimeZone = 'UTC'")
        self.router = router
        self.default_currency = default_currency
        self.max_future_skew = max_future_skew

    def commit(self, buffer: _Buffer, *, want_customers: bool) -> tuple[BatchReport, set[str]]:
        started = time.perf_counter()
        con = self.con
        con.register("_batch", _arrow_batch(buffer))
        ranges = con.sql(
            'SELECT topic, "partition", min("offset"), max("offset") FROM _batch '
            "GROUP BY ALL ORDER BY ALL"
        ).fetchall()
        offsets = {f"{t}/{p}": [int(a), int(b)] for t, p, a, b in ranges}
        batch_id = batch_id_for(
            "kafka", *(f"{k}:{a}-{b}" for k, (a, b) in offsets.items()), self.router.signature
        )
        n = len(buffer)
        if _batch_committed(self.lake, batch_id):
            log.info("batch %s (%d messages) is already in the lake: skipped", batch_id, n)
            con.unregister("_batch")
            return (
                BatchReport(batch_id, n, 0, 0, {}, {}, offsets, None, None, None, 0.0, 0, True),
                set(),
            )
        ingested_at = datetime.now(UTC).replace(tzinfo=None)
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _routed AS SELECT *, "
            f"{self.router.kind_sql()} AS _kind FROM (SELECT _row, value, topic, \"partition\", "
            '"offset", ts_ms, CASE WHEN value IS NULL THEN \'empty message\' '
            "WHEN _bad_utf8 THEN 'not UTF-8 text' "
            "WHEN NOT json_valid(value) THEN 'not valid JSON' "
            "WHEN json_type(value) <> 'OBJECT' THEN 'not a JSON object' END AS _reader_error "
            "FROM _batch)"
        )
        con.unregister("_batch")
        kinds = [
            k for (k,) in con.sql("SELECT DISTINCT _kind FROM _routed").fetchall() if k in TABLES
        ]
        accepted = quarantined = 0
        by_kind: dict[str, int] = {}
        by_rule: dict[str, int] = {}
        customers: set[str] = set()
        with self.lake.transaction(batch_id, "stream kafka") as tx:
            for kind in kinds:
                a, q = self._write_kind(tx, kind, batch_id, ingested_at, by_rule)
                accepted += a
                quarantined += q
                by_kind[kind] = a + q
                if want_customers and a:
                    customers.update(
                        c
                        for (c,) in con.sql(
                            "SELECT DISTINCT customer_id FROM _out "
                            "WHERE _layer = 'raw' AND customer_id IS NOT NULL"
                        ).fetchall()
                    )
            unrouted = self._write_unrouted(tx, batch_id, ingested_at, by_rule)
            quarantined += unrouted
            if unrouted:
                by_kind[UNROUTED] = unrouted
            if accepted + quarantined != n:  # pragma: no cover - a bug, never data
                raise SourceError(
                    f"kafka batch {batch_id}: accounting does not balance: read {n}, "
                    f"accepted {accepted}, quarantined {quarantined}"
                )
            now_ms = time.time() * 1000.0
            p50, p95, worst = con.sql(
                f"SELECT quantile_cont({now_ms!r} - ts_ms, 0.5), "
                f"quantile_cont({now_ms!r} - ts_ms, 0.95), max({now_ms!r} - ts_ms) "
                "FROM _routed WHERE ts_ms IS NOT NULL"
            ).fetchone() or (None, None, None)
            report = BatchReport(
                batch_id=batch_id,
                events=n,
                accepted=accepted,
                quarantined=quarantined,
                by_kind=by_kind,
                quarantined_by_rule=dict(sorted(by_rule.items(), key=lambda kv: -kv[1])),
                offsets=offsets,
                latency_p50_ms=_round(p50),
                latency_p95_ms=_round(p95),
                latency_max_ms=_round(worst),
                commit_seconds=0.0,
                customers=len(customers),
            )
            tx.meta.update(
                {
                    "source": f"kafka://{self.router.bootstrap}",
                    "rows_read": n,
                    "accepted": accepted,
                    "quarantined": quarantined,
                    "quarantined_by_rule": report.quarantined_by_rule,
                    "by_kind": by_kind,
                    "kafka_offsets": offsets,
                    "ingested_at": ingested_at.isoformat(),
                    "latency_ms": {"p50": report.latency_p50_ms, "p95": report.latency_p95_ms,
                                   "max": report.latency_max_ms},
                }
            )
        con.execute("DROP TABLE IF EXISTS _routed")
        con.execute("DROP TABLE IF EXISTS _out")
        report.commit_seconds = time.perf_counter() - started
        return report, customers

    def _write_kind(
        self,
        tx: Any,
        kind: str,
        batch_id: str,
        ingested_at: datetime,
        by_rule: dict[str, int],
    ) -> tuple[int, int]:
        """Validate one kind's messages; stage raw files and quarantine. (accepted, quarantined)"""
        con, router = self.con, self.router
        spec = table_spec(kind)
        fields = router.fields[kind]
        query = canonical_sql(
            spec,
            router.mappings[kind],
            router.source_relation(kind),
            source_types={f: "VARCHAR" for f in fields},
            source_columns=fields,
            batch_id=batch_id,
            source_name="kafka",
            ingested_at=ingested_at,
            default_currency=self.default_currency,
            max_future_skew=self.max_future_skew,
            reader_nulls=True,
        )
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _out AS SELECT c.* REPLACE ("
            f"{router.source_sql()} AS _source, r.\"offset\" AS _source_row, "
            "CASE WHEN c._rule IS NOT NULL THEN r.value END AS _original), "
            'r.topic AS _topic, r."partition" AS _partition, r."offset" AS _offset '
            f"FROM ({query.sql}) c JOIN _routed r ON c._source_row = r._row"
        )
        counts = con.sql("SELECT _layer, _rule, count(*) FROM _out GROUP BY ALL").fetchall()
        accepted = sum(n for layer, _, n in counts if layer == "raw")
        quarantined = 0
        for layer, rule, n in counts:
            if layer != "raw":
                by_rule[rule] = by_rule.get(rule, 0) + n
                quarantined += n
        if accepted:
            out = tx.staging / f"raw-{kind}"
            out.mkdir(parents=True)
            select = (
                "SELECT * EXCLUDE (_layer, _topic, _partition, _offset) FROM _out "
                "WHERE _layer = 'raw'"
            )
            if spec.partition_by_month:
                con.execute(
                    f"COPY ({select}) TO '{out.as_posix()}' (FORMAT parquet, COMPRESSION zstd, "
                    "PARTITION_BY (month), FILENAME_PATTERN 'data_{i}')"
                )
            else:
                con.execute(
                    f"COPY ({select}) TO '{(out / 'data.parquet').as_posix()}' "
                    "(FORMAT parquet, COMPRESSION zstd)"
                )
            self.lake.stage_partitioned(tx, "raw", kind, out)
        if quarantined:
            self._stage_quarantine(
                tx,
                kind,
                f"SELECT {_QUARANTINE_COLUMNS} FROM _out WHERE _layer = 'quarantine' "
                "ORDER BY _partition, _offset",
            )
        return accepted, quarantined

    def _write_unrouted(
        self,
        tx: Any,
        batch_id: str,
        ingested_at: datetime,
        by_rule: dict[str, int],
    ) -> int:
        """Quarantine messages with no canonical table: malformed, kind missing or unknown."""
        known = ", ".join(quote_literal(k) for k in TABLES)
        field = self.router.kind_field
        select = (
            f"SELECT {self.router.source_sql()} AS _source, \"offset\" AS _source_row, "
            "CASE WHEN _reader_error IS NOT NULL THEN 'source:malformed' "
            "WHEN _kind IS NULL THEN 'kind:missing' ELSE 'kind:unknown' END AS _rule, "
            "CASE WHEN _reader_error IS NOT NULL THEN _reader_error "
            f"WHEN _kind IS NULL THEN {quote_literal(f'{field}: missing (required)')} "
            f"ELSE {quote_literal(field + ': ')} || '''' || _kind || '''' || "
            f"{quote_literal(' is not one of ' + ', '.join(TABLES))} END AS _reason, "
            f"value AS _original, {quote_literal(batch_id)} AS _batch_id, "
            f"TIMESTAMP '{ingested_at.strftime('%Y-%m-%d %H:%M:%S.%f')}' AS _ingested_at, "
            'topic AS _topic, "partition" AS _partition, "offset" AS _offset '
            f"FROM _routed WHERE _kind IS NULL OR NOT list_contains([{known}], _kind)"
        )
        counts = self.con.sql(f"SELECT _rule, count(*) FROM ({select}) GROUP BY ALL").fetchall()
        total = 0
        for rule, n in counts:
            by_rule[rule] = by_rule.get(rule, 0) + n
            total += n
        if total:
            self._stage_quarantine(tx, UNROUTED, f"{select} ORDER BY _partition, _offset")
        return total

    def _stage_quarantine(self, tx: Any, table: str, select: str) -> None:
        path = tx.staging / f"quarantine-{table}.parquet"
        self.con.execute(
            f"COPY ({select}) TO '{path.as_posix()}' (FORMAT parquet, COMPRESSION zstd)"
        )
        tx.add_file(
            self.lake.key("quarantine", table),
            path,
            f"quarantine/{table}/part-{tx.batch_id}-00000.parquet",
        )


def _arrow_batch(buffer: _Buffer) -> pa.Table:
    """The buffer as an Arrow table; payloads that are not UTF-8 are flagged, not lost."""
    raw = pa.array(buffer.values, pa.binary())
    try:
        values = raw.cast(pa.string())
        bad = pa.nulls(len(raw), pa.bool_()).fill_null(False)
    except pa.ArrowInvalid:
        decoded, flags = [], []
        for v in buffer.values:
            if v is None:
                decoded.append(None)
                flags.append(False)
                continue
            try:
                decoded.append(v.decode("utf-8"))
                flags.append(False)
            except UnicodeDecodeError:
                decoded.append(v.decode("utf-8", errors="backslashreplace"))
                flags.append(True)
        values = pa.array(decoded, pa.string())
        bad = pa.array(flags, pa.bool_())
    return pa.table(
        {
            "_row": pa.array(range(1, len(raw) + 1), pa.int64()),
            "value": values,
            "_bad_utf8": bad,
            "topic": pa.array(buffer.topics, pa.string()),
            "partition": pa.array(buffer.partitions, pa.int32()),
            "offset": pa.array(buffer.offsets, pa.int64()),
            "ts_ms": pa.array(buffer.stamps, pa.int64()),
        }
    )


def _round(value: float | None) -> float | None:
    return None if value is None else round(float(value), 1)
