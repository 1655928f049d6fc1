"""Cohort retention against a hand-made example and an independent pandas computation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from analytics_data import orders_frame, random_orders

from patron.analytics import active_by_cohort, cohort_retention, retention_matrix
from patron.errors import PatronError

ROWS = [
    ("o1", "a", "2024-01-05", 10.0, "completed"),
    ("o2", "a", "2024-03-01", 5.0, "completed"),
    ("o3", "b", "2024-01-20", 30.0, "completed"),
    ("o4", "b", "2024-02-10", 15.0, "completed"),
    ("o5", "c", "2024-02-01", 8.0, "completed"),
    ("o6", "c", "2024-02-02", 99.0, "cancelled"),
    ("o7", "a", "2024-03-05", 2.0, "completed"),
]


def _long(duck, frame, **kwargs) -> pd.DataFrame:
    table = duck.create_table("orders", frame, overwrite=True)
    return cohort_retention(table, **kwargs).execute()


def test_monthly_cohorts_by_hand(duck):
    long = _long(duck, orders_frame(ROWS))
    cells = {(c.strftime("%Y-%m"), p): (n, cust, rev)
             for c, p, n, cust, rev in zip(long.cohort, long.period, long.cohort_customers,
                                          long.customers, long.revenue, strict=True)}
    assert cells == {
        ("2024-01", 0): (2, 2, 40.0),  # a and b in January
        ("2024-01", 1): (2, 1, 15.0),  # b in February
        ("2024-01", 2): (2, 1, 7.0),  # a in March (two orders)
        ("2024-02", 0): (1, 1, 8.0),  # c; the cancelled order does not count
    }
    jan = long[long.cohort == pd.Timestamp("2024-01-01")].set_index("period")
    np.testing.assert_allclose(jan["customer_share"], [1.0, 0.5, 0.5])
    np.testing.assert_allclose(jan["revenue_share"], [1.0, 15 / 40, 7 / 40])


def test_matrix_zero_fills_observed_cells_and_leaves_the_future_empty(duck):
    long = _long(duck, orders_frame(ROWS))
    matrix = retention_matrix(long, "customers", period="month")
    assert matrix.loc[pd.Timestamp("2024-01-01")].tolist() == [1.0, 0.5, 0.5]
    feb = matrix.loc[pd.Timestamp("2024-02-01")]
    assert feb.iloc[0] == 1.0 and feb.iloc[1] == 0.0  # March observed, nobody bought
    assert np.isnan(feb.iloc[2])  # April not observed
    revenue = retention_matrix(long, "revenue", period="month")
    assert revenue.loc[pd.Timestamp("2024-01-01")].tolist() == pytest.approx([1, 0.375, 0.175])
    with pytest.raises(PatronError):
        retention_matrix(long, "visits")  # type: ignore[arg-type]


def test_weekly_cohorts_start_on_monday(duck):
    long = _long(duck, orders_frame(ROWS), period="week")
    a_cohort = long[long.cohort == pd.Timestamp("2024-01-01")].set_index("period")
    # a: 2024-01-05 (week of Mon 01-01), 2024-03-01 (week 8), 2024-03-05 (week 9)
    assert a_cohort.index.tolist() == [0, 8, 9]
    b_cohort = long[long.cohort == pd.Timestamp("2024-01-15")].set_index("period")
    assert b_cohort.index.tolist() == [0, 3]  # 2024-01-20 → 2024-02-10 is 3 weeks later


def _pandas_cohorts(frame: pd.DataFrame, period: str, as_of: str) -> pd.DataFrame:
    lines = frame[frame.customer_id.notna()
                  & (frame.status.str.strip().str.lower() == "completed")
                  & (frame.ts < pd.Timestamp(as_of))].copy()
    if period == "month":
        lines["start"] = lines.ts.dt.to_period("M").dt.start_time
        lines["number"] = lines.start.dt.year * 12 + lines.start.dt.month
    else:
        lines["start"] = lines.ts.dt.normalize() - pd.to_timedelta(lines.ts.dt.day_of_week, "D")
        lines["number"] = (lines.start - pd.Timestamp("2024-01-01")).dt.days // 7
    first = lines.groupby("customer_id").agg(cohort=("start", "min"), cohort_no=("number", "min"))
    lines = lines.join(first, on="customer_id")
    lines["period"] = lines.number - lines.cohort_no
    cells = lines.groupby(["cohort", "period"]).agg(
        customers=("customer_id", "nunique"), revenue=("revenue", "sum")).reset_index()
    base = cells[cells.period == 0].set_index("cohort")
    cells["customer_share"] = cells.customers / cells.cohort.map(base.customers)
    cells["revenue_share"] = cells.revenue / cells.cohort.map(base.revenue)
    return cells.sort_values(["cohort", "period"], ignore_index=True)


@pytest.mark.parametrize("period", ["month", "week"])
def test_long_table_matches_independent_pandas_computation(duck, period):
    frame = random_orders(seed=11)
    got = _long(duck, frame, period=period, as_of="2024-11-15")
    want = _pandas_cohorts(frame, period, "2024-11-15")
    assert len(got) == len(want)
    assert (pd.to_datetime(got.cohort) == want.cohort).all()
    assert got.period.tolist() == want.period.tolist()
    assert got.customers.tolist() == want.customers.tolist()
    np.testing.assert_allclose(got.revenue, want.revenue)
    np.testing.assert_allclose(got.customer_share, want.customer_share)
    np.testing.assert_allclose(got.revenue_share, want.revenue_share)


def test_active_in_last_days_by_cohort(duck):
    table = duck.create_table("orders", orders_frame(ROWS), overwrite=True)
    active = active_by_cohort(table, "2024-03-10", days=30).execute().set_index("cohort")
    # window [2024-02-09, 2024-03-10): a (03-01, 03-05) and b (02-10) are active; c is not
    jan = active.loc[pd.Timestamp("2024-01-01")]
    assert (jan.cohort_customers, jan.active_customers) == (2, 2)
    assert jan.active_revenue == pytest.approx(22.0)
    feb = active.loc[pd.Timestamp("2024-02-01")]
    assert (feb.cohort_customers, feb.active_customers, feb.active_share) == (1, 0, 0.0)
    with pytest.raises(PatronError):
        active_by_cohort(table, "2024-03-10", days=0)
