"""The analytics expressions give the same answers on PySpark as on DuckDB."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

pytestmark = [pytest.mark.spark, pytest.mark.slow]


@pytest.fixture(scope="module")
def backends(tmp_path_factory):
    pytest.importorskip("pyspark")
    from analytics_data import random_orders, sessions_frame

    from patron import Lake, Settings, connect

    root = tmp_path_factory.mktemp("spark")
    (root / "patron.toml").write_text('[lake]\npath = "lake"\n', encoding="utf-8")
    lake = Lake(root / "lake")
    lake.write_arrow(random_orders(seed=4), "raw", "orders", batch_id="o1")
    lake.write_arrow(sessions_frame(), "raw", "sessions", batch_id="s1")
    settings = Settings.load(root / "patron.toml")
    return connect(settings, lake=lake), connect(settings, lake=lake, backend="spark")


def _same(expr_of, duck, spark, keys):
    left = expr_of(duck).execute().sort_values(keys, ignore_index=True)
    right = expr_of(spark).execute().sort_values(keys, ignore_index=True)
    assert list(left.columns) == list(right.columns)
    assert len(left) == len(right) > 0
    for column in left.columns:
        a, b = left[column], right[column]
        if pd.api.types.is_float_dtype(a) or pd.api.types.is_float_dtype(b):
            np.testing.assert_allclose(a.astype(float), b.astype(float), rtol=1e-9,
                                       err_msg=column)
        elif pd.api.types.is_datetime64_any_dtype(a):
            assert (pd.to_datetime(a) == pd.to_datetime(b)).all(), column
        else:
            assert a.astype(str).tolist() == b.astype(str).tolist(), column


def test_rfm_cohorts_trends_and_conversion_agree(backends):
    from patron.analytics import (
        active_by_cohort,
        cohort_retention,
        conversion_rates,
        revenue_trends,
        rfm_scores,
        segment_summary,
        top_categories,
    )

    duck, spark = backends
    orders = lambda con: con.table("raw_orders")  # noqa: E731
    sessions = lambda con: con.table("raw_sessions")  # noqa: E731
    _same(lambda c: rfm_scores(orders(c), "2024-10-01"), duck, spark, ["customer_id"])
    _same(lambda c: segment_summary(rfm_scores(orders(c), "2024-10-01")), duck, spark,
          ["segment"])
    for period in ("month", "week"):
        _same(lambda c, p=period: cohort_retention(orders(c), period=p), duck, spark,
              ["cohort", "period"])
    _same(lambda c: active_by_cohort(orders(c), "2024-11-01", days=60), duck, spark, ["cohort"])
    for freq in ("day", "week", "month"):
        _same(lambda c, f=freq: revenue_trends(orders(c), freq=f), duck, spark, ["period"])
    _same(lambda c: top_categories(orders(c)), duck, spark, ["category"])
    _same(lambda c: conversion_rates(sessions(c), ["channel", "device"]), duck, spark,
          ["channel", "device"])
