"""Cleaning rules: each a function ``Table -> Table`` of Ibis expressions.

Every rule works on any Ibis backend (DuckDB, PySpark). A rule either *removes* rows
(duplicates, superseded versions, ``drop`` policies) or *changes* values (imputation,
capping, normalisation, netting).

Two modes, chosen by ``mark``:

* ``mark=False`` (default): removing rules filter the rows out; the table is what a user
  would expect from the rule.
* ``mark=True``: nothing is filtered. A removed row gets the rule's name in the column
  ``_removed_by`` (the first rule that removed it wins; later rules ignore it), and every
  change is recorded in a boolean column ``_changed__<rule>``. One aggregate over the
  marked table then counts what each rule did, which is how the cleaning report proves
  ``raw == clean + removed-by-rule`` without re-running the pipeline per rule.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Literal

import ibis
import ibis.expr.types as ir

from patron.errors import ConfigError

REMOVED = "_removed_by"
CHANGED_PREFIX = "_changed__"
#: lineage columns that order versions of the same event: first ingested wins
LINEAGE_ORDER = ("_ingested_at", "_batch_id", "_source_row")
#: columns that are not part of a row's content (ids and lineage)
NON_CONTENT = ("event_id", "_batch_id", "_ingested_at", "_source", "_source_row", "month")

CaseRule = Literal["lower", "upper", "title", "trim"]
OutlierMethod = Literal["zscore", "iqr"]
OutlierAction = Literal["flag", "cap", "drop"]


# -- marking ---------------------------------------------------------------------------


def kept(t: ir.Table) -> ir.BooleanValue:
    """True for rows no earlier rule removed (always true outside ``mark`` mode)."""
    if REMOVED in t.columns:
        return t[REMOVED].isnull()
    return ibis.literal(True)


def _remove(t: ir.Table, condition: ir.BooleanValue, rule: str, mark: bool) -> ir.Table:
    """Drop (or mark) rows where ``condition`` holds; a null condition keeps the row."""
    condition = condition.fill_null(False)
    if not mark:
        return t.filter(~condition)
    prior = t[REMOVED] if REMOVED in t.columns else ibis.null("string")
    marked = ibis.coalesce(prior, ibis.ifelse(condition, ibis.literal(rule), ibis.null("string")))
    return t.mutate(**{REMOVED: marked})


def _note(t: ir.Table, changed: ir.BooleanValue, rule: str, mark: bool) -> dict[str, ir.Value]:
    """The change-counter column for ``rule`` (empty outside ``mark`` mode)."""
    if not mark:
        return {}
    return {CHANGED_PREFIX + rule: (changed & kept(t)).fill_null(False)}


def _check_columns(t: ir.Table, columns: Iterable[str], where: str) -> None:
    missing = [c for c in columns if c not in t.columns]
    if missing:
        raise ConfigError(
            f"{where}: no column(s) {missing} in the table; its columns are {list(t.columns)}"
        )


def _partition(t: ir.Table, *columns: ir.Value) -> list[ir.Value]:
    """Window partition: the given columns, plus kept/removed in ``mark`` mode."""
    return ([t[REMOVED].isnull()] if REMOVED in t.columns else []) + list(columns)


def _only_kept(t: ir.Table, value: ir.Value) -> ir.Value:
    """``value`` on kept rows, null on removed ones (portable stand-in for FILTER)."""
    if REMOVED not in t.columns:
        return value
    return ibis.ifelse(kept(t), value, ibis.null(value.type()))


def _lineage_order(t: ir.Table) -> list[ir.Value]:
    return [ibis.asc(t[c], nulls_first=False) for c in LINEAGE_ORDER if c in t.columns]


# -- duplicates --------------------------------------------------------------------------


def dedupe_events(t: ir.Table, *, key: str = "event_id", mark: bool = False) -> ir.Table:
    """Keep one row per ``event_id``: the first ingested (by ``_ingested_at``, batch, row).

    Replays of a source under a new file and duplicated export rows share the event id
    (it is the source's id or a hash of the table key), so the first copy is kept and the
    later ones are counted under ``duplicate_event``.
    """
    _check_columns(t, [key], "dedupe_events")
    rn = ibis.row_number().over(group_by=_partition(t, t[key]), order_by=_lineage_order(t))
    return _remove(t, kept(t) & t[key].notnull() & (rn > 0), "duplicate_event", mark)


def content_columns(t: ir.Table) -> list[str]:
    """The columns that make up a row's content: all but ids, lineage and markers."""
    return [
        c for c in t.columns
        if c not in NON_CONTENT and not c.startswith("_")
    ]


def dedupe_content(
    t: ir.Table, *, columns: Sequence[str] | None = None, mark: bool = False
) -> ir.Table:
    """Keep one row among rows with identical content but different ``event_id``.

    ``columns`` defaults to :func:`content_columns`. Nulls compare equal here (a row and
    its copy both missing a region are still copies). Counted as ``duplicate_content``.
    """
    columns = list(columns) if columns is not None else content_columns(t)
    _check_columns(t, columns, "dedupe_content")
    rn = ibis.row_number().over(
        group_by=_partition(t, *(t[c] for c in columns)), order_by=_lineage_order(t)
    )
    return _remove(t, kept(t) & (rn > 0), "duplicate_content", mark)


def latest_version(
    t: ir.Table,
    *,
    key: str = "customer_id",
    version_columns: Sequence[str] = ("updated_at", "_ingested_at", "_batch_id", "_source_row"),
    mark: bool = False,
) -> ir.Table:
    """Keep the latest version of each entity (customers: by ``updated_at``, then ingest time).

    Versions without ``updated_at`` rank after dated ones; among equal times the one
    ingested last wins. Older versions are counted as ``superseded_version``.
    """
    _check_columns(t, [key], "latest_version")
    order = [ibis.desc(t[c], nulls_first=False) for c in version_columns if c in t.columns]
    rn = ibis.row_number().over(group_by=_partition(t, t[key]), order_by=order)
    return _remove(t, kept(t) & t[key].notnull() & (rn > 0), "superseded_version", mark)


# -- strings ----------------------------------------------------------------------------


def normalize_case(
    t: ir.Table, rules: Mapping[str, CaseRule], *, mark: bool = False
) -> ir.Table:
    """Trim each column and apply its case rule (" Mobile " → "mobile", "eu" → "EU").

    Blank strings become null, so they are handled by the missing-value policy. Counted
    per column as ``normalize:<column>`` (rows whose value changed).
    """
    _check_columns(t, rules, "normalize_case")
    changes: dict[str, ir.Value] = {}
    for column, rule in rules.items():
        value = t[column].strip()
        value = {"lower": value.lower(), "upper": value.upper(), "title": value.capitalize(),
                 "trim": value}[rule]
        value = ibis.ifelse(value == "", ibis.null("string"), value)
        changes[column] = value
        changes.update(_note(t, t[column].notnull() & (value.isnull() | (value != t[column])),
                             f"normalize:{column}", mark))
    return t.mutate(**changes)


def map_categories(
    t: ir.Table,
    column: str,
    known: Sequence[str],
    *,
    aliases: Mapping[str, str] | None = None,
    other: str = "Other",
    mark: bool = False,
) -> ir.Table:
    """Map a free-text category onto a known vocabulary; anything else becomes ``other``.

    Matching ignores surrounding blanks and case ("electronics " → "Electronics");
    ``aliases`` add spellings ("toys!!" → "Toys"). Nulls stay null (the missing-value policy
    decides). Counted as ``category:<column>`` (rewritten spellings) and
    ``category_other:<column>`` (unknown values mapped to ``other``).
    """
    _check_columns(t, [column], "map_categories")
    lookup = {k.strip().lower(): k for k in known}
    for alias, target in (aliases or {}).items():
        lookup[alias.strip().lower()] = target
    lookup.setdefault(other.strip().lower(), other)
    match_key = t[column].strip().lower()
    mapped = match_key.substitute(lookup, else_=ibis.literal(other))
    mapped = ibis.ifelse(t[column].isnull(), ibis.null("string"), mapped)
    unknown = t[column].notnull() & ~match_key.isin(list(lookup))
    return t.mutate(
        **{column: mapped},
        **_note(t, t[column].notnull() & ~unknown & (mapped != t[column]),
                f"category:{column}", mark),
        **_note(t, unknown, f"category_other:{column}", mark),
    )


# -- missing values -----------------------------------------------------------------------


def _fill_value(t: ir.Table, column: str, strategy: str) -> ir.Value:
    """A one-value aggregate over the kept rows, broadcast to every row as a window."""
    value = _only_kept(t, t[column].cast("float64"))
    if strategy == "mean":
        return value.mean().over()
    if strategy == "median":
        # median as the interpolated 0.5 quantile, the same on DuckDB and Spark
        return value.quantile(0.5).over()
    raise ValueError(strategy)


def impute(
    t: ir.Table,
    column: str,
    strategy: str,
    *,
    value: object = None,
    mark: bool = False,
) -> ir.Table:
    """Apply one missing-value policy to ``column``.

    ``mean``/``median`` (numbers) and ``mode`` (most frequent value; ties → the smallest)
    are computed over the rows that survived the earlier rules; ``constant`` fills
    ``value``; ``flag`` keeps the null and adds ``<column>_missing`` (boolean); ``drop``
    removes the row (counted as ``missing:<column>``). Fills are counted as
    ``impute:<column>``.
    """
    _check_columns(t, [column], "impute")
    is_null = t[column].isnull()
    if strategy == "drop":
        return _remove(t, kept(t) & is_null, f"missing:{column}", mark)
    if strategy == "flag":
        return t.mutate(**{f"{column}_missing": is_null},
                        **_note(t, is_null, f"flag_missing:{column}", mark))
    if strategy == "constant":
        if value is None:
            raise ConfigError(f"impute {column}: strategy 'constant' needs a value")
        fill: ir.Value = ibis.literal(value).cast(t[column].type())
    elif strategy == "mode":
        return _impute_mode(t, column, mark)
    elif strategy in ("mean", "median"):
        if not t[column].type().is_numeric():
            raise ConfigError(
                f"impute {column}: {strategy!r} needs a numeric column, not {t[column].type()}"
            )
        fill = _fill_value(t, column, strategy).cast(t[column].type())
    else:
        raise ConfigError(
            f"impute {column}: unknown strategy {strategy!r}; expected mean, median, mode, "
            "constant, drop or flag"
        )
    return t.mutate(**{column: t[column].coalesce(fill)},
                    **_note(t, is_null, f"impute:{column}", mark))


def _impute_mode(t: ir.Table, column: str, mark: bool) -> ir.Table:
    # count per value among kept rows, keep the most frequent (smallest on ties) and
    # left join that one row on a constant key (an empty table leaves the nulls alone)
    live = t.filter(kept(t) & t[column].notnull())
    counts = live.group_by(mode_value=live[column]).agg(n=ibis._.count())
    top = counts.order_by([ibis.desc("n"), ibis.asc("mode_value")]).limit(1)
    top = top.select(_mode_fill=top.mode_value, _mode_key=ibis.literal(1))
    joined = t.mutate(_mode_key=ibis.literal(1)).left_join(top, "_mode_key")
    joined = joined.drop(*[c for c in ("_mode_key", "_mode_key_right") if c in joined.columns])
    is_null = joined[column].isnull()
    out = joined.mutate(**{column: joined[column].coalesce(joined._mode_fill)},
                        **_note(joined, is_null, f"impute:{column}", mark))
    return out.drop("_mode_fill")


# -- outliers -------------------------------------------------------------------------------


def outlier_bounds(
    t: ir.Table,
    column: str,
    *,
    method: OutlierMethod = "iqr",
    threshold: float = 3.0,
    group_by: str | None = None,
) -> tuple[ir.FloatingValue, ir.FloatingValue]:
    """Lower and upper bound of ``column`` for each row (windows over the kept rows).

    ``iqr``: ``Q1 − k·IQR`` and ``Q3 + k·IQR`` (interpolated quartiles, k = ``threshold``);
    ``zscore``: ``mean ± threshold · std`` (sample standard deviation), in the unit of the
    column. ``group_by`` computes them within each group (prices within a category).
    """
    value = _only_kept(t, t[column].cast("float64"))
    window = ibis.window(group_by=_partition(t, *([t[group_by]] if group_by else [])))
    if method == "iqr":
        q1 = value.quantile(0.25).over(window)
        q3 = value.quantile(0.75).over(window)
        spread = q3 - q1
        return q1 - threshold * spread, q3 + threshold * spread
    if method == "zscore":
        mean = value.mean().over(window)
        std = value.std().over(window)
        return mean - threshold * std, mean + threshold * std
    raise ConfigError(f"outlier method {method!r}: expected 'zscore' or 'iqr'")


def handle_outliers(
    t: ir.Table,
    column: str,
    *,
    method: OutlierMethod = "iqr",
    action: OutlierAction = "flag",
    threshold: float = 3.0,
    group_by: str | None = None,
    mark: bool = False,
) -> ir.Table:
    """Flag, cap or drop values outside :func:`outlier_bounds`.

    ``flag`` adds ``<column>_outlier`` (boolean); ``cap`` clips to the bounds (integers
    are rounded back to integers); ``drop`` removes the row (``outlier:<column>``). Rows
    whose group has too few values for a spread (one value: no standard deviation) are
    never outliers. Counted as ``outlier:<column>``.
    """
    _check_columns(t, [column, *([group_by] if group_by else [])], "handle_outliers")
    if action not in ("flag", "cap", "drop"):
        raise ConfigError(f"outlier action {action!r}: expected 'flag', 'cap' or 'drop'")
    low, high = outlier_bounds(t, column, method=method, threshold=threshold,
                               group_by=group_by)
    t = t.mutate(_lo=low, _hi=high)
    value = t[column].cast("float64")
    outside = kept(t) & ((value < t._lo) | (value > t._hi)).fill_null(False)
    rule = f"outlier:{column}"
    if action == "drop":
        out = _remove(t, outside, rule, mark)
    elif action == "flag":
        out = t.mutate(**{f"{column}_outlier": outside}, **_note(t, outside, rule, mark))
    else:
        clipped = ibis.greatest(ibis.least(value, t._hi), t._lo)
        dtype = t[column].type()
        if dtype.is_integer():
            clipped = clipped.round(0)
        capped = ibis.ifelse(outside, clipped.cast(dtype), t[column])
        out = t.mutate(**{column: capped}, **_note(t, outside, rule, mark))
    return out.drop("_lo", "_hi")


# -- orders ------------------------------------------------------------------------------


def net_returns(t: ir.Table, *, mark: bool = False) -> ir.Table:
    """Add ``net_revenue`` (currency): what the line is worth after returns and cancellations.

    The choice: every line stays in ``clean_orders`` (so return and cancellation rates can
    be computed) and revenue is netted in a new column rather than by deleting rows:

    * ``completed`` lines: ``net_revenue = revenue``;
    * ``returned`` or ``cancelled`` lines that record the original purchase (quantity > 0):
      ``net_revenue = 0`` — the money came back or never arrived;
    * reversal lines (quantity < 0, as in exports that book a cancellation as a negative
      line, e.g. UCI Online Retail invoices ``C…``): ``net_revenue = revenue`` (negative),
      which nets against the original line that is still booked as completed.

    Counted as ``net:returned`` and ``net:cancelled`` (lines whose revenue was netted to 0).
    """
    _check_columns(t, ["status", "revenue", "quantity"], "net_returns")
    status = t.status
    reversal = t.quantity < 0
    netted = status.isin(["returned", "cancelled"]) & ~reversal.fill_null(False)
    net = ibis.ifelse(netted, ibis.literal(0.0), t.revenue.cast("float64"))
    return t.mutate(
        net_revenue=net,
        **_note(t, netted & (status == "returned"), "net:returned", mark),
        **_note(t, netted & (status == "cancelled"), "net:cancelled", mark),
    )
