"""Validation: every source row becomes a typed canonical row or a quarantined one.

:func:`canonical_sql` compiles a :class:`~patron.ingest.mapping.Mapping` and the table's
:class:`~patron.schema.TableSpec` into one DuckDB query over a source relation. The query
types each column with ``TRY_CAST``/``TRY_STRPTIME`` (so a bad value never aborts the
read), checks the value rules in order and names the first one a row breaks in
``_rule`` (a code such as ``unit_price:minimum``) and ``_reason`` (a sentence with the
offending value). Accepted rows have both null. The query streams: DuckDB reads, checks
and writes in one pass, out of core.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from patron.ingest.mapping import ColumnMap, Mapping
from patron.schema import Column, TableSpec

ROW = "_row"  # 1-based row number of the source, provided by the reader


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: object) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


@dataclass(frozen=True)
class CanonicalQuery:
    """The compiled query and the names it produces."""

    sql: str
    columns: list[str]


def _raw_expr(cm: ColumnMap | None, missing: tuple[str, ...], source_types: dict[str, str]) -> str:
    """The source value of a column as VARCHAR, with missing-value tokens turned into NULL."""
    if cm is None:
        return "NULL"
    if cm.const is not None:
        return f"CAST({quote_literal(cm.const)} AS VARCHAR)"
    if cm.sql is not None:
        expr = f"CAST(({cm.sql}) AS VARCHAR)"
    else:
        src = source_types.get(cm.source or "", "VARCHAR")
        ident = quote_ident(cm.source or "")
        if src.upper().startswith("TIMESTAMP") or src.upper() == "DATE":
            expr = f"strftime({ident}, '%Y-%m-%d %H:%M:%S.%f')"
        else:
            expr = f"CAST({ident} AS VARCHAR)"
    tokens = ", ".join(quote_literal(t) for t in missing)
    value = f"trim({expr})"
    if cm.values:
        cases = " ".join(
            f"WHEN lower({value}) = {quote_literal(k.strip().lower())} THEN {quote_literal(v)}"
            for k, v in cm.values.items()
        )
        expr = f"CASE {cases} ELSE {expr} END"
    return f"CASE WHEN lower({value}) IN ({tokens}) THEN NULL ELSE {expr} END"


_BOOL_TRUE = ("true", "t", "yes", "y", "1", "1.0")
_BOOL_FALSE = ("false", "f", "no", "n", "0", "0.0")


def _typed_expr(col: Column, raw: str, formats: tuple[str, ...] | None) -> str:
    if col.dtype == "string":
        return raw
    if col.dtype == "float64":
        return f"TRY_CAST({raw} AS DOUBLE)"
    if col.dtype == "int64":
        return f"TRY_CAST(TRY_CAST({raw} AS DOUBLE) AS BIGINT)"
    if col.dtype == "bool":
        t = ", ".join(quote_literal(v) for v in _BOOL_TRUE)
        f = ", ".join(quote_literal(v) for v in _BOOL_FALSE)
        return (
            f"CASE WHEN lower(trim({raw})) IN ({t}) THEN TRUE "
            f"WHEN lower(trim({raw})) IN ({f}) THEN FALSE END"
        )
    target = "TIMESTAMP" if col.dtype == "timestamp" else "DATE"
    if formats:
        fmts = "[" + ", ".join(quote_literal(f) for f in formats) + "]"
        parsed = f"TRY_STRPTIME({raw}, {fmts})"
        return f"CAST(COALESCE({parsed}, TRY_CAST({raw} AS TIMESTAMP)) AS {target})"
    return f"CAST(TRY_CAST({raw} AS TIMESTAMP) AS {target})"


def _rules(col: Column, raw: str, typed: str, now: datetime) -> list[tuple[str, str, str]]:
    """(condition, rule code, reason SQL) in the order they are checked."""
    name = col.name
    shown = f"'''' || {raw} || ''''"
    rules: list[tuple[str, str, str]] = []
    if col.required:
        rules.append((f"{raw} IS NULL", f"{name}:missing", f"'{name}: missing (required)'"))
    expected = {
        "float64": "a number",
        "int64": "a whole number",
        "bool": "true/false",
        "timestamp": "a date-time",
        "date": "a date",
    }.get(col.dtype)
    if expected:
        rules.append(
            (
                f"{raw} IS NOT NULL AND {typed} IS NULL",
                f"{name}:type",
                f"'{name}: ' || {shown} || ' is not {expected}'",
            )
        )
    if col.dtype == "int64":
        rules.append(
            (
                f"{typed} IS NOT NULL AND TRY_CAST({raw} AS DOUBLE) <> {typed}",
                f"{name}:type",
                f"'{name}: ' || {shown} || ' is not a whole number'",
            )
        )
    if col.allowed:
        allowed = ", ".join(quote_literal(v) for v in col.allowed)
        rules.append(
            (
                f"{typed} IS NOT NULL AND lower(trim({typed})) NOT IN ({allowed})",
                f"{name}:allowed",
                f"'{name}: ' || {shown} || ' is not one of {', '.join(col.allowed)}'",
            )
        )
    if col.minimum is not None:
        rules.append(
            (
                f"{typed} < {col.minimum!r}",
                f"{name}:minimum",
                f"'{name}: ' || {shown} || ' is below the minimum {col.minimum:g}'",
            )
        )
    if col.maximum is not None:
        rules.append(
            (
                f"{typed} > {col.maximum!r}",
                f"{name}:maximum",
                f"'{name}: ' || {shown} || ' is above the maximum {col.maximum:g}'",
            )
        )
    if col.not_zero:
        rules.append((f"{typed} = 0", f"{name}:zero", f"'{name}: must not be 0'"))
    if col.not_future:
        limit = now.strftime("%Y-%m-%d %H:%M:%S")
        rules.append(
            (
                f"CAST({typed} AS TIMESTAMP) > TIMESTAMP '{limit}'",
                f"{name}:future",
                f"'{name}: ' || {shown} || ' is in the future (after {limit})'",
            )
        )
    return rules


def canonical_sql(
    spec: TableSpec,
    mapping: Mapping,
    source_relation: str,
    *,
    source_types: dict[str, str],
    source_columns: list[str],
    batch_id: str,
    source_name: str,
    ingested_at: datetime,
    default_currency: str = "USD",
    max_future_skew: timedelta = timedelta(hours=24),
) -> CanonicalQuery:
    """Compile the mapping into one query producing canonical rows plus the verdict columns.

    ``source_relation`` must expose the source columns and ``_row``. Output columns: the
    canonical ones, ``event_id``, lineage (``_batch_id``, ``_ingested_at``, ``_source``,
    ``_source_row``), the verdict (``_rule``, ``_reason``, ``_original`` — the source row as
    JSON for rejected rows), and the partition columns ``_layer`` and ``month``.
    """
    now = ingested_at + max_future_skew
    raw_cols, typed_cols = [], []
    checks = [("_reader_error IS NOT NULL", "source:malformed", "_reader_error")]
    for col in spec.columns:
        cm = mapping.columns.get(col.name)
        raw = _raw_expr(cm, mapping.missing_values, source_types)
        if col.default is not None:  # a default also fills values missing in the source
            default = default_currency if col.name == "currency" else col.default
            raw = f"COALESCE({raw}, CAST({quote_literal(default)} AS VARCHAR))"
        if cm is None and col.name == "line_id":
            raw = f"CAST({ROW} AS VARCHAR)"
        raw_name = quote_ident(f"_raw_{col.name}")
        raw_cols.append(f"{raw} AS {raw_name}")
        formats = (cm.formats if cm else None) or mapping.formats
        typed = _typed_expr(col, raw_name, formats)
        if col.name == "revenue" and cm is None and spec.name == "orders":
            typed = (
                'TRY_CAST(TRY_CAST("_raw_quantity" AS DOUBLE) AS BIGINT) '
                '* TRY_CAST("_raw_unit_price" AS DOUBLE) '
                '- COALESCE(TRY_CAST("_raw_discount" AS DOUBLE), 0)'
            )
        typed_cols.append(f"{typed} AS {quote_ident(col.name)}")
        for cond, rule, reason in _rules(col, raw_name, quote_ident(col.name), now):
            checks.append((cond, rule, reason))

    if "event_id" in mapping.columns:
        event_raw = _raw_expr(mapping.columns["event_id"], mapping.missing_values, source_types)
        event_id = f"COALESCE({event_raw}, {_key_hash(spec)})"
    else:
        event_id = _key_hash(spec)

    rule_case = "CASE " + " ".join(f"WHEN {c} THEN '{r}'" for c, r, _ in checks) + " END"
    reason_case = "CASE " + " ".join(f"WHEN {c} THEN {m}" for c, _, m in checks) + " END"

    canonical = [c.name for c in spec.columns]
    original = "{" + ", ".join(
        f"{quote_literal(c)}: {quote_ident(c)}" for c in source_columns
    ) + "}"
    partitions = []
    if spec.partition_by_month:
        time_col = quote_ident(spec.time_column)
        partitions.append(
            f"CASE WHEN _rule IS NULL THEN strftime({time_col}, '%Y-%m') END AS month"
        )
    select_canonical = ", ".join(quote_ident(c) for c in canonical)
    sql = f"""
WITH _src AS (SELECT * FROM {source_relation}),
_mapped AS (SELECT {ROW}, _reader_error, {original} AS _orig_row, {", ".join(raw_cols)} FROM _src),
_typed AS (SELECT *, {", ".join(typed_cols)} FROM _mapped),
_checked AS (SELECT *, {rule_case} AS _rule, {reason_case} AS _reason FROM _typed)
SELECT
    {select_canonical},
    {event_id} AS event_id,
    {quote_literal(batch_id)} AS _batch_id,
    TIMESTAMP '{ingested_at.strftime("%Y-%m-%d %H:%M:%S.%f")}' AS _ingested_at,
    {quote_literal(source_name)} AS _source,
    CAST({ROW} AS BIGINT) AS _source_row,
    _rule,
    _reason,
    CASE WHEN _rule IS NOT NULL THEN CAST(to_json(_orig_row) AS VARCHAR) END AS _original,
    CASE WHEN _rule IS NULL THEN 'raw' ELSE 'quarantine' END AS _layer
    {"," if partitions else ""} {", ".join(partitions)}
FROM _checked
"""
    out_cols = [*canonical, "event_id", "_batch_id", "_ingested_at", "_source", "_source_row"]
    return CanonicalQuery(sql=sql, columns=out_cols)


def _key_hash(spec: TableSpec) -> str:
    """A stable event id: the table name and its key columns, hashed (24 hex digits)."""
    parts = ", ".join(f"coalesce(CAST({quote_ident(k)} AS VARCHAR), '')" for k in spec.key)
    return f"substr(md5(concat_ws('|', '{spec.name}', {parts})), 1, 24)"
