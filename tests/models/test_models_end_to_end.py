"""Synthetic data → ingest → clean → train → evaluate → score, through the CLI."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from patron.apps.cli import app

runner = CliRunner()


def _run(*args: str) -> str:
    result = runner.invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module")
def synthetic_project(tmp_path_factory) -> Path:
    """2,000 synthetic customers ingested and cleaned, in a project folder."""
    import os

    from patron.apps.cli import ingest_paths
    from patron.clean import clean_lake
    from patron.config import DEFAULT_TOML, Settings
    from patron.lake import Lake
    from patron.synth import generate

    root = tmp_path_factory.mktemp("models_e2e")
    # two training snapshots instead of three keep the test quick
    (root / "patron.toml").write_text(
        DEFAULT_TOML.replace("training_cutoffs = 3", "training_cutoffs = 2"), encoding="utf-8")
    generate(root / "data", customers=2000, seed=3)
    settings = Settings.load(root / "patron.toml")
    lake = Lake.from_settings(settings)
    lake.init()
    ingest_paths(lake, settings, [root / "data"])
    clean_lake(settings)
    previous = Path.cwd()
    os.chdir(root)
    yield root
    os.chdir(previous)


@pytest.mark.slow  # ~40 s: synthesis, ingest, cleaning and three trainings
def test_train_churn_score_and_promote(synthetic_project: Path):
    out = _run("train", "churn", "--as-of", "2026-10-01", "--truth",
               str(synthetic_project / "data/ground_truth.parquet"))
    assert "churn = bought in the 365 days before the cut-off" in out
    assert "best achievable" in out
    from patron.config import Settings
    from patron.models.registry import ModelRegistry

    registry = ModelRegistry.from_settings(Settings.load())
    record = registry.get("churn")
    metrics = record.metrics["backtest"]
    truth = record.metrics["comparisons"]["ground_truth"]
    assert metrics["roc_auc"] > 0.8  # synthetic churn is learnable...
    assert truth["oracle_roc_auc"] >= metrics["roc_auc"] - 0.01  # ...but not beyond the truth
    assert record.training["cutoffs"] == ["2026-07-03", "2026-05-04"]
    assert record.training["backtest_test_cutoff"] == "2026-07-03"
    report = Path(record.path) / "evaluation.html"
    assert "plotly" in report.read_text() and (Path(record.path) / "evaluation.json").exists()

    _run("train", "segments", "--as-of", "2026-10-01")
    out = _run("score", "--as-of", "2026-10-01")
    assert "scores/churn" in out and "scores/segments" in out
    from patron.lake import Lake

    lake = Lake.from_settings(Settings.load())
    churn = lake.read("scores", "churn")
    assert churn["customer_id"].is_unique
    assert {"customer_id", "churn_probability", "model_version", "as_of", "reason_1",
            "reason_2", "reason_3"} <= set(churn.columns)
    assert set(churn["model_version"]) == {"churn-v1"}
    assert churn["churn_probability"].between(0, 1).all()
    assert churn["reason_1"].str.contains(r"=.* \([+-]\)$").all()
    segments = lake.read("scores", "segments")
    assert len(segments) == len(churn) and segments["segment"].notna().all()

    _run("train", "churn", "--as-of", "2026-10-01", "--algorithm", "logistic",
         "--no-promote")
    assert "v2" in _run("models", "list")
    _run("models", "promote", "churn", "v2")
    assert '"version": "v2"' in _run("models", "show", "churn")
    out = _run("evaluate", "churn")
    assert "roc_auc" in out


def test_train_on_a_user_table_prints_cross_validated_metrics(tmp_path, project):
    import numpy as np

    rng = np.random.default_rng(0)
    n = 300
    recency = rng.exponential(60, n)
    table = pd.DataFrame({
        "customer": [f"cust{i}" for i in range(n)],
        "recency": [f"{v:.1f}" for v in recency],
        "plan": rng.choice(["basic", "pro", ""], n),
        "churned": np.where(rng.random(n) < 1 / (1 + np.exp(-(recency / 30 - 2))), "Yes", "No"),
    })
    path = tmp_path / "customers.csv"
    table.to_csv(path, index=False)
    out = _run("train", "churn", "--table", str(path), "--target", "churned")
    assert "5-fold cross-validation" in out and "roc_auc" in out
    assert "positive class 'Yes'" in " ".join(out.split())
    result = runner.invoke(app, ["train", "churn", "--table", str(path), "--target", "left"])
    assert result.exit_code != 0 and "target column 'left'" in str(result.exception)
