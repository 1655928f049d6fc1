"""Overview: customers, activity, revenue, AOV, churn and predicted CLV over a date range."""

from __future__ import annotations

import plotly.express as px
import streamlit as st

from patron.apps.dashboard import _data
from patron.apps.dashboard._ui import count, guarded, lake_db, money, query, share


def page() -> None:
    st.title("Overview")
    start_default, end_default = query(_data.default_range, 365)
    bounds = query(_data.date_bounds)
    first = bounds["first_ts"].iloc[0].date()
    picked = st.date_input(
        "Orders from – to (end exclusive)",
        value=(start_default, end_default),
        min_value=first,
        max_value=end_default,
        key="overview_range",
    )
    start, end = (picked if isinstance(picked, tuple) and len(picked) == 2
                  else (start_default, end_default))
    models = lake_db().settings.models if lake_db().settings else None
    kpis = query(
        _data.overview_kpis, start, end,
        churn_lookback_days=models.churn_lookback_days if models else 365,
        churn_horizon_days=models.churn_horizon_days if models else 90,
    ).iloc[0]
    row1 = st.columns(4)
    row1[0].metric("Customers", count(kpis["customers"]))
    row1[1].metric("Active customers", count(kpis["active_customers"]),
                   help="customers with at least one completed order in the range")
    row1[2].metric("Net revenue", money(kpis["revenue"]))
    row1[3].metric("Average order value", money(kpis["aov"]))
    row2 = st.columns(4)
    row2[0].metric("Orders", count(kpis["orders"]))
    row2[1].metric("Observed churn rate", share(kpis["observed_churn_rate"]),
                   help="of customers who bought in the look-back window before the last "
                        "horizon, the share who did not buy in the horizon (see [models])")
    row2[2].metric("Predicted churn rate", share(kpis["predicted_churn_rate"]),
                   help="mean churn probability of scored customers (patron score)")
    row2[3].metric("Predicted CLV (total)", money(kpis["predicted_clv_total"]),
                   help="sum of per-customer CLV (patron clv / patron score)")
    if kpis["scored_customers"] == 0:
        st.caption("Churn is not scored yet: run `patron train && patron score`.")

    grain = st.segmented_control("Trend by", ["day", "week", "month"], default="week",
                                 key="overview_grain") or "week"
    trend = query(_data.revenue_trend, start, end, grain)
    if trend.empty:
        st.info("No orders in this range.")
        return
    left, right = st.columns(2)
    left.plotly_chart(px.line(trend, x="period", y="revenue", title=f"Net revenue per {grain}"),
                      width="stretch")
    right.plotly_chart(
        px.line(trend, x="period", y=["active_customers", "orders"],
                title=f"Active customers and orders per {grain}"),
        width="stretch",
    )


guarded(page)
