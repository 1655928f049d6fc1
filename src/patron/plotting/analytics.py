"""Charts of the analytics stage: data quality, distributions, trends, RFM, cohorts,
conversion and sentiment.

Every builder takes an aggregated pandas frame (the output of a
:mod:`patron.analytics` function, executed) and returns a ``plotly.graph_objects.Figure``
with titled axes and units. Nothing here queries data, so builders are cheap to test and
reuse in the dashboard.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

TEMPLATE = "plotly_white"
HEIGHT = 420
SENTIMENT_COLOURS = {"negative": "#d62728", "neutral": "#9e9e9e", "positive": "#2ca02c"}


def _layout(fig: go.Figure, title: str, **kwargs: object) -> go.Figure:
    fig.update_layout(
        title=title, template=TEMPLATE, height=kwargs.pop("height", HEIGHT),
        margin={"l": 60, "r": 30, "t": 60, "b": 50}, **kwargs,
    )
    return fig


# -- data overview and quality -------------------------------------------------------


def table_rows_bar(overview: pd.DataFrame) -> go.Figure:
    """Rows per lake table; ``overview`` has ``layer, table, rows``."""
    fig = go.Figure()
    for layer, part in overview.groupby("layer", sort=False):
        fig.add_bar(x=part["table"], y=part["rows"], name=str(layer))
    fig.update_yaxes(title="rows", type="log")
    return _layout(fig, "Rows per table (log scale)", barmode="group")


def missingness_heatmap(missing: pd.DataFrame) -> go.Figure:
    """Share of missing values per (table, column); ``missing`` has ``table, column,
    missing_share`` (0–1)."""
    matrix = missing.pivot_table(index="table", columns="column", values="missing_share")
    fig = go.Figure(
        go.Heatmap(
            z=matrix.to_numpy() * 100.0,
            x=list(matrix.columns),
            y=list(matrix.index),
            colorscale="Reds",
            zmin=0,
            zmax=100,
            colorbar={"title": "% missing"},
            hovertemplate="%{y}.%{x}: %{z:.1f}% missing<extra></extra>",
        )
    )
    return _layout(fig, "Missing values per column (%)", height=max(300, 60 * len(matrix) + 160))


def quarantine_bar(reasons: pd.DataFrame) -> go.Figure:
    """Quarantined rows by rule; ``reasons`` has ``table, rule, rows``."""
    fig = go.Figure()
    for table, part in reasons.groupby("table", sort=False):
        fig.add_bar(y=part["rule"], x=part["rows"], name=str(table), orientation="h")
    fig.update_xaxes(title="quarantined rows")
    return _layout(fig, "Quarantined rows by rule", barmode="stack")


# -- distributions ---------------------------------------------------------------------


def distribution_histogram(
    values: pd.Series, *, title: str, x_title: str, log_y: bool = False, bins: int = 50
) -> go.Figure:
    """Histogram of one per-customer measure with its median marked."""
    clean = pd.to_numeric(values, errors="coerce").dropna()
    fig = go.Figure(go.Histogram(x=clean, nbinsx=bins, marker_color="#1f77b4"))
    if len(clean):
        median = float(clean.median())
        fig.add_vline(x=median, line_dash="dash", annotation_text=f"median {median:,.1f}")
    fig.update_xaxes(title=x_title)
    fig.update_yaxes(title="customers", type="log" if log_y else "linear")
    return _layout(fig, title, showlegend=False)


def correlation_heatmap(correlations: pd.DataFrame, *, title: str = "Correlations") -> go.Figure:
    """Square correlation matrix (Spearman or Pearson, −1…1) as an annotated heat map."""
    fig = go.Figure(
        go.Heatmap(
            z=correlations.to_numpy(),
            x=list(correlations.columns),
            y=list(correlations.index),
            zmin=-1,
            zmax=1,
            colorscale="RdBu",
            reversescale=True,
            text=np.round(correlations.to_numpy(), 2),
            texttemplate="%{text}",
            colorbar={"title": "ρ"},
        )
    )
    return _layout(fig, title)


# -- trends and categories --------------------------------------------------------------


def trends_figure(trends: pd.DataFrame, *, rolling_days: int = 7) -> go.Figure:
    """Revenue, orders and active customers per period, each with a rolling mean.

    ``trends`` is :func:`patron.analytics.revenue_trends` output (``period, revenue,
    orders, customers``).
    """
    frame = trends.sort_values("period")
    fig = make_subplots(rows=3, cols=1, shared_xaxes=True, vertical_spacing=0.06,
                        subplot_titles=("revenue (currency)", "orders", "active customers"))
    for row, column in enumerate(("revenue", "orders", "customers"), start=1):
        fig.add_scatter(x=frame["period"], y=frame[column], mode="lines", name=column,
                        line={"width": 1, "color": "#9ecae1"}, row=row, col=1)
        fig.add_scatter(x=frame["period"],
                        y=frame[column].rolling(rolling_days, min_periods=1).mean(),
                        mode="lines", name=f"{column}, {rolling_days}-period mean",
                        line={"width": 2, "color": "#08519c"}, row=row, col=1)
    return _layout(fig, "Top-line trends", height=720, showlegend=False)


def top_categories_bar(top: pd.DataFrame, *, by: str = "category") -> go.Figure:
    """Revenue of the top values of ``by`` (from :func:`patron.analytics.top_categories`)."""
    frame = top.sort_values("revenue")
    fig = go.Figure(
        go.Bar(
            x=frame["revenue"],
            y=frame[by],
            orientation="h",
            text=[f"{s:.0%}" for s in frame["revenue_share"]],
            textposition="outside",
        )
    )
    fig.update_xaxes(title="revenue (currency)")
    return _layout(fig, f"Top {by} values by revenue", showlegend=False)


# -- RFM and segments -----------------------------------------------------------------


def rfm_heatmap(grid: pd.DataFrame, *, value: str = "mean_monetary") -> go.Figure:
    """Recency score × frequency score, coloured by ``value`` (``mean_monetary`` or
    ``customers``); ``grid`` is :func:`patron.analytics.rfm_grid` output."""
    matrix = (
        grid.pivot_table(index="r_score", columns="f_score", values=value)
        .reindex(index=range(1, 6), columns=range(1, 6))
    )
    label = "mean monetary (currency)" if value == "mean_monetary" else value
    fig = go.Figure(
        go.Heatmap(
            z=matrix.to_numpy(),
            x=[f"F{f}" for f in matrix.columns],
            y=[f"R{r}" for r in matrix.index],
            colorscale="Viridis",
            text=np.round(matrix.to_numpy(), 0),
            texttemplate="%{text}",
            colorbar={"title": label},
        )
    )
    fig.update_xaxes(title="frequency score (5 = most orders)")
    fig.update_yaxes(title="recency score (5 = most recent)")
    return _layout(fig, f"RFM grid: {label}")


def segment_share_bar(summary: pd.DataFrame) -> go.Figure:
    """Share of customers and of revenue per segment (:func:`segment_summary` output)."""
    frame = summary.sort_values("revenue_share", ascending=False)
    fig = go.Figure()
    fig.add_bar(x=frame["segment"], y=frame["customer_share"] * 100, name="% of customers")
    fig.add_bar(x=frame["segment"], y=frame["revenue_share"] * 100, name="% of revenue")
    fig.update_yaxes(title="%")
    return _layout(fig, "RFM segments: customers vs revenue", barmode="group")


def segment_profile_scatter(summary: pd.DataFrame) -> go.Figure:
    """Segments placed by mean recency (days) and mean frequency (orders), sized by
    customers and coloured by mean monetary value (currency)."""
    size = summary["customers"].astype(float)
    fig = go.Figure(
        go.Scatter(
            x=summary["mean_recency_days"],
            y=summary["mean_frequency"],
            mode="markers+text",
            text=summary["segment"],
            textposition="top center",
            marker={
                "size": 12 + 48 * np.sqrt(size / max(size.max(), 1.0)),
                "color": summary["mean_monetary"],
                "colorscale": "Viridis",
                "showscale": True,
                "colorbar": {"title": "mean monetary"},
            },
        )
    )
    fig.update_xaxes(title="mean recency (days since last order)", autorange="reversed")
    fig.update_yaxes(title="mean frequency (orders)")
    return _layout(fig, "Segment profiles", showlegend=False, height=500)


# -- cohorts ----------------------------------------------------------------------------


def cohort_heatmap(matrix: pd.DataFrame, *, title: str = "Customer retention by cohort",
                   period: str = "month") -> go.Figure:
    """A cohorts × periods share matrix (:func:`retention_matrix`) as a heat map in %."""
    labels = [
        pd.Timestamp(c).strftime("%Y-%m" if period == "month" else "%Y-%m-%d")
        for c in matrix.index
    ]
    values = matrix.to_numpy(dtype="float64") * 100.0
    fig = go.Figure(
        go.Heatmap(
            z=values,
            x=[str(p) for p in matrix.columns],
            y=labels,
            colorscale="Blues",
            zmin=0,
            zmax=float(np.nanpercentile(values[:, 1:], 99)) if values.shape[1] > 1
            and np.isfinite(values[:, 1:]).any() else 100,
            colorbar={"title": "%"},
            hovertemplate=f"cohort %{{y}}, {period} %{{x}}: %{{z:.1f}}%<extra></extra>",
        )
    )
    fig.update_xaxes(title=f"{period}s since first purchase")
    fig.update_yaxes(title="cohort (first purchase)", autorange="reversed")
    return _layout(fig, title, height=max(420, 18 * len(labels) + 160))


def active_by_cohort_bar(active: pd.DataFrame, *, days: int) -> go.Figure:
    """Share of each cohort active in the last ``days`` days (:func:`active_by_cohort`)."""
    fig = go.Figure(
        go.Bar(
            x=pd.to_datetime(active["cohort"]),
            y=active["active_share"] * 100,
            customdata=np.stack([active["active_customers"], active["cohort_customers"]], -1),
            hovertemplate="%{x|%Y-%m-%d}: %{y:.1f}% (%{customdata[0]} of "
            "%{customdata[1]})<extra></extra>",
        )
    )
    fig.update_xaxes(title="cohort (first purchase)")
    fig.update_yaxes(title=f"% active in the last {days} days")
    return _layout(fig, f"Active in the last {days} days, by cohort", showlegend=False)


# -- conversion ------------------------------------------------------------------------


def conversion_ci_bar(rates: pd.DataFrame, column: str, *, confidence: float = 0.95
                      ) -> go.Figure:
    """Conversion rate per value of ``column`` with Wilson intervals as error bars.

    ``rates`` is :func:`patron.analytics.conversion_rates` output.
    """
    frame = rates.sort_values("rate", ascending=False)
    rate = frame["rate"] * 100
    fig = go.Figure(
        go.Bar(
            x=frame[column],
            y=rate,
            error_y={
                "type": "data",
                "symmetric": False,
                "array": frame["ci_high"] * 100 - rate,
                "arrayminus": rate - frame["ci_low"] * 100,
            },
            customdata=frame["sessions"],
            hovertemplate="%{x}: %{y:.2f}% of %{customdata:,} sessions<extra></extra>",
        )
    )
    fig.update_yaxes(title=f"conversion rate (%), {confidence:.0%} Wilson interval")
    return _layout(fig, f"Conversion by {column}", showlegend=False)


# -- sentiment --------------------------------------------------------------------------


def sentiment_histogram(scored: pd.DataFrame) -> go.Figure:
    """Distribution of VADER compound scores, coloured by label."""
    fig = go.Figure()
    for label, colour in SENTIMENT_COLOURS.items():
        part = scored.loc[scored["sentiment_label"] == label, "sentiment"]
        fig.add_histogram(x=part, name=label, marker_color=colour,
                          xbins={"start": -1, "end": 1, "size": 0.05})
    fig.update_xaxes(title="VADER compound score (−1 … 1)")
    fig.update_yaxes(title="posts")
    return _layout(fig, "Sentiment of posts and reviews", barmode="stack")


def sentiment_by_group_bar(scored: pd.DataFrame, group: str = "platform") -> go.Figure:
    """Share of positive / neutral / negative posts per value of ``group`` (in %)."""
    frame = scored.dropna(subset=["sentiment_label"]).copy()
    frame[group] = frame[group].fillna("unknown").astype(str).str.lower()
    shares = pd.crosstab(frame[group], frame["sentiment_label"], normalize="index") * 100
    fig = go.Figure()
    for label, colour in SENTIMENT_COLOURS.items():
        if label in shares.columns:
            fig.add_bar(x=shares.index, y=shares[label], name=label, marker_color=colour)
    fig.update_yaxes(title="% of posts")
    return _layout(fig, f"Sentiment by {group}", barmode="stack")
