"""Train, backtest, save: the model workflow the CLI and the demo run.

For a scoring date ``as_of`` and a task with horizon ``H`` days:

1. **backtest** — test cut-off ``as_of − H`` (its labels have matured by ``as_of``),
   training cut-offs from ``as_of − 2H`` back every ``cutoff_spacing_days``;
2. **final model** — refit on the newest matured cut-offs (``as_of − H`` back), so the
   saved model has seen the most recent behaviour;
3. **save** to the registry with the backtest metrics, label definition, training
   window and feature list, plus the HTML/JSON evaluation report next to the model.

Features of each cut-off are computed once per run (:class:`FeatureCache`), because
tasks share cut-offs.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
from sklearn.base import clone

from patron.errors import ModelError
from patron.evaluation._backtest import Evaluation, backtest, backtest_cutoffs
from patron.evaluation._baselines import (
    churn_truth_baselines,
    compare_with_probabilistic,
    probabilistic_clv,
    segment_truth_ari,
)
from patron.evaluation._metrics import segmentation_metrics
from patron.evaluation._report import write_report
from patron.models import (
    ChurnModel,
    CLVRegressor,
    LabelDefinition,
    PurchaseModel,
    Segmenter,
    SpendModel,
    matured_cutoffs,
    orders_end,
    training_set,
)
from patron.models._labels import TARGET
from patron.models.registry import ModelRecord, ModelRegistry

log = logging.getLogger(__name__)

TRAIN_TASKS: tuple[str, ...] = ("churn", "purchase", "spend", "clv", "segments")


class FeatureCache:
    """``customer_features(con, day)`` computed once per day and reused (a callable)."""

    def __init__(self) -> None:
        self.frames: dict[date, pd.DataFrame] = {}

    def __call__(self, con: Any, day: datetime) -> pd.DataFrame:
        key = day.date() if isinstance(day, datetime) else day
        if key not in self.frames:
            from patron.features import customer_features

            self.frames[key] = customer_features(con, key).execute()
        return self.frames[key].copy()


@dataclass
class TrainedModel:
    """One saved model and its evaluation (``report`` = HTML path, ``None`` if not written)."""

    name: str
    record: ModelRecord
    evaluation: Evaluation
    report: Path | None = None


def default_estimator(task: str, settings: Any, algorithm: str | None = None) -> Any:
    """The estimator a task trains, with the configured algorithm."""
    models = settings.models
    if task == "churn":
        return ChurnModel(algorithm=algorithm or models.algorithm)
    if task == "purchase":
        return PurchaseModel(algorithm=algorithm or models.algorithm)
    if task == "spend":
        return SpendModel(algorithm=algorithm or "gradient_boosting")
    if task == "clv":
        return CLVRegressor(algorithm=algorithm or "ridge")
    if task == "segments":
        return Segmenter(k_min=models.segments_min, k_max=models.segments_max)
    raise ModelError(f"unknown model task {task!r}; expected one of {', '.join(TRAIN_TASKS)}")


def definitions(task: str, settings: Any) -> list[LabelDefinition]:
    """The label definitions of a task (purchase has one per configured horizon)."""
    if task == "purchase":
        return [LabelDefinition.from_settings(settings.models, "purchase", h)
                for h in sorted(settings.models.purchase_horizons_days)]
    return [LabelDefinition.from_settings(settings.models, task)]


def load_ground_truth(path: str | Path | None) -> pd.DataFrame | None:
    """``ground_truth.parquet`` of synthetic data, or ``None`` when absent."""
    if path is None or not Path(path).exists():
        return None
    return pd.read_parquet(path)


def train_task(
    settings: Any,
    task: str,
    *,
    con: Any,
    as_of: date | None = None,
    algorithm: str | None = None,
    estimator: Any = None,
    ground_truth: pd.DataFrame | None = None,
    registry: ModelRegistry | None = None,
    cache: FeatureCache | None = None,
    promote: bool | None = True,
    report: bool = True,
) -> list[TrainedModel]:
    """Backtest, refit and save the model(s) of ``task`` (see the module docstring).

    ``as_of`` defaults to the day after the last order. ``estimator`` overrides the
    default one (its hyper-parameters are kept). Returns one entry per saved model.
    """
    registry = registry or ModelRegistry.from_settings(settings)
    cache = cache or FeatureCache()
    end = orders_end(con)
    as_of = as_of or end
    if as_of > end:
        log.info("as_of %s is after the data ends (%s): labels end at %s", as_of, end, end)
    base = estimator if estimator is not None else default_estimator(task, settings, algorithm)
    if task == "segments":
        return [_train_segments(base, con, as_of, cache, ground_truth, registry, promote,
                                report)]
    out = []
    for definition in definitions(task, settings):
        out.append(_train_supervised(base, definition, settings, con, as_of, end, cache,
                                     ground_truth, registry, promote, report))
    return out


def _train_supervised(
    base: Any, definition: LabelDefinition, settings: Any, con: Any, as_of: date, end: date,
    cache: FeatureCache, ground_truth: pd.DataFrame | None, registry: ModelRegistry,
    promote: bool | None, report: bool,
) -> TrainedModel:
    models = settings.models
    horizon = definition.horizon_days
    scoring_day = min(as_of, end)
    test, train_cutoffs = backtest_cutoffs(
        scoring_day, horizon, train_cutoffs=models.training_cutoffs,
        spacing_days=models.cutoff_spacing_days)
    evaluation = backtest(con, base, definition, test_cutoff=test, train_cutoffs=train_cutoffs,
                          features=cache)
    if ground_truth is not None and definition.task == "churn":
        evaluation.comparisons["ground_truth"] = churn_truth_baselines(
            evaluation.predictions, ground_truth, cutoff=test, horizon_days=horizon)
    if definition.task == "clv":
        evaluation.comparisons["probabilistic"] = compare_with_probabilistic(
            evaluation.predictions, probabilistic_clv(con, test, horizon_days=horizon))
    final_cutoffs = matured_cutoffs(end, horizon, models.training_cutoffs,
                                    models.cutoff_spacing_days,
                                    latest=as_of - timedelta(days=horizon))
    train = training_set(con, definition, final_cutoffs, features=cache)
    features = train.drop(columns=["customer_id", "as_of", TARGET])
    model = clone(base).fit(features, train[TARGET])
    record = registry.save(
        model, definition.name, label=definition.to_dict(),
        training={"cutoffs": [str(c) for c in final_cutoffs], "rows": len(train),
                  "positive_rate": float(train[TARGET].mean()),
                  "scoring_as_of": str(as_of), "backtest_test_cutoff": str(test),
                  "backtest_train_cutoffs": [str(c) for c in train_cutoffs]},
        metrics={"backtest": evaluation.metrics, "comparisons": evaluation.comparisons},
        promote=promote,
    )
    path = _write_report(evaluation, record) if report else None
    return TrainedModel(definition.name, record, evaluation, path)


def _train_segments(
    base: Any, con: Any, as_of: date, cache: FeatureCache, ground_truth: pd.DataFrame | None,
    registry: ModelRegistry, promote: bool | None, report: bool,
) -> TrainedModel:
    frame = cache(con, datetime(as_of.year, as_of.month, as_of.day))
    model = clone(base).fit(frame)
    metrics = segmentation_metrics(model.transform(frame), model.labels_)
    sizes = metrics.pop("sizes")
    metrics["silhouette_by_k"] = model.silhouette_by_k_
    profiles = model.profiles()
    evaluation = Evaluation(model_name="segments", kind="segmentation", method="fit",
                            metrics=metrics, test_cutoff=str(as_of),
                            tables={"profiles": profiles})
    evaluation.comparisons["sizes"] = {model.segment_names_[int(k)]: v
                                       for k, v in sizes.items()}
    if ground_truth is not None:
        evaluation.comparisons["ground_truth"] = segment_truth_ari(
            frame["customer_id"], model.labels_, ground_truth)
    record = registry.save(
        model, "segments", label=None,
        training={"as_of": str(as_of), "rows": len(frame), "k": model.n_segments_,
                  "segments": model.segment_names_},
        metrics={"fit": evaluation.metrics, "comparisons": evaluation.comparisons},
        promote=promote,
    )
    path = _write_report(evaluation, record) if report else None
    return TrainedModel("segments", record, evaluation, path)


def _write_report(evaluation: Evaluation, record: ModelRecord) -> Path:
    html, _ = write_report(evaluation, record.path, stem="evaluation")
    return html
