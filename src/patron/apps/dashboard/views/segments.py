"""Segments: RFM and K-Means segment sizes, revenue share and profiles."""

from __future__ import annotations

import plotly.express as px
import streamlit as st

from patron.apps.dashboard import _data
from patron.apps.dashboard._data import MissingData
from patron.apps.dashboard._ui import guarded, missing, query


def _sizes(summary) -> None:
    st.dataframe(summary, hide_index=True, width="stretch",
                 column_config={
                     "customer_share": st.column_config.NumberColumn("% customers",
                                                                     format="percent"),
                     "revenue_share": st.column_config.NumberColumn("% revenue",
                                                                    format="percent"),
                 })
    if "revenue_share" in summary and summary["revenue_share"].notna().any():
        long = summary.melt(id_vars="segment", value_vars=["customer_share", "revenue_share"],
                            var_name="share of", value_name="share")
        st.plotly_chart(px.bar(long, x="segment", y="share", color="share of", barmode="group",
                               title="Customers vs revenue by segment"),
                        width="stretch")


def page() -> None:
    st.title("Segments")
    rfm_tab, model_tab = st.tabs(["RFM", "K-Means"])
    with rfm_tab:
        try:
            summary = query(_data.segment_summary, "rfm")
            st.metric("RFM segments", len(summary))
            _sizes(summary)
            grid = query(_data.rfm_grid)
            heat = grid.pivot_table(index="r_score", columns="f_score", values="customers")
            st.plotly_chart(px.imshow(heat, text_auto=True, aspect="auto",
                                      labels={"x": "frequency score", "y": "recency score",
                                              "color": "customers"},
                                      title="Customers per R × F cell"),
                            width="stretch")
        except MissingData as exc:
            missing(exc)
    with model_tab:
        try:
            summary = query(_data.segment_summary, "model")
            st.metric("K-Means segments", len(summary))
            _sizes(summary)
            profiles = query(_data.segment_profiles, "model")
            st.subheader("Segment profiles (mean feature values)")
            st.dataframe(profiles, hide_index=True, width="stretch")
        except MissingData as exc:
            missing(exc)


guarded(page)
