"""Input coercion and validation shared by the probabilistic CLV models.

The models take a per-customer summary: ``frequency`` (repeat purchases), ``recency``
(time of the last purchase, measured from the first one) and ``T`` (age of the customer,
time from the first purchase to the end of the calibration period), all in the summary's
time unit ("periods"). Degenerate data is refused here with a message naming the column
and the number of rows, because a likelihood evaluated on it gives a garbage fit that no
optimiser setting can repair.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from patron.errors import ModelError

RFM_COLUMNS: tuple[str, ...] = ("frequency", "recency", "T")
SPEND_COLUMNS: tuple[str, ...] = ("frequency", "monetary_value")
DISCRETE_COLUMNS: tuple[str, ...] = ("frequency", "recency", "n_periods")


def as_columns(
    data: Any, columns: Sequence[str], model: str
) -> tuple[dict[str, np.ndarray], pd.Index | None]:
    """Return ``{column: float array}`` and the row index of a DataFrame or 2-D array.

    A 2-D array must hold the columns in the order given by ``columns``.
    """
    index: pd.Index | None = None
    if isinstance(data, pd.DataFrame):
        missing = [c for c in columns if c not in data.columns]
        if missing:
            raise ModelError(
                f"{model}: the summary has no column(s) {missing}; expected {list(columns)}"
            )
        index = data.index
        arrays = {c: data[c].to_numpy(dtype=float) for c in columns}
    else:
        matrix = np.asarray(data, dtype=float)
        if matrix.ndim != 2 or matrix.shape[1] != len(columns):
            raise ModelError(
                f"{model}: expected a DataFrame or a 2-D array with {len(columns)} columns "
                f"{list(columns)}, got an array of shape {matrix.shape}"
            )
        arrays = {c: matrix[:, i] for i, c in enumerate(columns)}
    return arrays, index


def _count(mask: np.ndarray) -> int:
    return int(np.count_nonzero(mask))


def check_finite(arrays: dict[str, np.ndarray], model: str) -> None:
    """Refuse empty data and NaN or infinite values, naming the column."""
    n_rows = len(next(iter(arrays.values())))
    if n_rows == 0:
        raise ModelError(f"{model}: the summary is empty (0 customers)")
    for name, values in arrays.items():
        bad = ~np.isfinite(values)
        if bad.any():
            raise ModelError(
                f"{model}: column {name!r} has {_count(bad)} NaN or infinite value(s) "
                f"out of {n_rows} rows; drop or fill them first"
            )


def check_rfm(arrays: dict[str, np.ndarray], model: str, *, for_fit: bool) -> None:
    """Check ``frequency, recency, T``: finite, non-negative, integer counts, recency <= T."""
    check_finite(arrays, model)
    x, t_x, age = arrays["frequency"], arrays["recency"], arrays["T"]
    n_rows = len(x)
    for name, values in (("frequency", x), ("recency", t_x)):
        if (values < 0).any():
            raise ModelError(
                f"{model}: column {name!r} has {_count(values < 0)} negative value(s) "
                f"out of {n_rows} rows; counts and times cannot be negative"
            )
    if (age <= 0).any():
        raise ModelError(
            f"{model}: column 'T' has {_count(age <= 0)} value(s) <= 0 out of {n_rows} rows; "
            "T is the customer's age in periods and must be positive"
        )
    if (x != np.round(x)).any():
        raise ModelError(
            f"{model}: column 'frequency' has {_count(x != np.round(x))} non-integer value(s); "
            "frequency counts repeat purchases"
        )
    later = t_x > age * (1 + 1e-12)
    if later.any():
        raise ModelError(
            f"{model}: {_count(later)} row(s) have recency > T; the last purchase cannot come "
            "after the end of the observation period"
        )
    inconsistent = (x == 0) & (t_x > 0)
    if inconsistent.any():
        raise ModelError(
            f"{model}: {_count(inconsistent)} row(s) have frequency 0 but recency > 0; "
            "recency is 0 for customers without a repeat purchase"
        )
    if for_fit and not (x > 0).any():
        raise ModelError(
            f"{model}: no customer has a repeat purchase (frequency is 0 in all {n_rows} rows); "
            "the purchase rate and the dropout process cannot be estimated"
        )


def check_weights(weights: Any, n_rows: int, model: str) -> np.ndarray:
    """Return per-row weights (customer counts), 1 when not given."""
    if weights is None:
        return np.ones(n_rows)
    w = np.asarray(weights, dtype=float).reshape(-1)
    if w.shape[0] != n_rows:
        raise ModelError(f"{model}: weights has {w.shape[0]} values for {n_rows} rows")
    bad = ~np.isfinite(w) | (w < 0)
    if bad.any():
        raise ModelError(f"{model}: weights has {_count(bad)} negative or non-finite value(s)")
    if w.sum() <= 0:
        raise ModelError(f"{model}: weights sum to 0; nothing to fit")
    return w


def broadcast_horizon(t: Any, *columns: np.ndarray) -> tuple[np.ndarray, ...]:
    """Broadcast a horizon ``t`` (scalar or array, periods) against customer columns.

    Customer columns are 1-D of length n. A scalar ``t`` gives results of shape (n,); a 1-D
    ``t`` of length h gives (n, h), one column per horizon; any other shape broadcasts by
    numpy's rules.
    """
    horizon = np.asarray(t, dtype=float)
    if np.any(horizon < 0) or not np.all(np.isfinite(horizon)):
        raise ModelError("the horizon t must be finite and non-negative (periods)")
    if horizon.ndim == 1 and columns and columns[0].ndim == 1:
        cols = tuple(c[:, None] for c in columns)
        return (horizon[None, :], *cols)
    return (horizon, *columns)
