"""Read-only view of the model registry for the apps (dashboard Models page, API scoring).

The registry lives in ``[models] registry_path`` (default ``<lake>/_models``), laid out by
:mod:`patron.models.registry` (``<name>/v<N>/meta.json`` and ``evaluation.json``). Its
``list_models`` is used when importable; otherwise the ``meta.json`` files are read
directly. A missing registry is an empty table, never an error.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pandas as pd

log = logging.getLogger(__name__)

#: metadata keys lifted to columns when present
_KEYS = ("name", "version", "model_version", "promoted", "created_at")


def registry_path(db: Any) -> Path:
    """The registry folder the settings name (``<lake>/_models`` by default)."""
    settings = getattr(db, "settings", None)
    configured = settings.models.registry_path if settings is not None else ""
    if configured:
        path = Path(configured).expanduser()
        return path if path.is_absolute() else (settings.root / path).resolve()
    return db.lake.root / "_models"


def _records(db: Any) -> list[dict[str, Any]]:
    root = registry_path(db)
    try:
        from patron.models.registry import list_models as package_list
    except ImportError:
        package_list = None
    if package_list is not None:
        try:
            return list(package_list(root))
        except Exception as exc:  # a broken registry must not break the dashboard
            log.warning("model registry at %s could not be listed: %s", root, exc)
            return []
    if not root.is_dir():
        return []
    records = []
    for path in sorted(root.rglob("meta.json")):
        try:
            meta = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(meta, dict):
            meta.setdefault("path", str(path.parent))
            records.append(meta)
    return records


def _flatten(metrics: Any, prefix: str = "metric_") -> dict[str, Any]:
    """Scalar metrics as ``metric_<name>`` columns; one nesting level (``backtest``,
    ``fit``) is lifted, deeper structures are left to the evaluation file."""
    out: dict[str, Any] = {}
    if not isinstance(metrics, dict):
        return out
    for key, value in metrics.items():
        if isinstance(value, bool | int | float | str) or value is None:
            out[f"{prefix}{key}"] = value
        elif isinstance(value, dict) and key in ("backtest", "fit", "test", "holdout"):
            out.update(_flatten(value, prefix))
    return out


def list_models(db: Any) -> pd.DataFrame:
    """One row per saved model version: ``name``, ``version``, ``model_version``,
    ``promoted``, ``created_at``, ``estimator``, ``path`` and scalar ``metric_*`` columns."""
    rows = []
    for meta in _records(db):
        row: dict[str, Any] = {k: meta.get(k) for k in _KEYS if k in meta}
        row.setdefault("model_version", f"{meta.get('name')}-{meta.get('version')}")
        row["estimator"] = meta.get("estimator")
        row.update(_flatten(meta.get("metrics")))
        row["path"] = meta.get("path", "")
        rows.append(row)
    return pd.DataFrame(rows)


def model_evaluation(path: str | Path) -> dict[str, pd.DataFrame]:
    """The tables of a version's ``evaluation.json`` (``calibration``,
    ``confusion_at_capacity``, ``lift``…) as DataFrames; empty when not saved."""
    file = Path(path) / "evaluation.json"
    if not file.is_file():
        return {}
    try:
        payload = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {name: pd.DataFrame(rows) for name, rows in (payload.get("tables") or {}).items()
            if isinstance(rows, list)}
