"""Honest evaluation: time-based backtests and cross-validation.

A *backtest* trains on earlier cut-offs and tests on a later one, the way the model will
be used: at the test cut-off it knows nothing after it. The training cut-offs are chosen
so their label windows close by the test cut-off (``train cut-off + H ≤ test cut-off``),
so not even a label leaks from the test period. *Cross-validation* (stratified k-fold for
classifiers, plain k-fold for regressors) is for a single customer table without time,
such as a CSV a user brings.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.model_selection import KFold, StratifiedKFold

from patron.errors import ModelError
from patron.evaluation._metrics import (
    calibration_table,
    classification_metrics,
    confusion,
    decile_calibration,
    lift_table,
    regression_metrics,
    threshold_for_capacity,
)
from patron.models._labels import TARGET, LabelDefinition, training_set

log = logging.getLogger(__name__)

#: share of customers a campaign contacts when the threshold is chosen by capacity
DEFAULT_CAPACITY = 0.10


@dataclass
class Evaluation:
    """Metrics and tables of one model on held-out data; ``to_dict`` is the JSON report.

    ``kind`` is ``classification``, ``regression`` or ``segmentation``; ``method``
    ``backtest`` or ``cross_validation``. ``predictions`` holds the held-out ``y`` and
    ``score`` (and ``customer_id`` for backtests), kept for plots and comparisons.
    """

    model_name: str
    kind: str
    method: str
    metrics: dict[str, float]
    label: dict[str, Any] | None = None
    train_cutoffs: list[str] = field(default_factory=list)
    test_cutoff: str | None = None
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    comparisons: dict[str, Any] = field(default_factory=dict)
    folds: list[dict[str, float]] = field(default_factory=list)
    predictions: pd.DataFrame | None = None
    model: Any = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model_name,
            "kind": self.kind,
            "method": self.method,
            "label": self.label,
            "train_cutoffs": self.train_cutoffs,
            "test_cutoff": self.test_cutoff,
            "metrics": _plain(self.metrics),
            "comparisons": _plain(self.comparisons),
            "folds": _plain(self.folds),
            "tables": {name: _plain(table.to_dict(orient="records"))
                       for name, table in self.tables.items()},
        }

    def headline(self) -> str:
        """One line of the key metrics, for logs and the terminal."""
        m = self.metrics
        if self.kind == "classification":
            return (f"ROC-AUC {m['roc_auc']:.3f}, PR-AUC {m['pr_auc']:.3f}, "
                    f"Brier {m['brier']:.4f}, base rate {m['base_rate']:.3f}, "
                    f"lift@10% {m.get('lift_top_decile', float('nan')):.2f}")
        if self.kind == "regression":
            return f"MAE {m['mae']:,.2f}, RMSE {m['rmse']:,.2f}, R² {m['r2']:.3f}"
        return f"k={m.get('segments')}, silhouette {m.get('silhouette', float('nan')):.3f}"


def _plain(value: Any) -> Any:
    """JSON-safe copy: numpy scalars → Python, NaN/inf → None, dates → ISO text."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return None if not np.isfinite(value) else float(value)
    if isinstance(value, (date, pd.Timestamp)):
        return value.isoformat()
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def classification_report(
    y: Any, score: Any, *, capacity: float = DEFAULT_CAPACITY
) -> tuple[dict[str, float], dict[str, pd.DataFrame]]:
    """Metrics at 0.5 and at the top-``capacity`` threshold, plus calibration/lift tables."""
    metrics = classification_metrics(y, score)
    threshold = threshold_for_capacity(score, capacity)
    at_capacity = classification_metrics(y, score, threshold=threshold)
    metrics.update({f"{k}_at_capacity": at_capacity[k] for k in ("precision", "recall", "f1")})
    metrics["capacity"] = capacity
    metrics["capacity_threshold"] = threshold
    lift = lift_table(y, score)
    metrics["lift_top_decile"] = float(lift["lift"].iloc[0])
    matrix = confusion(y, score, threshold)
    tables = {
        "calibration": calibration_table(y, score),
        "lift": lift,
        "confusion_at_capacity": pd.DataFrame(
            [[matrix["tn"], matrix["fp"]], [matrix["fn"], matrix["tp"]]],
            index=["actual 0", "actual 1"], columns=["predicted 0", "predicted 1"],
        ).reset_index(names="actual"),
    }
    return metrics, tables


def regression_report(y: Any, predicted: Any) -> tuple[dict[str, float], dict[str, pd.DataFrame]]:
    """Regression metrics and the decile calibration table."""
    return regression_metrics(y, predicted), {"deciles": decile_calibration(y, predicted)}


def _is_classifier(estimator: Any) -> bool:
    from sklearn.base import is_classifier

    return bool(is_classifier(estimator))


def backtest_cutoffs(
    end: date, horizon_days: int, *, train_cutoffs: int, spacing_days: int,
    test_cutoff: date | None = None,
) -> tuple[date, list[date]]:
    """(test cut-off, training cut-offs newest first) for data ending ``end``.

    The test cut-off is the newest whose label has matured (``end − H``) unless given;
    the newest training cut-off is ``test − H`` so its labels close by the test cut-off.
    """
    test = test_cutoff or end - timedelta(days=horizon_days)
    if test + timedelta(days=horizon_days) > end:
        raise ModelError(f"test cut-off {test} + {horizon_days} days is after the data ends "
                         f"({end})")
    newest = test - timedelta(days=horizon_days)
    return test, [newest - timedelta(days=i * spacing_days) for i in range(train_cutoffs)]


def backtest(
    con: Any,
    estimator: Any,
    definition: LabelDefinition,
    *,
    test_cutoff: date,
    train_cutoffs: Sequence[date],
    capacity: float = DEFAULT_CAPACITY,
    features: Any = None,
    importance: bool = True,
) -> Evaluation:
    """Train ``clone(estimator)`` on ``train_cutoffs``, evaluate at ``test_cutoff``.

    Label windows of the training cut-offs must close by the test cut-off (else
    ``ModelError``: the backtest would peek into the test period).
    """
    late = [c for c in train_cutoffs
            if c + timedelta(days=definition.horizon_days) > test_cutoff]
    if late:
        raise ModelError(f"training cut-off(s) {', '.join(map(str, late))} have label windows "
                         f"reaching past the test cut-off {test_cutoff}")
    train = training_set(con, definition, train_cutoffs, features=features)
    test = training_set(con, definition, [test_cutoff], features=features)
    model = clone(estimator).fit(_features(train), train[TARGET])
    test_x = _features(test)
    missing = [c for c in model.feature_names_in_ if c not in test_x.columns]
    for column in missing:  # a source empty at the test date: the model sees "missing"
        test_x[column] = np.nan
    y = test[TARGET].to_numpy()
    score = model.score_values(test_x)
    if _is_classifier(model):
        metrics, tables = classification_report(y, score, capacity=capacity)
        kind = "classification"
    else:
        metrics, tables = regression_report(y, score)
        kind = "regression"
    if importance:
        from patron.models import permutation_importance_table

        tables["permutation_importance"] = permutation_importance_table(
            model, test_x, y, n_repeats=3, max_rows=10_000)
    predictions = pd.DataFrame({"customer_id": test["customer_id"].to_numpy(), "y": y,
                                "score": score})
    result = Evaluation(
        model_name=definition.name, kind=kind, method="backtest", metrics=metrics,
        label=definition.to_dict(), train_cutoffs=[str(c) for c in train_cutoffs],
        test_cutoff=str(test_cutoff), tables=tables, predictions=predictions, model=model,
    )
    result.metrics["train_rows"] = float(len(train))
    log.info("backtest %s (%s): %s", definition.name, definition.describe(), result.headline())
    return result


def _features(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.drop(columns=[c for c in ("customer_id", "as_of", TARGET) if c in frame])


def cross_validate(
    estimator: Any,
    X: Any,
    y: Any,
    *,
    folds: int = 5,
    random_state: int | None = 0,
    capacity: float = DEFAULT_CAPACITY,
    model_name: str | None = None,
) -> Evaluation:
    """k-fold cross-validation (stratified for classifiers) with out-of-fold scores.

    Overall metrics are computed on the pooled out-of-fold scores; ``folds`` holds each
    fold's metrics, whose spread shows how stable the estimate is.
    """
    from patron.models._preprocess import coerce_target

    frame = X if isinstance(X, pd.DataFrame) else pd.DataFrame(X)
    frame = frame.reset_index(drop=True)
    target = pd.Series(np.asarray(y, dtype=object), name=getattr(y, "name", None) or "target")
    classify = _is_classifier(estimator)
    encoded, classes = coerce_target(target, str(target.name),
                                     kind="classification" if classify else "regression")
    if classify:
        minority = int(np.bincount(encoded).min())
        if minority < folds:
            raise ModelError(f"target column {target.name!r}: the rarer class has {minority} "
                             f"rows, fewer than the {folds} folds")
        splitter: Any = StratifiedKFold(folds, shuffle=True, random_state=random_state)
    else:
        splitter = KFold(folds, shuffle=True, random_state=random_state)
    out_of_fold = np.empty(len(frame))
    per_fold: list[dict[str, float]] = []
    for train_rows, test_rows in splitter.split(frame, encoded):
        model = clone(estimator).fit(frame.iloc[train_rows], target.iloc[train_rows])
        score = model.score_values(frame.iloc[test_rows])
        out_of_fold[test_rows] = score
        per_fold.append(classification_metrics(encoded[test_rows], score) if classify
                        else regression_metrics(encoded[test_rows], score))
    if classify:
        metrics, tables = classification_report(encoded, out_of_fold, capacity=capacity)
        kind = "classification"
    else:
        metrics, tables = regression_report(encoded, out_of_fold)
        kind = "regression"
    for key in per_fold[0]:
        values = np.array([f[key] for f in per_fold], dtype="float64")
        metrics[f"{key}_fold_std"] = float(np.nanstd(values))
    name = model_name or type(estimator).__name__
    result = Evaluation(
        model_name=name, kind=kind, method="cross_validation", metrics=metrics,
        label={"target": str(target.name),
               "positive_class": None if classes is None else str(classes[1])},
        tables=tables, folds=per_fold,
        predictions=pd.DataFrame({"y": encoded, "score": out_of_fold}),
    )
    log.info("%d-fold CV %s: %s", folds, name, result.headline())
    return result
