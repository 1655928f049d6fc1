"""Cleaning rules on hand-made tables, and the accounting of a full clean_lake run."""

from __future__ import annotations

from pathlib import Path

import ibis
import pandas as pd
import pytest

from patron.clean import (
    clean_lake,
    dedupe_content,
    dedupe_events,
    handle_outliers,
    impute,
    latest_version,
    map_categories,
    net_returns,
    normalize_case,
)
from patron.config import CleanSettings, Settings
from patron.errors import ConfigError
from patron.ingest import ingest_file
from patron.lake import Lake


def _run(table) -> pd.DataFrame:
    return table.to_pandas()


def test_same_event_id_keeps_the_first_ingested_copy():
    t = ibis.memtable(pd.DataFrame({
        "event_id": ["e1", "e1", "e2"],
        "_ingested_at": pd.to_datetime(["2024-01-02", "2024-01-01", "2024-01-01"]),
        "_batch_id": ["b2", "b1", "b1"], "_source_row": [1, 1, 2], "value": [2, 1, 3],
    }))
    out = _run(dedupe_events(t)).sort_values("event_id")
    assert out.value.tolist() == [1, 3]


def test_same_content_under_different_ids_is_a_duplicate():
    t = ibis.memtable(pd.DataFrame({
        "event_id": ["e1", "e2", "e3"], "_source_row": [1, 2, 3],
        "order_id": ["o1", "o1", "o1"], "region": [None, None, "EU"],
    }))
    out = _run(dedupe_content(t))
    assert sorted(out.event_id) == ["e1", "e3"]


def test_customers_keep_their_latest_version():
    t = ibis.memtable(pd.DataFrame({
        "customer_id": ["a", "a", "a", "b"],
        "updated_at": pd.to_datetime(["2024-01-01", "2024-03-01", None, None]),
        "_ingested_at": pd.to_datetime(["2024-01-01", "2024-01-01", "2024-06-01", "2024-01-01"]),
        "region": ["EU", "NA", "APAC", "EU"],
    }))
    out = _run(latest_version(t)).sort_values("customer_id")
    assert out.region.tolist() == ["NA", "EU"]  # undated versions rank after dated ones


def test_strings_are_trimmed_cased_and_mapped_to_known_categories():
    t = ibis.memtable(pd.DataFrame({
        "device": [" Mobile ", "WEB", "  ", None],
        "category": ["electronics ", "Misc??", "toys!!", None],
    }))
    out = _run(map_categories(normalize_case(t, {"device": "lower"}), "category",
                              ["Electronics", "Toys"], aliases={"toys!!": "Toys"}))
    assert out.device.tolist()[:2] == ["mobile", "web"]
    assert out.device.isna().tolist()[2:] == [True, True]  # blank is missing
    assert out.category.tolist()[:3] == ["Electronics", "Other", "Toys"]
    assert pd.isna(out.category.iloc[3])


@pytest.mark.parametrize(("strategy", "value", "expected"), [
    ("mean", None, 2.0), ("median", None, 1.5), ("mode", None, 1.0), ("constant", 9.0, 9.0),
])
def test_missing_values_are_filled_by_policy(strategy, value, expected):
    t = ibis.memtable(pd.DataFrame({"x": [1.0, 1.0, 2.0, 4.0, None]}))
    out = _run(impute(t, "x", strategy, value=value))
    assert out.x.iloc[-1] == pytest.approx(expected)


def test_mode_ties_pick_the_smallest_value_and_drop_and_flag_work():
    t = ibis.memtable(pd.DataFrame({"c": ["b", "a", "b", "a", None]}))
    assert _run(impute(t, "c", "mode")).c.tolist()[-1] == "a"
    assert len(_run(impute(t, "c", "drop"))) == 4
    assert _run(impute(t, "c", "flag")).c_missing.tolist() == [False] * 4 + [True]


def test_constant_policy_without_value_is_a_config_error():
    with pytest.raises(ConfigError, match="value"):
        impute(ibis.memtable(pd.DataFrame({"x": [1.0]})), "x", "constant")
    with pytest.raises(Exception, match="constant"):
        CleanSettings(missing={"orders": {"category": "constant"}})


def test_iqr_outliers_within_a_group_are_capped_flagged_or_dropped():
    frame = pd.DataFrame({"g": ["a"] * 5 + ["b"] * 5,
                          "x": [1, 2, 3, 4, 100, 100, 200, 300, 400, 500]})
    t = ibis.memtable(frame)
    # group a: Q1 = 2, Q3 = 4, IQR = 2 → upper bound 4 + 1.5·2 = 7; group b has no outlier
    capped = _run(handle_outliers(t, "x", method="iqr", action="cap", threshold=1.5,
                                  group_by="g")).sort_values(["g", "x"])
    assert capped.x.tolist() == [1, 2, 3, 4, 7, 100, 200, 300, 400, 500]
    assert len(_run(handle_outliers(t, "x", action="drop", threshold=1.5, group_by="g"))) == 9
    flagged = _run(handle_outliers(t, "x", action="flag", threshold=1.5))
    assert flagged.x_outlier.sum() == 0  # over all values, 100–500 are not far out
    z = _run(handle_outliers(ibis.memtable(pd.DataFrame({"x": [1.0] * 20 + [50.0]})), "x",
                             method="zscore", action="flag", threshold=3.0))
    assert z.x_outlier.tolist() == [False] * 20 + [True]


def test_returns_and_cancellations_net_to_zero_and_reversals_stay_negative():
    t = ibis.memtable(pd.DataFrame({
        "status": ["completed", "returned", "cancelled", "cancelled"],
        "quantity": [1, 1, 1, -1], "revenue": [10.0, 20.0, 30.0, -10.0],
    }))
    assert _run(net_returns(t)).net_revenue.tolist() == [10.0, 0.0, 0.0, -10.0]


ORDERS_HEADER = (
    "order_id,line_id,customer_id,ts,category,quantity,unit_price,discount,channel,device,"
    "region,status\n"
)
ORDERS_CSV = ORDERS_HEADER + """\
o1,1,c1,2024-01-05 10:00:00,electronics ,1,100,0,WEB, Mobile ,eu,completed
o1,1,c1,2024-01-05 10:00:00,electronics ,1,100,0,WEB, Mobile ,eu,completed
o2,1,c1,2024-02-05 10:00:00,Misc??,2,10,1,app,desktop,,returned
o3,1,c2,2024-02-07 10:00:00,,1,20,0,store,,EU,cancelled
o4,1,c2,2024-03-07 10:00:00,Books,1,20,0,store,tablet,NA,completed
o5,1,c3,2024-03-08 10:00:00,Books,1,20,0,store,tablet,NA,completed
o6,1,c3,2024-03-09 10:00:00,Books,1,20,0,web,,NA,completed
"""
ORDERS_REPLAY = ORDERS_HEADER + """\
o4,1,c2,2024-03-07 10:00:00,Books,1,20,0,store,tablet,NA,completed
o9,1,c2,2024-03-07 10:00:00,Books,1,20,0,store,tablet,NA,completed
"""
CUSTOMERS_CSV = """customer_id,signup_date,region,country,channel,gender,updated_at
c1,2023-01-01,eu,DE,organic,,2023-01-01 00:00:00
c1,2023-01-01,EU,DE,Organic,female,2024-01-01 00:00:00
c2,2023-02-01,,US,paid,male,2023-02-01 00:00:00
"""


@pytest.fixture
def dirty_lake(tmp_path: Path) -> Lake:
    lake = Lake(tmp_path / "lake")
    for name, text, kind in (("orders.csv", ORDERS_CSV, "orders"),
                             ("orders_replay.csv", ORDERS_REPLAY, "orders"),
                             ("customers.csv", CUSTOMERS_CSV, "customers")):
        path = tmp_path / name
        path.write_text(text)
        ingest_file(lake, path, kind)
    return lake


def test_clean_lake_accounts_for_every_raw_row(dirty_lake):
    options = CleanSettings(missing={"orders": {"device": "drop", "category":
                                                {"strategy": "constant", "value": "Other"}},
                                     "customers": {"region": "flag"}},
                            outliers={})
    report = clean_lake(dirty_lake, options=options)
    orders = report.tables["orders"]
    assert orders.raw == 9
    # the o1 copy and the replayed o4 share event ids (o9 is another order); two devices null
    assert orders.removed == {"duplicate_event": 2, "missing:device": 2}
    assert orders.clean == 5 and orders.balanced
    assert orders.changed["category_other:category"] == 1  # Misc?? → Other
    customers = report.tables["customers"]
    assert (customers.raw, customers.clean, customers.removed) == (
        3, 2, {"superseded_version": 1})
    assert report.balanced
    clean_orders = dirty_lake.read("clean", "orders")
    assert len(clean_orders) == orders.clean
    assert set(clean_orders.month) == {"2024-01", "2024-02", "2024-03"}
    assert clean_orders.set_index("order_id").loc["o1", "channel"] == "web"
    clean_customers = dirty_lake.read("clean", "customers").set_index("customer_id")
    assert clean_customers.loc["c1", "gender"] == "female"
    assert bool(clean_customers.loc["c2", "region_missing"])


def test_clean_lake_twice_gives_the_same_clean_layer(dirty_lake, tmp_path):
    cfg = Settings(lake={"path": str(dirty_lake.root)})
    first = clean_lake(cfg)
    second = clean_lake(cfg)
    assert first.to_dict()["tables"] == second.to_dict()["tables"]
    assert len(dirty_lake.read("clean", "orders")) == first.tables["orders"].clean
