"""Kafka stream: every event in raw or quarantine, once, through crashes and replays."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import duckdb
import pytest
from _services import kafka_broker

from patron.errors import SourceError
from patron.lake import Lake

pytestmark = pytest.mark.services

ck = pytest.importorskip("confluent_kafka")
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

from patron.ingest.kafka import stream_kafka  # noqa: E402
from patron.ingest.produce import produce  # noqa: E402

FAST = {"connect_timeout_s": 10.0}


@pytest.fixture(scope="module")
def bootstrap():
    with kafka_broker() as address:
        yield address


def new_topic(bootstrap: str, partitions: int = 2) -> str:
    name = f"events-{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": bootstrap})  # alive until the result is in
    futures = admin.create_topics([NewTopic(name, partitions, 1)])
    futures[name].result(10)
    return name


POISON = (
    b"{bad json",
    b'{"kind": "orders", "order_id": "px", "ts": "2024-01-01 10:00:00", "quantity": "abc", '
    b'"unit_price": 1}',
    b'{"kind": "refunds", "refund_id": "r1"}',
)


def make_events(n: int, poison_every: int = 100) -> tuple[list[bytes], int]:
    """``n`` payloads of four kinds with one poison message per ``poison_every``."""
    out, poison = [], 0
    for i in range(n):
        if i % poison_every == poison_every - 1:
            out.append(POISON[poison % len(POISON)])
            poison += 1
            continue
        c = f"c{i % 997}"
        match i % 4:
            case 0:
                event = {"kind": "orders", "event_id": f"e{i}", "order_id": f"o{i}",
                         "line_id": "1", "customer_id": c, "ts": "2024-05-01 10:00:00",
                         "quantity": 1 + i % 3, "unit_price": 12.5, "device": "mobile"}
            case 1:
                event = {"kind": "sessions", "event_id": f"e{i}", "session_id": f"s{i}",
                         "customer_id": c, "ts": "2024-05-02T08:30:00", "pages": 4,
                         "duration_s": 61.5, "converted": i % 7 == 0}
            case 2:
                event = {"kind": "marketing", "event_id": f"e{i}", "campaign_id": "spring",
                         "customer_id": c, "ts": "2024-04-03 09:00:00", "kind_": "x",
                         "opened": True}
            case _:
                event = {"kind": "customers", "event_id": f"e{i}", "customer_id": f"n{i}",
                         "signup_date": "2024-01-15", "region": "EU",
                         "updated_at": "2024-05-01 10:00:00"}
        out.append(json.dumps(event).encode())
    return out, poison


def lake_counts(lake: Lake) -> tuple[int, int, int]:
    """(raw rows, distinct raw event ids, quarantined rows) over every table."""
    raw = [lake.scan_sql("raw", t) for t in lake.tables("raw")]
    union = " UNION ALL ".join(f"SELECT event_id FROM {s}" for s in raw)
    rows, distinct = duckdb.sql(
        f"SELECT count(*), count(DISTINCT event_id) FROM ({union})"
    ).fetchone()
    quarantined = sum(
        duckdb.sql(f"SELECT count(*) FROM {lake.scan_sql('quarantine', t)}").fetchone()[0]
        for t in lake.tables("quarantine")
    )
    return rows, distinct, quarantined


def test_poison_is_quarantined_with_topic_partition_offset_and_never_stops_the_stream(
    bootstrap, lake
):
    topic = new_topic(bootstrap)
    events, _ = make_events(2_000)
    events += [b"\xff\xfe not utf-8", b"[1, 2, 3]", b'{"order_id": "no kind"}']
    produce(bootstrap, topic, [events])

    result = stream_kafka(lake, bootstrap=bootstrap, topics=[topic], group=f"g-{topic}",
                          max_events=len(events), handle_signals=False, **FAST)

    status = result.status
    assert (status.events, status.accepted, status.quarantined) == (2_003, 1_980, 23)
    rules = {}
    for batch in result.batches:
        for rule, n in batch.quarantined_by_rule.items():
            rules[rule] = rules.get(rule, 0) + n
    assert rules == {"source:malformed": 9, "quantity:type": 7, "kind:unknown": 6,
                     "kind:missing": 1}
    unrouted = lake.read("quarantine", "unrouted")
    assert set(unrouted["_topic"]) == {topic}
    bad = unrouted[unrouted["_original"] == "{bad json"]
    assert len(bad) == 7 and bad["_reason"].eq("not valid JSON").all()
    assert bad["_offset"].notna().all() and set(bad["_partition"]) <= {0, 1}
    assert "not UTF-8 text" in set(unrouted["_reason"])
    wrong_type = lake.read("quarantine", "orders")
    assert wrong_type["_reason"].eq("quantity: 'abc' is not a whole number").all()
    assert json.loads(wrong_type["_original"].iloc[0])["order_id"] == "px"
    assert lake_counts(lake) == (1_980, 1_980, 23)


def test_on_batch_gets_the_touched_customers_after_the_commit_with_its_latency(bootstrap, lake):
    topic = new_topic(bootstrap)
    events, _ = make_events(1_000, poison_every=10**9)
    produce(bootstrap, topic, [events])
    calls = []

    def rescore(customer_ids: set[str], batch_id: str) -> None:
        entry = lake.find_batch(batch_id)  # committed before the hook runs
        calls.append((set(customer_ids), batch_id, entry.meta["latency_ms"]))

    result = stream_kafka(lake, bootstrap=bootstrap, topics=[topic], group=f"g-{topic}",
                          max_events=1_000, batch_events=400, on_batch=rescore,
                          handle_signals=False, **FAST)

    assert [c[1] for c in calls] == [b.batch_id for b in result.batches]
    touched = set().union(*(c[0] for c in calls))
    expected = {f"c{i % 997}" for i in range(1_000) if i % 4 != 3}
    expected |= {f"n{i}" for i in range(1_000) if i % 4 == 3}
    assert touched == expected
    latency = calls[-1][2]
    assert 0 <= latency["p50"] <= latency["p95"] <= latency["max"] < 120_000
    assert result.status.latency_p95_ms is not None


def test_a_failing_hook_is_logged_and_never_loses_the_batch(bootstrap, lake):
    topic = new_topic(bootstrap, partitions=1)
    events, _ = make_events(300, poison_every=10**9)
    produce(bootstrap, topic, [events])

    def broken(customer_ids: set[str], batch_id: str) -> None:
        raise RuntimeError("scoring service down")

    result = stream_kafka(lake, bootstrap=bootstrap, topics=[topic], group=f"g-{topic}",
                          max_events=300, on_batch=broken, handle_signals=False, **FAST)
    assert result.status.callback_errors == len(result.batches) >= 1
    assert lake_counts(lake)[0] == 300


def test_replays_after_a_lost_offset_commit_add_no_rows(bootstrap, lake, monkeypatch):
    import patron.ingest.kafka as kafka

    topic = new_topic(bootstrap, partitions=1)
    events, _ = make_events(1_000)
    produce(bootstrap, topic, [events])
    options = dict(bootstrap=bootstrap, topics=[topic], max_events=1_000, batch_events=500,
                   batch_seconds=60, handle_signals=False, **FAST)
    first = stream_kafka(lake, group=f"a-{topic}", **options)
    # a new group re-reads from offset 0, as after a crash before the offset commit:
    # the lake's recorded offsets drop every message before batching ...
    second = stream_kafka(lake, group=f"b-{topic}", **options)
    # ... and without them the same batches are recognised by their batch id
    monkeypatch.setattr(kafka, "_lake_offsets", lambda _lake: {})
    third = stream_kafka(lake, group=f"c-{topic}", **options)

    assert first.status.batches == 2 and first.status.skipped_batches == 0
    assert second.status.replayed == 1_000 and second.status.batches == 0
    assert third.status.skipped_batches == third.status.batches == 2
    assert lake_counts(lake)[:2] == (990, 990)


def test_sigterm_commits_the_batch_in_hand_and_its_offsets(bootstrap, lake):
    topic = new_topic(bootstrap)
    events, _ = make_events(3_000, poison_every=10**9)
    produce(bootstrap, topic, [events])
    group = f"g-{topic}"

    def stop_when_drained(status) -> None:
        if status.first_message_s is not None and status.lag == 0:
            os.kill(os.getpid(), signal.SIGTERM)

    result = stream_kafka(lake, bootstrap=bootstrap, topics=[topic], group=group,
                          batch_events=10**6, batch_seconds=600, idle_timeout_s=60,
                          on_status=stop_when_drained, status_every_s=0.2, **FAST)

    assert result.stopped_by == "signal" and result.status.batches == 1
    assert lake_counts(lake)[0] == 3_000
    consumer = ck.Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    committed = consumer.committed(
        [ck.TopicPartition(topic, 0), ck.TopicPartition(topic, 1)], timeout=10
    )
    consumer.close()
    assert sum(tp.offset for tp in committed) == 3_000


def test_unreachable_broker_is_one_clear_error(lake):
    with pytest.raises(SourceError, match=r"kafka://127.0.0.1:1: cannot reach the Kafka broker"):
        stream_kafka(lake, bootstrap="127.0.0.1:1", topics=["events"], connect_timeout_s=1,
                     handle_signals=False)


@pytest.mark.slow
def test_200k_events_survive_a_sigkill_exactly_once(bootstrap, project: Path):
    topic = new_topic(bootstrap)
    events, poison = make_events(200_000)
    produce(bootstrap, topic, [events])
    lake = Lake(project / "lake")
    command = [sys.executable, "-m", "patron.apps.cli", "stream", "--bootstrap", bootstrap,
               "--topic", topic, "--group", f"g-{topic}", "--batch-events", "20000"]

    consumer = subprocess.Popen([*command, "--idle-timeout", "30"], cwd=project,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 90
    while len(lake.entries()) < 2 and time.monotonic() < deadline and consumer.poll() is None:
        time.sleep(0.05)
    consumer.send_signal(signal.SIGKILL)
    consumer.wait(10)
    committed_before_kill = sum(e.meta.get("rows_read", 0) for e in lake.entries())
    assert 0 < committed_before_kill < 200_000

    restarted = subprocess.run([*command, "--idle-timeout", "6"], cwd=project,
                               capture_output=True, text=True, timeout=150)
    assert restarted.returncode == 0, restarted.stderr

    raw_rows, distinct_ids, quarantined = lake_counts(lake)
    assert distinct_ids == 200_000 - poison
    assert raw_rows == distinct_ids  # the lake's offsets kept even the replay out
    assert quarantined == poison
    parts = [lake.scan_sql("quarantine", t) for t in lake.tables("quarantine")]
    located = duckdb.sql(
        " UNION ALL ".join(
            f"SELECT _topic, _partition, _offset FROM {s} WHERE _topic = '{topic}' "
            "AND _partition IS NOT NULL AND _offset IS NOT NULL" for s in parts
        )
    ).fetchall()
    assert len(set(located)) == poison
