"""The analytics commands through the real CLI app on a small project."""

from __future__ import annotations

import pandas as pd
from typer.testing import CliRunner

from patron.apps.cli import app

runner = CliRunner()


def _run(project, *args):
    result = runner.invoke(app, ["--config", str(project / "patron.toml"), *args],
                           env={"COLUMNS": "160"})
    return result


def test_rfm_prints_segments_and_writes_scores(small_project):
    out = small_project / "scores.csv"
    result = _run(small_project, "rfm", "--as-of", "2024-10-01", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "RFM segments as of 2024-10-01" in result.output
    assert "total" in result.output
    scores = pd.read_csv(out)
    assert {"customer_id", "r_score", "f_score", "m_score", "segment"} <= set(scores.columns)
    assert scores["r_score"].between(1, 5).all()


def test_rfm_rejects_a_malformed_date(small_project):
    result = _run(small_project, "rfm", "--as-of", "01/10/2024")
    assert result.exit_code != 0
    assert "YYYY-MM-DD" in str(result.exception)


def test_cohorts_prints_a_retention_table(small_project):
    result = _run(small_project, "cohorts", "--period", "month", "--metric", "revenue",
                  "--last", "3", "--periods", "4")
    assert result.exit_code == 0, result.output
    assert "revenue retention by monthly cohort" in result.output
    assert "2024-" in result.output
    weekly = _run(small_project, "cohorts", "--period", "week")
    assert weekly.exit_code == 0, weekly.output
    bad = _run(small_project, "cohorts", "--period", "year")
    assert bad.exit_code != 0
    assert "month, week" in str(bad.exception)


def test_report_command_writes_the_html_file(small_project):
    out = small_project / "report.html"
    result = _run(small_project, "report", "--out", str(out), "--as-of", "2024-12-01")
    assert result.exit_code == 0, result.output
    assert out.exists() and out.stat().st_size > 1_000_000  # plotly.js inlined
    assert '<script src="http' not in out.read_text(encoding="utf-8")


def test_sentiment_command_materialises_post_sentiment(small_project):
    result = _run(small_project, "sentiment")
    assert result.exit_code == 0, result.output
    assert "positive" in result.output
    from patron.lake import Lake

    stored = Lake(small_project / "lake").read("features", "post_sentiment")
    assert len(stored) == 5


def test_demo_steps_are_declared_in_pipeline_order():
    from patron.apps.commands import analytics

    orders = {title: order for order, title, _ in analytics.DEMO_STEPS}
    assert orders["sentiment"] == 15
    assert orders["RFM segments and cohorts"] == 30
    assert orders["report"] == 80


def test_demo_steps_run_on_a_small_project(small_project):
    from datetime import date
    from io import StringIO

    from rich.console import Console

    from patron.apps.commands import analytics
    from patron.apps.demo import DemoContext
    from patron.config import Settings
    from patron.lake import Lake

    settings = Settings.load(small_project / "patron.toml")
    buffer = StringIO()
    ctx = DemoContext(
        directory=small_project, data=small_project / "data", settings=settings,
        lake=Lake.from_settings(settings), console=Console(file=buffer, width=160),
        as_of=date(2024, 12, 1), customers=60, seed=0,
    )
    for _, _, step in sorted(analytics.DEMO_STEPS, key=lambda s: s[0]):
        step(ctx)
    printed = buffer.getvalue()
    assert "sentiment of 5 posts" in printed
    assert "RFM segments as of 2024-12-01" in printed
    assert (small_project / "report.html").exists()
