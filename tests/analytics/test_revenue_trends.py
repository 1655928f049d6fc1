"""Top-line trends and top categories against pandas."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from analytics_data import random_orders

from patron.analytics import revenue_trends, top_categories
from patron.errors import PatronError


def _completed(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[frame.status.str.strip().str.lower() == "completed"]


@pytest.mark.parametrize(("freq", "rule"), [("day", "D"), ("month", "MS"), ("week", "W-MON")])
def test_trends_match_pandas(duck, freq, rule):
    frame = random_orders(seed=7)
    table = duck.create_table("orders", frame)
    got = revenue_trends(table, freq=freq).execute()
    lines = _completed(frame).copy()
    if freq == "week":
        lines["period"] = lines.ts.dt.normalize() - pd.to_timedelta(lines.ts.dt.day_of_week, "D")
    else:
        lines["period"] = lines.ts.dt.to_period("D" if freq == "day" else "M").dt.start_time
    want = lines.groupby("period").agg(
        revenue=("revenue", "sum"), orders=("order_id", "nunique"),
        lines=("order_id", "size"), customers=("customer_id", "nunique"),
    ).reset_index()
    assert (pd.to_datetime(got.period) == want.period).all()
    np.testing.assert_allclose(got.revenue, want.revenue)
    assert got.orders.tolist() == want.orders.tolist()
    assert got.lines.tolist() == want.lines.tolist()
    assert got.customers.tolist() == want.customers.tolist()
    np.testing.assert_allclose(got.revenue_per_order, want.revenue / want.orders)


def test_trends_window_and_bad_frequency(duck):
    frame = random_orders(seed=7)
    table = duck.create_table("orders", frame)
    got = revenue_trends(table, start="2024-03-01", end="2024-04-01").execute()
    assert pd.to_datetime(got.period).min() >= pd.Timestamp("2024-03-01")
    assert pd.to_datetime(got.period).max() < pd.Timestamp("2024-04-01")
    with pytest.raises(PatronError):
        revenue_trends(table, freq="hour")  # type: ignore[arg-type]


def test_top_categories_normalise_case_and_rank_by_revenue(duck):
    frame = random_orders(seed=8)
    table = duck.create_table("orders", frame)
    got = top_categories(table, limit=3).execute()
    lines = _completed(frame).copy()
    lines["category"] = lines.category.str.strip().str.lower().fillna("unknown")
    want = lines.groupby("category")["revenue"].sum().sort_values(ascending=False)
    assert got.category.tolist() == want.index[:3].tolist()
    np.testing.assert_allclose(got.revenue, want.iloc[:3])
    np.testing.assert_allclose(got.revenue_share, want.iloc[:3] / want.sum())
    assert set(want.index) <= {"books", "toys", "games", "unknown"}
