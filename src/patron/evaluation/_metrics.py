"""Metrics of classification, regression and segmentation, as plain numbers and tables.

Scores are probabilities of the positive class (churn, purchase). A threshold turns them
into decisions, chosen the way a campaign is planned: by *capacity* (contact the top k %
of customers) or by *cost* (minimise false-positive cost × FP + false-negative cost × FN).
Lift and cumulative gain are per decile of score, highest first: decile 1 is the 10 % of
customers the model ranks riskiest.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn import metrics as skm

from patron.errors import ModelError

EPS = 1e-15


def _binary(y_true: Any, score: Any) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y_true).astype(int).ravel()
    p = np.asarray(score, dtype="float64").ravel()
    if len(y) != len(p):
        raise ModelError(f"{len(y)} labels but {len(p)} scores")
    if not set(np.unique(y)) <= {0, 1}:
        raise ModelError("classification metrics need 0/1 labels")
    return y, p


def threshold_for_capacity(score: Any, top_fraction: float) -> float:
    """The score above which the top ``top_fraction`` (0–1) of customers lie.

    Customers with ``score >= threshold`` are contacted; ties at the threshold may add a
    few more than the capacity.
    """
    if not 0 < top_fraction <= 1:
        raise ModelError(f"top_fraction must be in (0, 1], got {top_fraction}")
    p = np.sort(np.asarray(score, dtype="float64"))[::-1]
    k = max(1, int(np.ceil(top_fraction * len(p))))
    return float(p[k - 1])


def threshold_for_cost(
    y_true: Any, score: Any, *, cost_false_positive: float, cost_false_negative: float
) -> float:
    """The threshold minimising ``cost_fp × FP + cost_fn × FN`` on these labels.

    Costs are in currency per customer (e.g. a wasted voucher vs. a lost customer's
    margin). Thresholds tried: every distinct score (and one above the maximum: contact
    nobody).
    """
    y, p = _binary(y_true, score)
    order = np.argsort(-p, kind="stable")
    p_sorted, y_sorted = p[order], y[order]
    # contacting the first i customers (i = 0..n): FP = negatives among them, FN = rest
    tp = np.concatenate([[0], np.cumsum(y_sorted)])
    fp = np.concatenate([[0], np.cumsum(1 - y_sorted)])
    fn = y.sum() - tp
    cost = cost_false_positive * fp + cost_false_negative * fn
    # only cut between distinct scores
    valid = np.concatenate([[True], np.append(p_sorted[1:] != p_sorted[:-1], True)])
    best = int(np.argmin(np.where(valid, cost, np.inf)))
    return float(np.inf) if best == 0 else float(p_sorted[best - 1])


def confusion(y_true: Any, score: Any, threshold: float) -> dict[str, int]:
    """Counts of true/false positives/negatives when ``score >= threshold`` is positive."""
    y, p = _binary(y_true, score)
    predicted = p >= threshold
    return {
        "tp": int(np.sum(predicted & (y == 1))),
        "fp": int(np.sum(predicted & (y == 0))),
        "tn": int(np.sum(~predicted & (y == 0))),
        "fn": int(np.sum(~predicted & (y == 1))),
    }


def classification_metrics(y_true: Any, score: Any, *, threshold: float = 0.5
                           ) -> dict[str, float]:
    """Accuracy, precision, recall, F1 (at ``threshold``), ROC-AUC, PR-AUC (average
    precision), log-loss, Brier score, base rate and row count.

    ROC-AUC and PR-AUC are ``nan`` when only one class is present.
    """
    y, p = _binary(y_true, score)
    predicted = (p >= threshold).astype(int)
    two_classes = len(np.unique(y)) == 2
    clipped = np.clip(p, EPS, 1 - EPS)
    return {
        "n": float(len(y)),
        "base_rate": float(y.mean()) if len(y) else float("nan"),
        "threshold": float(threshold),
        "accuracy": float(skm.accuracy_score(y, predicted)),
        "precision": float(skm.precision_score(y, predicted, zero_division=0)),
        "recall": float(skm.recall_score(y, predicted, zero_division=0)),
        "f1": float(skm.f1_score(y, predicted, zero_division=0)),
        "roc_auc": float(skm.roc_auc_score(y, p)) if two_classes else float("nan"),
        "pr_auc": float(skm.average_precision_score(y, p)) if two_classes else float("nan"),
        "log_loss": float(-np.mean(y * np.log(clipped) + (1 - y) * np.log(1 - clipped))),
        "brier": float(np.mean((p - y) ** 2)),
    }


def calibration_table(y_true: Any, score: Any, *, bins: int = 10) -> pd.DataFrame:
    """Mean predicted probability vs. observed rate in ``bins`` equal-count score bins."""
    y, p = _binary(y_true, score)
    group = _quantile_groups(p, bins)
    frame = pd.DataFrame({"bin": group, "y": y, "p": p})
    out = frame.groupby("bin").agg(customers=("y", "size"), mean_predicted=("p", "mean"),
                                   observed_rate=("y", "mean")).reset_index()
    return out


def _quantile_groups(values: np.ndarray, groups: int) -> np.ndarray:
    """Group 1..``groups`` of each value by rank, group 1 = lowest, equal counts."""
    ranks = np.argsort(np.argsort(values, kind="stable"), kind="stable")
    return (ranks * groups // max(len(values), 1)) + 1


def lift_table(y_true: Any, score: Any, *, groups: int = 10) -> pd.DataFrame:
    """Per decile of score (1 = highest scores): customers, positives, rate, lift,
    cumulative share of customers, cumulative gain (share of all positives captured) and
    cumulative lift."""
    y, p = _binary(y_true, score)
    decile = groups + 1 - _quantile_groups(p, groups)
    frame = pd.DataFrame({"decile": decile, "y": y})
    table = frame.groupby("decile").agg(customers=("y", "size"), positives=("y", "sum"))
    table = table.reset_index()
    total_rate = y.mean() if len(y) else float("nan")
    table["rate"] = table["positives"] / table["customers"]
    table["lift"] = table["rate"] / total_rate if total_rate > 0 else np.nan
    table["cumulative_customers"] = table["customers"].cumsum() / len(y)
    positives = max(int(y.sum()), 1)
    table["cumulative_gain"] = table["positives"].cumsum() / positives
    table["cumulative_lift"] = table["cumulative_gain"] / table["cumulative_customers"]
    return table


def regression_metrics(y_true: Any, predicted: Any) -> dict[str, float]:
    """MAE and RMSE (currency), R², totals and row count."""
    y = np.asarray(y_true, dtype="float64").ravel()
    f = np.asarray(predicted, dtype="float64").ravel()
    return {
        "n": float(len(y)),
        "mae": float(np.mean(np.abs(y - f))),
        "rmse": float(np.sqrt(np.mean((y - f) ** 2))),
        "r2": float(skm.r2_score(y, f)) if len(y) > 1 else float("nan"),
        "actual_total": float(y.sum()),
        "predicted_total": float(f.sum()),
        "actual_mean": float(y.mean()) if len(y) else float("nan"),
    }


def decile_calibration(y_true: Any, predicted: Any, *, groups: int = 10) -> pd.DataFrame:
    """Mean predicted vs. mean actual per decile of prediction (1 = highest predictions)."""
    y = np.asarray(y_true, dtype="float64").ravel()
    f = np.asarray(predicted, dtype="float64").ravel()
    decile = groups + 1 - _quantile_groups(f, groups)
    frame = pd.DataFrame({"decile": decile, "actual": y, "predicted": f})
    return frame.groupby("decile").agg(customers=("actual", "size"),
                                       mean_predicted=("predicted", "mean"),
                                       mean_actual=("actual", "mean")).reset_index()


def segmentation_metrics(
    coordinates: Any, segments: Any, *, truth: Any = None, sample_size: int = 5000,
    random_state: int | None = 0,
) -> dict[str, Any]:
    """Silhouette (on a sample of ``sample_size``), segment sizes and, when the true
    groups are known (synthetic data), the adjusted Rand index against them."""
    z = np.asarray(coordinates, dtype="float64")
    labels = np.asarray(segments)
    rng = np.random.default_rng(random_state)
    rows = rng.choice(len(z), sample_size, replace=False) if len(z) > sample_size else (
        np.arange(len(z)))
    out: dict[str, Any] = {
        "n": len(labels),
        "segments": len(np.unique(labels)),
        "silhouette": float(skm.silhouette_score(z[rows], labels[rows]))
        if len(np.unique(labels[rows])) > 1 else float("nan"),
        "sizes": {str(k): int(v) for k, v in pd.Series(labels).value_counts().items()},
    }
    if truth is not None:
        out["adjusted_rand_index"] = float(skm.adjusted_rand_score(np.asarray(truth), labels))
    return out
