"""The scoring API (FastAPI): ``patron serve`` runs :func:`create_app` under uvicorn.

Routes (all but ``/health`` and the OpenAPI docs need header ``X-API-Key`` with one of
``[api] keys`` / ``PATRON_API__KEYS``; with no key configured every call is refused):

* ``GET /health`` — liveness, customers indexed and the lake commit they come from;
* ``GET /customers/{customer_id}`` — scores, segment, risk, reasons and features;
* ``GET /customers?segment=&risk=&region=&min_clv=&limit=&offset=`` — a page of customers;
* ``POST /score`` — current scores of a batch of customer ids, or fresh churn scores of
  feature rows from the promoted churn model;
* ``GET /segments`` — customers, CLV and churn per segment.

Single-customer lookups never touch DuckDB: :class:`CustomerIndex` holds the score sheet
(:mod:`patron.apps._scores`) and the latest features as NumPy columns plus a dict from
customer id to row, rebuilt in the background when the lake's catalog sequence number
changes and swapped in atomically, so a lookup is a dict access and a few array reads.
"""

from __future__ import annotations

import gc
import hmac
import logging
import math
import threading
import time
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
from fastapi import Depends, FastAPI, HTTPException, Query, Security
from fastapi import Path as PathParam
from fastapi.security import APIKeyHeader
from pydantic import BaseModel, ConfigDict, Field, model_validator

from patron.apps._lakedb import LakeDB
from patron.apps._scores import count_customers, score_sheet, select_customers

log = logging.getLogger(__name__)

API_KEY_HEADER = "X-API-Key"
#: seconds between two checks of the lake's catalog for new commits
REFRESH_INTERVAL_S = 2.0
#: most customers one request may ask for (list page or score batch)
MAX_BATCH = 1000
_ID_COLUMNS = {"customer_id"}
_CORE = ("segment", "rfm_segment", "model_segment", "risk", "churn_probability", "clv")


# -- the in-memory index ----------------------------------------------------------------


def _plain(value: Any) -> Any:
    """A JSON-ready Python value (NaN and NaT become null)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float | np.floating):
        return None if math.isnan(value) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, pd.Timestamp | datetime | date):
        return None if pd.isna(value) else value.isoformat()
    if isinstance(value, np.datetime64):
        return None if np.isnat(value) else pd.Timestamp(value).isoformat()
    return value


@dataclass(frozen=True)
class _Snapshot:
    seq: int
    rows: dict[str, int]
    columns: dict[str, np.ndarray]
    readers: tuple[tuple[str, np.ndarray, Any], ...]
    feature_columns: tuple[str, ...]
    built_s: float


def _float(value: Any) -> float | None:
    return None if value != value else float(value)  # NaN is the one value unequal to itself


def _datetime(value: Any) -> str | None:
    return None if np.isnat(value) else pd.Timestamp(value).isoformat()


def _reader(values: np.ndarray) -> Any:
    """The cheapest function turning one element of ``values`` into a JSON value."""
    kind = values.dtype.kind
    if kind == "f":
        return _float
    if kind in "iu":
        return int
    if kind == "b":
        return bool
    if kind == "M":
        return _datetime
    return _plain


def _as_array(series: pd.Series) -> np.ndarray:
    if series.dtype == object or pd.api.types.is_string_dtype(series.dtype):
        values = series.astype(object).where(series.notna(), None)
        categories = pd.Categorical(values)
        if len(categories.categories) <= max(1000, len(series) // 100):
            # repeated labels (segments, regions, reasons) share one string object each
            lookup = np.asarray([*categories.categories, None], dtype=object)
            return lookup[np.where(categories.codes < 0, len(lookup) - 1, categories.codes)]
        return np.asarray([_plain(v) for v in values.to_numpy(dtype=object)], dtype=object)
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        return series.to_numpy(dtype="datetime64[ns]")
    return series.to_numpy()


class CustomerIndex:
    """Customer id → scores and features, in memory, refreshed with the lake."""

    def __init__(self, db: LakeDB, *, refresh_interval_s: float = REFRESH_INTERVAL_S) -> None:
        self.db = db
        self.refresh_interval_s = refresh_interval_s
        self._snapshot: _Snapshot | None = None
        self._checked = 0.0
        self._building = threading.Lock()

    def build(self) -> _Snapshot:
        """Load the score sheet and latest features of every customer (blocking)."""
        started = time.perf_counter()
        seq = self.db.seq
        sheet = score_sheet(self.db)
        features = ""
        feature_cols: list[str] = []
        if self.db.has("features_customers"):
            cols = [c for c in self.db.columns("features_customers")
                    if c not in ("customer_id", "as_of")]
            sheet_cols = set(self.db.columns(sheet))
            feature_cols = [c for c in cols if c not in sheet_cols]
            if feature_cols:
                picked = ", ".join(f'f."{c}"' for c in feature_cols)
                features = (
                    f", {picked}, f.as_of AS features_as_of FROM {sheet} s LEFT JOIN "
                    "(SELECT * FROM features_customers QUALIFY row_number() OVER "
                    "(PARTITION BY customer_id ORDER BY as_of DESC) = 1) f USING (customer_id)"
                )
                feature_cols.append("features_as_of")
        query = f"SELECT s.*{features}" if features else f"SELECT * FROM {sheet} s"
        frame = self.db.sql(query)
        columns = {name: _as_array(frame[name]) for name in frame.columns}
        ids = frame["customer_id"].astype(str).tolist()
        rows = dict(zip(ids, range(len(ids)), strict=True))
        readers = tuple((name, values, _reader(values)) for name, values in columns.items())
        snapshot = _Snapshot(seq, rows, columns, readers, tuple(feature_cols),
                             time.perf_counter() - started)
        self._snapshot = snapshot
        # The index is millions of long-lived references (object arrays, the id dict) that
        # never form cycles. Left to the cyclic collector, every full collection walks them
        # all (~80 ms at a million customers): a latency spike on whatever request is
        # running. Freezing moves them out of its sight; reference counting still frees an
        # old snapshot when it is replaced.
        gc.collect()
        gc.freeze()
        log.info("indexed %d customers at lake commit %d in %.1f s", len(rows), seq,
                 snapshot.built_s)
        return snapshot

    def snapshot(self) -> _Snapshot:
        """The current snapshot; starts a background rebuild when the lake has moved on."""
        snapshot = self._snapshot
        if snapshot is None:
            with self._building:
                return self._snapshot or self.build()
        now = time.monotonic()
        if now - self._checked >= self.refresh_interval_s:
            self._checked = now
            if self.db.seq != snapshot.seq and self._building.acquire(blocking=False):
                threading.Thread(target=self._rebuild, daemon=True).start()
        return snapshot

    def _rebuild(self) -> None:
        try:
            self.build()
        except Exception:  # keep serving the old snapshot
            log.exception("re-indexing customers failed; serving the previous scores")
        finally:
            self._building.release()

    def get(self, customer_id: str) -> dict[str, Any] | None:
        """Scores and features of one customer, or None when unknown."""
        snapshot = self.snapshot()
        row = snapshot.rows.get(customer_id)
        if row is None:
            return None
        return {name: read(values[row]) for name, values, read in snapshot.readers}

    def __len__(self) -> int:
        return len(self.snapshot().rows)


# -- request and response models --------------------------------------------------------


class Health(BaseModel):
    status: Literal["ok"] = "ok"
    customers: int = Field(description="customers in the in-memory index")
    lake_seq: int = Field(description="lake commit the index was built from")
    index_seconds: float = Field(description="seconds the last index build took")


class CustomerOut(BaseModel):
    """One customer: the headline scores, the reasons behind the churn score, every other
    score column and the latest features."""

    customer_id: str
    segment: str | None = Field(None, description="K-Means segment, else RFM segment")
    rfm_segment: str | None = None
    risk: Literal["high", "medium", "low"] | None = Field(
        None, description="churn risk band; null until churn is scored (patron score)")
    churn_probability: float | None = Field(None, ge=0, le=1)
    clv: float | None = Field(None, description="predicted lifetime value (currency)")
    reasons: list[str] = Field(default_factory=list, description="top churn reasons")
    scores: dict[str, Any] = Field(default_factory=dict)
    features: dict[str, Any] = Field(default_factory=dict)


class CustomerPage(BaseModel):
    total: int
    limit: int
    offset: int
    items: list[dict[str, Any]]


class ScoreRequest(BaseModel):
    """Either ``customer_ids`` (current scores from the lake) or ``features`` (one dict of
    feature values per customer, scored now with the promoted churn model)."""

    model_config = ConfigDict(extra="forbid")

    customer_ids: list[Annotated[str, Field(min_length=1, max_length=200)]] | None = Field(
        None, min_length=1, max_length=MAX_BATCH)
    features: list[dict[str, Any]] | None = Field(None, min_length=1, max_length=MAX_BATCH)

    @model_validator(mode="after")
    def _one_of(self) -> ScoreRequest:
        if (self.customer_ids is None) == (self.features is None):
            raise ValueError("give exactly one of customer_ids or features")
        return self


class ScoreResponse(BaseModel):
    scores: list[dict[str, Any]]
    missing: list[str] = Field(default_factory=list, description="ids not in the lake")
    model_version: str | None = None


class SegmentOut(BaseModel):
    segment: str
    customers: int
    customer_share: float
    mean_clv: float | None = None
    mean_churn_probability: float | None = None
    high_risk: int


# -- the application --------------------------------------------------------------------


def _customer_out(record: dict[str, Any], feature_columns: tuple[str, ...]) -> CustomerOut:
    features = {k: record[k] for k in feature_columns if k in record}
    reasons = [record[f"reason_{k}"] for k in (1, 2, 3)
               if isinstance(record.get(f"reason_{k}"), str) and record[f"reason_{k}"]]
    skip = set(features) | {"customer_id", *_CORE, "reason_1", "reason_2", "reason_3"}
    return CustomerOut(
        customer_id=record["customer_id"],
        segment=record.get("segment"),
        rfm_segment=record.get("rfm_segment"),
        risk=record.get("risk"),
        churn_probability=record.get("churn_probability"),
        clv=record.get("clv"),
        reasons=reasons,
        scores={k: v for k, v in record.items() if k not in skip},
        features=features,
    )


def create_app(
    config: str | Path | None = None,
    *,
    db: LakeDB | None = None,
    keys: list[str] | None = None,
) -> FastAPI:
    """The API over the lake of ``config`` (or an open ``db``); ``keys`` overrides
    ``[api] keys``."""
    db = db or LakeDB.from_config(config)
    allowed = list(keys if keys is not None else (db.settings.api.keys if db.settings else []))
    if not allowed:
        log.warning("no API keys configured: every call needing a key is refused "
                    "(set [api] keys or PATRON_API__KEYS)")
    index = CustomerIndex(db)
    app = FastAPI(
        title="patron scoring API",
        version="1",
        description="Customer scores, segments and churn reasons from the patron lake.",
    )
    app.state.index = index
    app.state.db = db
    header = APIKeyHeader(name=API_KEY_HEADER, auto_error=False,
                          description="one of [api] keys / PATRON_API__KEYS")

    def authorised(key: str | None = Security(header)) -> None:
        if not key or not any(hmac.compare_digest(key.encode(), k.encode()) for k in allowed):
            raise HTTPException(status_code=401, detail="missing or unknown API key",
                                headers={"WWW-Authenticate": API_KEY_HEADER})

    protected = [Depends(authorised)]

    @app.get("/health", response_model=Health, tags=["service"])
    async def health() -> Health:  # in memory: no thread hop
        snapshot = index.snapshot()
        return Health(customers=len(snapshot.rows), lake_seq=snapshot.seq,
                      index_seconds=round(snapshot.built_s, 3))

    @app.get("/customers/{customer_id}", response_model=CustomerOut, dependencies=protected,
             tags=["customers"], responses={404: {"description": "unknown customer"}})
    async def customer(customer_id: Annotated[str, PathParam(min_length=1, max_length=200)]
                       ) -> CustomerOut:  # a dict lookup: served on the event loop
        record = index.get(customer_id)
        if record is None:
            raise HTTPException(status_code=404, detail=f"no customer {customer_id!r}")
        return _customer_out(record, index.snapshot().feature_columns)

    @app.get("/customers", response_model=CustomerPage, dependencies=protected,
             tags=["customers"])
    def customers(
        segment: Annotated[str | None, Query(max_length=100,
                                             description="K-Means or RFM segment")] = None,
        risk: Annotated[Literal["high", "medium", "low"] | None, Query()] = None,
        region: Annotated[str | None, Query(max_length=100)] = None,
        min_clv: Annotated[float | None, Query(ge=0, le=1e12)] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_BATCH)] = 50,
        offset: Annotated[int, Query(ge=0, le=100_000_000)] = 0,
    ) -> CustomerPage:
        filters = {"segment": segment, "risk": risk, "region": region, "min_clv": min_clv}
        frame = select_customers(db, limit=limit, offset=offset, **filters)
        items = [{k: _plain(v) for k, v in row.items()} for row in frame.to_dict("records")]
        return CustomerPage(total=count_customers(db, **filters), limit=limit, offset=offset,
                            items=items)

    @app.post("/score", response_model=ScoreResponse, dependencies=protected, tags=["scores"],
              responses={503: {"description": "no promoted churn model to score features"}})
    def score(request: ScoreRequest) -> ScoreResponse:
        if request.customer_ids is not None:
            found, missing = [], []
            snapshot = index.snapshot()
            for customer_id in request.customer_ids:
                record = index.get(customer_id)
                if record is None:
                    missing.append(customer_id)
                else:
                    found.append(_customer_out(record, snapshot.feature_columns)
                                 .model_dump(exclude={"features"}))
            return ScoreResponse(scores=found, missing=missing)
        return _score_features(db, request.features or [])

    @app.get("/segments", response_model=list[SegmentOut], dependencies=protected,
             tags=["segments"])
    def segments() -> list[SegmentOut]:
        sheet = score_sheet(db)
        frame = db.sql(
            f"SELECT segment, count(*) AS customers, count(*) / sum(count(*)) OVER () "
            f"AS customer_share, avg(clv) AS mean_clv, avg(churn_probability) AS "
            f"mean_churn_probability, count(*) FILTER (WHERE risk = 'high') AS high_risk "
            f"FROM {sheet} WHERE segment IS NOT NULL GROUP BY 1 ORDER BY customers DESC"
        )
        return [SegmentOut(**{k: _plain(v) for k, v in row.items()})
                for row in frame.to_dict("records")]

    return app


_MODELS: dict[str, Any] = {}


def _score_features(db: LakeDB, rows: list[dict[str, Any]]) -> ScoreResponse:
    """Churn scores of feature rows with the promoted churn model (cached per version)."""
    try:
        from patron.models import score_frame
        from patron.models.registry import ModelRegistry
    except ImportError:
        raise HTTPException(status_code=503, detail="the models package is not available"
                            ) from None
    registry = (ModelRegistry.from_settings(db.settings) if db.settings
                else ModelRegistry(db.lake.root / "_models"))
    if registry.promoted_version("churn") is None:
        raise HTTPException(status_code=503, detail="no promoted churn model: run "
                            "`patron train churn` first")
    frame = pd.DataFrame(rows)
    if "customer_id" not in frame:
        frame.insert(0, "customer_id", [f"row-{i}" for i in range(len(frame))])
    frame["customer_id"] = frame["customer_id"].astype(str)
    try:
        scored = score_frame(frame, registry, "churn", as_of=date.today())
    except Exception as exc:  # bad feature values are the caller's error, not ours
        raise HTTPException(status_code=422, detail=f"cannot score these features: {exc}"
                            ) from None
    if scored is None:
        raise HTTPException(status_code=503, detail="no promoted churn model")
    from patron.apps._scores import HIGH_RISK, MEDIUM_RISK

    probability = scored["churn_probability"].astype(float)
    scored["risk"] = np.where(probability >= HIGH_RISK, "high",
                              np.where(probability >= MEDIUM_RISK, "medium", "low"))
    records = [{k: _plain(v) for k, v in row.items()} for row in scored.to_dict("records")]
    version = str(scored["model_version"].iloc[0]) if len(scored) else None
    return ScoreResponse(scores=records, model_version=version)


def app_from_env() -> FastAPI:
    """The app for ``uvicorn --factory``: the lake of ``$PATRON_CONFIG`` (or ./patron.toml)."""
    return create_app()
