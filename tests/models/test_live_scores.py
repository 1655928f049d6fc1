"""Live scores: a customer's risk changes after a fresh order lands in the raw layer."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

import patron
from patron.apps.cli import ingest_paths
from patron.clean import clean_lake
from patron.config import Settings
from patron.features import customer_features
from patron.ingest import ingest_file
from patron.lake import Lake
from patron.models import ChurnModel
from patron.models._live import LiveScorer, latest_live_scores, upsert_postgres
from patron.models.registry import ModelRegistry
from patron.synth import generate
from support import service_unavailable


@pytest.fixture(scope="module")
def live_lake(tmp_path_factory):
    root = tmp_path_factory.mktemp("live")
    (root / "patron.toml").write_text('[lake]\npath = "lake"\n')
    settings = Settings.load(root / "patron.toml")
    lake = Lake.from_settings(settings)
    generate(root / "data", customers=800, seed=3, sources=("customers", "orders"))
    ingest_paths(lake, settings, [root / "data"])
    clean_lake(lake)
    con = patron.connect(settings, lake=lake)
    now = datetime.now(UTC).replace(tzinfo=None)
    features = customer_features(con, now).to_pandas()
    # a learnable stand-in for churn: no order in the last 120 days
    target = (features["recency_days"].fillna(10_000) > 120).astype(int)
    model = ChurnModel(algorithm="logistic").fit(features.drop(columns="customer_id"), target)
    ModelRegistry.from_settings(settings).save(
        model, "churn", features=list(model.feature_names_in_), promote=True
    )
    dormant = features.loc[features["recency_days"] > 400, "customer_id"].iloc[0]
    return root, settings, lake, dormant


def test_a_fresh_order_lowers_the_risk_of_a_dormant_customer(live_lake):
    root, settings, lake, dormant = live_lake
    scorer = LiveScorer(settings, lake)
    before = scorer.score({dormant}, "before")
    assert before is not None and list(before["customer_id"]) == [dormant]

    when = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%d %H:%M:%S")
    fresh = root / "fresh-orders.csv"
    fresh.write_text(
        "order_id,customer_id,ts,quantity,unit_price,status,channel\n"
        f"live-1,{dormant},{when},2,30,Completed,WEB\n"
    )
    ingest_file(lake, fresh, "orders")  # raw only: the clean layer is older

    after = scorer({dormant}, "b1")
    assert after["churn_probability"].iloc[0] < before["churn_probability"].iloc[0] - 0.2
    assert scorer.batches == 1 and scorer.latencies_s[0] > 0
    con = patron.connect(settings, lake=lake)
    live = latest_live_scores(con).to_pandas()
    assert list(live["customer_id"]) == [dormant]
    assert live["model_version"].iloc[0].startswith("churn")


def test_live_scores_are_upserted_into_postgresql(live_lake):
    psycopg = pytest.importorskip("psycopg")
    url = "postgresql://postgres@127.0.0.1:5432/test"
    try:
        conn = psycopg.connect(url, autocommit=True, connect_timeout=5)
    except psycopg.Error as exc:
        service_unavailable(f"PostgreSQL is not reachable at 127.0.0.1:5432: {exc}")
    table = f"live_{uuid.uuid4().hex[:8]}"
    _, settings, lake, dormant = live_lake
    try:
        frame = LiveScorer(settings, lake).score({dormant, "nobody"}, "b2")
        assert upsert_postgres(url, frame, table=table) == 1
        frame["churn_probability"] = 0.5
        upsert_postgres(url, frame, table=table)
        rows = conn.execute(f"SELECT customer_id, churn_probability FROM {table}").fetchall()
        assert rows == [(dormant, 0.5)]
    finally:
        conn.execute(f"DROP TABLE IF EXISTS {table}")
        conn.close()


def test_no_promoted_model_means_no_live_scores(tmp_path):
    (tmp_path / "patron.toml").write_text('[lake]\npath = "lake"\n')
    settings = Settings.load(tmp_path / "patron.toml")
    scorer = LiveScorer(settings, Lake.from_settings(settings))
    assert scorer({"c1"}, "b") is None and scorer.batches == 0
