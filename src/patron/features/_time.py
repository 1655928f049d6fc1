"""Time functions shared by the feature builders: cut-offs and day arithmetic that compile
the same on DuckDB and Spark (epoch seconds in UTC, so no time-zone or calendar rules)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import ibis
import ibis.expr.types as ir

SECONDS_PER_DAY = 86_400.0


def as_datetime(moment: date | datetime | str) -> datetime:
    """A naive datetime from a date (midnight), datetime or ISO string."""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    if isinstance(moment, datetime):
        return moment.replace(tzinfo=None)
    return datetime.combine(moment, time())


def timestamp_literal(moment: datetime) -> ir.TimestampScalar:
    return ibis.literal(moment, type="timestamp")


def epoch_seconds(value: ir.Value) -> ir.FloatingValue:
    """Seconds since 1970-01-01 (UTC) of a date or timestamp column, as float64."""
    if value.type().is_date():
        value = value.cast("timestamp")
    return value.epoch_seconds().cast("float64")


def days_between(start: ir.Value, end: datetime | ir.Value) -> ir.FloatingValue:
    """``end − start`` in days (fractional), for date/timestamp columns or a datetime."""
    end_seconds = (
        ibis.literal((end - datetime(1970, 1, 1)).total_seconds(), type="float64")
        if isinstance(end, datetime)
        else epoch_seconds(end)
    )
    return (end_seconds - epoch_seconds(start)) / SECONDS_PER_DAY


def window_start(as_of: datetime, days: int) -> datetime:
    return as_of - timedelta(days=days)
