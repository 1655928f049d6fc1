"""Insights: session conversion by channel and device (with intervals), and sentiment."""

from __future__ import annotations

import plotly.express as px
import streamlit as st

from patron.apps.dashboard import _data
from patron.apps.dashboard._data import MissingData
from patron.apps.dashboard._ui import guarded, missing, query
from patron.plotting.analytics import conversion_ci_bar


def page() -> None:
    st.title("Insights")
    st.subheader("Conversion")
    try:
        left, right = st.columns(2)
        for column, by in ((left, "channel"), (right, "device")):
            rates = query(_data.conversion, by)
            column.plotly_chart(conversion_ci_bar(rates, by), width="stretch")
            column.dataframe(rates, hide_index=True, width="stretch")
    except MissingData as exc:
        missing(exc)
    st.subheader("Sentiment")
    try:
        summary = query(_data.sentiment_summary)
        hist = query(_data.sentiment_histogram)
        left, right = st.columns(2)
        left.plotly_chart(px.bar(hist, x="lower", y="posts", color="sentiment_label",
                                 title="VADER compound score of posts",
                                 labels={"lower": "compound score"}),
                          width="stretch")
        right.plotly_chart(px.bar(summary, x="platform", y="posts", color="sentiment_label",
                                  title="Posts by platform and sentiment"),
                           width="stretch")
    except MissingData as exc:
        missing(exc)


guarded(page)
