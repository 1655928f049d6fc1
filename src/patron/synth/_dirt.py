"""Deterministic dirt: the defects real exports have, injected at a known rate and logged.

Each row of a file is dirty with probability ``rate``; a dirty row gets exactly one kind
of dirt, drawn from the kinds that apply to the file and only on a column where it
changes the value, so the counts in ``dirt_log.json`` equal what a validator can find.
Duplicates are exact copies of clean rows appended at the end of the chunk.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

DIRT_KINDS: tuple[str, ...] = (
    "duplicate",
    "missing_value",
    "outlier",
    "malformed_date",
    "negative_price",
    "unknown_category",
    "mixed_case",
    "missing_required",
)
#: Relative frequency of each kind among dirty rows (renormalised over applicable kinds).
_KIND_WEIGHTS = dict(zip(DIRT_KINDS, (0.25, 0.20, 0.10, 0.12, 0.08, 0.10, 0.13, 0.02),
                         strict=True))
BAD_DATES = ("31/02/2024", "not a date", "2024-13-45", "00/00/0000", "2024-02-30T25:61:00",
             "yesterday")
UNKNOWN_CATEGORIES = ("Misc??", "electronics ", "toys!!", "Other/misc")


@dataclass(frozen=True)
class DirtPlan:
    """Which columns of a file each kind of dirt may hit.

    ``outliers`` maps a column to ``(factor, offset)``: the bad value is
    ``value * factor + offset``.
    """

    missing: tuple[str, ...] = ()
    outliers: tuple[tuple[str, float, float], ...] = ()
    dates: tuple[str, ...] = ()
    negative: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    mixed_case: tuple[str, ...] = ()
    required: tuple[str, ...] = ()

    def columns(self, kind: str, schema: pa.Schema) -> tuple[str, ...]:
        """Columns of ``schema`` that dirt ``kind`` applies to."""
        names: tuple[str, ...] = {
            "duplicate": ("*",),
            "missing_value": self.missing,
            "outlier": tuple(c for c, _, _ in self.outliers),
            "malformed_date": self.dates,
            "negative_price": self.negative,
            "unknown_category": self.categories,
            "mixed_case": self.mixed_case,
            "missing_required": self.required,
        }[kind]
        if kind == "duplicate":
            return names
        present = [n for n in names if n in schema.names]
        if kind in ("malformed_date", "unknown_category", "mixed_case"):
            present = [n for n in present if pa.types.is_string(schema.field(n).type)]
        return tuple(present)


PLANS: dict[str, DirtPlan] = {
    "customers": DirtPlan(
        missing=("region", "country", "gender"),
        outliers=(("birth_year", 1.0, -150.0),),
        dates=("signup_date", "updated_at"),
        mixed_case=("region", "gender", "channel"),
        required=("customer_id",),
    ),
    "orders": DirtPlan(
        missing=("category", "region", "device"),
        outliers=(("quantity", 1000.0, 0.0), ("unit_price", 1000.0, 0.0)),
        dates=("ts",),
        negative=("unit_price",),
        categories=("category",),
        mixed_case=("channel", "device", "status"),
        required=("order_id", "ts", "quantity"),
    ),
    "sessions": DirtPlan(
        missing=("device", "source", "medium"),
        outliers=(("duration_s", 1000.0, 0.0), ("pages", 100.0, 0.0)),
        dates=("ts",),
        mixed_case=("device", "channel"),
        required=("session_id", "ts"),
    ),
    "support_tickets": DirtPlan(
        missing=("satisfaction", "category"),
        outliers=(("satisfaction", 10.0, 0.0),),
        dates=("ts", "resolved_ts"),
        mixed_case=("priority", "category"),
        required=("ticket_id", "customer_id", "ts"),
    ),
    "social_posts": DirtPlan(
        missing=("platform",),
        outliers=(("rating", 10.0, 0.0),),
        dates=("ts",),
        mixed_case=("platform", "kind"),
        required=("post_id", "text", "ts"),
    ),
    "marketing": DirtPlan(
        dates=("ts",),
        mixed_case=("kind",),
        required=("campaign_id", "customer_id", "ts"),
    ),
}


def empty_counts() -> dict[str, int]:
    return dict.fromkeys(DIRT_KINDS, 0)


def _mixed_case(values: pa.Array, choice: np.ndarray) -> pa.Array:
    """Upper-, title- or lower-case, or capitalised with padding (' Mobile '); falls back
    to padding where the chosen form equals the original."""
    forms = [pc.utf8_upper(values), pc.utf8_capitalize(values), pc.utf8_lower(values)]
    padded = pc.binary_join_element_wise(" ", pc.utf8_capitalize(values), " ", "")
    picked = pc.choose(pa.array(choice.astype(np.int8)), *forms)
    return pc.if_else(pc.equal(picked, values), padded, picked)


def _damage(kind: str, values: pa.Array, rng: np.random.Generator, plan: DirtPlan,
            column: str) -> pa.Array:
    """The damaged version of ``values`` (the rows picked for one kind and column)."""
    n = len(values)
    if kind in ("missing_value", "missing_required"):
        return pa.nulls(n, values.type)
    if kind == "outlier":
        factor, offset = next((f, o) for c, f, o in plan.outliers if c == column)
        raw = values.to_numpy(zero_copy_only=False).astype(np.float64) * factor + offset
        return pa.array(raw).cast(values.type, safe=False)
    if kind == "negative_price":
        return pc.negate(values)
    if kind == "malformed_date":
        return pa.array(np.array(BAD_DATES)[rng.integers(0, len(BAD_DATES), n)])
    if kind == "unknown_category":
        return pa.array(np.array(UNKNOWN_CATEGORIES)[rng.integers(0, len(UNKNOWN_CATEGORIES), n)])
    if kind == "mixed_case":
        return _mixed_case(values, rng.integers(0, 3, n))
    raise ValueError(kind)


def inject(table: pa.Table, rng: np.random.Generator, rate: float, plan: DirtPlan
           ) -> tuple[pa.Table, dict[str, int]]:
    """Return ``table`` with dirt injected at ``rate`` per row, and the count per kind."""
    counts = empty_counts()
    if rate <= 0.0 or table.num_rows == 0:
        return table, counts
    columns = {}
    for name, column in zip(table.column_names, table.columns, strict=True):
        array = column.combine_chunks()
        if pa.types.is_dictionary(array.type):
            array = array.cast(array.type.value_type)
        columns[name] = array
    table = pa.table(columns)
    kinds = [k for k in DIRT_KINDS if plan.columns(k, table.schema)]
    weights = np.array([_KIND_WEIGHTS[k] for k in kinds])
    n = table.num_rows
    dirty = np.flatnonzero(rng.random(n) < rate)
    chosen = rng.choice(len(kinds), size=len(dirty), p=weights / weights.sum())
    duplicates = np.empty(0, dtype=np.int64)
    for k, kind in enumerate(kinds):
        rows = dirty[chosen == k]
        if kind == "duplicate":
            duplicates = rows
            counts[kind] = len(rows)
            continue
        names = plan.columns(kind, table.schema)
        # only columns where the value is present (so the damage is visible)
        present = np.column_stack([columns[c].is_valid().to_numpy(zero_copy_only=False)[rows]
                                   for c in names])
        if kind in ("malformed_date", "missing_required"):
            present[:] = True
        score = np.where(present, rng.random(present.shape), -1.0)
        pick = score.argmax(axis=1)
        hit = score.max(axis=1, initial=-1.0) >= 0
        counts[kind] = int(hit.sum())
        for j, name in enumerate(names):
            target = rows[hit & (pick == j)]
            if len(target) == 0:
                continue
            mask = np.zeros(n, dtype=bool)
            mask[target] = True
            old = columns[name]
            new = _damage(kind, old.filter(pa.array(mask)), rng, plan, name)
            if not new.type.equals(old.type):
                new = new.cast(old.type)
            columns[name] = pc.replace_with_mask(old, pa.array(mask), new)
    table = pa.table(columns)
    if len(duplicates):
        table = pa.concat_tables([table, table.take(pa.array(duplicates))])
    return table, counts
