"""Fixtures of the analytics tests."""

from __future__ import annotations

from pathlib import Path

import ibis
import pandas as pd
import pytest
from analytics_data import posts_frame, random_orders, sessions_frame


@pytest.fixture
def duck():
    """A fresh in-memory DuckDB Ibis backend."""
    return ibis.duckdb.connect()


@pytest.fixture
def small_project(tmp_path: Path):
    """A project folder with patron.toml and a raw lake holding hand-made tables."""
    from patron.lake import Lake

    (tmp_path / "patron.toml").write_text('[lake]\npath = "lake"\n', encoding="utf-8")
    lake = Lake(tmp_path / "lake")
    orders = random_orders(seed=3)
    lake.write_arrow(orders, "raw", "orders", batch_id="orders1")
    lake.write_arrow(sessions_frame(), "raw", "sessions", batch_id="sessions1")
    lake.write_arrow(posts_frame(), "raw", "social_posts", batch_id="posts1")
    customers = pd.DataFrame(
        {
            "customer_id": [f"c{i:03d}" for i in range(60)],
            "signup_date": pd.Timestamp("2023-12-01").date(),
            "region": ["EU", None, "NA"] * 20,
            "channel": "organic",
        }
    )
    lake.write_arrow(customers, "raw", "customers", batch_id="customers1")
    return tmp_path
