"""``patron demo``: the whole pipeline on synthetic data, from nothing to a described lake.

Each stage of patron adds its step here, so the demo always runs everything end to end.
Re-running it reuses the synthetic data and the ingested batches (ingest is idempotent).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from rich.console import Console

from patron.config import CONFIG_FILE, DEFAULT_TOML, Settings
from patron.lake import Lake


@dataclass
class DemoContext:
    """What every demo step gets: where things are, and the date the data ends."""

    directory: Path
    data: Path
    settings: Settings
    lake: Lake
    console: Console
    as_of: date
    customers: int
    seed: int
    timings: dict[str, float] = field(default_factory=dict)


#: the synthetic history ends the day before this date; features and scores are as of it
DEMO_AS_OF = date(2026, 10, 1)


def run_demo(
    directory: Path, *, customers: int, seed: int, dirt: float, console: Console
) -> dict[str, float]:
    """Run every demo step; returns seconds per step."""
    from patron.apps.cli import ingest_paths, print_accounting, print_lake_status, synthesise

    timings: dict[str, float] = {}
    directory = directory.resolve()
    directory.mkdir(parents=True, exist_ok=True)
    config = directory / CONFIG_FILE
    if not config.exists():
        config.write_text(DEFAULT_TOML, encoding="utf-8")
    settings = Settings.load(config)
    lake = Lake.from_settings(settings)
    lake.init()
    data = directory / "data"

    console.rule("[bold]1. synthetic data")
    started = time.perf_counter()
    params = {"customers": customers, "seed": seed, "dirt": dirt}
    marker = data / ".synth.json"
    if marker.exists() and json.loads(marker.read_text()) == params:
        console.print(f"reusing synthetic data in {data}")
    else:
        result = synthesise(data, customers=customers, seed=seed, dirt=dirt)
        marker.write_text(json.dumps(params))
        console.print(
            ", ".join(f"{kind}: {n:,}" for kind, n in result.rows.items())
            + f" rows in {result.seconds:.1f} s"
        )
    timings["synth"] = time.perf_counter() - started

    console.rule("[bold]2. ingest")
    started = time.perf_counter()
    results = ingest_paths(lake, settings, [data])
    print_accounting(results)
    timings["ingest"] = time.perf_counter() - started

    from patron.apps.commands import stage_modules

    ctx = DemoContext(
        directory=directory,
        data=data,
        settings=settings,
        lake=lake,
        console=console,
        as_of=DEMO_AS_OF,
        customers=customers,
        seed=seed,
        timings=timings,
    )
    steps = sorted(
        (step for module in stage_modules() for step in getattr(module, "DEMO_STEPS", [])),
        key=lambda step: step[0],
    )
    for number, (_, title, function) in enumerate(steps, start=3):
        console.rule(f"[bold]{number}. {title}")
        started = time.perf_counter()
        function(ctx)
        timings[title] = time.perf_counter() - started

    console.rule("[bold]lake")
    print_lake_status(lake)

    console.rule("[bold]done")
    total = sum(timings.values())
    console.print(f"project:   {directory}  (config {config.name})")
    console.print(f'lake:      {lake.root}  (query it: python -c "import patron; ...")')
    console.print(f"data:      {data}")
    console.print(
        "steps:     "
        + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items())
        + f"; total {total:.1f} s"
    )
    console.print(f"next:      cd {directory} && patron lake status")
    return timings
