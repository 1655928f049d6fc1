"""Probabilistic CLV on a synthetic lake: predictions checked against the realised future."""

from __future__ import annotations

from datetime import date

import duckdb
import pytest

import patron
from patron.apps.cli import ingest_paths
from patron.config import Settings
from patron.lake import Lake
from patron.models.probabilistic import score_clv
from patron.synth import generate

AS_OF = date(2026, 4, 1)


@pytest.fixture(scope="module")
def synthetic_lake(tmp_path_factory):
    root = tmp_path_factory.mktemp("clv")
    (root / "patron.toml").write_text('[lake]\npath = "lake"\n')
    settings = Settings.load(root / "patron.toml")
    generate(root / "data", customers=3000, seed=7, sources=("customers", "orders"))
    lake = Lake.from_settings(settings)
    ingest_paths(lake, settings, [root / "data"])
    return settings, lake


def test_expected_purchases_track_the_realised_holdout(synthetic_lake):
    settings, lake = synthetic_lake
    con = patron.connect(settings, lake=lake)
    scores = score_clv(con, as_of=AS_OF, horizon_months=6)
    scored = scores.table
    assert scored["customer_id"].is_unique
    assert scored["p_alive"].between(0, 1).all() and (scored["clv"] >= 0).all()

    # realised purchase days per customer in the six months after the cut-off, by SQL
    realised = duckdb.sql(
        f"""
        SELECT count(DISTINCT (customer_id, CAST(ts AS DATE)))
        FROM {lake.scan_sql("raw", "orders")}
        WHERE customer_id IS NOT NULL AND status <> 'cancelled' AND quantity > 0
          AND ts >= DATE '{AS_OF}' AND ts < DATE '{AS_OF}' + INTERVAL 6 MONTH
          AND customer_id IN (SELECT customer_id FROM scored)
        """
    ).fetchone()[0]
    predicted = scored["expected_purchases"].sum()
    assert realised > 1000
    assert predicted == pytest.approx(realised, rel=0.2)


def test_customers_after_the_cut_off_are_not_scored(synthetic_lake):
    settings, lake = synthetic_lake
    con = patron.connect(settings, lake=lake)
    table = score_clv(con, as_of=AS_OF, horizon_months=3).table
    first_purchase = duckdb.sql(
        f"SELECT customer_id, min(ts) AS first FROM {lake.scan_sql('raw', 'orders')} "
        "WHERE customer_id IS NOT NULL GROUP BY 1"
    ).df()
    late = set(first_purchase.loc[first_purchase["first"] >= str(AS_OF), "customer_id"])
    assert late and not late & set(table["customer_id"])
