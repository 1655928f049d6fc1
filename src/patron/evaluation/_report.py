"""The evaluation report of one model: a self-contained HTML page (Plotly inlined, opens
offline) and the same numbers as JSON for machines."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

import numpy as np
import plotly.graph_objects as go
from sklearn.metrics import precision_recall_curve, roc_curve

from patron.evaluation._backtest import Evaluation

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem;max-width:1100px;color:#222}
table.data{border-collapse:collapse;margin:.5rem 0 1.5rem}
table.data td,table.data th{border-bottom:1px solid #ddd;padding:.25rem .6rem;text-align:right}
.label{background:#f4f6f8;padding:.6rem 1rem;border-left:4px solid #4c78a8}
"""


def _curve_points(y: np.ndarray, score: np.ndarray, limit: int = 2000) -> np.ndarray:
    step = max(1, len(y) // limit)
    return np.arange(0, len(y), step)


def _classification_figures(ev: Evaluation) -> list[go.Figure]:
    figures = []
    if ev.predictions is not None and ev.predictions["y"].nunique() == 2:
        y = ev.predictions["y"].to_numpy().astype(int)
        score = ev.predictions["score"].to_numpy()
        fpr, tpr, _ = roc_curve(y, score)
        keep = _curve_points(fpr, fpr)
        roc = go.Figure(go.Scatter(x=fpr[keep], y=tpr[keep], name="model"))
        roc.add_trace(go.Scatter(x=[0, 1], y=[0, 1], name="chance", line={"dash": "dot"}))
        roc.update_layout(title=f"ROC curve (AUC {ev.metrics['roc_auc']:.3f})",
                          xaxis_title="false positive rate", yaxis_title="true positive rate")
        figures.append(roc)
        precision, recall, _ = precision_recall_curve(y, score)
        keep = _curve_points(recall, recall)
        pr = go.Figure(go.Scatter(x=recall[keep], y=precision[keep], name="model"))
        pr.update_layout(title=f"precision–recall (average precision {ev.metrics['pr_auc']:.3f})",
                         xaxis_title="recall", yaxis_title="precision")
        figures.append(pr)
    if "calibration" in ev.tables:
        cal = ev.tables["calibration"]
        fig = go.Figure(go.Scatter(x=cal["mean_predicted"], y=cal["observed_rate"],
                                   mode="lines+markers", name="model"))
        top = float(max(cal["mean_predicted"].max(), cal["observed_rate"].max(), 0.01))
        fig.add_trace(go.Scatter(x=[0, top], y=[0, top], name="perfect", line={"dash": "dot"}))
        fig.update_layout(title="calibration (10 equal-count bins)",
                          xaxis_title="mean predicted probability", yaxis_title="observed rate")
        figures.append(fig)
    if "lift" in ev.tables:
        lift = ev.tables["lift"]
        fig = go.Figure(go.Scatter(x=[0, *lift["cumulative_customers"]],
                                   y=[0, *lift["cumulative_gain"]], mode="lines+markers",
                                   name="model"))
        fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], name="random", line={"dash": "dot"}))
        fig.update_layout(title="cumulative gain by decile of score",
                          xaxis_title="share of customers contacted (highest scores first)",
                          yaxis_title="share of positives reached")
        figures.append(fig)
    return figures


def _regression_figures(ev: Evaluation) -> list[go.Figure]:
    figures = []
    if "deciles" in ev.tables:
        d = ev.tables["deciles"]
        fig = go.Figure([go.Bar(x=d["decile"], y=d["mean_actual"], name="actual"),
                         go.Bar(x=d["decile"], y=d["mean_predicted"], name="predicted")])
        fig.update_layout(title="mean actual vs predicted by decile of prediction "
                          "(1 = highest)", xaxis_title="decile", yaxis_title="currency")
        figures.append(fig)
    return figures


def _segmentation_figures(ev: Evaluation) -> list[go.Figure]:
    figures = []
    if "profiles" in ev.tables:
        p = ev.tables["profiles"]
        fig = go.Figure(go.Bar(x=p["segment"], y=p["customers"]))
        fig.update_layout(title="customers per segment")
        figures.append(fig)
    return figures


def _importance_figure(ev: Evaluation) -> go.Figure | None:
    table = ev.tables.get("permutation_importance")
    if table is None or table.empty:
        return None
    top = table.head(15).iloc[::-1]
    fig = go.Figure(go.Bar(x=top["importance"], y=top["feature"], orientation="h",
                           error_x={"array": top["std"]}))
    unit = "ROC-AUC" if ev.kind == "classification" else "R²"
    fig.update_layout(title=f"permutation importance (drop in {unit} when shuffled)",
                      height=420)
    return fig


def render_html(ev: Evaluation) -> str:
    """The report page as one HTML string (plotly.js inlined once)."""
    figures: list[go.Figure]
    if ev.kind == "classification":
        figures = _classification_figures(ev)
    elif ev.kind == "regression":
        figures = _regression_figures(ev)
    else:
        figures = _segmentation_figures(ev)
    importance = _importance_figure(ev)
    if importance is not None:
        figures.append(importance)
    parts = [f"<h1>{html.escape(ev.model_name)} — {html.escape(ev.method)}</h1>"]
    if ev.label:
        describe = ev.label.get("description") or json.dumps(ev.label)
        parts.append(f"<p class='label'><b>label:</b> {html.escape(str(describe))}</p>")
    if ev.test_cutoff:
        parts.append(f"<p>trained on cut-offs {html.escape(', '.join(ev.train_cutoffs))}; "
                     f"tested at {html.escape(ev.test_cutoff)}</p>")
    rows = "".join(f"<tr><th>{html.escape(k)}</th><td>{_fmt(v)}</td></tr>"
                   for k, v in ev.metrics.items())
    parts.append(f"<h2>metrics</h2><table class='data'>{rows}</table>")
    if ev.comparisons:
        parts.append("<h2>comparisons</h2><pre>"
                     + html.escape(json.dumps(ev.to_dict()["comparisons"], indent=2))
                     + "</pre>")
    for i, fig in enumerate(figures):
        fig.update_layout(template="plotly_white", margin={"t": 50})
        parts.append(fig.to_html(full_html=False, include_plotlyjs=(i == 0)))
    for name, table in ev.tables.items():
        if name in ("calibration", "lift", "deciles", "confusion_at_capacity", "profiles"):
            parts.append(f"<h2>{html.escape(name)}</h2>"
                         + table.to_html(index=False, classes="data", border=0,
                                         float_format=lambda v: f"{v:.4g}"))
    return ("<!doctype html><html><head><meta charset='utf-8'>"
            f"<title>{html.escape(ev.model_name)} evaluation</title><style>{_STYLE}</style>"
            "</head><body>" + "\n".join(parts) + "</body></html>")


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return "–" if not np.isfinite(value) else f"{value:.4g}"
    return html.escape(str(value))


def write_report(ev: Evaluation, out_dir: str | Path, *, stem: str | None = None
                 ) -> tuple[Path, Path]:
    """Write ``<stem>.html`` and ``<stem>.json`` into ``out_dir``; returns both paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stem = stem or f"{ev.model_name}_{ev.method}"
    html_path = out / f"{stem}.html"
    json_path = out / f"{stem}.json"
    html_path.write_text(render_html(ev), encoding="utf-8")
    json_path.write_text(json.dumps(ev.to_dict(), indent=2), encoding="utf-8")
    return html_path, json_path
