"""Conversion rates, Wilson intervals and the two-proportion z-test against closed forms."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from analytics_data import sessions_frame

from patron.analytics import (
    compare_conversion,
    conversion_rates,
    two_proportion_z,
    wilson_interval,
    z_value,
)
from patron.errors import PatronError

Z95 = 1.959963984540054


def _wilson(x: float, n: float, z: float = Z95) -> tuple[float, float]:
    """Wilson (1927) score interval written out directly."""
    p = x / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return centre - half, centre + half


def test_z_value_is_the_two_sided_normal_quantile():
    assert z_value(0.95) == pytest.approx(Z95)
    assert z_value(0.90) == pytest.approx(1.6448536269514722)
    with pytest.raises(PatronError):
        z_value(1.5)


def test_wilson_interval_known_values():
    # zero successes: the upper bound is z²/(n + z²)
    low, high = wilson_interval(0, 10)
    assert low == pytest.approx(0.0)
    assert high == pytest.approx(Z95**2 / (10 + Z95**2))
    # all successes mirror it
    low, high = wilson_interval(10, 10)
    assert low == pytest.approx(10 / (10 + Z95**2))
    assert high == pytest.approx(1.0)
    # a textbook case and the vectorised form
    lows, highs = wilson_interval([81, 4], [263, 20])
    assert (lows[0], highs[0]) == pytest.approx(_wilson(81, 263))
    assert (lows[1], highs[1]) == pytest.approx(_wilson(4, 20))
    assert np.isnan(wilson_interval(0, 0)[0])


def test_conversion_rates_by_device_lowercase_vocab_and_wilson(duck):
    table = duck.create_table("sessions", sessions_frame())
    rates = conversion_rates(table, "device").execute().set_index("device")
    assert rates.index.tolist() == ["mobile", "desktop", "tablet"]  # most sessions first
    assert rates.loc["mobile", ["sessions", "conversions"]].tolist() == [20, 4]
    assert rates.loc["desktop", ["sessions", "conversions"]].tolist() == [15, 9]
    assert rates.loc["desktop", "rate"] == pytest.approx(0.6)
    for device, (x, n) in {"mobile": (4, 20), "desktop": (9, 15), "tablet": (0, 5)}.items():
        low, high = _wilson(x, n)
        assert rates.loc[device, "ci_low"] == pytest.approx(max(low, 0.0))
        assert rates.loc[device, "ci_high"] == pytest.approx(min(high, 1.0))


def test_conversion_by_two_columns_and_missing_values(duck):
    frame = sessions_frame()
    frame.loc[0, "channel"] = None
    frame["converted"] = frame["converted"].astype("boolean")
    frame.loc[1, "converted"] = pd.NA  # session 1 converted, but the flag was lost
    table = duck.create_table("sessions", frame)
    rates = conversion_rates(table, ["channel", "device"]).execute()
    assert rates["sessions"].sum() == 40
    assert "unknown" in set(rates["channel"])
    assert rates["conversions"].sum() == 12  # 13 converted, one counted as not
    with pytest.raises(PatronError, match="no column"):
        conversion_rates(table, "browser")


def test_two_proportion_z_matches_closed_form():
    result = two_proportion_z(4, 20, 9, 15, a="mobile", b="desktop")
    pooled = 13 / 35
    se = math.sqrt(pooled * (1 - pooled) * (1 / 20 + 1 / 15))
    z = (0.2 - 0.6) / se
    assert result.z == pytest.approx(z)
    assert result.p_value == pytest.approx(math.erfc(abs(z) / math.sqrt(2)))
    unpooled = math.sqrt(0.2 * 0.8 / 20 + 0.6 * 0.4 / 15)
    assert result.diff_ci == pytest.approx((-0.4 - Z95 * unpooled, -0.4 + Z95 * unpooled))
    assert result.significant
    same = two_proportion_z(50, 100, 50, 100)
    assert same.z == 0.0 and same.p_value == pytest.approx(1.0) and not same.significant
    with pytest.raises(PatronError):
        two_proportion_z(1, 0, 1, 10)


def test_compare_conversion_reads_counts_from_sessions(duck):
    table = duck.create_table("sessions", sessions_frame())
    result = compare_conversion(table, "device", "Mobile", "desktop")
    assert (result.a, result.b) == ("mobile", "desktop")
    assert (result.conversions_a, result.sessions_a) == (4, 20)
    assert (result.conversions_b, result.sessions_b) == (9, 15)
    assert result.p_value == pytest.approx(two_proportion_z(4, 20, 9, 15).p_value)


def test_conversion_window_is_half_open(duck):
    table = duck.create_table("sessions", sessions_frame())
    # sessions start 2024-03-01 00:00, one per hour per device: the first 2 hours of each
    rates = conversion_rates(table, "device", start="2024-03-01",
                             end=pd.Timestamp("2024-03-01 02:00")).execute()
    assert rates["sessions"].tolist() == [2, 2, 2]
