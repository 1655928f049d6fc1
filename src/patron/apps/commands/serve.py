"""Where marketers use patron: ``dashboard``, ``serve`` (API), ``publish`` and ``export``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from patron.errors import PatronError, require

if TYPE_CHECKING:
    from patron.apps.demo import DemoContext

export_app = typer.Typer(help="Export scores: Tableau Hyper extracts and campaign lists.",
                         no_args_is_help=True)


def _config_path() -> str | None:
    """The patron.toml the CLI uses, as an absolute path for child processes."""
    from patron.apps.cli import _state
    from patron.config import _find_config

    found = _find_config(_state["config"])  # type: ignore[arg-type]
    return str(found) if found else None


def _db():
    from patron.apps._lakedb import LakeDB
    from patron.apps.cli import settings
    from patron.lake import Lake

    cfg = settings()
    return LakeDB(Lake.from_settings(cfg), cfg)


def dashboard_command(
    port: Annotated[int, typer.Option(min=1, max=65535, help="port to listen on")] = 8501,
    host: Annotated[str, typer.Option(help="address to bind")] = "127.0.0.1",
) -> None:
    """Open the Streamlit dashboard on the lake (http://HOST:PORT)."""
    from patron.apps.cli import console
    from patron.apps.dashboard import APP

    require("streamlit", "dashboard")
    env = dict(os.environ)
    config = _config_path()
    if config:
        env["PATRON_CONFIG"] = config
    command = [
        sys.executable, "-m", "streamlit", "run", str(APP),
        "--server.port", str(port), "--server.address", host, "--server.headless", "true",
        "--browser.gatherUsageStats", "false",
    ]
    console.print(f"dashboard on http://{host}:{port} (Ctrl+C to stop)")
    try:
        raise typer.Exit(subprocess.call(command, env=env))
    except KeyboardInterrupt:
        raise typer.Exit(0) from None


def serve_command(
    host: Annotated[str, typer.Option(help="address to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="port to listen on")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="uvicorn worker processes")] = 1,
) -> None:
    """Run the scoring API (docs at http://HOST:PORT/docs; needs an X-API-Key)."""
    from patron.apps.cli import console, settings

    require("fastapi", "api")
    uvicorn = require("uvicorn", "api")
    cfg = settings()
    if not cfg.api.keys:
        console.print("[yellow]no API keys configured ([api] keys or PATRON_API__KEYS): "
                      "every call but /health will be refused")
    config = _config_path()
    if config:
        os.environ["PATRON_CONFIG"] = config
    console.print(f"API on http://{host}:{port} (docs: /docs)")
    uvicorn.run("patron.apps.api:app_from_env", factory=True, host=host, port=port,
                workers=workers, log_level="warning")


def publish_command(
    url: Annotated[str, typer.Argument(help="postgresql://user@host:port/database")],
    schema: Annotated[str, typer.Option(help="PostgreSQL schema")] = "public",
    prefix: Annotated[str, typer.Option(help="table name prefix")] = "patron_",
) -> None:
    """Upsert scores, segments and CLV into PostgreSQL tables keyed by customer."""
    from rich.table import Table

    from patron.apps.cli import console
    from patron.apps.exports import publish_postgres

    if not url.startswith(("postgresql://", "postgres://")):
        raise PatronError(f"{_redact(url)}: expected a postgresql:// URL")
    with console.status("publishing"):
        result = publish_postgres(_db(), url, schema=schema, prefix=prefix)
    table = Table(title=f"published to {_redact(url)} (schema {result.schema})")
    for column in ("table", "rows sent", "inserted or changed"):
        table.add_column(column, justify="left" if column == "table" else "right")
    for name, sent in result.sent.items():
        table.add_row(f"{prefix}{name}", f"{sent:,}", f"{result.changed[name]:,}")
    console.print(table)


def _redact(url: str) -> str:
    """A connection URL without its password, for messages."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


@export_app.command("hyper")
def export_hyper_command(
    out: Annotated[Path, typer.Argument(help="the .hyper file to write")],
) -> None:
    """Write every customer's scores to a Tableau Hyper extract."""
    from patron.apps.cli import console
    from patron.apps.exports import export_hyper

    with console.status("writing the extract"):
        result = export_hyper(_db(), out)
    console.print(f"wrote {result.rows:,} customers × {result.columns} columns to "
                  f"{result.path} (table {result.table})")


@export_app.command("campaign")
def export_campaign_command(
    out: Annotated[Path, typer.Option("--out", help="file to write (.csv or .parquet)")],
    segment: Annotated[str | None, typer.Option(help="K-Means or RFM segment")] = None,
    risk: Annotated[list[str] | None, typer.Option(help="high, medium or low (repeatable)")
                    ] = None,
    region: Annotated[list[str] | None, typer.Option(help="region (repeatable)")] = None,
    min_clv: Annotated[float | None, typer.Option(help="minimum predicted CLV")] = None,
    fmt: Annotated[str | None, typer.Option("--format", help="csv or parquet")] = None,
    opted_in_only: Annotated[bool, typer.Option(
        "--opted-in-only/--all-customers", help="only customers who opted in to email")
    ] = True,
) -> None:
    """Write a campaign list for a mailing tool (customer, opt-in, region, segment, risk,
    CLV, top reason)."""
    from patron.apps._scores import RISKS
    from patron.apps.cli import console
    from patron.apps.exports import campaign_frame, write_campaign

    for value in risk or []:
        if value not in RISKS:
            raise PatronError(f"--risk {value!r}: expected one of {', '.join(RISKS)}")
    frame = campaign_frame(_db(), segment=segment, risk=risk or None, region=region or None,
                           min_clv=min_clv, opted_in_only=opted_in_only)
    path = write_campaign(frame, out, fmt)  # type: ignore[arg-type]
    console.print(f"wrote {len(frame):,} customers to {path}")


def register(app: typer.Typer) -> None:
    app.command("dashboard")(dashboard_command)
    app.command("serve")(serve_command)
    app.command("publish")(publish_command)
    app.add_typer(export_app, name="export")


# -- demo step ----------------------------------------------------------------------------


def _demo_campaign(ctx: DemoContext) -> None:
    from patron.apps._lakedb import LakeDB
    from patron.apps.exports import campaign_frame, write_campaign

    db = LakeDB(ctx.lake, ctx.settings)
    try:
        risky = db.has("scores_churn")
        frame = campaign_frame(db, risk=("high",) if risky else None, opted_in_only=True)
        if not risky:  # before churn is scored: the most valuable customers at all
            frame = frame.sort_values("clv", ascending=False, na_position="last").head(1000)
        path = write_campaign(frame, ctx.directory / "campaign.csv")
    finally:
        db.close()
    who = "high churn risk" if risky else "highest CLV (churn not scored yet)"
    ctx.console.print(f"campaign list: {path} ({len(frame):,} opted-in customers, {who})")
    ctx.console.print(f"dashboard:     cd {ctx.directory} && patron dashboard   "
                      "(then open http://127.0.0.1:8501)")
    ctx.console.print(f"API:           cd {ctx.directory} && PATRON_API__KEYS=demo-key "
                      "patron serve   (docs at http://127.0.0.1:8000/docs)")


DEMO_STEPS = [(90, "campaign list and apps", _demo_campaign)]
