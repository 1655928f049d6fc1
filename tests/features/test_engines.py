"""The same cleaning, feature and RFM expressions give identical results on DuckDB and Spark."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest
from features_data import AS_OF, random_clean_tables

import patron
from patron.clean import clean_table, finish
from patron.config import CleanSettings, OutlierRule, Settings
from patron.features import calibration_and_holdout, customer_features, rfm_summary
from patron.lake import Lake

ENGINES = ["duckdb", pytest.param("spark", marks=pytest.mark.spark)]


def _dirty_raw_orders(orders: pd.DataFrame) -> pd.DataFrame:
    """Clean orders made dirty again, with the lineage columns ingest adds."""
    raw = orders.drop(columns=["net_revenue"]).copy()
    raw["event_id"] = raw.order_id + "|" + raw.line_id
    raw["_batch_id"] = "b1"
    raw["_ingested_at"] = pd.Timestamp("2025-01-01").as_unit("us")
    raw["_source"] = "orders.csv"
    raw["_source_row"] = np.arange(len(raw), dtype="int64")
    raw.loc[::7, "channel"] = " WEB "
    raw.loc[::5, "category"] = "books "
    raw.loc[::11, "category"] = "Misc??"
    raw.loc[::13, "device"] = None
    raw.loc[3, "quantity"] = 500
    replay = raw.iloc[:10].copy()
    replay["_batch_id"] = "b2"
    replay["_ingested_at"] = pd.Timestamp("2025-02-01").as_unit("us")
    raw = pd.concat([raw, replay], ignore_index=True)
    raw["currency"] = "USD"
    raw["region"] = np.where(np.arange(len(raw)) % 9 == 0, None, "EU")
    raw["month"] = raw.ts.dt.strftime("%Y-%m")
    return raw


@pytest.fixture(scope="module")
def lake_settings(tmp_path_factory) -> Settings:
    root = tmp_path_factory.mktemp("engines") / "lake"
    lake = Lake(root)
    tables = random_clean_tables(11, customers=40)
    for name, frame in tables.items():
        lake.write_arrow(frame, "clean", name, batch_id=f"clean-{name}")
    lake.write_arrow(_dirty_raw_orders(tables["orders"]), "raw", "orders", batch_id="raw-orders",
                     partition_by=["month"])
    return Settings(lake={"path": str(root)})


def _con(settings: Settings, engine: str):
    return patron.connect(settings, backend=engine)


def _frame(table, key: list[str]) -> pd.DataFrame:
    frame = table.to_pandas()
    for column in frame.columns:
        # nullable integers and booleans come back as floats or objects depending on engine
        if frame[column].dtype.kind in "iufb" or all(
            isinstance(v, bool | int | float) or v is None for v in frame[column]
        ):
            frame[column] = frame[column].astype("float64")
    return frame.sort_values(key).reset_index(drop=True)


_RESULTS: dict[tuple[str, str], pd.DataFrame] = {}


def _compare(name: str, engine: str, frame: pd.DataFrame) -> None:
    """Keep the DuckDB result; compare every other engine's result with it."""
    if engine == "duckdb":
        _RESULTS[name, "duckdb"] = frame
        return
    expected = _RESULTS.get((name, "duckdb"))
    assert expected is not None, "the DuckDB case runs first"
    assert list(frame.columns) == list(expected.columns)
    pd.testing.assert_frame_equal(frame, expected, check_dtype=False, check_exact=False,
                                  rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("engine", ENGINES)
def test_customer_features_are_identical_on_every_engine(lake_settings, engine):
    con = _con(lake_settings, engine)
    frame = _frame(customer_features(con, AS_OF), ["customer_id"])
    assert len(frame) > 0
    _compare("features", engine, frame)


@pytest.mark.parametrize("engine", ENGINES)
def test_rfm_summaries_are_identical_on_every_engine(lake_settings, engine):
    con = _con(lake_settings, engine)
    orders = con.table("clean_orders")
    for unit in ("D", "W"):
        _compare(f"rfm-{unit}", engine,
                 _frame(rfm_summary(orders, as_of=AS_OF, time_unit=unit), ["customer_id"]))
    holdout = calibration_and_holdout(orders, AS_OF, AS_OF + timedelta(days=120), "W")
    _compare("holdout", engine, _frame(holdout, ["customer_id"]))


@pytest.mark.parametrize("engine", ENGINES)
def test_cleaning_is_identical_on_every_engine(lake_settings, engine):
    con = _con(lake_settings, engine)
    options = CleanSettings(outliers={"orders": [
        OutlierRule(column="quantity", method="iqr", action="cap", threshold=3.0),
        OutlierRule(column="unit_price", method="zscore", action="flag", threshold=2.0,
                    group_by="category"),
    ]})
    marked = clean_table(con.table("raw_orders"), "orders", options)
    clean = _frame(finish(marked).drop("_ingested_at"), ["event_id"])
    assert clean.channel.isin(["web", "app", "store"]).all()
    assert clean.quantity.max() < 500
    _compare("clean", engine, clean)
