"""The exploratory data analysis report: one self-contained HTML file.

The report opens offline and can be mailed around: Plotly's JavaScript is inlined once
(with the first figure) and every later figure reuses it. Each section states what it
shows; a section whose source table is missing says so instead of failing the report,
because a lake with only orders still deserves a report on orders.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from patron.analytics._cohorts import Period, active_by_cohort, cohort_retention, retention_matrix
from patron.analytics._conversion import compare_conversion, conversion_rates
from patron.analytics._rfm import SEGMENTS, rfm_grid, rfm_scores, segment_summary
from patron.analytics._tables import (
    as_timestamp,
    default_as_of,
    has_source_table,
    source_table,
)
from patron.analytics._trends import revenue_trends, top_categories
from patron.errors import PatronError
from patron.plotting import analytics as charts
from patron.schema import TABLES

log = logging.getLogger(__name__)

#: section titles, in order; every report contains all of them
REPORT_SECTIONS: tuple[str, ...] = (
    "Data overview",
    "Data quality",
    "Distributions",
    "Correlations",
    "Trends",
    "Top categories",
    "RFM",
    "Segments",
    "Cohorts",
    "Channels and devices",
    "Sentiment",
)


@dataclass
class _Section:
    title: str
    blocks: list[str] = field(default_factory=list)


@dataclass
class _Context:
    con: Any
    lake: Any | None
    as_of: datetime
    period: Period
    active_days: int
    figures: int = 0
    cache: dict[str, Any] = field(default_factory=dict)

    def figure(self, fig: go.Figure) -> str:
        """HTML of a figure; the first one carries plotly.js inline."""
        first = self.figures == 0
        self.figures += 1
        return fig.to_html(full_html=False, include_plotlyjs=bool(first),
                           config={"displaylogo": False, "responsive": True})

    def scores_expr(self) -> Any:
        """The RFM scores expression (not executed) over the orders table."""
        return rfm_scores(source_table(self.con, "orders"), self.as_of)

    def scores(self) -> pd.DataFrame:
        """RFM scores per customer, executed once and shared by the sections."""
        if "scores" not in self.cache:
            self.cache["scores"] = self.scores_expr().execute()
        return self.cache["scores"]


def _note(text: str) -> str:
    return f'<p class="note">{html.escape(text)}</p>'


def _para(text: str) -> str:
    return f"<p>{html.escape(text)}</p>"


def _table(frame: pd.DataFrame, *, floats: str = "{:,.2f}") -> str:
    shown = frame.copy()
    for column in shown.columns:
        if pd.api.types.is_float_dtype(shown[column]):
            shown[column] = shown[column].map(lambda v: "" if pd.isna(v) else floats.format(v))
        elif pd.api.types.is_integer_dtype(shown[column]):
            shown[column] = shown[column].map(lambda v: f"{v:,}")
    return shown.to_html(index=False, classes="data", border=0, escape=True)


# -- sections ----------------------------------------------------------------------------


def _overview(ctx: _Context) -> list[str]:
    blocks = [_para(f"Analysis date (as of): {ctx.as_of:%Y-%m-%d}. Orders before this "
                    "date count; recency is measured back from it.")]
    if ctx.lake is not None:
        status = ctx.lake.status()
        overview = pd.DataFrame(
            [(s.layer, s.table, s.rows, s.files, s.bytes / 1e6) for s in status],
            columns=["layer", "table", "rows", "files", "MB"],
        )
    else:
        rows = []
        for name in sorted(ctx.con.list_tables()):
            layer, _, table = name.partition("_")
            rows.append((layer, table, int(ctx.con.table(name).count().execute()), 0, 0.0))
        overview = pd.DataFrame(rows, columns=["layer", "table", "rows", "files", "MB"])
    if overview.empty:
        return [*blocks, _note("The lake holds no tables yet.")]
    blocks.append(ctx.figure(charts.table_rows_bar(overview)))
    blocks.append(_table(overview))
    if has_source_table(ctx.con, "orders"):
        orders = source_table(ctx.con, "orders")
        span = orders.aggregate(
            first_order=orders.ts.min(),
            last_order=orders.ts.max(),
            order_lines=orders.count(),
            orders=orders.order_id.nunique(),
            customers=orders.customer_id.nunique(),
        ).execute()
        blocks.append(_table(span))
    return blocks


def _missingness(ctx: _Context) -> pd.DataFrame:
    rows = []
    for kind, spec in TABLES.items():
        if not has_source_table(ctx.con, kind):
            continue
        table = source_table(ctx.con, kind)
        columns = [c for c in spec.names if c in table.columns]
        counts = table.aggregate(
            [table.count().name("_rows"), *(table[c].count().name(c) for c in columns)]
        ).execute().iloc[0]
        total = int(counts["_rows"])
        for column in columns:
            share = 1.0 - int(counts[column]) / total if total else 0.0
            rows.append((kind, column, share))
    return pd.DataFrame(rows, columns=["table", "column", "missing_share"])


def _quarantine_reasons(ctx: _Context) -> pd.DataFrame:
    if ctx.lake is None:
        return pd.DataFrame(columns=["table", "rule", "rows"])
    totals: dict[tuple[str, str], int] = {}
    for entry in ctx.lake.entries():
        by_rule = entry.meta.get("quarantined_by_rule") or {}
        kind = entry.meta.get("kind") or entry.operation.removeprefix("ingest ").strip()
        for rule, n in by_rule.items():
            totals[(kind, rule)] = totals.get((kind, rule), 0) + int(n)
    frame = pd.DataFrame(
        [(k, r, n) for (k, r), n in totals.items()], columns=["table", "rule", "rows"]
    )
    return frame.sort_values("rows", ascending=False, ignore_index=True)


def _quality(ctx: _Context) -> list[str]:
    blocks = [_para("Share of missing values per canonical column (in the layer the "
                    "analyses read: clean when built, else raw), and rows that ingest "
                    "rejected, by the rule they broke.")]
    missing = _missingness(ctx)
    if missing.empty:
        blocks.append(_note("No canonical tables to check."))
    else:
        blocks.append(ctx.figure(charts.missingness_heatmap(missing)))
        worst = missing[missing["missing_share"] > 0].sort_values(
            "missing_share", ascending=False).head(15)
        if not worst.empty:
            blocks.append(_table(worst.assign(missing_share=worst["missing_share"] * 100)
                                 .rename(columns={"missing_share": "% missing"}),
                                 floats="{:,.1f}"))
    reasons = _quarantine_reasons(ctx)
    if reasons.empty:
        blocks.append(_note("No rows were quarantined at ingest."))
    else:
        blocks.append(ctx.figure(charts.quarantine_bar(reasons)))
        blocks.append(_table(reasons))
    return blocks


def _distributions(ctx: _Context) -> list[str]:
    scores = ctx.scores()
    if scores.empty:
        return [_note("No completed orders before the analysis date.")]
    describe = scores[["monetary", "frequency", "recency_days", "tenure_days"]].describe(
        percentiles=[0.1, 0.25, 0.5, 0.75, 0.9, 0.99]).T.reset_index(names="measure")
    return [
        _para("Per-customer measures from completed orders before the analysis date: total "
              "spend (currency), number of orders, days since the last order."),
        ctx.figure(charts.distribution_histogram(
            scores["monetary"], title="Spend per customer", x_title="total spend (currency)",
            log_y=True)),
        ctx.figure(charts.distribution_histogram(
            scores["frequency"], title="Orders per customer", x_title="orders", log_y=True)),
        ctx.figure(charts.distribution_histogram(
            scores["recency_days"], title="Recency", x_title="days since last order")),
        _table(describe),
    ]


def _correlations(ctx: _Context) -> list[str]:
    scores = ctx.scores()
    if len(scores) < 3:
        return [_note("Too few customers to correlate.")]
    measures = scores[["recency_days", "frequency", "monetary", "tenure_days"]].copy()
    measures["mean_order_value"] = scores["monetary"] / scores["frequency"]
    corr = measures.corr(method="spearman")
    return [
        _para("Spearman rank correlations between per-customer measures (robust to the "
              "long right tails of spend and frequency)."),
        ctx.figure(charts.correlation_heatmap(corr, title="Spearman correlations")),
    ]


def _trends(ctx: _Context) -> list[str]:
    orders = source_table(ctx.con, "orders")
    daily = revenue_trends(orders, freq="day", end=ctx.as_of).execute()
    if daily.empty:
        return [_note("No completed orders before the analysis date.")]
    monthly = revenue_trends(orders, freq="month", end=ctx.as_of).execute().tail(12)
    monthly["period"] = pd.to_datetime(monthly["period"]).dt.strftime("%Y-%m")
    return [
        _para("Completed orders per day: revenue (currency), distinct orders and distinct "
              "buying customers, with a 7-day rolling mean."),
        ctx.figure(charts.trends_figure(daily)),
        _para("Last 12 months:"),
        _table(monthly[["period", "revenue", "orders", "customers", "revenue_per_order"]]),
    ]


def _categories(ctx: _Context) -> list[str]:
    orders = source_table(ctx.con, "orders")
    blocks = []
    for by in ("category", "channel", "region"):
        if by not in orders.columns:
            continue
        top = top_categories(orders, by=by, limit=12, end=ctx.as_of).execute()
        if top.empty:
            continue
        blocks.append(ctx.figure(charts.top_categories_bar(top, by=by)))
    return blocks or [_note("Orders carry no category, channel or region.")]


def _rfm(ctx: _Context) -> list[str]:
    scores = ctx.scores()
    if scores.empty:
        return [_note("No completed orders before the analysis date.")]
    grid = rfm_grid(ctx.scores_expr()).execute()
    return [
        _para("Recency, frequency and monetary quintile scores (5 = best). Each cell of the "
              "R × F grid is coloured by the mean spend of its customers, then by count."),
        ctx.figure(charts.rfm_heatmap(grid, value="mean_monetary")),
        ctx.figure(charts.rfm_heatmap(grid, value="customers")),
    ]


def _segments(ctx: _Context) -> list[str]:
    scores = ctx.scores()
    if scores.empty:
        return [_note("No completed orders before the analysis date.")]
    order = {name: i for i, name in enumerate(SEGMENTS)}
    summary = segment_summary(ctx.scores_expr()).execute()
    summary = summary.sort_values("segment", key=lambda s: s.map(order), ignore_index=True)
    table = summary.assign(
        customer_share=summary["customer_share"] * 100,
        revenue_share=summary["revenue_share"] * 100,
    ).rename(columns={"customer_share": "% customers", "revenue_share": "% revenue"})
    return [
        _para("Named segments from the R × F grid (see patron.analytics.SEGMENT_RULES): who "
              "they are, how much of the revenue they bring, and their mean recency (days), "
              "frequency (orders) and spend (currency)."),
        ctx.figure(charts.segment_share_bar(summary)),
        ctx.figure(charts.segment_profile_scatter(summary)),
        _table(table),
    ]


def _cohorts(ctx: _Context) -> list[str]:
    orders = source_table(ctx.con, "orders")
    long = cohort_retention(orders, period=ctx.period, as_of=ctx.as_of).execute()
    if long.empty:
        return [_note("No completed orders before the analysis date.")]
    long = _recent_cohorts(long, 24 if ctx.period == "month" else 52)
    customers = retention_matrix(long, "customers", period=ctx.period)
    revenue = retention_matrix(long, "revenue", period=ctx.period)
    active = active_by_cohort(orders, ctx.as_of, days=ctx.active_days,
                              period=ctx.period).execute()
    active = active[active["cohort"].isin(set(long["cohort"]))]
    return [
        _para(f"Customers grouped by the {ctx.period} of their first purchase; each cell is "
              f"the share of the cohort buying again k {ctx.period}s later (customer "
              "retention) or their revenue relative to the first period (revenue "
              "retention)."),
        ctx.figure(charts.cohort_heatmap(customers, period=ctx.period)),
        ctx.figure(charts.cohort_heatmap(revenue, title="Revenue retention by cohort",
                                         period=ctx.period)),
        ctx.figure(charts.active_by_cohort_bar(active, days=ctx.active_days)),
    ]


def _recent_cohorts(long: pd.DataFrame, keep: int) -> pd.DataFrame:
    cohorts = sorted(long["cohort"].unique())[-keep:]
    return long[long["cohort"].isin(cohorts)].reset_index(drop=True)


def _channels(ctx: _Context) -> list[str]:
    if not has_source_table(ctx.con, "sessions"):
        return [_note("No sessions table: conversion cannot be computed.")]
    sessions = source_table(ctx.con, "sessions")
    blocks = [_para("Share of sessions that converted, with 95% Wilson score intervals. "
                    "Groups with few sessions have wide intervals: compare intervals, not "
                    "bars.")]
    for column in ("channel", "device", "medium"):
        if column not in sessions.columns:
            continue
        rates = conversion_rates(sessions, column, end=ctx.as_of).execute()
        if rates.empty:
            continue
        blocks.append(ctx.figure(charts.conversion_ci_bar(rates, column)))
        blocks.append(_table(rates, floats="{:,.4f}"))
    if "device" in sessions.columns:
        try:
            test = compare_conversion(sessions, "device", "mobile", "desktop", end=ctx.as_of)
        except PatronError as exc:
            blocks.append(_note(f"Mobile vs desktop: {exc.message}"))
        else:
            verdict = "a significant" if test.significant else "no significant"
            blocks.append(_para(
                f"Mobile vs desktop: {test.rate_a:.2%} of {test.sessions_a:,} vs "
                f"{test.rate_b:.2%} of {test.sessions_b:,} sessions; difference "
                f"{test.diff:+.2%} (95% CI {test.diff_ci[0]:+.2%} to {test.diff_ci[1]:+.2%}), "
                f"z = {test.z:.2f}, two-sided p = {test.p_value:.3g}: {verdict} difference "
                "at the 5% level (two-proportion z-test)."))
    return blocks


def _sentiment(ctx: _Context) -> list[str]:
    from patron.text import score_posts

    names = set(ctx.con.list_tables())
    if "features_post_sentiment" in names:
        scored = ctx.con.table("features_post_sentiment").execute()
    elif has_source_table(ctx.con, "social_posts"):
        posts = source_table(ctx.con, "social_posts")
        keep = [c for c in ("post_id", "customer_id", "ts", "platform", "kind", "text")
                if c in posts.columns]
        scored = score_posts(posts.select(*keep))
    else:
        return [_note("No social posts or reviews in the lake.")]
    scored = scored[pd.to_datetime(scored["ts"]) < pd.Timestamp(ctx.as_of)]
    if scored.empty:
        return [_note("No posts before the analysis date.")]
    blocks = [
        _para("VADER compound sentiment (−1 … 1) of social posts and reviews; positive at "
              "≥ 0.05, negative at ≤ −0.05."),
        ctx.figure(charts.sentiment_histogram(scored)),
    ]
    for group in ("platform", "kind"):
        if group in scored.columns and scored[group].notna().any():
            blocks.append(ctx.figure(charts.sentiment_by_group_bar(scored, group)))
    known = scored.dropna(subset=["customer_id", "sentiment"])
    if not known.empty and has_source_table(ctx.con, "orders"):
        per_customer = known.groupby("customer_id", as_index=False)["sentiment"].mean()
        joined = ctx.scores().merge(per_customer, on="customer_id", how="inner")
        if not joined.empty:
            by_segment = joined.groupby("segment", as_index=False).agg(
                customers=("customer_id", "size"), mean_sentiment=("sentiment", "mean"))
            blocks.append(_para("Mean sentiment of customers who posted, by RFM segment:"))
            blocks.append(_table(by_segment, floats="{:,.3f}"))
    return blocks


_BUILDERS: dict[str, tuple[Callable[[_Context], list[str]], tuple[str, ...]]] = {
    "Data overview": (_overview, ()),
    "Data quality": (_quality, ()),
    "Distributions": (_distributions, ("orders",)),
    "Correlations": (_correlations, ("orders",)),
    "Trends": (_trends, ("orders",)),
    "Top categories": (_categories, ("orders",)),
    "RFM": (_rfm, ("orders",)),
    "Segments": (_segments, ("orders",)),
    "Cohorts": (_cohorts, ("orders",)),
    "Channels and devices": (_channels, ()),
    "Sentiment": (_sentiment, ()),
}


def build_report(
    con: Any,
    out: str | Path,
    *,
    lake: Any | None = None,
    as_of: date | datetime | str | None = None,
    period: Period = "month",
    active_days: int = 120,
    title: str = "patron: customer analytics report",
) -> Path:
    """Write the EDA report to ``out`` (one HTML file that works offline); returns its path.

    ``con`` is a :func:`patron.connect` backend; ``lake`` (optional) adds file sizes and
    the ingest quarantine accounting. ``as_of`` defaults to the day after the last order.
    ``period`` sets the cohort granularity; ``active_days`` the "active in the last N days"
    window of the cohort section.
    """
    if has_source_table(con, "orders"):
        cutoff = as_timestamp(as_of) if as_of is not None else default_as_of(
            source_table(con, "orders"))
    else:
        cutoff = as_timestamp(as_of) if as_of is not None else datetime.now().replace(
            microsecond=0)
    ctx = _Context(con=con, lake=lake, as_of=cutoff, period=period, active_days=active_days)
    sections = []
    for name in REPORT_SECTIONS:
        builder, needs = _BUILDERS[name]
        missing = [kind for kind in needs if not has_source_table(con, kind)]
        if missing:
            blocks = [_note(f"Not available: the lake has no {', '.join(missing)} table.")]
        else:
            log.info("report section: %s", name)
            blocks = builder(ctx)
        sections.append(_Section(name, blocks))
    if ctx.figures == 0:
        # keep the file self-contained and valid even when no section drew a figure
        sections[0].blocks.append(ctx.figure(go.Figure()))
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(_render(title, ctx.as_of, sections), encoding="utf-8")
    log.info("wrote report %s (%d figures)", path, ctx.figures)
    return path


def _anchor(title: str) -> str:
    return title.lower().replace(" ", "-")


_CSS = """
body { font-family: system-ui, -apple-system, Segoe UI, Roboto, sans-serif; margin: 0;
       color: #222; background: #fafafa; }
header { background: #0b3954; color: white; padding: 18px 32px; }
header h1 { margin: 0 0 4px 0; font-size: 24px; }
nav { padding: 8px 32px; background: #e8eef2; position: sticky; top: 0; z-index: 10; }
nav a { margin-right: 14px; color: #0b3954; text-decoration: none; font-size: 14px; }
main { padding: 8px 32px 40px 32px; max-width: 1200px; }
section { background: white; margin: 18px 0; padding: 12px 20px; border-radius: 6px;
          box-shadow: 0 1px 3px rgba(0,0,0,.08); }
h2 { color: #0b3954; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
table.data { border-collapse: collapse; font-size: 13px; margin: 10px 0; }
table.data th, table.data td { padding: 4px 10px; border-bottom: 1px solid #eee;
                               text-align: right; }
table.data th { background: #f3f6f8; }
p.note { color: #8a6d3b; background: #fcf8e3; padding: 8px 12px; border-radius: 4px; }
"""


def _render(title: str, as_of: datetime, sections: list[_Section]) -> str:
    nav = "".join(f'<a href="#{_anchor(s.title)}">{html.escape(s.title)}</a>'
                  for s in sections)
    body = "\n".join(
        f'<section id="{_anchor(s.title)}"><h2>{html.escape(s.title)}</h2>\n'
        + "\n".join(s.blocks) + "\n</section>"
        for s in sections
    )
    generated = datetime.now().strftime("%Y-%m-%d %H:%M")
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        f"<title>{html.escape(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        f"<header><h1>{html.escape(title)}</h1><div>as of {as_of:%Y-%m-%d} · generated "
        f"{generated}</div></header>\n<nav>{nav}</nav>\n<main>\n{body}\n</main>\n"
        "</body>\n</html>\n"
    )
