"""One small demo lake per test session, shared by the dashboard, API and export tests.

When the models stage has not written churn and segment scores into the demo (``patron
score``), the fixture writes stand-in tables with the same columns, so every page and
route is exercised on realistic shapes.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

DEMO_CUSTOMERS = 1500
REASONS = ("no order in 120+ days", "fewer sessions than usual", "open support ticket",
           "low email engagement", "returned last order")
SEGMENT_NAMES = ("Big spenders", "Regulars", "Bargain hunters", "Dormant")


def write_stand_in_scores(lake) -> None:
    """Churn and segment scores with the models stage's columns, seeded by customer id."""
    import duckdb

    con = duckdb.connect()
    ids = con.sql(
        f"SELECT DISTINCT customer_id FROM {lake.scan_sql('features', 'customers')} "
        "ORDER BY 1"
    ).df()["customer_id"]
    rng = np.random.default_rng(7)
    n = len(ids)
    as_of = pd.Timestamp("2026-10-01")
    if not lake.has_table("scores", "churn"):
        reasons = rng.integers(0, len(REASONS), size=(n, 3))
        churn = pd.DataFrame({
            "customer_id": ids,
            "churn_probability": rng.beta(1.5, 3.0, n),
            "model_version": "churn-test-1",
            "as_of": as_of,
            **{f"reason_{k + 1}": [REASONS[(r + k) % len(REASONS)] for r in reasons[:, k]]
               for k in range(3)},
        })
        lake.write_arrow(churn, "scores", "churn", batch_id="test-churn-scores")
    if not lake.has_table("scores", "segments"):
        segments = pd.DataFrame({
            "customer_id": ids,
            "segment": [SEGMENT_NAMES[i] for i in rng.integers(0, len(SEGMENT_NAMES), n)],
            "model_version": "segments-test-1",
            "as_of": as_of,
        })
        lake.write_arrow(segments, "scores", "segments", batch_id="test-segment-scores")


@pytest.fixture(scope="session")
def unavailable():
    """``service_unavailable`` of tests/conftest.py: skip locally, fail in CI."""
    import importlib.util

    path = Path(__file__).parents[1] / "conftest.py"
    spec = importlib.util.spec_from_file_location("_patron_tests_root_conftest", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.service_unavailable


@pytest.fixture(scope="session")
def demo_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project folder holding a demo lake of 1,500 customers with scores."""
    from rich.console import Console

    from patron.apps.demo import run_demo
    from patron.config import Settings
    from patron.lake import Lake

    directory = tmp_path_factory.mktemp("demo")
    saved = {k: os.environ.pop(k) for k in list(os.environ)
             if k.startswith("PATRON_") and k != "PATRON_REQUIRE_SERVICES"}
    try:
        run_demo(directory, customers=DEMO_CUSTOMERS, seed=3, dirt=0.02,
                 console=Console(quiet=True))
        lake = Lake.from_settings(Settings.load(directory / "patron.toml"))
        write_stand_in_scores(lake)
    finally:
        os.environ.update(saved)
    return directory


@pytest.fixture(scope="session")
def demo_config(demo_project: Path) -> Path:
    return demo_project / "patron.toml"


@pytest.fixture(scope="session")
def demo_db(demo_config: Path):
    from patron.apps._lakedb import LakeDB

    db = LakeDB.from_config(demo_config)
    yield db
    db.close()
