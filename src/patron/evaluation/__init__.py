"""Evaluation (models → evidence): backtests over time, cross-validation, metrics, reports.

Backtests train on earlier cut-offs and test on a later one whose label window lies
entirely after every training label; cross-validation serves tables without time. Every
result carries its label definition, so a number is never read without its meaning.
"""

from patron.evaluation._backtest import (
    DEFAULT_CAPACITY,
    Evaluation,
    backtest,
    backtest_cutoffs,
    classification_report,
    cross_validate,
    regression_report,
)
from patron.evaluation._baselines import (
    churn_truth_baselines,
    compare_with_probabilistic,
    probabilistic_clv,
    segment_truth_ari,
)
from patron.evaluation._metrics import (
    calibration_table,
    classification_metrics,
    confusion,
    decile_calibration,
    lift_table,
    regression_metrics,
    segmentation_metrics,
    threshold_for_capacity,
    threshold_for_cost,
)
from patron.evaluation._report import render_html, write_report
from patron.evaluation._workflow import (
    TRAIN_TASKS,
    FeatureCache,
    TrainedModel,
    default_estimator,
    definitions,
    load_ground_truth,
    train_task,
)

__all__ = [
    "DEFAULT_CAPACITY",
    "TRAIN_TASKS",
    "Evaluation",
    "FeatureCache",
    "TrainedModel",
    "backtest",
    "backtest_cutoffs",
    "calibration_table",
    "churn_truth_baselines",
    "classification_metrics",
    "classification_report",
    "compare_with_probabilistic",
    "confusion",
    "cross_validate",
    "decile_calibration",
    "default_estimator",
    "definitions",
    "lift_table",
    "load_ground_truth",
    "probabilistic_clv",
    "regression_metrics",
    "regression_report",
    "render_html",
    "segment_truth_ari",
    "segmentation_metrics",
    "threshold_for_capacity",
    "threshold_for_cost",
    "train_task",
    "write_report",
]
