"""Labels after a cut-off, training sets over cut-offs, and the absence of leakage."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import ibis
import numpy as np
import pandas as pd
import pandas.testing as pdt
import pytest

from patron.errors import ModelError
from patron.features import customer_features
from patron.models import LabelDefinition, labels, matured_cutoffs, orders_end, training_set

AS_OF = datetime(2024, 7, 1)
CHURN = LabelDefinition("churn", horizon_days=30, lookback_days=90)


def _orders(rows: list[tuple]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["customer_id", "ts", "status", "quantity",
                                        "net_revenue"])
    frame["ts"] = pd.to_datetime(frame["ts"], format="mixed").astype("datetime64[us]")
    frame["order_id"] = [f"o{i}" for i in range(len(frame))]
    frame["line_id"] = "1"
    frame["revenue"] = frame["net_revenue"]
    frame["unit_price"] = frame["net_revenue"]
    frame["category"] = "Books"
    return frame


def _con(orders: pd.DataFrame, customers: pd.DataFrame | None = None):
    con = ibis.duckdb.connect()
    con.create_table("clean_orders", orders)
    if customers is not None:
        con.create_table("clean_customers", customers)
    return con


KNOWN = _orders([
    ("A", "2024-06-01", "completed", 1, 10.0),   # active, buys in window → stays
    ("A", "2024-07-10", "completed", 1, 25.0),
    ("B", "2024-05-15", "completed", 1, 20.0),   # active, silent in window → churns
    ("C", "2024-01-10", "completed", 1, 30.0),   # outside the 90-day look-back → not active
    ("C", "2024-07-05", "completed", 1, 40.0),
    ("D", "2024-06-20", "completed", 1, 15.0),   # buys exactly at the cut-off → window
    ("D", "2024-07-01 00:00:00", "completed", 2, 50.0),
    ("E", "2024-06-25", "completed", 1, 5.0),    # buys exactly at cut-off + 30 d → outside
    ("E", "2024-07-31 00:00:00", "completed", 1, 60.0),
    ("F", "2024-06-10", "completed", 1, 8.0),    # only a cancelled order in the window
    ("F", "2024-07-15", "cancelled", 1, 0.0),
    ("Z", "2024-09-30", "completed", 1, 1.0),    # data runs to the end of September
])


def test_churn_label_by_hand():
    got = labels(_con(KNOWN), AS_OF, CHURN).execute().set_index("customer_id")["target"]
    assert got.sort_index().to_dict() == {"A": 0, "B": 1, "D": 0, "E": 1, "F": 1}


def test_purchase_and_spend_labels_by_hand():
    con = _con(KNOWN)
    bought = labels(con, AS_OF, LabelDefinition("purchase", 30)).execute()
    assert sorted(bought["customer_id"]) == ["A", "C", "D"]
    spend = labels(con, AS_OF, LabelDefinition("spend", 30)).execute()
    spend = spend.set_index("customer_id")["target"].to_dict()
    assert spend == {"A": 25.0, "C": 40.0, "D": 50.0, "F": 0.0}


def test_training_set_gives_non_buyers_zero_and_stacks_cutoffs():
    con = _con(KNOWN)
    cutoffs = [date(2024, 7, 1), date(2024, 6, 1)]
    frame = training_set(con, LabelDefinition("purchase", 30), cutoffs)
    july = frame[frame["as_of"] == date(2024, 7, 1)].set_index("customer_id")["target"]
    assert july.to_dict() == {"A": 1, "B": 0, "C": 1, "D": 1, "E": 0, "F": 0}
    june = frame[frame["as_of"] == date(2024, 6, 1)].set_index("customer_id")["target"]
    assert set(june.index) == {"B", "C"}  # only customers known before 1 June
    assert june.to_dict() == {"B": 0, "C": 0}  # A buys on 1 June: in the window, unknown before
    assert "frequency_orders" in frame.columns


def test_label_that_has_not_matured_is_refused():
    with pytest.raises(ModelError, match="data ends 2024-10-01"):
        labels(_con(KNOWN), datetime(2024, 9, 15), CHURN)
    assert orders_end(_con(KNOWN)) == date(2024, 10, 1)
    assert matured_cutoffs(date(2024, 10, 1), 30, 3, 60) == [
        date(2024, 9, 1), date(2024, 7, 3), date(2024, 5, 4)]


def random_orders(seed: int, customers: int = 40) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = customers * 10
    start = datetime(2024, 1, 1)
    return _orders([
        (f"c{rng.integers(customers):02d}",
         start + timedelta(seconds=int(rng.integers(0, 270 * 86_400))),
         rng.choice(["completed", "returned", "cancelled"], p=[0.85, 0.1, 0.05]),
         int(rng.integers(1, 4)), float(np.round(rng.uniform(5, 100), 2)))
        for _ in range(n)
    ])


def test_features_do_not_change_when_data_after_as_of_changes():
    orders = random_orders(1)
    after = orders["ts"] >= AS_OF
    assert after.any()
    changed = orders.copy()
    changed.loc[after, "net_revenue"] *= 7
    changed.loc[after, "status"] = "completed"
    changed = pd.concat([changed, _orders([("c01", "2024-08-01", "completed", 9, 999.0),
                                           ("new", "2024-07-02", "completed", 1, 5.0)])],
                        ignore_index=True)
    changed = changed.drop(index=changed.index[after.reindex(changed.index, fill_value=False)
                                               ][:5])
    a = customer_features(_con(orders), AS_OF).execute().sort_values("customer_id")
    b = customer_features(_con(changed), AS_OF).execute().sort_values("customer_id")
    pdt.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True))
    # ... while the labels after the cut-off do see the change
    spend = LabelDefinition("spend", 30)
    la = labels(_con(orders), AS_OF, spend).execute()
    lb = labels(_con(changed), AS_OF, spend).execute()
    assert la["target"].sum() != pytest.approx(lb["target"].sum())


def test_labels_use_only_their_window():
    """Changing orders outside [as_of − look-back, as_of + H) never changes a label."""
    orders = random_orders(2)
    lookback_start = AS_OF - timedelta(days=90)
    window_end = AS_OF + timedelta(days=30)
    outside = (orders["ts"] < lookback_start) | (orders["ts"] >= window_end)
    changed = orders.copy()
    changed.loc[outside, "net_revenue"] = 0.0
    changed.loc[outside, "status"] = "cancelled"
    for definition in (CHURN, LabelDefinition("purchase", 30), LabelDefinition("spend", 30)):
        a = labels(_con(orders), AS_OF, definition).execute().sort_values("customer_id")
        b = labels(_con(changed), AS_OF, definition).execute().sort_values("customer_id")
        pdt.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True))


def test_label_definition_describes_itself_and_validates():
    assert "365 days before" in LabelDefinition("churn", 90, 365).describe()
    assert LabelDefinition("purchase", 7).name == "purchase_7d"
    with pytest.raises(ModelError, match="lookback"):
        LabelDefinition("churn", 90)
    with pytest.raises(ModelError, match="not one of"):
        LabelDefinition("upsell", 30)  # type: ignore[arg-type]


def test_label_definition_from_settings():
    from patron.config import Settings

    settings = Settings(models={"churn_horizon_days": 60, "purchase_horizons_days": [14]})
    churn = LabelDefinition.from_settings(settings.models, "churn")
    assert (churn.horizon_days, churn.lookback_days) == (60, 365)
    assert LabelDefinition.from_settings(settings.models, "purchase").horizon_days == 14
