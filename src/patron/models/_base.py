"""The supervised customer-model base: any customer table in, one sklearn Pipeline inside.

Subclasses choose the final estimator (``_make_estimator``) and say whether they classify
or regress. Everything else — type coercion, the ColumnTransformer, target checks, the
unfitted-model error, reason codes — is shared, so every model behaves the same way.
"""

from __future__ import annotations

import contextlib
import logging
import os
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.pipeline import Pipeline

from patron.errors import ModelError
from patron.models._preprocess import (
    ID_COLUMNS,
    ColumnKinds,
    as_frame,
    build_preprocessor,
    coerce_frame,
    coerce_target,
    infer_kinds,
    source_columns,
)

log = logging.getLogger(__name__)

#: below this many rows, fit and predict run single-threaded: OpenMP start-up and barrier
#: waits cost more than they save on small tables
PARALLEL_MIN_ROWS = 100_000


def native_threads(n_rows: int) -> int:
    """Threads for OpenMP/BLAS work on ``n_rows`` rows: 1 for small inputs, else the cores
    not already busy (``cpu_count − 1-minute load average``, at least 1).

    OpenMP threads spin-wait at every barrier; on a machine whose cores are taken by other
    processes, two threads were measured 12× *slower* than one for gradient boosting
    (100k customers: 30 s vs 2.5 s), so oversubscription is avoided rather than risked.
    """
    if n_rows < PARALLEL_MIN_ROWS:
        return 1
    cpus = os.cpu_count() or 1
    try:
        busy = round(os.getloadavg()[0])
    except OSError:  # pragma: no cover - platforms without a load average
        busy = 0
    return max(1, min(cpus, cpus - busy + 1 if busy < cpus else 1))


def threads_for(n_rows: int) -> contextlib.AbstractContextManager[Any]:
    """Limit native thread pools to :func:`native_threads` for the enclosed work."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(native_threads(n_rows))


class CustomerModel(BaseEstimator):
    """Shared fit/predict plumbing. Not used directly: see the concrete models.

    Learned attributes (after ``fit``): ``pipeline_`` (preprocessing + estimator),
    ``columns_`` (:class:`~patron.models._preprocess.ColumnKinds`), ``feature_names_in_``
    and ``n_features_in_`` (the input columns used), ``reference_`` (a typical customer:
    training medians and most frequent levels, the baseline of fallback explanations),
    ``target_name_``.
    """

    _task: ClassVar[str] = "classification"

    # -- hooks ----------------------------------------------------------------------------
    def _make_estimator(self) -> Any:
        raise NotImplementedError

    @property
    def _is_linear(self) -> bool:
        return False

    def _max_categories(self) -> int:
        return int(getattr(self, "max_categories", 20))

    # -- fitting --------------------------------------------------------------------------
    def _prepare_fit(self, X: Any, y: Any) -> tuple[pd.DataFrame, np.ndarray]:
        if y is None:
            raise ModelError(f"{type(self).__name__}.fit needs a target y")
        frame = coerce_frame(as_frame(X))
        if len(frame) != len(y):
            raise ModelError(f"{type(self).__name__}.fit: X has {len(frame)} rows but the "
                             f"target has {len(y)}")
        name = str(getattr(y, "name", None) or "target")
        values, classes = coerce_target(y, name, kind=self._task)
        kinds = infer_kinds(frame, max_onehot=self._max_categories())
        self.columns_: ColumnKinds = kinds
        self.feature_names_in_ = np.asarray(kinds.all, dtype=object)
        self.n_features_in_ = len(kinds.all)
        self.target_name_ = name
        if classes is not None:
            self.classes_ = classes
        self.reference_ = _reference_row(frame, kinds)
        return frame, values

    def _fit_pipeline(
        self, frame: pd.DataFrame, values: np.ndarray, sample_weight: Any = None
    ) -> Pipeline:
        # trees split on thresholds, so standardising only costs time (a third of scoring)
        pipeline = Pipeline([
            ("preprocess", build_preprocessor(self.columns_, scale=self._is_linear)),
            ("model", self._make_estimator()),
        ])
        params = {} if sample_weight is None else {"model__sample_weight": np.asarray(
            sample_weight, dtype="float64")}
        try:
            with threads_for(len(frame)):
                pipeline.fit(frame, values, **params)
        except ValueError as exc:
            raise ModelError(f"{type(self).__name__} cannot be fitted: {exc}") from None
        if self._is_linear:  # the centre of linear reason codes (a typical customer → 0)
            matrix = pipeline.named_steps["preprocess"].transform(frame)
            self.transformed_mean_ = np.asarray(matrix, dtype="float64").mean(axis=0)
        return pipeline

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> CustomerModel:
        """Fit on a customer table ``X`` (DataFrame or 2-D array) and target ``y``.

        ``sample_weight`` (optional) weighs rows, e.g. to balance stacked cut-offs.
        """
        frame, values = self._prepare_fit(X, y)
        self.pipeline_ = self._fit_pipeline(frame, values, sample_weight)
        log.info("%s fitted on %d rows, %d features", type(self).__name__, len(frame),
                 self.n_features_in_)
        return self

    # -- using ----------------------------------------------------------------------------
    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "columns_")

    def _check_fitted(self) -> None:
        if not hasattr(self, "columns_"):
            raise ModelError(f"{type(self).__name__} is not fitted: call fit(X, y) first")

    def _input(self, X: Any) -> pd.DataFrame:
        """The prediction table, coerced like the training table; names missing columns."""
        self._check_fitted()
        frame = as_frame(X, columns=list(self.feature_names_in_))
        missing = [c for c in self.feature_names_in_ if c not in frame.columns]
        if missing:
            raise ModelError(
                f"{type(self).__name__}: the table lacks the feature column(s) "
                f"{', '.join(map(repr, missing[:5]))} the model was trained with"
            )
        frame = coerce_frame(frame[list(self.feature_names_in_)])
        for column in self.columns_.onehot + self.columns_.ordinal:
            frame[column] = frame[column].astype(object)
        return frame

    def transformed(self, X: Any) -> np.ndarray:
        """The model's input matrix after preprocessing (imputed, standardised, encoded)."""
        frame = self._input(X)
        return np.asarray(self.pipeline_.named_steps["preprocess"].transform(frame),
                          dtype="float64")

    def transformed_sources(self) -> np.ndarray:
        """For each column of :meth:`transformed`, the input column it comes from."""
        self._check_fitted()
        return source_columns(self.pipeline_.named_steps["preprocess"])

    def score_values(self, X: Any) -> np.ndarray:
        """The model's score per row: P(positive) for classifiers, prediction otherwise."""
        raise NotImplementedError


def _reference_row(frame: pd.DataFrame, kinds: ColumnKinds) -> dict[str, Any]:
    """Median of each numeric column and most frequent level of each text column."""
    reference: dict[str, Any] = {}
    for column in kinds.numeric:
        reference[column] = float(frame[column].median())
    for column in kinds.onehot + kinds.ordinal:
        mode = frame[column].mode(dropna=True)
        reference[column] = mode.iloc[0] if len(mode) else np.nan
    return reference


def drop_identifiers(frame: pd.DataFrame) -> pd.DataFrame:
    """The table without identifier columns (``customer_id``, ``as_of``)."""
    return frame.drop(columns=[c for c in ID_COLUMNS if c in frame.columns])
