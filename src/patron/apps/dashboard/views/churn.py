"""Churn risk: customers by risk band, filters, reasons, campaign list download.

The list refreshes on a timer (a Streamlit fragment): when new scores are committed the
lake's catalog sequence number changes, the cached queries miss, and the page shows them.
"""

from __future__ import annotations

import plotly.express as px
import streamlit as st

from patron.apps._scores import RISKS
from patron.apps.dashboard import _data
from patron.apps.dashboard._ui import guarded, lake_db, money, query

PAGE_SIZE = 50
#: seconds between checks for new scores
REFRESH_S = 30


def _filters() -> dict:
    choices = query(_data.filter_choices)
    segments = sorted(choices.loc[choices["kind"] == "segment", "value"])
    regions = sorted(choices.loc[choices["kind"] == "region", "value"])
    cols = st.columns(4)
    segment = cols[0].selectbox("Segment", ["(all)", *segments], key="churn_segment")
    region = cols[1].multiselect("Region", regions, key="churn_region")
    risk = cols[2].multiselect("Risk", list(RISKS), default=["high"], key="churn_risk")
    min_clv = cols[3].number_input("Minimum CLV", min_value=0.0, value=0.0, step=50.0,
                                   key="churn_min_clv")
    return {
        "segment": None if segment == "(all)" else segment,
        "region": tuple(region) or None,
        "risk": tuple(risk) or None,
        "min_clv": min_clv or None,
    }


@st.fragment(run_every=REFRESH_S)
def _live(filters: dict) -> None:
    bands_filters = {k: v for k, v in filters.items() if k != "risk"}
    bands = query(_data.risk_bands, **bands_filters)
    cols = st.columns(3)
    for col, band in zip(cols, RISKS, strict=True):
        row = bands[bands["risk"] == band]
        n = int(row["customers"].iloc[0]) if len(row) else 0
        clv = row["clv"].iloc[0] if len(row) else 0.0
        col.metric(f"{band.capitalize()} risk", f"{n:,}", help="customers in this band",
                   delta=f"CLV at stake {money(clv)}", delta_color="off")
    total = query(_data.count_matching, **filters)
    st.caption(f"{total:,} customers match · lake commit #{lake_db().seq} · "
               f"checked every {REFRESH_S} s")
    left, right = st.columns([2, 1])
    with left:
        pages = max(1, -(-total // PAGE_SIZE))
        number = st.number_input("Page", min_value=1, max_value=pages, value=1,
                                 key="churn_page")
        rows = query(_data.at_risk_customers, limit=PAGE_SIZE,
                     offset=(int(number) - 1) * PAGE_SIZE, **filters)
        st.dataframe(rows, hide_index=True, width="stretch",
                     column_config={"churn_probability": st.column_config.ProgressColumn(
                         "churn probability", min_value=0.0, max_value=1.0, format="%.2f")})
    with right:
        reasons = query(_data.top_reasons, 10, **filters)
        if not reasons.empty:
            st.plotly_chart(px.bar(reasons.iloc[::-1], x="customers", y="reason",
                                   orientation="h", title="Top churn reasons"),
                            width="stretch")
    live = query(_data.live_scores)
    if not live.empty:
        st.subheader("Latest live scores")
        st.dataframe(live, hide_index=True, width="stretch")


def page() -> None:
    st.title("Churn risk")
    _data.churn_filters_ok(lake_db())
    filters = _filters()
    _live(filters)
    st.subheader("Campaign list")
    st.caption("Every matching customer (not just this page), as CSV for a mailing tool.")
    if st.button("Prepare campaign list", key="churn_prepare"):
        from patron.apps.exports import campaign_frame

        frame = campaign_frame(lake_db(), **filters)
        st.download_button("Download CSV", frame.to_csv(index=False).encode(),
                           file_name="campaign.csv", mime="text/csv", key="churn_download")


guarded(page)
