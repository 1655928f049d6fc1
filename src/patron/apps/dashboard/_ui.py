"""Streamlit plumbing shared by the pages: the lake connection, cached queries, messages.

Query results are cached with :func:`streamlit.cache_data` keyed by the query's name, its
arguments *and the lake's catalog sequence number*, so a page re-queries as soon as
something new is committed (new scores, a new ingest) and never otherwise, within the TTL.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pandas as pd
import streamlit as st

from patron.apps._lakedb import LakeDB
from patron.apps.dashboard import _data
from patron.apps.dashboard._data import MissingData

#: environment variable that carries the patron.toml path to the Streamlit process
CONFIG_ENV = "PATRON_CONFIG"
#: seconds a cached query result is kept even when the lake does not change
CACHE_TTL_S = 600


@st.cache_resource(show_spinner=False)
def _lake_db(config: str | None) -> LakeDB:
    return LakeDB.from_config(config)


def lake_db() -> LakeDB:
    """The shared :class:`LakeDB` of the configured lake (one per server process)."""
    return _lake_db(os.environ.get(CONFIG_ENV) or None)


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False, max_entries=512)
def _cached(config: str | None, seq: int, name: str, args: tuple, kwargs: tuple) -> Any:
    return getattr(_data, name)(_lake_db(config), *args, **dict(kwargs))


def query(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run a :mod:`_data` query through the cache (keyed by the catalog seq)."""
    db = lake_db()
    config = os.environ.get(CONFIG_ENV) or None
    return _cached(config, db.seq, function.__name__, args, tuple(sorted(kwargs.items())))


def missing(exc: MissingData) -> None:
    """Tell the user which command produces the data a page needs."""
    st.info(f"{exc}", icon=":material/info:")


def guarded(page: Callable[[], None]) -> None:
    """Run a page body; a missing table becomes an explanation instead of an error."""
    try:
        page()
    except MissingData as exc:
        missing(exc)


def money(value: Any) -> str:
    """A currency amount for a metric tile (no symbol: the lake may hold any currency)."""
    if value is None or pd.isna(value):
        return "—"
    value = float(value)
    if abs(value) >= 1e6:
        return f"{value / 1e6:,.2f} M"
    if abs(value) >= 1e4:
        return f"{value / 1e3:,.1f} k"
    return f"{value:,.2f}"


def count(value: Any) -> str:
    return "—" if value is None or pd.isna(value) else f"{int(value):,}"


def share(value: Any) -> str:
    return "—" if value is None or pd.isna(value) else f"{float(value):.1%}"
