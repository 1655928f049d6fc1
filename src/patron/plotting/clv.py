"""Diagnostic charts of the probabilistic CLV models (Plotly figure builders).

Each function takes a fitted model and the data it should explain and returns a
``go.Figure``; nothing is shown or written here. Times are in the summary's periods.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go


def calibration_vs_holdout(
    model: Any, calibration: pd.DataFrame, holdout_purchases: Any, holdout_length: float,
    *, max_frequency: int = 7,
) -> go.Figure:
    """Mean holdout purchases, actual vs. model, by calibration frequency (Fader et al. 2005,
    fig. 5). ``holdout_length`` is the holdout period in periods; frequencies above
    ``max_frequency`` are pooled into the last group."""
    predicted = np.asarray(model.conditional_expected_purchases(calibration, holdout_length))
    group = np.minimum(calibration["frequency"].to_numpy(), max_frequency).astype(int)
    table = pd.DataFrame(
        {"group": group, "actual": np.asarray(holdout_purchases, float), "model": predicted}
    ).groupby("group")[["actual", "model"]].mean()
    labels = [f"{g}+" if g == max_frequency else str(g) for g in table.index]
    fig = go.Figure(
        [
            go.Scatter(x=labels, y=table["actual"], name="actual", mode="lines+markers"),
            go.Scatter(x=labels, y=table["model"], name=type(model).__name__,
                       mode="lines+markers", line={"dash": "dash"}),
        ]
    )
    fig.update_layout(
        title="Conditional expectations: holdout purchases by calibration frequency",
        xaxis_title="purchases in calibration", yaxis_title="mean purchases in holdout",
    )
    return fig


def _expected_repeat_curve(model: Any, first_purchase: np.ndarray, times: np.ndarray
                           ) -> np.ndarray:
    """Expected cumulative repeat purchases of the cohort at each time (periods since the
    cohort's start): the sum over customers of E[X(time - first purchase)]."""
    ages = np.clip(times[None, :] - first_purchase[:, None], 0.0, None)
    return np.asarray(model.expected_purchases_new_customer(ages)).sum(axis=0)


def repeat_transactions(
    model: Any, first_purchase: Any, repeat_times: Any, *, end: float,
    calibration_end: float | None = None, step: float = 1.0, cumulative: bool = True,
) -> go.Figure:
    """Actual vs. model repeat transactions of a cohort over time (Fader et al. 2005,
    fig. 3 and 4). ``first_purchase`` holds each customer's first purchase time and
    ``repeat_times`` the times of all repeat transactions, in periods since the cohort
    start; ``end`` is the last period shown. ``cumulative=False`` plots per-step counts."""
    times = np.arange(0.0, end + step, step)
    model_curve = _expected_repeat_curve(model, np.asarray(first_purchase, float), times)
    repeats = np.sort(np.asarray(repeat_times, float))
    actual_curve = np.searchsorted(repeats, times, side="right").astype(float)
    if not cumulative:
        model_curve, actual_curve, times = np.diff(model_curve), np.diff(actual_curve), times[1:]
    fig = go.Figure(
        [
            go.Scatter(x=times, y=actual_curve, name="actual"),
            go.Scatter(x=times, y=model_curve, name=type(model).__name__,
                       line={"dash": "dash"}),
        ]
    )
    if calibration_end is not None:
        fig.add_vline(x=calibration_end, line_dash="dot", annotation_text="end of calibration")
    kind = "cumulative" if cumulative else "incremental"
    fig.update_layout(title=f"Tracking {kind} repeat transactions", xaxis_title="period",
                      yaxis_title=f"{kind} repeat transactions")
    return fig


def _grid(model: Any, age: float, max_frequency: int, n_recency: int
          ) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    frequencies = np.arange(max_frequency + 1, dtype=float)
    recencies = np.linspace(0.0, age, n_recency)
    f, r = np.meshgrid(frequencies, recencies, indexing="ij")
    # Customers without repeat purchases have recency 0 by definition.
    r = np.where(f == 0, 0.0, r)
    grid = pd.DataFrame({"frequency": f.ravel(), "recency": r.ravel(), "T": age})
    return frequencies, recencies, grid


def probability_alive_heatmap(
    model: Any, *, age: float, max_frequency: int = 20, n_recency: int = 40
) -> go.Figure:
    """P(alive) over frequency x recency for customers of age ``age`` (periods)."""
    frequencies, recencies, grid = _grid(model, age, max_frequency, n_recency)
    z = np.asarray(model.probability_alive(grid)).reshape(frequencies.size, recencies.size)
    fig = go.Figure(go.Heatmap(x=recencies, y=frequencies, z=z, zmin=0, zmax=1,
                               colorbar={"title": "P(alive)"}))
    fig.update_layout(title=f"Probability alive, customers of age {age:g}",
                      xaxis_title="recency (periods)", yaxis_title="frequency")
    return fig


def expected_purchases_heatmap(
    model: Any, *, age: float, horizon: float, max_frequency: int = 20, n_recency: int = 40
) -> go.Figure:
    """Expected purchases in the next ``horizon`` periods over frequency x recency."""
    frequencies, recencies, grid = _grid(model, age, max_frequency, n_recency)
    z = np.asarray(model.conditional_expected_purchases(grid, horizon))
    z = z.reshape(frequencies.size, recencies.size)
    fig = go.Figure(go.Heatmap(x=recencies, y=frequencies, z=z,
                               colorbar={"title": "purchases"}))
    fig.update_layout(title=f"Expected purchases in the next {horizon:g} periods",
                      xaxis_title="recency (periods)", yaxis_title="frequency")
    return fig


def spend_fit(model: Any, summary: pd.DataFrame, *, n_points: int = 200) -> go.Figure:
    """Observed distribution of average spend vs. the Gamma-Gamma model's, over the
    customers with repeat purchases (Fader, Hardie & Lee 2005b, fig. 2); currency units."""
    repeaters = summary[summary["frequency"] > 0]
    spend = repeaters["monetary_value"].to_numpy(float)
    grid = np.linspace(spend.min() * 0.5, np.quantile(spend, 0.99) * 1.5, n_points)
    # Mixture over the customers' frequencies of the model density of average spend.
    counts = repeaters["frequency"].value_counts(normalize=True)
    density = sum(
        share * np.asarray(model.spend_density(grid, x)) for x, share in counts.items()
    )
    fig = go.Figure(
        [
            go.Histogram(x=spend, histnorm="probability density", name="observed",
                         opacity=0.6),
            go.Scatter(x=grid, y=density, name="Gamma-Gamma"),
        ]
    )
    fig.update_layout(title="Average transaction value: observed vs. model",
                      xaxis_title="average spend per transaction", yaxis_title="density")
    return fig
