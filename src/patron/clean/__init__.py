"""Cleaning (raw → clean): duplicates, versions, strings, missing values, outliers, returns.

Every rule is a function ``Table -> Table`` of Ibis expressions, so it runs on DuckDB and
PySpark alike; :func:`clean_lake` materialises the clean layer and returns a
:class:`CleaningReport` whose counts satisfy ``raw == clean + removed-by-rule`` per table.
"""

from patron.clean._pipeline import (
    CASE_RULES,
    CleaningReport,
    TableReport,
    clean_lake,
    clean_table,
    finish,
    table_report,
)
from patron.clean._rules import (
    dedupe_content,
    dedupe_events,
    handle_outliers,
    impute,
    latest_version,
    map_categories,
    net_returns,
    normalize_case,
    outlier_bounds,
)

__all__ = [
    "CASE_RULES",
    "CleaningReport",
    "TableReport",
    "clean_lake",
    "clean_table",
    "dedupe_content",
    "dedupe_events",
    "finish",
    "handle_outliers",
    "impute",
    "latest_version",
    "map_categories",
    "net_returns",
    "normalize_case",
    "outlier_bounds",
    "table_report",
]
