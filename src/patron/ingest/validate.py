"""Validation: every source row becomes a typed canonical row or a quarantined one.

:func:`canonical_sql` compiles a :class:`~patron.ingest.mapping.Mapping` and the table's
:class:`~patron.schema.TableSpec` into one DuckDB query over a source relation. It types
each column (``TRY_CAST``/``TRY_STRPTIME`` for text, so a bad value never aborts the read;
a plain cast where the reader already parsed the type), checks the value rules in order
and names the first one a row breaks in ``_rule`` (a code such as ``unit_price:minimum``)
and ``_reason`` (a sentence with the offending value). Accepted rows have both null. The
query streams: DuckDB reads, checks and writes in one pass, out of core.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from patron.ingest.mapping import ColumnMap, Mapping
from patron.schema import Column, TableSpec

ROW = "_row"  # 1-based row number of the source, provided by the reader

#: the DuckDB type a reader may parse a source column into for each canonical type. Dates
#: and timestamps stay text: DuckDB's CSV sniffer guesses one date format from a sample,
#: and a malformed day-first date there would make every ISO date of the file fail.
NATIVE_TYPES = {"float64": "DOUBLE", "int64": "DOUBLE"}

EXPECTED = {
    "float64": "a number",
    "int64": "a whole number",
    "bool": "true/false",
    "timestamp": "a date-time",
    "date": "a date",
}


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


def native_source_types(mapping: Mapping, spec: TableSpec) -> dict[str, str]:
    """Source columns a reader can parse natively (no formats, no recoding): name → type."""
    types: dict[str, str] = {}
    for name, cm in mapping.columns.items():
        if name not in spec or cm.source is None or cm.formats or cm.values:
            continue
        if mapping.formats and spec[name].dtype in ("timestamp", "date"):
            continue
        native = NATIVE_TYPES.get(spec[name].dtype)
        if native:
            types[cm.source] = native
    return types


@dataclass(frozen=True)
class CanonicalQuery:
    """The compiled query and the names it produces."""

    sql: str
    columns: list[str]


def _is_text(source_type: str) -> bool:
    return source_type.upper() in ("VARCHAR", "JSON") or source_type.upper().startswith("VARCHAR")


def _origin(cm: ColumnMap, source_types: dict[str, str]) -> tuple[str, bool]:
    """The SQL of a column's source value and whether that value is text."""
    if cm.const is not None:
        return f"CAST({quote_literal(cm.const)} AS VARCHAR)", True
    if cm.sql is not None:
        return f"CAST(({cm.sql}) AS VARCHAR)", True
    ident = quote_ident(cm.source or "")
    source_type = source_types.get(cm.source or "", "VARCHAR")
    if _is_text(source_type):
        return ident, True
    if cm.values or cm.formats:
        return f"CAST({ident} AS VARCHAR)", True
    return ident, False


def _text_value(expr: str, cm: ColumnMap, missing: tuple[str, ...]) -> str:
    """A text value with missing-value tokens as NULL and the mapping's recoding applied.

    ``missing`` is empty when the reader already turned those tokens into NULL (CSV).
    """
    if not missing:
        if not cm.values:
            return expr
        cases = " ".join(
            f"WHEN lower(trim({expr})) = {quote_literal(k.strip().lower())} THEN {quote_literal(v)}"
            for k, v in cm.values.items()
        )
        return f"CASE {cases} ELSE {expr} END"
    tokens = "[" + ", ".join(quote_literal(t) for t in missing) + "]"
    value = f"trim({expr})"
    if cm.values:
        cases = " ".join(
            f"WHEN lower({value}) = {quote_literal(k.strip().lower())} THEN {quote_literal(v)}"
            for k, v in cm.values.items()
        )
        expr = f"CASE {cases} ELSE {expr} END"
    # list_contains, not IN: DuckDB plans IN-lists inside CASE as joins, ~10× slower here
    return f"CASE WHEN list_contains({tokens}, lower({value})) THEN NULL ELSE {expr} END"


_BOOL_TRUE = ("true", "t", "yes", "y", "1", "1.0")
_BOOL_FALSE = ("false", "f", "no", "n", "0", "0.0")


def _typed_from_text(col: Column, raw: str, formats: tuple[str, ...] | None) -> str:
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
            f"CASE WHEN list_contains([{t}], lower(trim({raw}))) THEN TRUE "
            f"WHEN list_contains([{f}], lower(trim({raw}))) THEN FALSE END"
        )
    target = "TIMESTAMP" if col.dtype == "timestamp" else "DATE"
    if formats:
        fmts = "[" + ", ".join(quote_literal(f) for f in formats) + "]"
        parsed = f"TRY_STRPTIME({raw}, {fmts})"
        return f"CAST(COALESCE({parsed}, TRY_CAST({raw} AS TIMESTAMP)) AS {target})"
    return f"CAST(TRY_CAST({raw} AS TIMESTAMP) AS {target})"


def _typed_from_native(col: Column, raw: str) -> str:
    target = {
        "string": "VARCHAR",
        "float64": "DOUBLE",
        "int64": "BIGINT",
        "bool": "BOOLEAN",
        "timestamp": "TIMESTAMP",
        "date": "DATE",
    }[col.dtype]
    if col.dtype == "int64":
        return f"CASE WHEN {raw} = round({raw}) THEN TRY_CAST({raw} AS BIGINT) END"
    return f"TRY_CAST({raw} AS {target})"


def _rules(
    col: Column, raw: str, typed: str, *, is_text: bool, now: datetime
) -> list[tuple[str, str, str]]:
    """(condition, rule code, reason SQL) in the order they are checked."""
    name = col.name
    shown = f"'''' || CAST({raw} AS VARCHAR) || ''''"
    rules: list[tuple[str, str, str]] = []
    if col.required:
        rules.append((f"{raw} IS NULL", f"{name}:missing", f"'{name}: missing (required)'"))
    expected = EXPECTED.get(col.dtype)
    if expected:
        rules.append(
            (
                f"{raw} IS NOT NULL AND {typed} IS NULL",
                f"{name}:type",
                f"'{name}: ' || {shown} || ' is not {expected}'",
            )
        )
    if col.dtype == "int64" and is_text:
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
                f"{typed} IS NOT NULL AND NOT list_contains([{allowed}], lower(trim({typed})))",
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
    reader_nulls: bool = False,
) -> CanonicalQuery:
    """Compile the mapping into one query producing canonical rows plus the verdict columns.

    ``source_relation`` must expose the source columns, ``_row`` and ``_reader_error``.
    Output columns: the canonical ones, ``event_id``, lineage (``_batch_id``,
    ``_ingested_at``, ``_source``, ``_source_row``), the verdict (``_rule``, ``_reason``,
    ``_original`` — the source row as JSON, for rejected rows only), and the partition
    columns ``_layer`` and ``month``. ``reader_nulls`` says the reader already read the
    mapping's missing-value tokens as NULL, which saves a string test per value.
    """
    now = ingested_at + max_future_skew
    missing = () if reader_nulls else mapping.missing_values
    raw_cols, typed_cols = [], []
    checks = [("_reader_error IS NOT NULL", "source:malformed", "_reader_error")]
    for col in spec.columns:
        cm = mapping.columns.get(col.name)
        raw_name = quote_ident(f"_raw_{col.name}")
        typed_name = quote_ident(f"_t_{col.name}")
        is_text = True
        if cm is None:
            raw = "CAST(NULL AS VARCHAR)"
            if col.name == "line_id":
                raw = f"CAST({ROW} AS VARCHAR)"
        else:
            origin, is_text = _origin(cm, source_types)
            raw = _text_value(origin, cm, missing) if is_text else origin
        if col.default is not None:  # a default also fills values missing in the source
            default = default_currency if col.name == "currency" else col.default
            literal = quote_literal(default)
            raw = f"COALESCE({raw}, {literal if not is_text else f'CAST({literal} AS VARCHAR)'})"
        raw_cols.append(f"{raw} AS {raw_name}")
        if is_text:
            formats = (cm.formats if cm else None) or mapping.formats
            typed = _typed_from_text(col, raw_name, formats)
        else:
            typed = _typed_from_native(col, raw_name)
        if col.name == "revenue" and cm is None and spec.name == "orders":
            typed = (
                'TRY_CAST(TRY_CAST("_raw_quantity" AS DOUBLE) AS BIGINT) '
                '* TRY_CAST("_raw_unit_price" AS DOUBLE) '
                '- COALESCE(TRY_CAST("_raw_discount" AS DOUBLE), 0)'
            )
        typed_cols.append(f"{typed} AS {typed_name}")
        checks += _rules(col, raw_name, typed_name, is_text=is_text, now=now)

    if "event_id" in mapping.columns:
        cm = mapping.columns["event_id"]
        origin, is_text = _origin(cm, source_types)
        event_raw = _text_value(origin, cm, missing) if is_text else origin
        event_id = f"COALESCE(CAST({event_raw} AS VARCHAR), {_key_id(spec)})"
    else:
        event_id = _key_id(spec)

    rule_case = "CASE " + " ".join(f"WHEN {c} THEN '{r}'" for c, r, _ in checks) + " END"
    # the reason is looked up by rule, so each condition is evaluated once per row
    reason_case = "CASE _rule " + " ".join(f"WHEN '{r}' THEN {m}" for _, r, m in checks) + " END"
    canonical = [c.name for c in spec.columns]
    original = (
        "{" + ", ".join(f"{quote_literal(c)}: {quote_ident(c)}" for c in source_columns) + "}"
    )
    partitions = ""
    if spec.partition_by_month:
        time_col = quote_ident(f"_t_{spec.time_column}")
        partitions = f", CASE WHEN _rule IS NULL THEN strftime({time_col}, '%Y-%m') END AS month"
    select_canonical = ", ".join(f"{quote_ident('_t_' + c)} AS {quote_ident(c)}" for c in canonical)
    sql = f"""
WITH _mapped AS (SELECT *, {", ".join(raw_cols)} FROM {source_relation}),
_typed AS (SELECT *, {", ".join(typed_cols)} FROM _mapped),
_ruled AS (SELECT *, {rule_case} AS _rule FROM _typed),
_checked AS (SELECT *, {reason_case} AS _reason FROM _ruled)
SELECT
    {select_canonical},
    {event_id} AS event_id,
    {quote_literal(batch_id)} AS _batch_id,
    TIMESTAMP '{ingested_at.strftime("%Y-%m-%d %H:%M:%S.%f")}' AS _ingested_at,
    {quote_literal(source_name)} AS _source,
    CAST({ROW} AS BIGINT) AS _source_row,
    _rule,
    _reason,
    CASE WHEN _rule IS NOT NULL THEN CAST(to_json({original}) AS VARCHAR) END AS _original,
    CASE WHEN _rule IS NULL THEN 'raw' ELSE 'quarantine' END AS _layer
    {partitions}
FROM _checked
"""
    out_cols = [*canonical, "event_id", "_batch_id", "_ingested_at", "_source", "_source_row"]
    return CanonicalQuery(sql=sql, columns=out_cols)


def _key_id(spec: TableSpec) -> str:
    """A stable event id from the table's key: the key value itself, or the key columns
    joined with ``|`` (with ``\\`` and ``|`` escaped inside values, so distinct keys never
    collide). Readable, and cheap: a hash of the key is random text that costs more to
    compute and to compress than everything else the ingest writes."""
    columns = [f"CAST({quote_ident('_t_' + k)} AS VARCHAR)" for k in spec.key]
    if len(columns) == 1:
        return columns[0]
    escaped = ", ".join(
        f"replace(replace(coalesce({c}, ''), '\\', '\\\\'), '|', '\\|')" for c in columns
    )
    return f"concat_ws('|', {escaped})"
