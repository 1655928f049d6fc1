"""``patron clv``: probabilistic customer lifetime value into the scores layer."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import typer
from rich.table import Table

from patron.lake import batch_id_for

#: the scores table the probabilistic CLV is written to
CLV_TABLE = "lifetime_value"


def run_clv(
    settings,
    lake,
    *,
    as_of: date,
    horizon_months: int,
    discount_rate: float,
    margin: float,
    model: str,
    console,
) -> None:
    import patron
    from patron.models.probabilistic import score_clv

    con = patron.connect(settings, lake=lake)
    scores = score_clv(
        con,
        as_of=as_of,
        horizon_months=horizon_months,
        discount_rate=discount_rate,
        margin=margin,
        model=model,
    )
    lake.write_arrow(
        scores.table,
        "scores",
        CLV_TABLE,
        batch_id=batch_id_for(
            "clv",
            str(as_of),
            model,
            str(horizon_months),
            str(discount_rate),
            str(margin),
            str(len(scores.table)),
        ),
        meta={
            "as_of": str(as_of),
            "model": model,
            "horizon_months": horizon_months,
            "discount_rate_per_month": discount_rate,
            "margin": margin,
            "params": {k: float(v) for k, v in dict(scores.transaction_model.params_).items()},
            "spend_params": {k: float(v) for k, v in dict(scores.spend_model.params_).items()},
        },
    )
    params = ", ".join(
        f"{k}={float(v):.4g}" for k, v in dict(scores.transaction_model.params_).items()
    )
    spend = ", ".join(f"{k}={float(v):.4g}" for k, v in dict(scores.spend_model.params_).items())
    table = scores.table
    console.print(
        f"{model}: {params} (log-likelihood {scores.transaction_model.log_likelihood_:,.1f})"
    )
    console.print(f"gamma-gamma: {spend}")
    summary = Table(
        title=f"CLV as of {as_of}, next {horizon_months} months, "
        f"{discount_rate:.2%}/month discount, margin {margin:.0%}"
    )
    for col in (
        "customers",
        "expected purchases",
        "mean P(alive)",
        "total CLV",
        "mean CLV",
        "top 10% share",
    ):
        summary.add_column(col, justify="right")
    top = table["clv"].nlargest(max(1, len(table) // 10)).sum() / max(table["clv"].sum(), 1e-9)
    summary.add_row(
        f"{len(table):,}",
        f"{table['expected_purchases'].sum():,.0f}",
        f"{table['p_alive'].mean():.2f}",
        f"{table['clv'].sum():,.0f}",
        f"{table['clv'].mean():,.2f}",
        f"{top:.0%}",
    )
    console.print(summary)
    console.print(f"written to the lake: scores/{CLV_TABLE}")


def register(app: typer.Typer) -> None:
    @app.command()
    def clv(
        as_of: Annotated[str | None, typer.Option(help="cut-off date (default: today)")] = None,
        horizon_months: Annotated[int, typer.Option(min=1, help="months ahead")] = 12,
        discount_rate: Annotated[float, typer.Option(help="discount rate per month")] = 0.01,
        margin: Annotated[float, typer.Option(help="share of revenue kept")] = 1.0,
        model: Annotated[str, typer.Option(help="bgnbd, mbgnbd or pareto")] = "bgnbd",
    ) -> None:
        """Per-customer CLV from BG/NBD (or Pareto/NBD) and Gamma-Gamma into scores."""
        from patron.apps.cli import console, settings
        from patron.lake import Lake

        cfg = settings()
        cutoff = date.fromisoformat(as_of) if as_of else date.today()
        run_clv(
            cfg,
            Lake.from_settings(cfg),
            as_of=cutoff,
            horizon_months=horizon_months,
            discount_rate=discount_rate,
            margin=margin,
            model=model,
            console=console,
        )


def _demo_clv(ctx) -> None:
    run_clv(
        ctx.settings,
        ctx.lake,
        as_of=ctx.as_of,
        horizon_months=12,
        discount_rate=0.01,
        margin=1.0,
        model="bgnbd",
        console=ctx.console,
    )


DEMO_STEPS = [(40, "lifetime value (BG/NBD + Gamma-Gamma)", _demo_clv)]
