"""Exports: PostgreSQL upserts, Tableau Hyper extracts, campaign lists, and the CLI."""

from __future__ import annotations

import uuid
from pathlib import Path

import pandas as pd
import pytest

from patron.apps.exports import (
    CAMPAIGN_COLUMNS,
    campaign_frame,
    export_hyper,
    publish_postgres,
    write_campaign,
)

PG_URL = "postgresql://postgres@127.0.0.1:5432/test"


@pytest.fixture
def pg_schema(unavailable):
    """A fresh PostgreSQL schema, dropped after the test."""
    psycopg = pytest.importorskip("psycopg")
    try:
        conn = psycopg.connect(PG_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        unavailable(f"PostgreSQL at 127.0.0.1:5432 is not reachable: {exc}")
    schema = f"patron_test_{uuid.uuid4().hex[:10]}"
    try:
        yield conn, schema
    finally:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        conn.close()


@pytest.mark.services
def test_republishing_updates_rows_instead_of_duplicating(pg_schema, demo_db) -> None:
    conn, schema = pg_schema
    first = publish_postgres(demo_db, PG_URL, schema=schema)
    customers = demo_db.scalar("SELECT count(*) FROM customer_scores")
    assert first.sent == {"segments": customers, "clv": customers, "scores": customers}
    assert first.changed["scores"] == customers

    conn.execute(f'UPDATE "{schema}".patron_scores SET churn_probability = -1, '
                 "updated_at = '2000-01-01' WHERE customer_id IN (SELECT customer_id FROM "
                 f'"{schema}".patron_scores ORDER BY customer_id LIMIT 5)')
    second = publish_postgres(demo_db, PG_URL, schema=schema)
    assert second.changed == {"segments": 0, "clv": 0, "scores": 5}

    rows, distinct, stale = conn.execute(
        f'SELECT count(*), count(DISTINCT customer_id), count(*) FILTER (WHERE updated_at < '
        f"'2001-01-01') FROM \"{schema}\".patron_scores").fetchone()
    assert rows == distinct == customers
    assert stale == 0
    churn = demo_db.sql("SELECT customer_id, churn_probability FROM customer_scores "
                        "WHERE churn_probability IS NOT NULL ORDER BY customer_id LIMIT 20")
    published = dict(conn.execute(
        f'SELECT customer_id, churn_probability FROM "{schema}".patron_scores '
        "WHERE customer_id = ANY(%s)", [list(churn["customer_id"])]).fetchall())
    for row in churn.itertuples():
        assert published[row.customer_id] == pytest.approx(row.churn_probability)
    indexes = {r[0] for r in conn.execute(
        "SELECT indexname FROM pg_indexes WHERE schemaname = %s", [schema]).fetchall()}
    assert {"patron_scores_risk", "patron_segments_segment", "patron_clv_clv"} <= indexes


@pytest.mark.services
def test_publish_rejects_a_malicious_schema_name(demo_db) -> None:
    from patron.errors import PatronError

    with pytest.raises(PatronError, match="schema"):
        publish_postgres(demo_db, PG_URL, schema='x"; DROP TABLE y; --')


def test_hyper_extract_reads_back_the_same_rows_and_values(tmp_path: Path, demo_db) -> None:
    hyperapi = pytest.importorskip("tableauhyperapi")
    path = tmp_path / "scores.hyper"
    result = export_hyper(demo_db, path)
    expected = demo_db.sql("SELECT customer_id, churn_probability, clv, segment "
                           "FROM customer_scores ORDER BY customer_id")
    assert result.rows == len(expected)
    with hyperapi.HyperProcess(
        telemetry=hyperapi.Telemetry.DO_NOT_SEND_USAGE_DATA_TO_TABLEAU
    ) as hyper, hyperapi.Connection(hyper.endpoint, path) as conn:
        count = conn.execute_scalar_query('SELECT count(*) FROM "Extract"."Extract"')
        rows = conn.execute_list_query(
            'SELECT customer_id, churn_probability, clv, segment FROM "Extract"."Extract" '
            "ORDER BY customer_id")
    assert count == len(expected)
    got = pd.DataFrame(rows, columns=["customer_id", "churn_probability", "clv", "segment"])
    assert got["customer_id"].tolist() == expected["customer_id"].tolist()
    assert got["segment"].fillna("").tolist() == expected["segment"].fillna("").tolist()
    for column in ("churn_probability", "clv"):
        pd.testing.assert_series_equal(got[column].astype(float), expected[column].astype(float),
                                       check_names=False)


def test_campaign_list_filters_by_risk_segment_region_and_clv(demo_db) -> None:
    frame = campaign_frame(demo_db, risk="high", region="EU", min_clv=100.0)
    expected = demo_db.scalar(
        "SELECT count(*) FROM customer_scores WHERE churn_probability >= 0.5 "
        "AND region = 'EU' AND clv >= 100")
    assert list(frame.columns) == list(CAMPAIGN_COLUMNS)
    assert len(frame) == expected > 0
    assert (frame["clv"] >= 100).all() and set(frame["risk"]) == {"high"}
    segment = frame["segment"].iloc[0]
    narrowed = campaign_frame(demo_db, risk="high", region="EU", min_clv=100.0,
                              segment=segment.upper())
    assert len(narrowed) == (frame["segment"] == segment).sum()


def test_campaign_list_opted_in_only_drops_opted_out(demo_db) -> None:
    everyone = campaign_frame(demo_db, risk="medium")
    opted_in = campaign_frame(demo_db, risk="medium", opted_in_only=True)
    assert len(opted_in) == int((everyone["email_opt_in"] == True).sum())  # noqa: E712
    assert opted_in["email_opt_in"].all()


@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_campaign_file_round_trips(tmp_path: Path, demo_db, suffix: str) -> None:
    frame = campaign_frame(demo_db, risk="high")
    path = write_campaign(frame, tmp_path / f"campaign.{suffix}")
    back = pd.read_csv(path) if suffix == "csv" else pd.read_parquet(path)
    assert back["customer_id"].tolist() == frame["customer_id"].tolist()
    assert back["top_reason"].tolist() == frame["top_reason"].tolist()


def test_cli_exports_a_campaign_list(demo_project: Path, tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from patron.apps.cli import app

    monkeypatch.chdir(demo_project)
    out = tmp_path / "high.csv"
    result = CliRunner().invoke(app, ["export", "campaign", "--risk", "high", "--min-clv",
                                      "200", "--format", "csv", "--out", str(out)])
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(out)
    assert len(frame) > 0 and (frame["risk"] == "high").all() and (frame["clv"] >= 200).all()
    assert frame["email_opt_in"].all()
    bad = CliRunner().invoke(app, ["export", "campaign", "--risk", "extreme", "--out",
                                   str(out)])
    assert bad.exit_code != 0


def test_demo_wrote_a_campaign_list(demo_project: Path) -> None:
    frame = pd.read_csv(demo_project / "campaign.csv")
    assert list(frame.columns) == list(CAMPAIGN_COLUMNS)
    assert frame["email_opt_in"].all()
