"""CLI commands of live sources: ``stream`` (Kafka → lake), ``produce`` (events → Kafka),
``ingest-sql`` (PostgreSQL) and ``ingest-mongo`` (MongoDB)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.live import Live
from rich.text import Text

from patron.errors import PatronError


def _status_line(status) -> Text:  # type: ignore[no-untyped-def]
    """One line: rate, lag, batches, quarantined, latency."""
    lag = "?" if status.lag is None else f"{status.lag:,}"
    latency = (
        "-" if status.latency_p95_ms is None
        else f"{status.latency_p50_ms / 1000:.2f}/{status.latency_p95_ms / 1000:.2f} s"
    )
    text = Text()
    text.append(f"{status.events:,} events ", style="bold")
    text.append(f"{status.events_per_s:,.0f}/s  lag {lag}  batches {status.batches:,}  ")
    text.append(f"quarantined {status.quarantined:,}", style="yellow" if status.quarantined else "")
    text.append(f"  latency p50/p95 {latency}")
    if status.replayed:
        text.append(f"  replays skipped {status.replayed:,}", style="cyan")
    if status.callback_errors:
        text.append(f"  on_batch errors {status.callback_errors}", style="red")
    return text


def _parse_topic_kinds(pairs: list[str] | None) -> dict[str, str]:
    out = {}
    for pair in pairs or []:
        topic, sep, kind = pair.partition("=")
        if not sep or not topic or not kind:
            raise PatronError(
                f"--topic-kind {pair!r}: expected TOPIC=KIND, e.g. shop.orders=orders"
            )
        out[topic] = kind
    return out


def register(app: typer.Typer) -> None:
    from patron.apps.cli import console, settings

    @app.command()
    def stream(
        bootstrap: Annotated[str | None, typer.Option(help="Kafka host:port")] = None,
        topic: Annotated[list[str] | None, typer.Option(help="topic(s) of JSON events")] = None,
        group: Annotated[str | None, typer.Option(help="consumer group id")] = None,
        topic_kind: Annotated[
            list[str] | None, typer.Option(help="TOPIC=KIND: all events of a topic are KIND")
        ] = None,
        max_events: Annotated[
            int | None, typer.Option(min=1, help="stop after this many events")
        ] = None,
        idle_timeout: Annotated[
            float | None, typer.Option(min=0.1, help="stop after this many idle seconds")
        ] = None,
        batch_events: Annotated[int | None, typer.Option(min=1, help="events per batch")] = None,
        batch_seconds: Annotated[
            float | None, typer.Option(min=0.01, help="seconds per batch")
        ] = None,
        live_scores: Annotated[
            bool, typer.Option(help="rescore touched customers with the promoted models")
        ] = True,
        publish_url: Annotated[
            str | None, typer.Option(help="postgresql://… to upsert live scores into")
        ] = None,
    ) -> None:
        """Consume JSON events from Kafka into the lake (Ctrl-C commits and stops)."""
        from patron.ingest.kafka import stream_kafka
        from patron.lake import Lake
        from patron.models._live import LiveScorer

        cfg = settings()
        lake = Lake.from_settings(cfg)
        scorer = LiveScorer(cfg, lake, publish_url=publish_url) if live_scores else None
        opts = cfg.stream
        bootstrap = bootstrap or opts.bootstrap
        with Live(Text("joining the consumer group …"), console=console,
                  refresh_per_second=4, transient=False) as live:
            result = stream_kafka(
                lake,
                bootstrap=bootstrap,
                topics=topic or [opts.topic],
                group=group or opts.group,
                topic_kinds=_parse_topic_kinds(topic_kind),
                batch_events=batch_events or opts.batch_events,
                batch_seconds=batch_seconds or opts.batch_seconds,
                max_events=max_events,
                idle_timeout_s=idle_timeout,
                on_status=lambda s: live.update(_status_line(s)),
                on_batch=scorer,
                default_currency=cfg.ingest.default_currency,
                max_future_skew_hours=cfg.ingest.max_future_skew_hours,
            )
        status = result.status
        console.print(
            f"stopped ({result.stopped_by}): {status.events:,} events in {status.batches:,} "
            f"batch(es), {status.accepted:,} accepted, {status.quarantined:,} quarantined"
            + (f", {status.replayed:,} already in the lake" if status.replayed else "")
        )
        if scorer is not None and scorer.batches:
            latencies = sorted(scorer.latencies_s)
            console.print(
                f"live scores: {scorer.customers:,} customer(s) rescored in {scorer.batches:,} "
                f"batch(es); commit-to-score p50 {latencies[len(latencies) // 2]:.2f} s, "
                f"max {latencies[-1]:.2f} s (scores/live)"
            )

    @app.command()
    def produce(
        source: Annotated[
            Path | None, typer.Argument(help="synthetic data folder (patron synth); default: data")
        ] = None,
        from_lake: Annotated[bool, typer.Option(help="replay the lake's raw tables")] = False,
        bootstrap: Annotated[str | None, typer.Option(help="Kafka host:port")] = None,
        topic: Annotated[str | None, typer.Option(help="topic to send to")] = None,
        rate: Annotated[
            float | None, typer.Option(min=1, help="events per second (default: max)")
        ] = None,
        limit: Annotated[int | None, typer.Option(min=1, help="send at most this many")] = None,
        partitions: Annotated[int, typer.Option(min=1, help="partitions of a new topic")] = 2,
    ) -> None:
        """Replay synthetic (or lake) events into Kafka at a given rate, for demos."""
        import time

        from patron.ingest.produce import ensure_topic, lake_events, produce, synthetic_events
        from patron.lake import Lake

        cfg = settings()
        bootstrap = bootstrap or cfg.stream.bootstrap
        topic = topic or cfg.stream.topic
        folder = source or Path("data")
        if from_lake or (source is None and not folder.is_dir()):
            lake = Lake.from_settings(cfg)
            if not lake.tables("raw"):
                raise PatronError(
                    "nothing to replay: no synthetic data folder and an empty lake",
                    hint="run: patron synth data",
                )
            events = lake_events(lake)
            what = f"raw tables of {lake.root}"
        else:
            events = synthetic_events(folder)
            what = str(folder)
        if ensure_topic(bootstrap, topic, partitions=partitions):
            console.print(f"created topic {topic} ({partitions} partitions)")
        began = time.perf_counter()
        with console.status(f"sending events from {what} to {topic} …"):
            sent = produce(bootstrap, topic, events, rate=rate, limit=limit)
        seconds = time.perf_counter() - began
        console.print(f"sent {sent:,} events to {topic} in {seconds:.1f} s "
                      f"({sent / max(seconds, 1e-9):,.0f}/s)")
