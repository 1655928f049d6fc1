"""Analytics: RFM scores and segments, cohort retention, conversion, trends, EDA report.

Every analysis is a function of Ibis tables returning an Ibis table, so it runs on
whichever backend holds the data and on the clean or the raw layer alike
(:func:`source_table` picks ``clean_<kind>`` when it exists). The HTML report lives in
:func:`build_report`.
"""

from patron.analytics._cohorts import (
    active_by_cohort,
    cohort_retention,
    retention_matrix,
)
from patron.analytics._conversion import (
    ProportionTest,
    compare_conversion,
    conversion_rates,
    two_proportion_z,
    wilson_interval,
    z_value,
)
from patron.analytics._report import REPORT_SECTIONS, build_report
from patron.analytics._rfm import (
    SEGMENT_RULES,
    SEGMENTS,
    rfm_grid,
    rfm_scores,
    segment_for,
    segment_summary,
)
from patron.analytics._tables import default_as_of, has_source_table, source_table
from patron.analytics._trends import revenue_trends, top_categories

__all__ = [
    "REPORT_SECTIONS",
    "SEGMENTS",
    "SEGMENT_RULES",
    "ProportionTest",
    "active_by_cohort",
    "build_report",
    "cohort_retention",
    "compare_conversion",
    "conversion_rates",
    "default_as_of",
    "has_source_table",
    "retention_matrix",
    "revenue_trends",
    "rfm_grid",
    "rfm_scores",
    "segment_for",
    "segment_summary",
    "source_table",
    "top_categories",
    "two_proportion_z",
    "wilson_interval",
    "z_value",
]
