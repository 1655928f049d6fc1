"""Customer 360: one customer's scores, reasons, features and event history."""

from __future__ import annotations

import plotly.express as px
import streamlit as st

from patron.apps.dashboard import _data
from patron.apps.dashboard._ui import count, guarded, money, query, share


def page() -> None:
    st.title("Customer 360")
    typed = st.text_input("Customer id (or its beginning)", key="customer_search").strip()
    if not typed:
        st.caption("Type a customer id, e.g. the first characters, to look a customer up.")
        return
    found = query(_data.find_customers, typed)
    if found.empty:
        st.warning(f"No customer id starts with {typed!r}.")
        return
    ids = found["customer_id"].tolist()
    customer_id = typed if typed in ids else st.selectbox("Matches", ids, key="customer_pick")
    scores = query(_data.customer_scores, customer_id)
    row = scores.iloc[0]
    st.header(customer_id)
    cols = st.columns(5)
    cols[0].metric("Segment", str(row.get("segment") or "—"))
    cols[1].metric("Churn risk", str(row.get("risk") or "not scored"))
    cols[2].metric("Churn probability", share(row.get("churn_probability")))
    cols[3].metric("CLV", money(row.get("clv")))
    cols[4].metric("Orders", count(row.get("frequency")))
    reasons = [row.get(f"reason_{i}") for i in (1, 2, 3)]
    reasons = [r for r in reasons if isinstance(r, str) and r]
    if reasons:
        st.markdown("**Why at risk:** " + " · ".join(reasons))
    timeline = query(_data.customer_timeline, customer_id)
    left, right = st.columns([3, 2])
    with left:
        st.subheader("History")
        if timeline.empty:
            st.caption("No events.")
        else:
            st.plotly_chart(px.scatter(timeline, x="ts", y="kind", color="kind",
                                       size=timeline["amount"].fillna(0).clip(lower=0) + 5,
                                       hover_data=["detail", "amount"],
                                       title="Events over time"),
                            width="stretch")
            st.dataframe(timeline, hide_index=True, width="stretch")
    with right:
        st.subheader("Scores")
        st.dataframe(scores.T.rename(columns={scores.index[0]: "value"}).astype(str),
                     width="stretch")
        features = query(_data.customer_features, customer_id)
        st.subheader("Features")
        if features.empty:
            st.caption("No features yet: run `patron features --as-of DATE`.")
        else:
            st.dataframe(features.T.rename(columns={features.index[0]: "value"}).astype(str),
                         width="stretch")


guarded(page)
