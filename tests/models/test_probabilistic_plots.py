"""The CLV diagnostic charts build figures whose data match the models."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import pytest

from patron.models.probabilistic import (
    BetaGeoModel,
    GammaGammaModel,
    simulate_beta_geo,
    simulate_gamma_gamma,
)
from patron.plotting import clv as charts


@pytest.fixture(scope="module")
def fitted() -> tuple[BetaGeoModel, object]:
    summary = simulate_beta_geo(2000, 0.5, 5.0, 1.0, 3.0, T=40.0, random_state=1)
    return BetaGeoModel().fit(summary), summary


def test_probability_alive_heatmap_spans_frequency_by_recency(fitted) -> None:
    model, _ = fitted
    fig = charts.probability_alive_heatmap(model, age=40.0, max_frequency=10, n_recency=5)
    z = np.asarray(fig.data[0].z)
    assert isinstance(fig, go.Figure) and z.shape == (11, 5)
    # At a given frequency, the more recent the last purchase the more likely alive.
    assert np.all(np.diff(z[5]) > 0)


def test_expected_purchases_heatmap_and_calibration_chart(fitted) -> None:
    model, summary = fitted
    fig = charts.expected_purchases_heatmap(model, age=40.0, horizon=10.0, max_frequency=5)
    assert np.asarray(fig.data[0].z).shape == (6, 40)
    holdout = np.random.default_rng(0).poisson(1.0, len(summary))
    fig = charts.calibration_vs_holdout(model, summary, holdout, 20.0, max_frequency=4)
    assert [trace.name for trace in fig.data] == ["actual", "BetaGeoModel"]
    assert list(fig.data[0].x) == ["0", "1", "2", "3", "4+"]


def test_repeat_transaction_tracking_counts_actuals(fitted) -> None:
    model, _ = fitted
    first = np.array([0.0, 1.0, 2.0])
    repeats = np.array([3.0, 5.0, 5.5])
    fig = charts.repeat_transactions(model, first, repeats, end=6.0, calibration_end=4.0)
    assert list(fig.data[0].y) == [0, 0, 0, 1, 1, 2, 3]
    model_curve = np.asarray(fig.data[1].y)
    assert model_curve[0] == 0 and np.all(np.diff(model_curve) > 0)
    weekly = charts.repeat_transactions(model, first, repeats, end=6.0, cumulative=False)
    assert list(weekly.data[0].y) == [0, 0, 1, 0, 1, 1]


def test_spend_fit_density_integrates_to_about_one() -> None:
    rng = np.random.default_rng(2)
    frequency = rng.poisson(2.0, 3000) + 1.0
    spend = simulate_gamma_gamma(frequency, 6.0, 4.0, 15.0, random_state=3)
    import pandas as pd

    summary = pd.DataFrame({"frequency": frequency, "monetary_value": spend})
    model = GammaGammaModel().fit(summary)
    fig = charts.spend_fit(model, summary, n_points=2000)
    grid, density = np.asarray(fig.data[1].x), np.asarray(fig.data[1].y)
    assert np.trapezoid(density, grid) == pytest.approx(1.0, abs=0.03)
