"""The cleaning pipeline per canonical table, its report, and ``clean_lake`` (raw → clean).

:func:`clean_table` chains the rules of :mod:`patron.clean._rules` in a fixed order —
duplicates by event id, duplicates by content, latest version (customers), strings,
categories, missing values, outliers, returns — in ``mark`` mode, so one aggregate counts
what every rule did. :func:`clean_lake` runs it on DuckDB for every raw table and commits
each clean table with one atomic overwrite, checking ``raw == clean + removed`` first.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import ibis
import ibis.expr.types as ir

from patron.clean import _rules as rules
from patron.config import CleanSettings, Settings
from patron.errors import PatronError
from patron.lake import Lake, batch_id_for

log = logging.getLogger(__name__)

#: trim + case rule per column of each table (closed vocabularies are lower-case in the
#: schema, regions upper-case); order categories are mapped separately
CASE_RULES: dict[str, dict[str, rules.CaseRule]] = {
    "customers": {"region": "upper", "country": "trim", "channel": "lower", "gender": "lower"},
    "orders": {"channel": "lower", "device": "lower", "status": "lower", "currency": "upper",
               "region": "upper", "category": "trim"},
    "sessions": {"device": "lower", "channel": "lower", "source": "lower", "medium": "lower"},
    "support_tickets": {"category": "lower", "priority": "lower"},
    "social_posts": {"platform": "lower", "kind": "lower"},
    "marketing": {"kind": "lower"},
}
#: canonical tables written per month partition in the clean layer
EVENT_TABLES = ("orders", "sessions", "support_tickets", "social_posts", "marketing")


@dataclass
class TableReport:
    """What cleaning did to one table. ``raw == clean + sum(removed.values())``."""

    table: str
    raw: int
    clean: int
    removed: dict[str, int] = field(default_factory=dict)
    changed: dict[str, int] = field(default_factory=dict)

    @property
    def balanced(self) -> bool:
        return self.raw == self.clean + sum(self.removed.values())


@dataclass
class CleaningReport:
    """The cleaning report: one :class:`TableReport` per table, and the run time (seconds)."""

    tables: dict[str, TableReport] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def balanced(self) -> bool:
        return all(t.balanced for t in self.tables.values())

    def to_dict(self) -> dict[str, Any]:
        return {"tables": {k: asdict(v) for k, v in self.tables.items()},
                "seconds": self.seconds}


def clean_table(raw: ir.Table, kind: str, options: CleanSettings | None = None) -> ir.Table:
    """The raw table with every rule applied in ``mark`` mode (nothing filtered yet).

    Pass the result to :func:`finish` for the clean rows, or :func:`report_expr` for counts.
    """
    options = options or CleanSettings()
    # customer versions share their event id (a hash of customer_id): for them identical
    # copies go by content and older versions by latest_version
    t = raw
    if "event_id" in raw.columns and kind != "customers":
        t = rules.dedupe_events(t, mark=True)
    if options.dedupe_content:
        t = rules.dedupe_content(t, mark=True)
    if kind == "customers":
        t = rules.latest_version(t, mark=True)
    case = {c: r for c, r in CASE_RULES.get(kind, {}).items() if c in t.columns}
    if case:
        t = rules.normalize_case(t, case, mark=True)
    if kind == "orders" and "category" in t.columns:
        t = rules.map_categories(t, "category", options.categories,
                                 aliases=options.category_aliases,
                                 other=options.other_category, mark=True)
    for column, policy in options.missing.get(kind, {}).items():  # type: ignore[call-overload]
        _require(t, column, f"clean.missing.{kind}.{column}")
        t = rules.impute(t, column, policy.strategy, value=policy.value, mark=True)
    for n, rule in enumerate(options.outliers.get(kind, [])):  # type: ignore[call-overload]
        _require(t, rule.column, f"clean.outliers.{kind}[{n}].column")
        if rule.group_by:
            _require(t, rule.group_by, f"clean.outliers.{kind}[{n}].group_by")
        t = rules.handle_outliers(t, rule.column, method=rule.method, action=rule.action,
                                  threshold=rule.threshold, group_by=rule.group_by, mark=True)
    if kind == "orders":
        t = rules.net_returns(t, mark=True)
    return t


def _require(t: ir.Table, column: str, key: str) -> None:
    if column not in t.columns:
        from patron.errors import ConfigError

        raise ConfigError(f"{key} = {column!r}: no such column; columns: {list(t.columns)}")


def _markers(t: ir.Table) -> list[str]:
    return [c for c in t.columns if c == rules.REMOVED or c.startswith(rules.CHANGED_PREFIX)]


def finish(marked: ir.Table) -> ir.Table:
    """The clean rows of a marked table, without the marker columns."""
    out = marked.filter(rules.kept(marked)) if rules.REMOVED in marked.columns else marked
    return out.drop(*_markers(marked)) if _markers(marked) else out


def report_expr(marked: ir.Table) -> ir.Table:
    """A one-row aggregate: total rows, rows removed by each rule, rows changed by each rule.

    Removal rules are read from the table itself, so the counts cover whatever removed
    a row. Column names: ``rows``, ``removed::<rule>`` per distinct rule, ``changed::<rule>``.
    """
    changed = {
        "changed::" + c[len(rules.CHANGED_PREFIX):]: marked[c].cast("int64").sum()
        for c in marked.columns if c.startswith(rules.CHANGED_PREFIX)
    }
    return marked.agg(rows=ibis._.count(), **changed)


def removed_expr(marked: ir.Table) -> ir.Table:
    """Rows per removing rule (``_removed_by`` null = kept)."""
    if rules.REMOVED not in marked.columns:
        return marked.agg(n=ibis._.count()).mutate(rule=ibis.null("string"))
    return marked.group_by(rule=marked[rules.REMOVED]).agg(n=ibis._.count())


def table_report(kind: str, marked: ir.Table) -> TableReport:
    """Run the two report aggregates and assemble a :class:`TableReport`."""
    totals = report_expr(marked).to_pyarrow().to_pylist()[0]
    removed_rows = removed_expr(marked).to_pyarrow().to_pylist()
    removed = {r["rule"]: int(r["n"]) for r in removed_rows if r["rule"] is not None}
    clean = sum(int(r["n"]) for r in removed_rows if r["rule"] is None)
    changed = {k[len("changed::"):]: int(v or 0) for k, v in totals.items()
               if k.startswith("changed::")}
    return TableReport(table=kind, raw=int(totals["rows"]), clean=clean,
                       removed=dict(sorted(removed.items())), changed=changed)


def clean_lake(
    settings_or_lake: Settings | Lake,
    *,
    tables: list[str] | None = None,
    options: CleanSettings | None = None,
) -> CleaningReport:
    """Clean every raw table of the lake into the ``clean`` layer (DuckDB), with a report.

    Each table is marked once into a temporary DuckDB table, counted, checked
    (``raw == clean + removed``, else nothing is written) and committed with an atomic
    overwrite; event tables keep their ``month=YYYY-MM`` partitions. Re-running replaces
    the clean layer with the same content.
    """
    started = time.perf_counter()
    if isinstance(settings_or_lake, Lake):
        lake, settings = settings_or_lake, None
    else:
        settings = settings_or_lake
        lake = Lake.from_settings(settings)
    options = options or (settings.clean if settings is not None else CleanSettings())
    from patron.engine import _apply_duckdb_settings, register_views

    con = ibis.duckdb.connect()
    _apply_duckdb_settings(con.con, settings)
    report = CleaningReport()
    try:
        register_views(con.con, lake, temporary=True)
        kinds = tables or lake.tables("raw")
        for kind in kinds:
            if not lake.has_table("raw", kind):
                raise PatronError(f"the lake has no raw/{kind} table",
                                  hint="produce it with: patron ingest FILE --kind KIND")
            raw = con.table(f"raw_{kind}")
            marked = clean_table(raw, kind, options)
            scratch = f"_clean_marked_{kind}"
            con.create_table(scratch, marked, temp=True, overwrite=True)
            marked_table = con.table(scratch)
            table_report_ = table_report(kind, marked_table)
            if not table_report_.balanced:  # pragma: no cover - a bug, never a data problem
                raise PatronError(f"clean {kind}: accounting does not balance: {table_report_}")
            sql = ibis.to_sql(finish(marked_table), dialect="duckdb")
            partition = ["month"] if kind in EVENT_TABLES and "month" in raw.columns else []
            batch = batch_id_for("clean", kind, datetime.now(UTC).isoformat())
            lake.write_relation(
                con.con, str(sql), "clean", kind, batch_id=batch, partition_by=partition,
                mode="overwrite", meta={"report": asdict(table_report_)},
                operation=f"clean {kind}",
            )
            con.drop_table(scratch, force=True)
            report.tables[kind] = table_report_
            log.info("clean %s: %d raw → %d clean rows; removed %s", kind, table_report_.raw,
                     table_report_.clean, table_report_.removed)
    finally:
        con.disconnect()
    report.seconds = time.perf_counter() - started
    return report
