"""Score customers with the promoted models into the lake's ``scores`` layer.

One table per model family, one row per customer, overwritten atomically by each run:

* ``scores/churn``: ``churn_probability``
* ``scores/purchase``: ``p_purchase_<H>d`` for every promoted purchase horizon
* ``scores/spend``: ``expected_spend_<H>d`` (currency)
* ``scores/clv``: ``clv_<H>d`` (currency, next ``H`` days of revenue; 365 by default)
* ``scores/segments``: ``segment_id``, ``segment``, ``segment_distance``

each with ``customer_id``, ``as_of`` (the date scored), ``model_version`` (registry tag,
``;``-joined when several models fill one table) and ``reason_1 .. reason_3`` (see
:func:`patron.models.reason_codes`; for segments, the behaviour columns furthest from
average in standard deviations).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import pandas as pd

from patron.errors import ModelError
from patron.models._explain import TOP_REASONS, reason_codes
from patron.models.registry import ModelRecord, ModelRegistry

log = logging.getLogger(__name__)

SCORE_TABLES: tuple[str, ...] = ("churn", "purchase", "spend", "clv", "segments")


@dataclass(frozen=True)
class ScoreWrite:
    """One scores table written: its name, rows and the model versions behind it."""

    table: str
    rows: int
    model_version: str
    columns: list[str]


def _horizon(record: ModelRecord, default: int) -> int:
    return int((record.label or {}).get("horizon_days", default))


def score_frame(
    features: pd.DataFrame, registry: ModelRegistry, table: str, *, as_of: date,
    reasons: bool = True,
) -> pd.DataFrame | None:
    """The scores of one table for the customers in ``features`` (``None``: no model)."""
    names = registry.names()
    if table == "purchase":
        members = sorted((n for n in names if n.startswith("purchase_")),
                         key=lambda n: int(n.split("_")[1].rstrip("d")))
    else:
        members = [table] if table in names else []
    members = [m for m in members if registry.promoted_version(m) is not None]
    if not members:
        return None
    out = pd.DataFrame({"customer_id": features["customer_id"].to_numpy()})
    versions = []
    explained = None
    for name in members:
        model, record = registry.load(name)
        versions.append(record.tag)
        if table == "segments":
            ids = model.predict(features)
            out["segment_id"] = ids.astype("int64")
            out["segment"] = np.asarray(model.segment_names_, dtype=object)[ids]
            out["segment_distance"] = model.distances(features)[np.arange(len(ids)), ids]
            if reasons:
                explained = _segment_reasons(model, features)
            continue
        values = model.score_values(features)
        if table == "churn":
            out["churn_probability"] = values
        elif table == "purchase":
            out[f"p_purchase_{_horizon(record, 30)}d"] = values
        elif table == "spend":
            out[f"expected_spend_{_horizon(record, 30)}d"] = values
        elif table == "clv":
            out[f"clv_{_horizon(record, 365)}d"] = values
        if reasons:
            explained = reason_codes(model, features)  # the last (longest-horizon) model
    out.insert(1, "as_of", as_of)
    out["model_version"] = ";".join(versions)
    for k in range(1, TOP_REASONS + 1):
        column = f"reason_{k}"
        out[column] = "" if explained is None else explained[column].to_numpy()
    return out


def _segment_reasons(model: Any, features: pd.DataFrame) -> pd.DataFrame:
    z = model.transform(features)
    order = np.argsort(-np.abs(z), axis=1)[:, :TOP_REASONS]
    names = np.asarray(model.features_, dtype=object)
    out = {}
    for k in range(TOP_REASONS):
        j = order[:, k] if k < z.shape[1] else None
        if j is None:
            out[f"reason_{k + 1}"] = [""] * len(z)
            continue
        sign = np.where(z[np.arange(len(z)), j] >= 0, "high", "low")
        out[f"reason_{k + 1}"] = [f"{n} {s}" for n, s in zip(names[j], sign, strict=True)]
    return pd.DataFrame(out)


def score_customers(
    settings: Any,
    as_of: date,
    *,
    tables: Sequence[str] = SCORE_TABLES,
    features: pd.DataFrame | None = None,
    reasons: bool = True,
    registry: ModelRegistry | None = None,
) -> list[ScoreWrite]:
    """Score every customer known before ``as_of`` with each promoted model; commit each
    table to ``scores/<table>`` (overwriting the previous run)."""
    from patron.lake import Lake, batch_id_for

    unknown = [t for t in tables if t not in SCORE_TABLES]
    if unknown:
        raise ModelError(f"unknown score table(s) {unknown}; expected {', '.join(SCORE_TABLES)}")
    registry = registry or ModelRegistry.from_settings(settings)
    lake = Lake.from_settings(settings)
    if features is None:
        features = _features_at(settings, lake, as_of)
    written = []
    for table in tables:
        frame = score_frame(features, registry, table, as_of=as_of, reasons=reasons)
        if frame is None:
            log.info("no promoted model for scores/%s: skipped", table)
            continue
        version = str(frame["model_version"].iloc[0]) if len(frame) else ""
        batch = batch_id_for("scores", table, version, as_of.isoformat(),
                             datetime.now(UTC).isoformat())
        lake.write_arrow(frame, "scores", table, batch_id=batch, mode="overwrite",
                         meta={"as_of": as_of.isoformat(), "model_version": version,
                               "rows": len(frame)})
        written.append(ScoreWrite(table, len(frame), version, list(frame.columns)))
        log.info("scores/%s: %d customers with %s", table, len(frame), version)
    if not written:
        raise ModelError("no promoted models to score with", hint="train one: patron train churn")
    return written


def _features_at(settings: Any, lake: Any, as_of: date) -> pd.DataFrame:
    """Customer features as of ``as_of``: the lake's partition if written, else computed."""
    if lake.has_table("features", "customers"):
        import duckdb

        con = duckdb.connect()
        try:
            frame = con.sql(
                f"SELECT * FROM {lake.scan_sql('features', 'customers')} "
                f"WHERE CAST(as_of AS DATE) = DATE '{as_of.isoformat()}'"
            ).df()
        finally:
            con.close()
        if len(frame):
            return frame.drop(columns=["as_of"])
    from patron.engine import connect
    from patron.features import customer_features

    con = connect(settings, lake=lake)
    return customer_features(con, as_of).execute()
