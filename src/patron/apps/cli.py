"""The ``patron`` command line. It owns the terminal: tables, progress bars, errors.

User errors (:class:`~patron.errors.PatronError`) print one red line and a hint and exit
with status 2; a traceback is shown only with ``--debug``.
"""

from __future__ import annotations

import logging
import re
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from patron.config import CONFIG_FILE, DEFAULT_TOML, Settings
from patron.errors import PatronError, SourceError

app = typer.Typer(
    name="patron",
    help="Customer analytics: ingest, clean, features, segments, churn, CLV.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
lake_app = typer.Typer(help="Inspect and maintain the Parquet lake.", no_args_is_help=True)
app.add_typer(lake_app, name="lake")

console = Console()
err_console = Console(stderr=True)
_state: dict[str, object] = {"debug": False, "config": None}


@app.callback()
def _main(
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="patron.toml to use")
    ] = None,
    debug: Annotated[bool, typer.Option("--debug", help="show tracebacks")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="log progress")] = False,
) -> None:
    _state["debug"] = debug
    _state["config"] = config
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )


def settings() -> Settings:
    return Settings.load(_state["config"])  # type: ignore[arg-type]


def progress_bar() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )


# -- init ----------------------------------------------------------------------------


@app.command()
def init(
    directory: Annotated[Path, typer.Argument(help="project folder")] = Path("."),
    force: Annotated[bool, typer.Option(help="overwrite an existing patron.toml")] = False,
) -> None:
    """Write a commented patron.toml and an empty lake."""
    from patron.lake import Lake

    directory.mkdir(parents=True, exist_ok=True)
    path = directory / CONFIG_FILE
    if path.exists() and not force:
        console.print(f"{path} exists; kept it (use --force to overwrite)")
    else:
        path.write_text(DEFAULT_TOML, encoding="utf-8")
        console.print(f"wrote {path}")
    cfg = Settings.load(path)
    Lake.from_settings(cfg).init()
    console.print(f"lake ready at {cfg.lake_path}")


# -- synth ---------------------------------------------------------------------------


@app.command()
def synth(
    out: Annotated[Path, typer.Argument(help="folder to write the files into")] = Path("data"),
    customers: Annotated[int, typer.Option(min=1, help="number of customers")] = 20_000,
    seed: Annotated[int, typer.Option(help="random seed")] = 0,
    dirt: Annotated[float, typer.Option(min=0.0, max=1.0, help="share of dirty rows")] = 0.0,
    start: Annotated[str, typer.Option(help="first day of history")] = "2023-10-01",
    end: Annotated[str, typer.Option(help="last day of history")] = "2026-09-30",
    orders_format: Annotated[
        str, typer.Option(help="mixed (Parquet + store CSV), csv or parquet")
    ] = "mixed",
) -> None:
    """Generate realistic multi-source customer data with known ground truth."""
    result = synthesise(
        out,
        customers=customers,
        seed=seed,
        dirt=dirt,
        start=start,
        end=end,
        orders_format=orders_format,
    )
    table = Table(title=f"synthetic data in {result.out_dir}")
    table.add_column("file")
    table.add_column("rows", justify="right")
    for kind, n in result.rows.items():
        table.add_row(kind, f"{n:,}")
    console.print(table)
    console.print(f"{result.seconds:.1f} s")


def synthesise(out: Path, *, customers: int, **options):
    """Run the synthetic data generator with a progress bar; returns its SynthResult."""
    from patron.synth import generate

    with progress_bar() as bar:
        task = bar.add_task("synthesising customers", total=customers)
        return generate(
            out,
            customers=customers,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
            **options,
        )


# -- ingest --------------------------------------------------------------------------


@app.command()
def ingest(
    sources: Annotated[
        list[str],
        typer.Argument(help="files, folders, postgresql://… or mongodb://… URLs"),
    ],
    kind: Annotated[
        str | None,
        typer.Option(help="customers|orders|sessions|support_tickets|social_posts|marketing"),
    ] = None,
    preset: Annotated[
        str | None, typer.Option(help="mapping preset: patron, uci-retail or generic")
    ] = None,
    mapping: Annotated[Path | None, typer.Option(help="mapping file (TOML or JSON)")] = None,
    encoding: Annotated[str | None, typer.Option(help="CSV encoding, or auto")] = None,
    sheet: Annotated[str | None, typer.Option(help="Excel worksheet")] = None,
    table: Annotated[str | None, typer.Option(help="PostgreSQL table (schema.table)")] = None,
    db: Annotated[str | None, typer.Option(help="MongoDB database")] = None,
    collection: Annotated[str | None, typer.Option(help="MongoDB collection")] = None,
    incremental_column: Annotated[
        str | None,
        typer.Option(help="column (PostgreSQL) or field (MongoDB, or _id) read incrementally"),
    ] = None,
    explode: Annotated[
        str | None, typer.Option(help="MongoDB array field: one row per element")
    ] = None,
    chunk_rows: Annotated[int, typer.Option(min=1, help="rows per database fetch")] = 100_000,
) -> None:
    """Ingest files, PostgreSQL tables or MongoDB collections: every row accepted or
    quarantined with a reason."""
    from patron.lake import Lake

    cfg = settings()
    lake = Lake.from_settings(cfg)
    urls = [s for s in sources if _DATABASE_URL.match(s)]
    files = [Path(s) for s in sources if not _DATABASE_URL.match(s)]
    results = []
    if files:
        results += ingest_paths(
            lake,
            cfg,
            files,
            kind=kind,
            preset=preset,
            mapping=mapping,
            encoding=encoding,
            sheet=sheet,
        )
    for url in urls:
        results.append(
            ingest_database(
                lake,
                cfg,
                url,
                kind=kind,
                preset=preset,
                mapping=mapping,
                table=table,
                db=db,
                collection=collection,
                incremental=incremental_column,
                explode=explode,
                chunk_rows=chunk_rows,
            )
        )
    print_accounting(results)


_DATABASE_URL = re.compile(r"^(postgres(ql)?|mongodb(\+srv)?)://", re.IGNORECASE)


def ingest_database(lake, cfg: Settings, url: str, **options):
    """Ingest one PostgreSQL table or MongoDB collection named by a URL and options."""
    from patron.ingest._live import safe_url

    common = {
        "kind": options["kind"],
        "preset": options["preset"],
        "mapping_file": options["mapping"],
        "default_currency": cfg.ingest.default_currency,
        "max_future_skew_hours": cfg.ingest.max_future_skew_hours,
        "partition_by_region": cfg.lake.partition_by_region,
    }
    if url.lower().startswith("mongodb"):
        from patron.ingest.mongo import ingest_mongo

        if not options["db"] or not options["collection"]:
            raise SourceError(f"{safe_url(url)}: a MongoDB source needs --db and --collection")
        with console.status(f"reading {options['db']}.{options['collection']} …"):
            return ingest_mongo(
                lake,
                url,
                db=options["db"],
                collection=options["collection"],
                incremental_field=options["incremental"],
                explode=options["explode"],
                **common,
            )
    from patron.ingest.sql import ingest_postgres

    if not options["table"]:
        raise SourceError(f"{safe_url(url)}: a PostgreSQL source needs --table")
    with console.status(f"reading {options['table']} …"):
        return ingest_postgres(
            lake,
            url,
            table=options["table"],
            incremental_column=options["incremental"],
            chunk_rows=options["chunk_rows"],
            memory_limit=cfg.engine.memory_limit,
            threads=cfg.engine.threads,
            **common,
        )


def ingest_paths(lake, cfg: Settings, sources: list[Path], **options) -> list:
    """Ingest files and folders with a progress bar; returns the IngestResults."""
    from patron.ingest import discover, ingest_file, kind_for

    kind = options.pop("kind", None)
    encoding = options.pop("encoding", None) or cfg.ingest.encoding
    jobs: list[tuple[Path, str | None]] = []
    for source in sources:
        if source.is_dir():
            found, unknown = discover(source)
            jobs += [(p, kind or k) for p, k in found]
            for path in unknown:
                console.print(f"[yellow]skipped {path}: its name does not say which table it holds")
        elif source.exists():
            jobs.append((source, kind_for(source, kind)))
        else:
            raise SourceError(f"{source}: no such file or folder")
    results = []
    with progress_bar() as bar:
        task = bar.add_task("ingesting", total=len(jobs))
        for path, job_kind in jobs:
            bar.update(task, description=f"ingesting {path.name}")
            results.append(
                ingest_file(
                    lake,
                    path,
                    job_kind,
                    encoding=encoding,
                    default_currency=cfg.ingest.default_currency,
                    max_future_skew_hours=cfg.ingest.max_future_skew_hours,
                    partition_by_region=cfg.lake.partition_by_region,
                    memory_limit=cfg.engine.memory_limit,
                    threads=cfg.engine.threads,
                    **options,
                )
            )
            bar.advance(task)
    return results


def print_accounting(results: list) -> None:
    table = Table(title="ingest accounting: read = accepted + quarantined")
    table.add_column("source", overflow="fold")
    table.add_column("kind")
    for col in ("read", "accepted", "anonymous", "quarantined"):
        table.add_column(col, justify="right")
    for r in results:
        name = Path(r.source).name + (" (no change)" if r.skipped else "")
        table.add_row(
            name,
            r.kind,
            f"{r.rows_read:,}",
            f"{r.accepted:,}",
            f"{r.anonymous:,}",
            f"{r.quarantined:,}",
        )
    fresh = [r for r in results if not r.skipped]
    total = [
        sum(getattr(r, k) for r in fresh)
        for k in ("rows_read", "accepted", "anonymous", "quarantined")
    ]
    table.add_row("[bold]total (new)", "", *(f"[bold]{n:,}" for n in total))
    console.print(table)
    for r in results:
        if r.skipped:
            console.print(
                f"{Path(r.source).name}: already ingested (batch {r.batch_id}, "
                f"{(r.previously_committed_at or '')[:19]}): no change"
            )
        if r.quarantined_by_rule:
            reasons = ", ".join(f"{rule} {n:,}" for rule, n in r.quarantined_by_rule.items())
            console.print(f"[yellow]{Path(r.source).name} quarantined:[/] {reasons}")
        if r.guessed:
            guessed = ", ".join(f"{k} ← {v}" for k, v in r.guessed.items())
            console.print(f"[cyan]{Path(r.source).name}: guessed columns: {guessed}")


# -- lake ----------------------------------------------------------------------------


@lake_app.command("status")
def lake_status() -> None:
    """Layers, tables, partitions, rows, bytes and last batches."""
    from patron.lake import Lake

    lake = Lake.from_settings(settings())
    print_lake_status(lake)


def print_lake_status(lake) -> None:
    rows = lake.status()
    table = Table(title=f"lake {lake.root}")
    table.add_column("layer/table")
    for col in ("parts", "files", "rows", "MB", "archived"):
        table.add_column(col, justify="right")
    table.add_column("last batch")
    for s in rows:
        table.add_row(
            f"{s.layer}/{s.table}",
            str(s.partitions),
            str(s.files),
            f"{s.rows:,}",
            f"{s.bytes / 1e6:.1f}",
            str(s.archived_files),
            f"{s.last_batch or ''} {(s.last_commit or '')[:16]}",
        )
    if not rows:
        table.add_row("(empty)", "", "", "", "", "", "")
    console.print(table)


@lake_app.command("archive")
def lake_archive(
    older_than: Annotated[str, typer.Option(help="age such as 24M or 2Y")] = "24M",
) -> None:
    """Move partitions older than the given age to the cold tier (still queryable)."""
    from patron.lake import Lake, archive, parse_age

    lake = Lake.from_settings(settings())
    result = archive(lake, parse_age(older_than))
    console.print(
        f"archived {result.files} file(s) in {result.partitions} partition(s), "
        f"{result.bytes / 1e6:.1f} MB → {result.destination}"
    )


@lake_app.command("compact")
def lake_compact(
    layer: Annotated[str, typer.Option(help="layer to compact")] = "raw",
    table: Annotated[str | None, typer.Option(help="table (default: all of the layer)")] = None,
) -> None:
    """Merge small files of each partition into one."""
    from patron.lake import Lake, compact

    cfg = settings()
    lake = Lake.from_settings(cfg)
    for name in [table] if table else lake.tables(layer):
        result = compact(lake, layer, name, below_mb=cfg.lake.compact_below_mb)
        console.print(
            f"{layer}/{name}: {result.files_before} → {result.files_after} file(s) "
            f"in {result.partitions} partition(s) merged"
        )


@lake_app.command("recover")
def lake_recover() -> None:
    """Remove files an interrupted write left behind (they were never visible)."""
    from patron.lake import Lake

    removed = Lake.from_settings(settings()).catalog.recover()
    console.print(f"removed {removed} uncommitted file(s)")


# -- demo ----------------------------------------------------------------------------


@app.command()
def demo(
    directory: Annotated[Path, typer.Option("--dir", help="folder for data and lake")] = Path(
        "demo"
    ),
    customers: Annotated[int, typer.Option(min=100, help="synthetic customers")] = 20_000,
    seed: Annotated[int, typer.Option(help="random seed")] = 0,
    dirt: Annotated[float, typer.Option(min=0.0, max=1.0, help="share of dirty rows")] = 0.02,
) -> None:
    """Run the whole pipeline end to end on synthetic data."""
    from patron.apps.demo import run_demo

    run_demo(directory, customers=customers, seed=seed, dirt=dirt, console=console)


def _register_stage_commands() -> None:
    from patron.apps.commands import stage_modules

    for module in stage_modules():
        if hasattr(module, "register"):
            module.register(app)


_register_stage_commands()


def main() -> None:
    """Console-script entry point: user errors as one red line, tracebacks with --debug."""
    try:
        app()
    except PatronError as exc:
        if _state["debug"]:
            raise
        # soft wrap: an error stays one line, whatever the terminal's width
        err_console.print(f"[bold red]error:[/] {exc.message}", highlight=False, soft_wrap=True)
        if exc.hint:
            err_console.print(f"[dim]hint: {exc.hint}[/]", highlight=False, soft_wrap=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
