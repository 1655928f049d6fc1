"""The probabilistic CLV models reproduce the published CDNOW and donation estimates."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from patron.models.probabilistic import (
    BetaGeoBetaBinomModel,
    BetaGeoModel,
    GammaGammaModel,
    ParetoNBDModel,
)

DATA = Path(__file__).resolve().parents[1] / "data"
CALIBRATION_END = pd.Timestamp("1997-09-30")
HOLDOUT_END = pd.Timestamp("1998-06-30")


@pytest.fixture(scope="module")
def cdnow_summary() -> pd.DataFrame:
    return pd.read_csv(DATA / "cdnow_customers_summary.csv", index_col="ID")


@pytest.fixture(scope="module")
def cdnow_daily() -> pd.DataFrame:
    """CDNOW sample transactions, several purchases of one customer on one day merged."""
    lines = pd.read_csv(
        DATA / "CDNOW_sample.txt",
        sep=r"\s+",
        header=None,
        names=["master_id", "customer_id", "date", "n_cds", "value"],
    )
    lines["date"] = pd.to_datetime(lines["date"].astype(str), format="%Y%m%d")
    daily = lines.groupby(["customer_id", "date"], as_index=False)["value"].sum()
    return daily.sort_values(["customer_id", "date"]).reset_index(drop=True)


def _close(estimate: pd.Series, published: dict[str, float], rel: float) -> None:
    for name, value in published.items():
        assert estimate[name] == pytest.approx(value, rel=rel), name


def test_bgnbd_matches_fader_hardie_lee_2005_on_cdnow(cdnow_summary: pd.DataFrame) -> None:
    model = BetaGeoModel().fit(cdnow_summary)
    _close(model.params_, {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}, 0.005)
    assert model.log_likelihood_ == pytest.approx(-9582.4, abs=0.1)
    assert model.n_customers_ == 2357
    assert model.aic_ == pytest.approx(8 - 2 * model.log_likelihood_)


def test_pareto_nbd_matches_published_cdnow_estimates(cdnow_summary: pd.DataFrame) -> None:
    model = ParetoNBDModel().fit(cdnow_summary)
    _close(model.params_, {"r": 0.553, "alpha": 10.578, "s": 0.606}, 0.01)
    assert model.params_["beta"] == pytest.approx(11.67, rel=0.02)
    assert model.log_likelihood_ == pytest.approx(-9595.0, abs=0.5)


def test_gamma_gamma_matches_iso_value_paper_on_946_repeaters(
    cdnow_daily: pd.DataFrame,
) -> None:
    calibration = cdnow_daily[cdnow_daily["date"] <= CALIBRATION_END]
    repeats = calibration[calibration.groupby("customer_id").cumcount() > 0]
    spend = repeats.groupby("customer_id")["value"].agg(["count", "mean"])
    summary = spend.rename(columns={"count": "frequency", "mean": "monetary_value"})
    assert len(summary) == 946

    model = GammaGammaModel().fit(summary)

    _close(model.params_, {"p": 6.25, "q": 3.74, "v": 15.44}, 0.01)


def test_bgbb_matches_fader_hardie_shang_2010_on_donations() -> None:
    donations = pd.read_csv(DATA / "donations.csv").rename(columns={"periods": "n_periods"})
    model = BetaGeoBetaBinomModel().fit(
        donations[["frequency", "recency", "n_periods"]], weights=donations["weights"]
    )
    _close(
        model.params_, {"alpha": 1.204, "beta": 0.750, "gamma": 0.657, "delta": 2.783}, 0.01
    )
    assert model.n_customers_ == donations["weights"].sum()


def test_bgnbd_tracks_cumulative_repeat_transactions_to_week_78(
    cdnow_summary: pd.DataFrame, cdnow_daily: pd.DataFrame
) -> None:
    first = cdnow_daily.groupby("customer_id")["date"].transform("min")
    repeat = (cdnow_daily["date"] > first) & (cdnow_daily["date"] <= HOLDOUT_END)
    actual = int(repeat.sum())
    assert actual == 4339
    assert int((repeat & (cdnow_daily["date"] <= CALIBRATION_END)).sum()) == 2457

    model = BetaGeoModel().fit(cdnow_summary)
    # Age of each customer at the end of week 78 = age at calibration end + 39.14 weeks.
    holdout_weeks = (HOLDOUT_END - CALIBRATION_END).days / 7
    ages = cdnow_summary["T"].to_numpy() + holdout_weeks
    expected = float(model.expected_purchases_new_customer(ages).sum())

    assert expected == pytest.approx(actual, rel=0.05)

