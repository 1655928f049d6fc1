"""``patron clean`` and ``patron features``, and their demo steps (orders 10 and 20)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

if TYPE_CHECKING:
    from patron.apps.demo import DemoContext
    from patron.clean import CleaningReport


def print_cleaning_report(report: CleaningReport, console) -> None:
    """One row per table: raw = clean + removed, then what each rule removed or changed."""
    table = Table(title="cleaning (raw = clean + removed)")
    for column in ("table", "raw", "clean", "removed", "removed by rule", "changed by rule"):
        table.add_column(column, justify="right" if column in ("raw", "clean", "removed")
                         else "left")
    for name, t in report.tables.items():
        removed = ", ".join(f"{rule} {n:,}" for rule, n in t.removed.items() if n)
        changed = ", ".join(f"{rule} {n:,}" for rule, n in t.changed.items() if n)
        table.add_row(name, f"{t.raw:,}", f"{t.clean:,}", f"{sum(t.removed.values()):,}",
                      removed or "-", changed or "-")
    console.print(table)
    console.print(f"{report.seconds:.1f} s; balanced: {report.balanced}")


def _features_summary(frame, console, as_of: date) -> None:
    table = Table(title=f"customer features as of {as_of} ({len(frame):,} customers, "
                        f"{frame.shape[1] - 1} features)")
    for column in ("feature", "non-null", "mean", "median", "max"):
        table.add_column(column, justify="left" if column == "feature" else "right")
    for column in frame.columns:
        if column in ("customer_id", "as_of"):
            continue
        values = frame[column]
        if values.dtype.kind in "iufb":
            numbers = values.astype("float64")
            table.add_row(column, f"{values.notna().sum():,}", f"{numbers.mean():.3g}",
                          f"{numbers.median():.3g}", f"{numbers.max():.3g}")
        else:
            top = values.mode().iloc[0] if values.notna().any() else ""
            table.add_row(column, f"{values.notna().sum():,}", f"top: {top}", "", "")
    console.print(table)


def register(app: typer.Typer) -> None:
    @app.command("clean")
    def clean_command() -> None:
        """Clean every raw table into the clean layer and print what each rule did."""
        from patron.apps.cli import console, settings
        from patron.clean import clean_lake

        with console.status("cleaning"):
            report = clean_lake(settings())
        print_cleaning_report(report, console)

    @app.command("features")
    def features_command(
        as_of: Annotated[str, typer.Option("--as-of", help="cut-off date YYYY-MM-DD; "
                                           "features use data strictly before it")],
        out: Annotated[Path | None, typer.Option(help="also write FILE.parquet or FILE.csv")]
        = None,
    ) -> None:
        """Compute customer features as of a date into features/customers."""
        from patron.apps.cli import console, settings
        from patron.errors import PatronError
        from patron.lake import Lake

        try:
            day = date.fromisoformat(as_of)
        except ValueError:
            raise PatronError(f"--as-of {as_of!r}: expected a date like 2026-10-01") from None
        if out is not None and out.suffix.lower() not in (".parquet", ".csv"):
            raise PatronError(f"--out {out}: expected a .parquet or .csv file")
        cfg = settings()
        result = _write(cfg, day, console)
        frame = Lake.from_settings(cfg).read("features", "customers")
        frame = frame[frame["as_of"].astype(str) == day.isoformat()]
        if out is not None:
            out.parent.mkdir(parents=True, exist_ok=True)
            if out.suffix.lower() == ".csv":
                frame.to_csv(out, index=False)
            else:
                frame.to_parquet(out, index=False)
            console.print(f"wrote {out}")
        _features_summary(frame, console, result.as_of)


def _write(cfg, day: date, console):
    from patron.features import write_features

    with console.status(f"features as of {day}"):
        return write_features(cfg, day)


def _demo_clean(ctx: DemoContext) -> None:
    from patron.clean import clean_lake

    report = clean_lake(ctx.settings)
    print_cleaning_report(report, ctx.console)


def _demo_features(ctx: DemoContext) -> None:
    result = _write(ctx.settings, ctx.as_of, ctx.console)
    frame = ctx.lake.read("features", "customers")
    frame = frame[frame["as_of"].astype(str) == ctx.as_of.isoformat()]
    _features_summary(frame, ctx.console, result.as_of)


DEMO_STEPS = [
    (10, "clean", _demo_clean),
    (20, "features", _demo_features),
]
