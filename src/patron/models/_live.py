"""Live scores: the customers a stream micro-batch touched, rescored seconds after it lands.

:class:`LiveScorer` is the ``on_batch`` callback of :func:`patron.ingest.kafka.stream_kafka`.
For the customers of a committed batch it recomputes their features as of now from the
clean layer plus the raw rows that arrived since the last ``patron clean`` (normalised
row by row: case, returns netted, duplicates by ``event_id`` dropped — the rules that
need the whole table, such as outliers, wait for the next clean), rescores them with the
promoted churn and purchase models and appends the rows to the lake's ``scores/live``
table; with ``publish_url`` they are also upserted into PostgreSQL. Each batch records
its commit-to-score latency (seconds).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from patron.lake import Lake

log = logging.getLogger(__name__)

LIVE_TABLE = "live"
#: PostgreSQL table live scores are upserted into, one row per customer
LIVE_PG_TABLE = "patron_live_scores"
#: score tables a live batch refreshes
LIVE_SCORES = ("churn", "purchase")


class _TouchedTables:
    """The clean tables of a few customers, with the rows that arrived since the last clean.

    Quacks like the part of an Ibis backend :func:`patron.features.customer_features`
    uses (``list_tables`` and ``table``), so features are computed by the same code.
    """

    def __init__(self, con: Any, customer_ids: Iterable[str]) -> None:
        self.con = con
        self.ids = sorted(customer_ids)
        self.present = set(con.list_tables())

    def list_tables(self) -> list[str]:
        kinds = {n.split("_", 1)[1] for n in self.present if n.startswith(("clean_", "raw_"))}
        return [f"clean_{kind}" for kind in sorted(kinds)]

    def table(self, name: str) -> ir.Table:
        from patron.clean import CASE_RULES, dedupe_events, net_returns, normalize_case

        kind = name.removeprefix("clean_")
        clean = self._mine(f"clean_{kind}")
        fresh = self._mine(f"raw_{kind}")
        if fresh is not None and clean is not None:
            fresh = fresh.filter(fresh._ingested_at > clean._ingested_at.max().as_scalar())
        if fresh is not None:
            case = {c: r for c, r in CASE_RULES.get(kind, {}).items() if c in fresh.columns}
            fresh = normalize_case(fresh, case) if case else fresh
            if kind == "orders":
                fresh = net_returns(fresh)
        parts = [t for t in (clean, fresh) if t is not None]
        if len(parts) == 2:
            columns = [c for c in clean.columns if c in fresh.columns]
            parts = [
                clean.select(columns),
                fresh.select(columns).cast(clean.select(columns).schema()),
            ]
        table = parts[0] if len(parts) == 1 else parts[0].union(parts[1])
        if "event_id" in table.columns and kind != "customers":
            table = dedupe_events(table)
        if kind == "customers" and "updated_at" in table.columns:
            from patron.clean import latest_version

            table = latest_version(table)
        return table

    def _mine(self, name: str) -> ir.Table | None:
        if name not in self.present:
            return None
        t = self.con.table(name)
        return t.filter(t.customer_id.isin(self.ids)) if "customer_id" in t.columns else t


@dataclass
class LiveScorer:
    """``on_batch`` callback that rescores touched customers (see module docstring)."""

    settings: Any
    lake: Lake
    publish_url: str | None = None
    latencies_s: list[float] = field(default_factory=list)
    batches: int = 0
    customers: int = 0

    def __call__(self, customer_ids: set[str], batch_id: str) -> pd.DataFrame | None:
        started = time.perf_counter()
        scores = self.score(customer_ids, batch_id)
        if scores is None or scores.empty:
            return scores
        self.lake.write_arrow(
            scores,
            "scores",
            LIVE_TABLE,
            batch_id=f"live-{batch_id}",
            mode="append",
            meta={"stream_batch": batch_id, "customers": len(scores)},
        )
        if self.publish_url:
            upsert_postgres(self.publish_url, scores, table=LIVE_PG_TABLE)
        self.latencies_s.append(time.perf_counter() - started)
        self.batches += 1
        self.customers += len(scores)
        return scores

    def score(self, customer_ids: set[str], batch_id: str) -> pd.DataFrame | None:
        """Features as of now and scores of the promoted models for these customers."""
        import patron
        from patron.features import customer_features
        from patron.models._scoring import score_frame
        from patron.models.registry import ModelRegistry

        ids = {c for c in customer_ids if c}
        registry = ModelRegistry.from_settings(self.settings)
        if not ids or not any(registry.promoted_version(n) for n in registry.names()):
            return None
        now = datetime.now(UTC).replace(tzinfo=None)
        con = patron.connect(self.settings, lake=self.lake)
        features = customer_features(_TouchedTables(con, ids), now).to_pandas()
        if features.empty:
            return None
        frames = [
            frame
            for table in LIVE_SCORES
            if (frame := score_frame(features, registry, table, as_of=now.date())) is not None
        ]
        if not frames:
            return None
        out = frames[0]
        for extra in frames[1:]:
            keep = [c for c in extra.columns if c not in out.columns or c == "customer_id"]
            out = out.merge(extra[keep], on="customer_id", how="outer")
        out["scored_at"] = pd.Timestamp(now)
        out["stream_batch"] = batch_id
        return out


_PG_TYPES = {
    "b": "boolean",
    "i": "bigint",
    "u": "bigint",
    "f": "double precision",
    "M": "timestamp",
}


def upsert_postgres(url: str, frame: pd.DataFrame, *, table: str) -> int:
    """Insert or update one row per ``customer_id`` (with ``updated_at``); returns rows.

    The table is created on first use with ``customer_id`` as its primary key; columns the
    frame brings later are added. BI tools read it live.
    """
    from patron.errors import SourceError, require
    from patron.ingest._live import safe_url

    psycopg = require("psycopg", "postgres")
    columns = [c for c in frame.columns if c != "customer_id"]
    types = {c: _PG_TYPES.get(frame[c].dtype.kind, "text") for c in columns}
    rows = [
        (cid, *[None if pd.isna(v) else (v.item() if hasattr(v, "item") else v) for v in vals])
        for cid, *vals in frame[["customer_id", *columns]].itertuples(index=False, name=None)
    ]
    quoted = ", ".join(f'"{c}"' for c in columns)
    updates = ", ".join(f'"{c}" = EXCLUDED."{c}"' for c in columns)
    try:
        with psycopg.connect(url, autocommit=False, connect_timeout=10) as conn:
            conn.execute(
                f'CREATE TABLE IF NOT EXISTS "{table}" (customer_id text PRIMARY KEY, '
                "updated_at timestamptz NOT NULL DEFAULT now())"
            )
            for c in columns:
                conn.execute(f'ALTER TABLE "{table}" ADD COLUMN IF NOT EXISTS "{c}" {types[c]}')
            with conn.cursor() as cur:
                cur.executemany(
                    f'INSERT INTO "{table}" (customer_id, {quoted}) VALUES '
                    f"(%s, {', '.join(['%s'] * len(columns))}) ON CONFLICT (customer_id) DO "
                    f"UPDATE SET {updates}, updated_at = now()",
                    rows,
                )
    except psycopg.Error as exc:
        raise SourceError(
            f"{safe_url(url)}: cannot upsert into {table}: {str(exc).strip().splitlines()[0]}"
        ) from None
    return len(rows)


def latest_live_scores(con: Any) -> ir.Table | None:
    """The newest live score of each customer (``None`` when nothing was scored live)."""
    name = f"scores_{LIVE_TABLE}"
    if name not in con.list_tables():
        return None
    t = con.table(name)
    newest = ibis.row_number().over(group_by=t.customer_id, order_by=ibis.desc(t.scored_at))
    return t.mutate(_n=newest).filter(ibis._._n == 0).drop("_n")
