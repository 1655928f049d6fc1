"""Features (clean → features): point-in-time customer features and the RFM summary.

Every feature is computed *as of* a cut-off from data strictly before it, as Ibis
expressions that run on DuckDB and PySpark; :func:`write_features` materialises them into
``features/customers`` (one ``as_of`` partition per cut-off).
"""

from patron.features._customer import (
    DEFAULT_WINDOWS,
    basket_features,
    customer_features,
    customer_spine,
    marketing_features,
    order_features,
    purchase_lines,
    session_features,
    social_features,
    support_features,
)
from patron.features._rfm import TimeUnit, calibration_and_holdout, rfm_summary
from patron.features._write import FeatureWrite, write_features

__all__ = [
    "DEFAULT_WINDOWS",
    "FeatureWrite",
    "TimeUnit",
    "basket_features",
    "calibration_and_holdout",
    "customer_features",
    "customer_spine",
    "marketing_features",
    "order_features",
    "purchase_lines",
    "rfm_summary",
    "session_features",
    "social_features",
    "support_features",
    "write_features",
]
