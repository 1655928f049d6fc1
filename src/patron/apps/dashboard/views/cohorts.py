"""Cohorts: retention heat map of first-purchase cohorts."""

from __future__ import annotations

import streamlit as st

from patron.analytics import retention_matrix
from patron.apps.dashboard import _data
from patron.apps.dashboard._ui import guarded, query
from patron.plotting.analytics import cohort_heatmap


def page() -> None:
    st.title("Cohorts")
    cols = st.columns(3)
    period = cols[0].segmented_control("Cohort period", ["month", "week"], default="month",
                                       key="cohort_period") or "month"
    metric = cols[1].segmented_control("Retention of", ["customers", "revenue"],
                                       default="customers", key="cohort_metric") or "customers"
    last = cols[2].slider("Newest cohorts shown", 6, 60, 24, key="cohort_last")
    long = query(_data.cohort_long, period)
    if long.empty:
        st.info("No completed orders yet.")
        return
    matrix = retention_matrix(long, metric, period=period).tail(last)
    sizes = long.drop_duplicates("cohort")
    st.metric("Cohorts", f"{sizes['cohort'].nunique():,}",
              help="first-purchase periods with at least one customer")
    st.plotly_chart(cohort_heatmap(matrix, period=period,
                                   title=f"{metric.capitalize()} retention by {period}ly cohort"),
                    width="stretch")
    with st.expander("Cohort sizes"):
        st.dataframe(sizes[["cohort", "cohort_customers", "cohort_revenue"]], hide_index=True,
                     width="stretch")


guarded(page)
