"""CLI commands of each pipeline stage, one module per stage.

Every module here may define ``register(app: typer.Typer)`` to add its commands and
``DEMO_STEPS``: a list of ``(order, title, function(ctx: DemoContext))`` that ``patron demo``
runs in ``order`` after ingest (order 10–90). Modules are found automatically, so a new
stage adds a file here and touches nothing else.
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType


def stage_modules() -> list[ModuleType]:
    return [
        importlib.import_module(f"{__name__}.{info.name}")
        for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name)
        if not info.name.startswith("_")
    ]
