"""RFM scores and segments against hand-computed answers and an independent pandas version."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from analytics_data import orders_frame, random_orders

from patron.analytics import SEGMENTS, rfm_grid, rfm_scores, segment_for, segment_summary

AS_OF = "2024-04-01"


def _scores(duck, frame: pd.DataFrame, as_of=AS_OF) -> pd.DataFrame:
    table = duck.create_table("orders", frame, overwrite=True)
    return rfm_scores(table, as_of).execute().set_index("customer_id").sort_index()


def test_measures_count_completed_orders_before_as_of_only(duck):
    frame = orders_frame(
        [
            ("o1", "a", "2024-01-10 09:00", 10.0, "completed"),
            ("o1", "a", "2024-01-10 09:00", 5.0, "completed"),  # second line, same order
            ("o2", "a", "2024-03-30 23:59", 20.0, " Completed "),  # case and blanks
            ("o3", "a", "2024-03-15", 99.0, "returned"),
            ("o4", "a", "2024-04-01 00:00", 99.0, "completed"),  # at as_of: excluded
            ("o5", "b", "2024-02-01", None, "completed"),  # revenue from quantity × price
            ("o6", None, "2024-02-01", 50.0, "completed"),  # guest
        ]
    )
    frame.loc[frame["order_id"] == "o5", "unit_price"] = 7.5
    scores = _scores(duck, frame)
    assert list(scores.index) == ["a", "b"]
    assert scores.loc["a", "frequency"] == 2
    assert scores.loc["a", "monetary"] == pytest.approx(35.0)
    assert scores.loc["a", "recency_days"] == 2  # 2024-03-30 → 2024-04-01
    assert scores.loc["a", "tenure_days"] == 82  # 2024-01-10 → 2024-04-01
    assert scores.loc["b", "monetary"] == pytest.approx(7.5)
    assert scores.loc["b", "recency_days"] == 60


def test_distinct_values_split_into_exact_quintiles(duck):
    # ten customers; customer k has k orders of 10 × k currency, the last on day 10 − k
    rows = []
    for k in range(1, 11):
        for j in range(k):
            rows.append((f"o{k}-{j}", f"c{k:02d}", f"2024-03-{21 - k:02d} 12:00", 10.0 * k,
                         "completed"))
    scores = _scores(duck, orders_frame(rows))
    expected = [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert scores["f_score"].tolist() == expected
    assert scores["m_score"].tolist() == expected
    # c01 bought last on 2024-03-20 (12 days before as_of), c10 on 2024-03-11 (21 days)
    assert scores["recency_days"].tolist() == list(range(12, 22))
    assert scores["r_score"].tolist() == expected[::-1]
    assert scores.loc["c10", "segment"] == "Can't lose"  # R1, F5
    assert scores.loc["c01", "segment"] == "New"  # R5, F1


def test_recency_score_rewards_recent_buyers(duck):
    rows = [(f"o{k}", f"c{k:02d}", f"2024-03-{k + 1:02d}", 10.0, "completed") for k in range(10)]
    scores = _scores(duck, orders_frame(rows))
    # c09 bought on 2024-03-10 (most recent): score 5; c00 on 2024-03-01: score 1
    assert scores["r_score"].tolist() == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert scores.loc["c09", "recency_days"] == 22


def test_tied_customers_share_one_score(duck):
    # six one-order customers and four two-order customers
    rows = [(f"o{k}", f"c{k}", "2024-03-01", 10.0, "completed") for k in range(6)]
    rows += [(f"p{k}-{j}", f"d{k}", "2024-03-01", 10.0, "completed")
             for k in range(4) for j in range(2)]
    scores = _scores(duck, orders_frame(rows))
    # min ranks: 0 for the six, 6 for the four → floor(5·0/10)+1 = 1, floor(5·6/10)+1 = 4
    assert set(scores.loc[[f"c{k}" for k in range(6)], "f_score"]) == {1}
    assert set(scores.loc[[f"d{k}" for k in range(4)], "f_score"]) == {4}
    # everyone bought the same day: recency ties at score 1
    assert set(scores["r_score"]) == {1}


def _pandas_rfm(frame: pd.DataFrame, as_of: str) -> pd.DataFrame:
    """An independent pandas reading of the documented definition."""
    cutoff = pd.Timestamp(as_of)
    lines = frame[
        frame["customer_id"].notna()
        & (frame["status"].str.strip().str.lower() == "completed")
        & (frame["ts"] < cutoff)
    ]
    per = lines.groupby("customer_id").agg(
        last=("ts", "max"), first=("ts", "min"), frequency=("order_id", "nunique"),
        monetary=("revenue", "sum"),
    )
    per["recency_days"] = (cutoff.normalize() - per["last"].dt.normalize()).dt.days
    per["tenure_days"] = (cutoff.normalize() - per["first"].dt.normalize()).dt.days
    n = len(per)

    def score(values: pd.Series, ascending: bool) -> pd.Series:
        rank0 = values.rank(method="min", ascending=ascending) - 1
        return (np.floor(5 * rank0 / n) + 1).astype(int)

    per["r_score"] = score(per["recency_days"], ascending=False)
    per["f_score"] = score(per["frequency"], ascending=True)
    per["m_score"] = score(per["monetary"], ascending=True)
    per["segment"] = [segment_for(r, f) for r, f in zip(per["r_score"], per["f_score"],
                                                        strict=True)]
    return per.sort_index()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_scores_match_independent_pandas_computation(duck, seed):
    frame = random_orders(seed=seed)
    got = _scores(duck, frame, as_of="2024-10-01")
    want = _pandas_rfm(frame, "2024-10-01")
    assert list(got.index) == list(want.index)
    for column in ("recency_days", "tenure_days", "frequency", "r_score", "f_score", "m_score",
                   "segment"):
        assert got[column].tolist() == want[column].tolist(), column
    np.testing.assert_allclose(got["monetary"], want["monetary"])
    assert (got["rfm_score"] == got["r_score"].astype(str) + got["f_score"].astype(str)
            + got["m_score"].astype(str)).all()


def test_segment_grid_covers_every_cell_once_with_the_documented_names():
    cells = {(r, f): segment_for(r, f) for r, f in itertools.product(range(1, 6), repeat=2)}
    assert set(cells.values()) == set(SEGMENTS)
    assert len(SEGMENTS) == 11
    expected = {
        (5, 5): "Champions", (5, 4): "Champions", (4, 5): "Loyal", (3, 4): "Loyal",
        (5, 2): "Potential loyalist", (4, 3): "Potential loyalist", (5, 1): "New",
        (4, 1): "Promising", (3, 3): "Need attention", (3, 1): "About to sleep",
        (3, 2): "About to sleep", (2, 3): "At risk", (1, 4): "At risk", (1, 5): "Can't lose",
        (2, 5): "Can't lose", (2, 2): "Hibernating", (1, 2): "Hibernating",
        (2, 1): "Hibernating", (1, 1): "Lost",
    }
    for cell, name in expected.items():
        assert cells[cell] == name, cell
    with pytest.raises(ValueError):
        segment_for(0, 3)


def test_segment_summary_shares_add_up_and_match_pandas(duck):
    frame = random_orders(seed=5)
    table = duck.create_table("orders", frame, overwrite=True)
    scores = rfm_scores(table, "2024-10-01")
    summary = segment_summary(scores).execute().set_index("segment")
    want = _pandas_rfm(frame, "2024-10-01")
    counts = want.groupby("segment").size()
    revenue = want.groupby("segment")["monetary"].sum()
    assert summary["customers"].to_dict() == counts.to_dict()
    np.testing.assert_allclose(summary["revenue_share"], (revenue / revenue.sum())[summary.index])
    assert summary["customer_share"].sum() == pytest.approx(1.0)
    assert summary["revenue"].is_monotonic_decreasing

    grid = rfm_grid(scores).execute()
    assert grid["customers"].sum() == len(want)
    cell = grid[(grid.r_score == 1) & (grid.f_score == 1)]
    lost = want[(want.r_score == 1) & (want.f_score == 1)]
    if len(lost):
        assert cell["customers"].item() == len(lost)
        assert cell["mean_monetary"].item() == pytest.approx(lost["monetary"].mean())
