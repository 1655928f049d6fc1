"""Customer features: known answers, an independent pandas computation, and no leakage."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from features_data import AS_OF, duckdb_con, random_clean_tables
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from patron.config import Settings
from patron.features import customer_features, write_features
from patron.lake import Lake


def _features(tables: dict[str, pd.DataFrame], as_of=AS_OF) -> pd.DataFrame:
    frame = customer_features(duckdb_con(tables), as_of).to_pandas()
    return frame.sort_values("customer_id").reset_index(drop=True)


def _hand_made() -> dict[str, pd.DataFrame]:
    ts = pd.to_datetime(["2024-06-01 12:00", "2024-06-01 12:00", "2024-06-11 12:00",
                         "2024-06-21 12:00", "2024-06-25", "2024-07-01", "2024-03-01"],
                        format="ISO8601").astype("datetime64[us]")
    orders = pd.DataFrame({
        "order_id": ["o1", "o1", "o2", "o3", "o4", "o5", "o6"],
        "line_id": ["1", "2", "1", "1", "1", "1", "1"],
        "customer_id": ["a", "a", "a", "a", "a", "a", "b"],
        "ts": ts,
        "category": ["Books", "Toys", "Books", "Toys", "Toys", "Books", "Home"],
        "quantity": [1, 1, 2, 1, 1, 1, 1],
        "discount": [0.0, 5.0, 0.0, 0.0, 0.0, 0.0, 0.0],
        "revenue": [10.0, 20.0, 30.0, 40.0, 50.0, 999.0, 7.0],
        "channel": ["web", "web", "app", "web", "store", "web", "store"],
        "device": ["mobile", "mobile", "desktop", "mobile", "tablet", "mobile", "tablet"],
        "status": ["completed", "completed", "completed", "returned", "cancelled",
                   "completed", "completed"],
        "net_revenue": [10.0, 20.0, 30.0, 0.0, 0.0, 999.0, 7.0],
    })
    customers = pd.DataFrame({
        "customer_id": ["a", "b", "late"],
        "signup_date": [datetime(2024, 5, 2).date(), datetime(2024, 1, 1).date(),
                        datetime(2024, 7, 1).date()],
    })
    return {"orders": orders, "customers": customers}


def test_hand_made_customer_gets_known_features():
    f = _features(_hand_made())
    assert f.customer_id.tolist() == ["a", "b"]  # "late" signs up on as_of: not yet known
    a = f.iloc[0]
    # purchases (not cancelled): o1 Jun 1, o2 Jun 11, o3 Jun 21 (returned); o5 is on as_of
    assert a.frequency_orders == 3
    assert a.recency_days == pytest.approx(9.5)
    assert a.spend_total == pytest.approx(60.0)  # returned and cancelled lines net to 0
    assert a.aov == pytest.approx(20.0)
    assert a.spend_30d == pytest.approx(60.0)
    assert a.orders_30d == 3
    assert a.interpurchase_mean_days == pytest.approx(10.0)
    assert a.interpurchase_std_days == pytest.approx(0.0)
    assert a.tenure_days == pytest.approx(60.0)  # signed up 2024-05-02
    assert a.preferred_category == "Books"  # Books 2 lines, Toys 2 lines: tie → alphabetical
    assert a.preferred_category_share == pytest.approx(0.5)
    assert a.category_count == 2
    assert a.return_rate == pytest.approx(0.25)
    assert a.discount_share == pytest.approx(0.25)
    assert a.channel_share_web == pytest.approx(0.75)
    assert a.device_share_desktop == pytest.approx(0.25)
    b = f.iloc[1]
    assert b.frequency_orders == 1 and b.recency_days == pytest.approx(122.0)
    assert np.isnan(b.interpurchase_mean_days)
    assert b.spend_30d == 0.0 and b.spend_365d == pytest.approx(7.0)


def test_missing_tables_leave_their_features_out():
    f = _features(_hand_made())
    assert "sessions_count" not in f.columns
    assert "marketing_open_rate" not in f.columns
    full = _features(random_clean_tables(1))
    for column in ("sessions_count", "session_conversion_rate", "tickets_open",
                   "satisfaction_mean", "sentiment_mean", "rating_mean", "marketing_click_rate"):
        assert column in full.columns


def _pandas_features(tables: dict[str, pd.DataFrame], as_of: datetime) -> pd.DataFrame:
    """The order and session features, computed independently with pandas."""
    o = tables["orders"]
    o = o[o.ts < as_of]
    buys = o[(o.status != "cancelled") & (o.quantity > 0)]
    per_order = buys.groupby(["customer_id", "order_id"], as_index=False).ts.min()
    per_order = per_order.sort_values(["customer_id", "ts"])
    per_order["gap"] = per_order.groupby("customer_id").ts.diff().dt.total_seconds() / 86400
    out = pd.DataFrame({
        "frequency_orders": per_order.groupby("customer_id").size(),
        "recency_days": (as_of - per_order.groupby("customer_id").ts.max()).dt.total_seconds()
        / 86400,
        "interpurchase_mean_days": per_order.groupby("customer_id").gap.mean(),
        "interpurchase_std_days": per_order.groupby("customer_id").gap.std(),
        "spend_total": o.groupby("customer_id").net_revenue.sum(),
        "spend_90d": o[o.ts >= as_of - timedelta(days=90)].groupby("customer_id")
        .net_revenue.sum(),
        "return_rate": buys.groupby("customer_id").status.apply(lambda s: (s == "returned").mean()),
    })
    s = tables["sessions"]
    s = s[s.ts < as_of]
    out["sessions_count"] = s.groupby("customer_id").size()
    out["sessions_count"] = out.sessions_count.fillna(0)
    out["session_conversion_rate"] = s.groupby("customer_id").converted.mean()
    cats = buys.dropna(subset=["category"]).groupby(["customer_id", "category"]).size()
    cats = cats.reset_index(name="n").sort_values(["customer_id", "n", "category"],
                                                  ascending=[True, False, True])
    out["preferred_category"] = cats.groupby("customer_id").category.first()
    out["spend_90d"] = out.spend_90d.fillna(0.0)  # bought, but not in the last 90 days
    out["aov"] = out.spend_total / out.frequency_orders
    return out


@pytest.mark.parametrize("seed", [3, 4])
def test_features_match_an_independent_pandas_computation(seed):
    tables = random_clean_tables(seed)
    ours = _features(tables).set_index("customer_id")
    expected = _pandas_features(tables, AS_OF)
    for column in expected.columns:
        got = ours.loc[expected.index, column]
        if column == "preferred_category":
            assert got.tolist() == expected[column].tolist()
        else:
            np.testing.assert_allclose(got.astype(float), expected[column].astype(float),
                                       rtol=1e-12, atol=1e-9, err_msg=column)


def _perturb_future(tables: dict[str, pd.DataFrame], seed: int) -> dict[str, pd.DataFrame]:
    """Change, add and delete data at or after AS_OF; nothing before it changes."""
    rng = np.random.default_rng(seed)
    out = {}
    for name, frame in tables.items():
        frame = frame.copy()
        if name == "customers":
            late = frame.iloc[:2].copy()
            late["customer_id"] = ["new1", "new2"]
            late["signup_date"] = [AS_OF.date(), (AS_OF + timedelta(days=30)).date()]
            out[name] = pd.concat([frame, late], ignore_index=True)
            continue
        future = frame.ts >= AS_OF
        if name == "support_tickets":
            # resolutions after the cut-off may move (still after it) and change their score
            later = frame.resolved_ts >= AS_OF
            frame.loc[later, "resolved_ts"] = frame.loc[later, "resolved_ts"] + timedelta(days=3)
            frame.loc[later, "satisfaction"] = 1.0
        numeric = [c for c in frame.columns if frame[c].dtype.kind == "f" and c != "ts"]
        for column in numeric:
            frame.loc[future, column] = frame.loc[future, column] * rng.uniform(0.1, 9.0)
        added = frame[future].copy()
        added["customer_id"] = rng.choice(frame.customer_id.unique(), len(added))
        added["ts"] = AS_OF + pd.to_timedelta(rng.integers(0, 86_400 * 30, len(added)), unit="s")
        dropped = frame[~(future & (rng.random(len(frame)) < 0.3))]
        out[name] = pd.concat([dropped, added], ignore_index=True)
    return out


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(min_value=0, max_value=2**31 - 1))
def test_no_feature_depends_on_data_at_or_after_as_of(seed):
    tables = random_clean_tables(seed % 7)
    before = _features(tables)
    after = _features(_perturb_future(tables, seed))
    pd.testing.assert_frame_equal(before, after, check_exact=False, rtol=1e-12)


def test_write_features_replaces_only_its_own_as_of_partition(tmp_path):
    lake = Lake(tmp_path / "lake")
    for name, frame in _hand_made().items():
        lake.write_arrow(frame, "clean", name, batch_id=f"test-{name}")
    cfg = Settings(lake={"path": str(tmp_path / "lake")})
    first = write_features(cfg, "2024-07-01")
    write_features(cfg, "2024-04-01")
    again = write_features(cfg, "2024-07-01")
    assert first.rows == again.rows == 2
    stored = lake.read("features", "customers")
    assert sorted(stored.groupby("as_of").size().tolist()) == [1, 2]
    assert "as_of" in first.columns
