"""Entry script of the dashboard (``streamlit run app.py``); the lake comes from the
``PATRON_CONFIG`` environment variable, which ``patron dashboard`` sets."""

from __future__ import annotations

import streamlit as st

from patron.apps.dashboard import PAGES, VIEWS

st.set_page_config(page_title="patron", page_icon=":material/groups:", layout="wide")
navigation = st.navigation(
    [
        st.Page(str(VIEWS / script), title=title, icon=icon, url_path=url, default=i == 0)
        for i, (script, title, icon, url) in enumerate(PAGES)
    ]
)
navigation.run()
