"""The RFM summary equals lifetimes' on CDNOW (days and weeks) and on hand-made data."""

from __future__ import annotations

from pathlib import Path

import ibis
import numpy as np
import pandas as pd
import pytest
from lifetimes.utils import calibration_and_holdout_data, summary_data_from_transaction_data

from patron.features import calibration_and_holdout, rfm_summary

DATA = Path(__file__).resolve().parents[1] / "data"


@pytest.fixture(scope="module")
def cdnow_master() -> pd.DataFrame:
    """All 69,659 CDNOW master purchases: customer, day, CDs, dollars."""
    frame = pd.read_csv(DATA / "CDNOW_master.txt", sep=r"\s+", header=0,
                        names=["customer_id", "date", "n_cds", "value"],
                        dtype={"customer_id": str, "date": str})
    frame["ts"] = pd.to_datetime(frame["date"], format="%Y%m%d")
    return frame[["customer_id", "ts", "value"]]


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values("customer_id").reset_index(drop=True)


def _lifetimes_summary(frame: pd.DataFrame, end: str, freq: str) -> pd.DataFrame:
    ref = summary_data_from_transaction_data(
        frame, "customer_id", "ts", monetary_value_col="value", observation_period_end=end,
        freq=freq,
    )
    return _sorted(ref.reset_index())


@pytest.mark.parametrize(("end", "freq"), [("1998-06-30", "D"), ("1997-09-30", "D"),
                                           ("1998-06-30", "W"), ("1997-09-30", "W")])
def test_rfm_summary_equals_lifetimes_on_cdnow(cdnow_master, end, freq):
    ours = rfm_summary(ibis.memtable(cdnow_master), as_of=end, time_unit=freq,
                       value_col="value").to_pandas()
    ref = _lifetimes_summary(cdnow_master, end, freq)
    ours = _sorted(ours)
    assert list(ours.customer_id) == list(ref.customer_id)
    for column in ("frequency", "recency", "T", "monetary_value"):
        np.testing.assert_allclose(ours[column].to_numpy(), ref[column].to_numpy(),
                                   rtol=0, atol=1e-9, err_msg=column)


@pytest.mark.parametrize("freq", ["D", "W"])
def test_calibration_and_holdout_equals_lifetimes_on_cdnow(cdnow_master, freq):
    ours = calibration_and_holdout(ibis.memtable(cdnow_master), "1997-09-30", "1998-06-30",
                                   freq, value_col="value").to_pandas()
    ref = calibration_and_holdout_data(
        cdnow_master, "customer_id", "ts", calibration_period_end="1997-09-30",
        observation_period_end="1998-06-30", freq=freq, monetary_value_col="value",
    )
    ref = _sorted(ref.reset_index())
    ours = _sorted(ours)
    assert list(ours.columns) == ["customer_id", *ref.columns[1:]]
    assert list(ours.customer_id) == list(ref.customer_id)
    for column in ref.columns[1:]:
        np.testing.assert_allclose(ours[column].to_numpy(), ref[column].to_numpy(),
                                   rtol=0, atol=1e-9, err_msg=column)


def test_same_day_purchases_count_once_and_values_add_up():
    orders = pd.DataFrame({
        "customer_id": ["a", "a", "a", "a", "b"],
        "ts": pd.to_datetime(["2024-01-01 09:00", "2024-01-01 18:00", "2024-01-05 10:00",
                              "2024-01-05 11:00", "2024-01-03"], format="ISO8601"),
        "net_revenue": [10.0, 5.0, 7.0, 3.0, 4.0],
    })
    ours = _sorted(rfm_summary(ibis.memtable(orders), as_of="2024-01-10").to_pandas())
    # a: purchase days Jan 1 and Jan 5 → 1 repeat day worth 10; b: one day only
    assert ours.frequency.tolist() == [1.0, 0.0]
    assert ours.recency.tolist() == [4.0, 0.0]
    assert ours["T"].tolist() == [9.0, 7.0]
    assert ours.monetary_value.tolist() == [10.0, 0.0]


def test_purchases_after_the_observation_period_are_ignored():
    orders = pd.DataFrame({
        "customer_id": ["a", "a", "a"],
        "ts": pd.to_datetime(["2024-01-01", "2024-01-10 23:59", "2024-01-11"], format="ISO8601"),
        "net_revenue": [1.0, 2.0, 100.0],
    })
    ours = rfm_summary(ibis.memtable(orders), as_of="2024-01-10").to_pandas()
    assert ours.frequency.tolist() == [1.0]
    assert ours.monetary_value.tolist() == [2.0]
    assert ours["T"].tolist() == [9.0]


def test_weeks_start_on_monday():
    # 2024-01-07 is a Sunday, 2024-01-08 a Monday: two different weeks
    orders = pd.DataFrame({"customer_id": ["a", "a"],
                           "ts": pd.to_datetime(["2024-01-07", "2024-01-08"]),
                           "net_revenue": [1.0, 2.0]})
    ours = rfm_summary(ibis.memtable(orders), as_of="2024-01-21", time_unit="W").to_pandas()
    assert ours.frequency.tolist() == [1.0]
    assert ours.recency.tolist() == [1.0]
    assert ours["T"].tolist() == [2.0]


def test_unknown_time_unit_is_refused():
    with pytest.raises(ValueError, match="time_unit"):
        rfm_summary(ibis.memtable(pd.DataFrame({"customer_id": ["a"], "ts": [pd.Timestamp(0)],
                                                "net_revenue": [1.0]})),
                    as_of="2024-01-01", time_unit="M")  # type: ignore[arg-type]
