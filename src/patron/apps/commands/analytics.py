"""CLI commands and demo steps of the analytics stage: sentiment, RFM, cohorts, report."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import pandas as pd
import typer
from rich.table import Table

from patron.errors import PatronError

if TYPE_CHECKING:
    from patron.apps.demo import DemoContext

PERIODS = ("month", "week")
METRICS = ("customers", "revenue")


def _parse_date(value: str | None, option: str = "--as-of") -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise PatronError(f"{option} {value!r}: expected a date as YYYY-MM-DD") from None


def _choice(value: str, allowed: tuple[str, ...], option: str) -> str:
    if value not in allowed:
        raise PatronError(f"{option} {value!r}: expected one of {', '.join(allowed)}")
    return value


@contextlib.contextmanager
def _connection(settings: Any, lake: Any) -> Iterator[Any]:
    from patron.engine import connect

    con = connect(settings, lake=lake)
    try:
        yield con
    finally:
        with contextlib.suppress(Exception):
            con.disconnect()


def _segment_table(summary: pd.DataFrame, as_of: date | Any) -> Table:
    from patron.analytics import SEGMENTS

    order = {name: i for i, name in enumerate(SEGMENTS)}
    summary = summary.sort_values("segment", key=lambda s: s.map(order))
    table = Table(title=f"RFM segments as of {pd.Timestamp(as_of):%Y-%m-%d}")
    table.add_column("segment", no_wrap=True)
    for column in ("customers", "% cust.", "revenue", "% rev.", "recency d", "orders",
                   "spend"):
        table.add_column(column, justify="right", no_wrap=True)
    for row in summary.itertuples():
        table.add_row(
            str(row.segment), f"{row.customers:,}", f"{row.customer_share:.1%}",
            f"{row.revenue:,.0f}", f"{row.revenue_share:.1%}", f"{row.mean_recency_days:,.0f}",
            f"{row.mean_frequency:,.1f}", f"{row.mean_monetary:,.0f}",
        )
    table.add_row("[bold]total", f"[bold]{summary['customers'].sum():,}", "100%",
                  f"[bold]{summary['revenue'].sum():,.0f}", "100%", "", "", "")
    return table


def _cohort_table(matrix: pd.DataFrame, *, metric: str, period: str, cohorts: int,
                  periods: int, sizes: pd.Series) -> Table:
    shown = matrix.tail(cohorts).iloc[:, : periods + 1]
    table = Table(title=f"{metric} retention by {period}ly cohort (% of period 0)")
    table.add_column("cohort")
    table.add_column("customers", justify="right")
    for p in shown.columns:
        table.add_column(str(p), justify="right")
    fmt = "%Y-%m" if period == "month" else "%Y-%m-%d"
    for cohort, row in shown.iterrows():
        cells = ["" if pd.isna(v) else f"{v * 100:.0f}" for v in row]
        table.add_row(pd.Timestamp(cohort).strftime(fmt), f"{int(sizes[cohort]):,}", *cells)
    return table


def _write_frame(frame: pd.DataFrame, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() == ".parquet":
        frame.to_parquet(out, index=False)
    elif out.suffix.lower() in (".csv", ".txt"):
        frame.to_csv(out, index=False)
    else:
        raise PatronError(f"--out {out}: expected a .csv or .parquet file name")


def rfm_command(
    as_of: Annotated[str | None, typer.Option(help="analysis date YYYY-MM-DD; "
                                              "default: the day after the last order")] = None,
    out: Annotated[Path | None, typer.Option(help="write per-customer scores (.csv or "
                                             ".parquet)")] = None,
) -> None:
    """RFM scores and named segments: customers and revenue share per segment."""
    from patron.analytics import default_as_of, rfm_scores, segment_summary, source_table
    from patron.apps.cli import console, settings
    from patron.lake import Lake

    cfg = settings()
    with _connection(cfg, Lake.from_settings(cfg)) as con:
        orders = source_table(con, "orders")
        cutoff = _parse_date(as_of) or default_as_of(orders)
        scores = rfm_scores(orders, cutoff)
        summary = segment_summary(scores).execute()
        if summary.empty:
            raise PatronError(f"no completed orders before {cutoff:%Y-%m-%d}: nothing to score")
        console.print(_segment_table(summary, cutoff))
        if out is not None:
            _write_frame(scores.order_by("customer_id").execute(), out)
            console.print(f"wrote scores of {summary['customers'].sum():,} customers to {out}")


def cohorts_command(
    period: Annotated[str, typer.Option(help="cohort period: month or week")] = "month",
    metric: Annotated[str, typer.Option(help="customers or revenue")] = "customers",
    as_of: Annotated[str | None, typer.Option(help="count orders before this date "
                                              "(YYYY-MM-DD)")] = None,
    last: Annotated[int, typer.Option(min=1, help="newest cohorts to show")] = 12,
    periods: Annotated[int, typer.Option(min=1, help="periods after the first to show")] = 12,
) -> None:
    """Cohort retention: share of each first-purchase cohort buying k periods later."""
    from patron.analytics import cohort_retention, retention_matrix, source_table
    from patron.apps.cli import console, settings
    from patron.lake import Lake

    _choice(period, PERIODS, "--period")
    _choice(metric, METRICS, "--metric")
    cfg = settings()
    with _connection(cfg, Lake.from_settings(cfg)) as con:
        orders = source_table(con, "orders")
        long = cohort_retention(orders, period=period, as_of=_parse_date(as_of)).execute()  # type: ignore[arg-type]
    if long.empty:
        raise PatronError("no completed orders: no cohorts to show")
    matrix = retention_matrix(long, metric, period=period)  # type: ignore[arg-type]
    sizes = long.drop_duplicates("cohort").set_index("cohort")["cohort_customers"]
    sizes.index = pd.to_datetime(sizes.index)
    console.print(_cohort_table(matrix, metric=metric, period=period, cohorts=last,
                                periods=periods, sizes=sizes))


def report_command(
    out: Annotated[Path, typer.Option(help="HTML file to write")] = Path("report.html"),
    as_of: Annotated[str | None, typer.Option(help="analysis date YYYY-MM-DD; "
                                              "default: the day after the last order")] = None,
    period: Annotated[str, typer.Option(help="cohort period: month or week")] = "month",
    active_days: Annotated[int, typer.Option(min=1, help="'active in the last N days' "
                                             "window of the cohort section")] = 120,
) -> None:
    """Write the exploratory analysis report: one HTML file that opens offline."""
    from patron.analytics import build_report
    from patron.apps.cli import console, settings
    from patron.lake import Lake

    _choice(period, PERIODS, "--period")
    cfg = settings()
    lake = Lake.from_settings(cfg)
    with console.status("building the report"), _connection(cfg, lake) as con:
        path = build_report(con, out, lake=lake, as_of=_parse_date(as_of),
                            period=period, active_days=active_days)  # type: ignore[arg-type]
    console.print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")


def sentiment_command() -> None:
    """Score social posts and reviews with VADER into features/post_sentiment."""
    from patron.apps.cli import console, settings
    from patron.lake import Lake
    from patron.text import write_post_sentiment

    lake = Lake.from_settings(settings())
    scored = write_post_sentiment(lake)
    console.print(_sentiment_table(scored))


def _sentiment_table(scored: pd.DataFrame) -> Table:
    counts = scored["sentiment_label"].value_counts()
    table = Table(title=f"sentiment of {len(scored):,} posts (features/post_sentiment)")
    for column in ("label", "posts", "share"):
        table.add_column(column, justify="left" if column == "label" else "right")
    total = max(int(counts.sum()), 1)
    for label in ("positive", "neutral", "negative"):
        n = int(counts.get(label, 0))
        table.add_row(label, f"{n:,}", f"{n / total:.1%}")
    customers = scored["customer_id"].nunique()
    mean = scored["sentiment"].mean()
    table.caption = f"{customers:,} customers posted; mean compound {mean:+.3f}"
    return table


def register(app: typer.Typer) -> None:
    app.command("rfm")(rfm_command)
    app.command("cohorts")(cohorts_command)
    app.command("report")(report_command)
    app.command("sentiment")(sentiment_command)


# -- demo steps ---------------------------------------------------------------------------


def _demo_sentiment(ctx: DemoContext) -> None:
    from patron.text import write_post_sentiment

    if not (ctx.lake.has_table("clean", "social_posts") or ctx.lake.has_table("raw",
                                                                              "social_posts")):
        ctx.console.print("no social posts in the lake; skipped")
        return
    ctx.console.print(_sentiment_table(write_post_sentiment(ctx.lake)))


def _demo_rfm_cohorts(ctx: DemoContext) -> None:
    from patron.analytics import (
        cohort_retention,
        retention_matrix,
        rfm_scores,
        segment_summary,
        source_table,
    )

    with _connection(ctx.settings, ctx.lake) as con:
        orders = source_table(con, "orders")
        summary = segment_summary(rfm_scores(orders, ctx.as_of)).execute()
        long = cohort_retention(orders, period="month", as_of=ctx.as_of).execute()
    ctx.console.print(_segment_table(summary, ctx.as_of))
    if not long.empty:
        matrix = retention_matrix(long, "customers", period="month")
        sizes = long.drop_duplicates("cohort").set_index("cohort")["cohort_customers"]
        sizes.index = pd.to_datetime(sizes.index)
        ctx.console.print(_cohort_table(matrix, metric="customers", period="month",
                                        cohorts=12, periods=6, sizes=sizes))


def _demo_report(ctx: DemoContext) -> None:
    from patron.analytics import build_report

    with _connection(ctx.settings, ctx.lake) as con:
        path = build_report(con, ctx.directory / "report.html", lake=ctx.lake, as_of=ctx.as_of)
    ctx.console.print(f"report: {path} ({path.stat().st_size / 1e6:.1f} MB, opens offline)")


DEMO_STEPS = [
    (15, "sentiment", _demo_sentiment),
    (30, "RFM segments and cohorts", _demo_rfm_cohorts),
    (80, "report", _demo_report),
]
