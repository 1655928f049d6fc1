"""Shared building blocks: which lake layer to read, and order lines ready for analysis.

Analytics read the ``clean`` layer when it has been built and fall back to ``raw`` (same
column names), so a user can look at freshly ingested data before cleaning it. Every
function below takes and returns Ibis expressions, so it runs on any backend.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from typing import Any

import ibis
import ibis.expr.types as ir

from patron.errors import PatronError

log = logging.getLogger(__name__)

#: seconds in a day, for turning epoch-second differences into days
SECONDS_PER_DAY = 86_400

#: label used for a missing value of a vocabulary column (channel, device, segment...)
UNKNOWN = "unknown"


def source_table(con: Any, kind: str, *, layers: Sequence[str] = ("clean", "raw")) -> ir.Table:
    """The first of ``clean_<kind>`` / ``raw_<kind>`` registered in ``con``.

    Raises :class:`~patron.errors.PatronError` naming the tables looked for when none is
    there, with the command that produces them.
    """
    names = set(con.list_tables())
    for layer in layers:
        name = f"{layer}_{kind}"
        if name in names:
            log.debug("reading %s", name)
            return con.table(name)
    wanted = ", ".join(f"{layer}_{kind}" for layer in layers)
    raise PatronError(
        f"the lake has no {kind} table (looked for {wanted})",
        hint=f"ingest one first: patron ingest FILE --kind {kind} (or run patron demo)",
    )


def has_source_table(con: Any, kind: str, *, layers: Sequence[str] = ("clean", "raw")) -> bool:
    """Whether :func:`source_table` would find a table."""
    names = set(con.list_tables())
    return any(f"{layer}_{kind}" in names for layer in layers)


def as_timestamp(value: date | datetime | str) -> datetime:
    """A naive datetime from a date, datetime or ISO string (a date means its midnight)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)
    return datetime.combine(value, time())


def vocab(column: ir.StringValue) -> ir.StringValue:
    """A vocabulary value trimmed and lower-cased, with ``unknown`` for missing or blank."""
    cleaned = column.strip().lower()
    return ibis.ifelse(cleaned.isnull() | (cleaned == ""), UNKNOWN, cleaned)


def line_revenue(orders: ir.Table) -> ir.FloatingValue:
    """Revenue of an order line in currency units.

    The ``revenue`` column when it is set, else ``quantity × unit_price − discount`` (the
    canonical definition), so raw data whose source lacks revenue still adds up.
    """
    computed = orders.quantity.cast("float64") * orders.unit_price.cast("float64")
    if "discount" in orders.columns:
        computed = computed - orders.discount.cast("float64").fill_null(0.0)
    if "revenue" in orders.columns:
        return orders.revenue.cast("float64").coalesce(computed)
    return computed


def completed_lines(
    orders: ir.Table,
    *,
    as_of: date | datetime | str | None = None,
    statuses: Sequence[str] = ("completed",),
) -> ir.Table:
    """Order lines of known customers with a status in ``statuses``, before ``as_of``.

    Returns ``customer_id, order_id, ts, revenue`` plus the optional vocabulary columns
    that exist (``category``, ``channel``, ``device``, ``region``). Guest orders (no
    customer id) are dropped because nothing per-customer can be said about them.
    ``as_of`` is exclusive: an order at exactly ``as_of`` belongs to the future.
    """
    table = orders.filter(orders.customer_id.notnull())
    if "status" in table.columns:
        wanted = [s.lower() for s in statuses]
        table = table.filter(table.status.strip().lower().isin(wanted))
    if as_of is not None:
        table = table.filter(table.ts < ibis.literal(as_timestamp(as_of)))
    columns: dict[str, Any] = {
        "customer_id": table.customer_id.cast("string"),
        "order_id": table.order_id.cast("string"),
        "ts": table.ts.cast("timestamp"),
        "revenue": line_revenue(table),
    }
    for name in ("category", "channel", "device", "region"):
        if name in table.columns:
            columns[name] = vocab(table[name].cast("string"))
    return table.select(**columns)


def day_index(ts: ir.TimestampValue) -> ir.IntegerValue:
    """Whole days since 1970-01-01 of a timestamp's calendar date (UTC, naive).

    Epoch seconds compile on every backend; date differences do not compile the same
    way everywhere, so day arithmetic goes through this integer.
    """
    return (ts.truncate("D").epoch_seconds() / SECONDS_PER_DAY).round().cast("int64")


def epoch_day(value: date | datetime | str) -> int:
    """Whole days since 1970-01-01 of a Python date (the literal side of :func:`day_index`)."""
    moment = as_timestamp(value)
    return (moment.date() - date(1970, 1, 1)).days


def default_as_of(orders: ir.Table) -> datetime:
    """The day after the last order: the natural "now" of a historical data set."""
    last = orders.ts.max().execute()
    if last is None:
        raise PatronError("the orders table is empty; nothing to analyse")
    last = as_timestamp(last.to_pydatetime() if hasattr(last, "to_pydatetime") else last)
    return datetime.combine(last.date() + timedelta(days=1), time())
