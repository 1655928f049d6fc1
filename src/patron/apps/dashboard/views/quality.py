"""Data quality: ingest accounting (read = accepted + quarantined) and quarantine reasons."""

from __future__ import annotations

import plotly.express as px
import streamlit as st

from patron.apps.dashboard import _data
from patron.apps.dashboard._data import MissingData
from patron.apps.dashboard._ui import count, guarded, missing, query


def page() -> None:
    st.title("Data quality")
    accounting = query(_data.ingest_accounting)
    if accounting.empty:
        st.info("Nothing ingested yet: run `patron ingest FILE` (or `patron demo`).")
        return
    cols = st.columns(3)
    cols[0].metric("Rows read", count(accounting["rows_read"].sum()))
    cols[1].metric("Accepted", count(accounting["accepted"].sum()))
    cols[2].metric("Quarantined", count(accounting["quarantined"].sum()))
    st.subheader("Ingest accounting")
    st.dataframe(accounting, hide_index=True, width="stretch")
    reasons = query(_data.quarantine_reasons)
    st.subheader("Quarantine reasons")
    if reasons.empty:
        st.caption("No rows were quarantined.")
    else:
        st.plotly_chart(px.bar(reasons, x="rows", y="rule", color="table", orientation="h",
                               title="Quarantined rows by rule"), width="stretch")
        kind = st.selectbox("Show quarantined rows of", sorted(reasons["table"].unique()),
                            key="quality_kind")
        try:
            st.dataframe(query(_data.quarantine_sample, kind), hide_index=True,
                         width="stretch")
        except MissingData as exc:
            missing(exc)
    with st.expander("Lake tables"):
        st.dataframe(query(_data.table_status), hide_index=True, width="stretch")


guarded(page)
