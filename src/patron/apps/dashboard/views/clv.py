"""Lifetime value: distribution, by segment, and diagnostics of the fitted models."""

from __future__ import annotations

import plotly.express as px
import streamlit as st

from patron.apps.dashboard import _data
from patron.apps.dashboard._ui import count, guarded, money, query, share


def page() -> None:
    st.title("Customer lifetime value")
    summary = query(_data.clv_summary).iloc[0]
    cols = st.columns(5)
    cols[0].metric("Customers valued", count(summary["customers"]))
    cols[1].metric("Total CLV", money(summary["total"]))
    cols[2].metric("Mean CLV", money(summary["mean"]))
    cols[3].metric("Median CLV", money(summary["median"]))
    cols[4].metric("Top 10 % hold", share(summary["top_decile_share"]))
    hist = query(_data.clv_histogram)
    hist["bin"] = hist["lower"].round(0)
    st.plotly_chart(px.bar(hist, x="bin", y="customers",
                           title="CLV distribution (last bin: 99th percentile and above)",
                           labels={"bin": "CLV from"}), width="stretch")
    by_segment = query(_data.clv_by_segment)
    left, right = st.columns(2)
    left.plotly_chart(px.bar(by_segment, x="segment", y="total_clv", title="Total CLV by segment"),
                      width="stretch")
    right.plotly_chart(px.bar(by_segment, x="segment", y="mean_clv", title="Mean CLV by segment"),
                       width="stretch")
    st.subheader("Model diagnostics")
    history = query(_data.clv_vs_history)
    if not history.empty:
        st.plotly_chart(px.scatter(history, x="monetary", y="clv", color="segment",
                                   opacity=0.6, log_x=True, log_y=True,
                                   title="Past revenue vs predicted CLV (sample)"),
                        width="stretch")
    fits = query(_data.clv_diagnostics)
    if fits.empty:
        st.caption("No probabilistic CLV fit in the log: run `patron clv`.")
    else:
        st.dataframe(fits, hide_index=True, width="stretch")


guarded(page)
