"""The RFM summary the probabilistic models (BG/NBD, Pareto/NBD, Gamma-Gamma) need.

Same meaning as lifetimes' ``summary_data_from_transaction_data`` and
``calibration_and_holdout_data`` (equal to 1e-9 on CDNOW, see the tests), as Ibis
expressions so they run on DuckDB and Spark over millions of customers:

* transactions are grouped into *periods* (``time_unit`` ``"D"``: calendar days; ``"W"``:
  weeks starting on Monday, as pandas' ``W`` periods); several purchases in one period
  count once and their values are summed;
* ``frequency``: repeat purchase periods (periods with a purchase, minus the first);
* ``recency``: age of the customer at the last purchase period, in periods since the first;
* ``T``: age of the customer at ``as_of``, in periods since the first purchase period;
* ``monetary_value``: mean value of the repeat purchase periods (currency), 0 without any.

``as_of`` has lifetimes' meaning of *observation period end*: the last period observed is
the one containing ``as_of`` and purchases in it count. For features that must use data
strictly before a cut-off date ``D`` (see :mod:`patron.features`), pass ``as_of = D − 1 day``
with ``time_unit="D"``.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Literal

import ibis
import ibis.expr.types as ir

from patron.features._time import SECONDS_PER_DAY, as_datetime, epoch_seconds, timestamp_literal

TimeUnit = Literal["D", "W"]
_DAYS_PER_UNIT = {"D": 1.0, "W": 7.0}


def _check_unit(time_unit: str) -> None:
    if time_unit not in _DAYS_PER_UNIT:
        raise ValueError(f"time_unit = {time_unit!r}: expected 'D' (days) or 'W' (weeks)")


def _period_start(ts: ir.Value, time_unit: str) -> ir.TimestampValue:
    """Start of the period (midnight, or Monday midnight) containing each timestamp."""
    if ts.type().is_date():
        ts = ts.cast("timestamp")
    return ts.truncate("D" if time_unit == "D" else "W")


def _period_start_py(moment: datetime, time_unit: str) -> datetime:
    day = datetime(moment.year, moment.month, moment.day)
    return day if time_unit == "D" else day - timedelta(days=day.weekday())


def _periods_between(start: ir.Value, end: ir.Value, time_unit: str) -> ir.FloatingValue:
    seconds = SECONDS_PER_DAY * _DAYS_PER_UNIT[time_unit]
    return (epoch_seconds(end) - epoch_seconds(start)) / seconds


def rfm_summary(
    orders: ir.Table,
    *,
    as_of: date | datetime | str,
    time_unit: TimeUnit = "D",
    customer_col: str = "customer_id",
    ts_col: str = "ts",
    value_col: str | None = "net_revenue",
) -> ir.Table:
    """One row per customer: ``customer_id, frequency, recency, T, monetary_value``.

    ``orders`` holds one row per transaction (or order line: lines of one period are summed
    anyway). Rows after ``as_of``'s period and rows without a customer are ignored. Counts
    are float64 like lifetimes'. With ``value_col=None`` there is no ``monetary_value``.
    The output column is named ``customer_id`` whatever ``customer_col`` is.
    """
    _check_unit(time_unit)
    end = _period_start_py(as_datetime(as_of), time_unit)
    return _summary(orders, end, time_unit, customer_col, ts_col, value_col)


def _summary(
    orders: ir.Table,
    end: datetime,
    time_unit: str,
    customer_col: str,
    ts_col: str,
    value_col: str | None,
) -> ir.Table:
    period = _period_start(orders[ts_col], time_unit)
    tx = orders.filter(orders[customer_col].notnull(), period <= timestamp_literal(end))
    tx = tx.mutate(_period=_period_start(tx[ts_col], time_unit))
    value = (
        tx[value_col].cast("float64").fill_null(0.0) if value_col else ibis.literal(0.0)
    )
    per_period = tx.group_by(customer_id=tx[customer_col], _period=tx._period).agg(
        _value=value.sum()
    )
    first = per_period._period.min().over(group_by=per_period.customer_id)
    per_period = per_period.mutate(_first=first)
    summary = per_period.group_by("customer_id").agg(
        _n=per_period.count(),
        _first=per_period._first.min(),
        _last=per_period._period.max(),
        _repeat_value=ibis.ifelse(
            per_period._period != per_period._first, per_period._value, 0.0
        ).sum(),
    )
    frequency = (summary._n - 1).cast("float64")
    out = summary.mutate(
        frequency=frequency,
        recency=_periods_between(summary._first, summary._last, time_unit),
        T=_periods_between(summary._first, timestamp_literal(end), time_unit),
    )
    columns = ["customer_id", "frequency", "recency", "T"]
    if value_col:
        out = out.mutate(
            monetary_value=ibis.ifelse(
                out._n > 1, out._repeat_value / frequency.nullif(0.0), 0.0
            ).cast("float64")
        )
        columns.append("monetary_value")
    return out.select(*columns)


def calibration_and_holdout(
    orders: ir.Table,
    calibration_end: date | datetime | str,
    observation_end: date | datetime | str,
    time_unit: TimeUnit = "D",
    *,
    customer_col: str = "customer_id",
    ts_col: str = "ts",
    value_col: str | None = "net_revenue",
) -> ir.Table:
    """RFM over a calibration period and purchases over the holdout after it.

    Like lifetimes' ``calibration_and_holdout_data``: calibration rows have
    ``ts <= calibration_end``, holdout rows ``calibration_end < ts <= observation_end``
    (both ends inclusive, compared as timestamps). Columns: ``customer_id``,
    ``frequency_cal, recency_cal, T_cal, monetary_value_cal`` (see :func:`rfm_summary`),
    ``frequency_holdout`` (purchase periods in the holdout), ``monetary_value_holdout``
    (mean value of the holdout *transactions*, as lifetimes computes it, currency),
    ``duration_holdout`` (holdout length in periods). Only customers seen in calibration
    appear; those without holdout purchases get 0.
    """
    _check_unit(time_unit)
    cal_end = as_datetime(calibration_end)
    obs_end = as_datetime(observation_end)
    ts = orders[ts_col].cast("timestamp") if orders[ts_col].type().is_date() else orders[ts_col]
    calibration = orders.filter(ts <= timestamp_literal(cal_end))
    cal = _summary(calibration, _period_start_py(cal_end, time_unit), time_unit,
                   customer_col, ts_col, value_col)
    cal = cal.rename({f"{c}_cal": c for c in cal.columns if c != "customer_id"})

    holdout = orders.filter(
        ts > timestamp_literal(cal_end), ts <= timestamp_literal(obs_end),
        orders[customer_col].notnull(),
    )
    holdout = holdout.mutate(_period=_period_start(holdout[ts_col], time_unit))
    aggs: dict[str, ir.Value] = {"frequency_holdout": holdout._period.nunique().cast("float64")}
    if value_col:
        aggs["monetary_value_holdout"] = holdout[value_col].cast("float64").mean()
    hold = holdout.group_by(customer_id=holdout[customer_col]).agg(**aggs)

    joined = cal.left_join(hold, "customer_id")
    if "customer_id_right" in joined.columns:
        joined = joined.drop("customer_id_right")
    start, stop = _period_start_py(cal_end, time_unit), _period_start_py(obs_end, time_unit)
    duration = (stop - start).days / _DAYS_PER_UNIT[time_unit]
    out = joined.mutate(
        **{c: joined[c].fill_null(0.0) for c in aggs},
        duration_holdout=ibis.literal(float(duration), type="float64"),
    )
    columns = ["customer_id", "frequency_cal", "recency_cal", "T_cal"]
    if value_col:
        columns.append("monetary_value_cal")
    columns += ["frequency_holdout"]
    if value_col:
        columns.append("monetary_value_holdout")
    return out.select(*columns, "duration_holdout")
