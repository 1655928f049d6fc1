"""Session conversion by channel, device or any vocabulary column, with honest uncertainty.

A conversion rate from a few hundred sessions is noisy; reports show it with a **Wilson
score interval** (Wilson 1927), which, unlike the textbook normal interval, stays inside
[0, 1] and keeps close to its nominal coverage for small counts and rates near 0 or 1::

    centre = (p + z²/2n) / (1 + z²/n)
    half   = z / (1 + z²/n) · sqrt(p(1 − p)/n + z²/4n²)

Two groups (mobile vs desktop) are compared with the **two-proportion z-test** using the
pooled rate under the null hypothesis of equal rates::

    z = (p_a − p_b) / sqrt(p̂(1 − p̂)(1/n_a + 1/n_b)),   p̂ = (x_a + x_b)/(n_a + n_b)

and a two-sided p-value ``2·(1 − Φ(|z|))``. The confidence interval of the difference uses
the unpooled standard error. All rates are fractions (0–1), not percentages.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
from scipy import stats

from patron.analytics._tables import as_timestamp, vocab
from patron.errors import PatronError


def z_value(confidence: float) -> float:
    """The two-sided standard-normal quantile for a confidence level in (0, 1)."""
    if not 0.0 < confidence < 1.0:
        raise PatronError(f"confidence = {confidence}: expected a level between 0 and 1")
    return float(stats.norm.ppf(0.5 + confidence / 2.0))


def wilson_interval(
    successes: Any, trials: Any, confidence: float = 0.95
) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval (lower, upper) for ``successes`` out of ``trials``.

    Works on scalars or arrays; ``trials == 0`` gives (NaN, NaN) because nothing is known.
    """
    x = np.asarray(successes, dtype="float64")
    n = np.asarray(trials, dtype="float64")
    z = z_value(confidence)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = x / n
        denominator = 1.0 + z * z / n
        centre = (p + z * z / (2.0 * n)) / denominator
        half = z / denominator * np.sqrt(p * (1.0 - p) / n + z * z / (4.0 * n * n))
    lower = np.where(n > 0, np.clip(centre - half, 0.0, 1.0), np.nan)
    upper = np.where(n > 0, np.clip(centre + half, 0.0, 1.0), np.nan)
    return lower, upper


def _sessions_in_range(
    sessions: ir.Table,
    start: date | datetime | str | None,
    end: date | datetime | str | None,
) -> ir.Table:
    if start is not None:
        sessions = sessions.filter(sessions.ts >= ibis.literal(as_timestamp(start)))
    if end is not None:
        sessions = sessions.filter(sessions.ts < ibis.literal(as_timestamp(end)))
    return sessions


def conversion_rates(
    sessions: ir.Table,
    by: str | Sequence[str] = "channel",
    *,
    confidence: float = 0.95,
    start: date | datetime | str | None = None,
    end: date | datetime | str | None = None,
) -> ir.Table:
    """Sessions, conversions, rate and Wilson interval per value of the ``by`` column(s).

    Group values are trimmed and lower-cased (``Mobile`` and ``mobile`` are one device),
    missing ones become ``unknown``; a missing ``converted`` counts as not converted.
    Sessions in ``[start, end)`` count when given. Returns the ``by`` columns plus
    ``sessions, conversions, rate, ci_low, ci_high`` (fractions), largest groups first.
    """
    columns = [by] if isinstance(by, str) else list(by)
    missing = [c for c in columns if c not in sessions.columns]
    if missing:
        raise PatronError(
            f"sessions have no column(s) {missing}; available: {list(sessions.columns)}"
        )
    z = z_value(confidence)
    table = _sessions_in_range(sessions, start, end)
    table = table.mutate(
        **{c: vocab(table[c].cast("string")) for c in columns},
        _converted=table.converted.cast("boolean").fill_null(False),
    )
    grouped = table.group_by(columns).aggregate(
        sessions=table.count(),
        conversions=table._converted.cast("int64").sum(),
    )
    n = grouped.sessions.cast("float64")
    p = grouped.conversions.cast("float64") / n
    denominator = 1.0 + z * z / n
    centre = (p + z * z / (2.0 * n)) / denominator
    half = z / denominator * (p * (1.0 - p) / n + z * z / (4.0 * n * n)).sqrt()
    return grouped.mutate(
        rate=p,
        ci_low=ibis.greatest(centre - half, 0.0),
        ci_high=ibis.least(centre + half, 1.0),
    ).order_by([ibis.desc("sessions"), *columns])


@dataclass(frozen=True)
class ProportionTest:
    """Result of a two-proportion z-test of group ``a`` against group ``b``.

    Rates and the difference are fractions (0–1); ``diff_ci`` is the confidence
    interval of ``rate_a − rate_b``; ``p_value`` is two-sided.
    """

    a: str
    b: str
    conversions_a: int
    sessions_a: int
    conversions_b: int
    sessions_b: int
    rate_a: float
    rate_b: float
    diff: float
    z: float
    p_value: float
    diff_ci: tuple[float, float]
    confidence: float

    @property
    def significant(self) -> bool:
        """Whether the difference is significant at the test's confidence level."""
        return self.p_value < 1.0 - self.confidence

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def two_proportion_z(
    conversions_a: int,
    sessions_a: int,
    conversions_b: int,
    sessions_b: int,
    *,
    confidence: float = 0.95,
    a: str = "a",
    b: str = "b",
) -> ProportionTest:
    """Two-proportion z-test from counts (see module docstring for the formulas)."""
    if sessions_a <= 0 or sessions_b <= 0:
        raise PatronError(
            f"cannot compare {a!r} ({sessions_a} sessions) with {b!r} ({sessions_b} "
            "sessions): each group needs at least one session"
        )
    rate_a = conversions_a / sessions_a
    rate_b = conversions_b / sessions_b
    pooled = (conversions_a + conversions_b) / (sessions_a + sessions_b)
    pooled_se = math.sqrt(pooled * (1.0 - pooled) * (1.0 / sessions_a + 1.0 / sessions_b))
    diff = rate_a - rate_b
    if pooled_se == 0.0:
        z = 0.0
        p_value = 1.0
    else:
        z = diff / pooled_se
        p_value = float(2.0 * stats.norm.sf(abs(z)))
    se = math.sqrt(rate_a * (1 - rate_a) / sessions_a + rate_b * (1 - rate_b) / sessions_b)
    margin = z_value(confidence) * se
    return ProportionTest(
        a=a,
        b=b,
        conversions_a=int(conversions_a),
        sessions_a=int(sessions_a),
        conversions_b=int(conversions_b),
        sessions_b=int(sessions_b),
        rate_a=rate_a,
        rate_b=rate_b,
        diff=diff,
        z=float(z),
        p_value=p_value,
        diff_ci=(diff - margin, diff + margin),
        confidence=confidence,
    )


def compare_conversion(
    sessions: ir.Table,
    column: str = "device",
    a: str = "mobile",
    b: str = "desktop",
    *,
    confidence: float = 0.95,
    start: date | datetime | str | None = None,
    end: date | datetime | str | None = None,
) -> ProportionTest:
    """Test whether sessions with ``column == a`` convert at the same rate as ``== b``.

    Values are compared after trimming and lower-casing, like :func:`conversion_rates`.
    """
    rates = conversion_rates(sessions, column, confidence=confidence, start=start, end=end)
    wanted = [a.strip().lower(), b.strip().lower()]
    frame = rates.filter(rates[column].isin(wanted)).execute()
    counts = {
        value: (int(x), int(n))
        for value, x, n in zip(frame[column], frame["conversions"], frame["sessions"], strict=True)
    }
    xa, na = counts.get(wanted[0], (0, 0))
    xb, nb = counts.get(wanted[1], (0, 0))
    return two_proportion_z(xa, na, xb, nb, confidence=confidence, a=wanted[0], b=wanted[1])
