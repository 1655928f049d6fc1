"""Every dashboard page renders on a demo lake, and its headline numbers equal the same
numbers computed with independent SQL straight from the lake's Parquet files."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest

from patron.apps.dashboard import APP, PAGES, VIEWS, _data
from patron.apps.dashboard._ui import count, money, share
from patron.config import DEFAULT_TOML, Settings
from patron.lake import Lake

streamlit_testing = pytest.importorskip("streamlit.testing.v1")
AppTest = streamlit_testing.AppTest


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, demo_config: Path) -> Path:
    monkeypatch.setenv("PATRON_CONFIG", str(demo_config))
    return demo_config


@pytest.fixture(scope="module")
def sql(demo_config: Path):
    """Independent SQL: a fresh DuckDB reading the lake's committed files directly."""
    lake = Lake.from_settings(Settings.load(demo_config))
    con = duckdb.connect()

    clv_column = None
    if lake.has_table("scores", "clv"):
        names = [r[0] for r in con.execute(
            f"DESCRIBE SELECT * FROM {lake.scan_sql('scores', 'clv')}").fetchall()]
        clv_column = next(n for n in names if n.startswith("clv"))
    regression = (f"(SELECT customer_id, {clv_column} AS clv FROM "
                  f"{lake.scan_sql('scores', 'clv')})" if clv_column
                  else "(SELECT NULL::VARCHAR AS customer_id, NULL::DOUBLE AS clv)")
    # CLV as the apps define it: regression CLV when scored, else the probabilistic one
    clv_sql = (f"(SELECT customer_id, greatest(coalesce(r.clv, v.clv), 0) AS clv FROM "
               f"(SELECT customer_id FROM {regression} UNION SELECT customer_id FROM "
               f"<scores/lifetime_value>) ids LEFT JOIN {regression} r USING (customer_id) "
               f"LEFT JOIN <scores/lifetime_value> v USING (customer_id) "
               f"WHERE coalesce(r.clv, v.clv) IS NOT NULL)")

    def run(query: str, params: list | None = None):
        query = query.replace("<clv>", clv_sql)
        for layer, table in (("clean", "orders"), ("clean", "customers"),
                             ("scores", "churn"), ("scores", "lifetime_value"),
                             ("scores", "segments"), ("clean", "sessions")):
            query = query.replace(f"<{layer}/{table}>", lake.scan_sql(layer, table))
        return con.execute(query, params or []).fetchall()

    return run


def render(script: str, **state) -> AppTest:
    at = AppTest.from_file(str(VIEWS / script), default_timeout=120)
    for key, value in state.items():
        at.session_state[key] = value
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


@pytest.mark.parametrize("script", [p[0] for p in PAGES])
def test_every_page_renders_without_exception(env: Path, script: str) -> None:
    render(script)


def test_navigation_app_renders_the_overview_by_default(env: Path) -> None:
    at = AppTest.from_file(str(APP), default_timeout=120).run()
    assert not at.exception
    assert at.title[0].value == "Overview"


def test_overview_headline_numbers_match_independent_sql(env: Path, sql, demo_db) -> None:
    start, end = date(2026, 1, 1), date(2026, 10, 1)
    at = render("overview.py", overview_range=(start, end))
    customers, = sql("SELECT count(DISTINCT customer_id) FROM <clean/customers>")[0]
    active, orders, revenue = sql(
        "SELECT count(DISTINCT customer_id) FILTER (WHERE status = 'completed'), "
        "count(DISTINCT order_id) FILTER (WHERE status = 'completed'), sum(net_revenue) "
        "FROM <clean/orders> WHERE ts >= ? AND ts < ?", [start, end])[0]
    predicted_churn, = sql("SELECT avg(churn_probability) FROM <scores/churn>")[0]
    assert metric(at, "Customers") == count(customers)
    assert metric(at, "Active customers") == count(active)
    assert metric(at, "Orders") == count(orders)
    assert metric(at, "Net revenue") == money(revenue)
    assert metric(at, "Average order value") == money(revenue / orders)
    assert metric(at, "Predicted churn rate") == share(predicted_churn)

    kpis = _data.overview_kpis(demo_db, start, end).iloc[0]
    assert kpis["revenue"] == pytest.approx(revenue)
    assert kpis["predicted_churn_rate"] == pytest.approx(predicted_churn)


def test_observed_churn_rate_counts_buyers_who_stopped(demo_db, sql) -> None:
    end = date(2026, 10, 1)
    horizon, lookback = end - timedelta(days=90), end - timedelta(days=455)
    base, churned = sql(
        """WITH b AS (SELECT DISTINCT customer_id FROM <clean/orders> WHERE status = 'completed'
                      AND customer_id IS NOT NULL AND ts >= ? AND ts < ?),
                r AS (SELECT DISTINCT customer_id FROM <clean/orders> WHERE status = 'completed'
                      AND customer_id IS NOT NULL AND ts >= ? AND ts < ?)
           SELECT (SELECT count(*) FROM b),
                  (SELECT count(*) FROM b WHERE customer_id NOT IN (SELECT customer_id FROM r))
        """, [lookback, horizon, horizon, end])[0]
    kpis = _data.overview_kpis(demo_db, date(2025, 10, 1), end).iloc[0]
    assert 0 < churned < base
    assert kpis["observed_churn_rate"] == pytest.approx(churned / base)


def test_weekly_trend_adds_up_to_the_range_revenue(demo_db, sql) -> None:
    start, end = date(2026, 4, 1), date(2026, 7, 1)
    trend = _data.revenue_trend(demo_db, start, end, "week")
    revenue, = sql("SELECT sum(net_revenue) FROM <clean/orders> WHERE ts >= ? AND ts < ?",
                   [start, end])[0]
    assert trend["revenue"].sum() == pytest.approx(revenue)


def test_segments_page_shows_rfm_and_kmeans_sizes(env: Path, sql, demo_db) -> None:
    at = render("segments.py")
    k_segments, = sql("SELECT count(DISTINCT segment) FROM <scores/segments>")[0]
    assert metric(at, "K-Means segments") == str(k_segments)
    summary = _data.segment_summary(demo_db, "model")
    independent = dict(sql("SELECT segment, count(*) FROM <scores/segments> GROUP BY 1"))
    assert dict(zip(summary["segment"], summary["customers"], strict=True)) == independent
    rfm = _data.segment_summary(demo_db, "rfm")
    assert rfm["customer_share"].sum() == pytest.approx(1.0)
    assert rfm["revenue_share"].sum() == pytest.approx(1.0)
    assert metric(at, "RFM segments") == str(len(rfm))


def test_churn_page_counts_customers_per_risk_band(env: Path, sql) -> None:
    at = render("churn.py")
    bands = dict(sql(
        "SELECT CASE WHEN churn_probability >= 0.5 THEN 'high' "
        "WHEN churn_probability >= 0.25 THEN 'medium' ELSE 'low' END, count(*) "
        "FROM <scores/churn> GROUP BY 1"))
    for band in ("high", "medium", "low"):
        assert metric(at, f"{band.capitalize()} risk") == f"{bands[band]:,}"


def test_churn_page_filters_by_region_and_min_clv(demo_db, sql) -> None:
    filters = {"region": ("EU",), "risk": ("high",), "min_clv": 100.0}
    expected, = sql(
        """SELECT count(*) FROM <scores/churn> s
           JOIN (SELECT DISTINCT customer_id, region FROM <clean/customers>) c USING (customer_id)
           JOIN <clv> v USING (customer_id)
           WHERE s.churn_probability >= 0.5 AND c.region = 'EU' AND v.clv >= 100""")[0]
    assert _data.count_matching(demo_db, **filters) == expected
    page = _data.at_risk_customers(demo_db, limit=10, **filters)
    assert len(page) == min(10, expected)
    assert page["churn_probability"].is_monotonic_decreasing
    assert set(page["region"]) <= {"EU"}


def test_top_reasons_count_each_customer_once_per_reason(demo_db, sql) -> None:
    import re

    reasons = _data.top_reasons(demo_db, 10, risk=("high",))
    rows = sql("SELECT customer_id, reason_1, reason_2, reason_3 FROM <scores/churn> "
               "WHERE churn_probability >= 0.5")
    counts: dict[str, set] = {}
    for customer_id, *texts in rows:
        for text in texts:
            if text:
                label = re.sub(r"=[^(]*", " ", text).strip()
                counts.setdefault(label, set()).add(customer_id)
    expected = sorted(((len(v), k) for k, v in counts.items()), key=lambda t: (-t[0], t[1]))
    got = list(zip(reasons["customers"], reasons["reason"], strict=True))
    assert got == expected[:10]


def test_customer_360_shows_the_customers_scores_and_history(env: Path, sql) -> None:
    customer_id, probability, reason = sql(
        "SELECT customer_id, churn_probability, reason_1 FROM <scores/churn> "
        "ORDER BY customer_id LIMIT 1")[0]
    at = render("customer.py", customer_search=customer_id)
    assert at.header[0].value == customer_id
    assert metric(at, "Churn probability") == share(probability)
    assert reason in at.markdown[0].value
    orders, = sql("SELECT count(DISTINCT order_id) FROM <clean/orders> WHERE customer_id = ?",
                  [customer_id])[0]
    timeline = at.dataframe[0].value
    assert (timeline["kind"] == "order").sum() == orders


def test_customer_360_says_when_no_id_matches(env: Path) -> None:
    at = render("customer.py", customer_search="NO-SUCH-CUSTOMER")
    assert "No customer id starts with" in at.warning[0].value


def test_cohort_page_counts_first_purchase_months(env: Path, sql) -> None:
    at = render("cohorts.py")
    cohorts, = sql("SELECT count(DISTINCT date_trunc('month', first)) FROM (SELECT "
                   "customer_id, min(ts) AS first FROM <clean/orders> WHERE status = 'completed' "
                   "AND customer_id IS NOT NULL GROUP BY 1)")[0]
    assert metric(at, "Cohorts") == f"{cohorts:,}"


def test_clv_page_totals_match_the_lifetime_value_table(env: Path, sql) -> None:
    at = render("clv.py")
    n, total, mean = sql("SELECT count(*), sum(clv), avg(clv) FROM <clv>")[0]
    assert metric(at, "Customers valued") == count(n)
    assert metric(at, "Total CLV") == money(total)
    assert metric(at, "Mean CLV") == money(mean)


def test_conversion_rates_match_independent_sql(demo_db, sql) -> None:
    rates = _data.conversion(demo_db, "device")
    expected = dict((k, (n, c)) for k, n, c in sql(
        "SELECT coalesce(nullif(lower(trim(device)), ''), 'unknown'), count(*), "
        "count(*) FILTER (WHERE converted) FROM <clean/sessions> GROUP BY 1"))
    got = {r.device: (r.sessions, r.conversions) for r in rates.itertuples()}
    assert got == expected


def test_quality_page_accounting_adds_up(env: Path, demo_db) -> None:
    at = render("quality.py")
    accounting = _data.ingest_accounting(demo_db)
    assert (accounting["rows_read"] == accounting["accepted"] + accounting["quarantined"]).all()
    assert metric(at, "Quarantined") == count(accounting["quarantined"].sum())
    reasons = _data.quarantine_reasons(demo_db)
    assert reasons["rows"].sum() == accounting["quarantined"].sum()


def test_models_page_shows_registry_versions_and_evaluation(
    env: Path, demo_db, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    import patron.apps._registry as registry

    root = tmp_path / "_models"
    version = root / "churn" / "v1"
    version.mkdir(parents=True)
    (version / "meta.json").write_text(json.dumps({
        "name": "churn", "version": "v1", "created_at": "2026-10-01T00:00:00+00:00",
        "estimator": "ChurnModel", "params": {}, "features": ["recency_days"],
        "metrics": {"backtest": {"roc_auc": 0.81, "brier": 0.12}}, "path": str(version),
    }))
    (version / "evaluation.json").write_text(json.dumps({"tables": {
        "confusion_at_capacity": [{"actual": "actual 0", "predicted 0": 50, "predicted 1": 10},
                                  {"actual": "actual 1", "predicted 0": 8, "predicted 1": 32}],
        "calibration": [{"bin": 1, "customers": 50, "mean_predicted": 0.1,
                         "observed_rate": 0.12},
                        {"bin": 2, "customers": 50, "mean_predicted": 0.8,
                         "observed_rate": 0.75}],
    }}))
    (root / "churn" / "promoted.json").write_text(json.dumps({"version": "v1"}))
    monkeypatch.setattr(registry, "registry_path", lambda db: root)
    models = registry.list_models(demo_db)
    assert models.loc[0, "metric_roc_auc"] == pytest.approx(0.81)
    assert models.loc[0, "model_version"] == "churn-v1"
    at = render("models.py")
    assert metric(at, "Model versions") == "1"
    assert len(at.get("plotly_chart")) == 2


def test_pages_on_an_empty_lake_say_which_command_produces_the_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "patron.toml").write_text(DEFAULT_TOML, encoding="utf-8")
    Lake(tmp_path / "lake").init()
    monkeypatch.setenv("PATRON_CONFIG", str(tmp_path / "patron.toml"))
    for script, *_ in PAGES:
        at = AppTest.from_file(str(VIEWS / script), default_timeout=60).run()
        assert not at.exception, (script, [e.value for e in at.exception])
        if script == "customer.py":
            continue
        messages = " ".join(str(i.value) for i in at.info)
        assert "patron " in messages, (script, messages)
