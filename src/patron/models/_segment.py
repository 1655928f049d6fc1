"""Behavioural segments: K-Means on standardised behaviour, k by silhouette, named profiles.

Money and counts are heavy-tailed (a few customers spend 100× the median), and K-Means
on raw values spends its clusters on outliers; so they enter as ``log1p`` before
standardisation. Segment *names* come from each centroid's profile (high spend → high-value,
long since the last order → churn-prone, short tenure → new, ...), matched one-to-one by
the Hungarian algorithm, and segment ids follow the name order, so a retrain on similar
data gives the same names and ids even though K-Means numbers its clusters arbitrarily.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.cluster import KMeans
from sklearn.impute import SimpleImputer
from sklearn.metrics import silhouette_score
from sklearn.preprocessing import StandardScaler

from patron.errors import ModelError
from patron.models._base import threads_for
from patron.models._preprocess import ID_COLUMNS, as_frame, coerce_frame

log = logging.getLogger(__name__)

#: behaviour columns of :func:`patron.features.customer_features` used when present
BEHAVIOUR_FEATURES: tuple[str, ...] = (
    "recency_days", "frequency_orders", "spend_total", "aov", "discount_share",
    "tenure_days", "orders_90d", "return_rate",
)
#: columns entering as log1p (money, counts, day counts: heavy right tails)
LOG_FEATURES = frozenset({"recency_days", "frequency_orders", "spend_total", "aov",
                          "tenure_days", "orders_90d", "orders_30d", "orders_365d",
                          "spend_30d", "spend_90d", "spend_365d"})

#: archetype → weights on standardised centroid coordinates; a segment's name is the
#: archetype its centroid scores highest on (one-to-one across segments)
ARCHETYPES: dict[str, dict[str, float]] = {
    "high-value": {"spend_total": 1.5, "aov": 1.0, "frequency_orders": 0.5},
    "loyal": {"frequency_orders": 1.0, "orders_90d": 1.0, "recency_days": -0.5},
    "discount-driven": {"discount_share": 2.0},
    "churn-prone": {"recency_days": 1.5, "orders_90d": -0.5, "return_rate": 0.5},
    "new": {"tenure_days": -2.0},
    "occasional": {"frequency_orders": -1.0, "spend_total": -0.5, "recency_days": 0.3},
}


class Segmenter(ClusterMixin, BaseEstimator):
    """K-Means customer segments with k chosen by silhouette and names from profiles.

    Parameters
    ----------
    k_min, k_max:
        Range of segment counts tried (inclusive).
    features:
        Input columns to cluster on; ``None`` uses :data:`BEHAVIOUR_FEATURES` present in
        the table (or every numeric column if none are).
    sample_size:
        Customers used to compute each silhouette (it costs O(n²)); K-Means itself fits
        on all rows.
    n_init:
        K-Means restarts per k.
    random_state:
        Seed of K-Means and of the silhouette sample.

    Learned: ``features_`` (columns used), ``n_segments_``, ``silhouette_by_k_``
    (dict k → silhouette), ``silhouette_``, ``kmeans_``, ``segment_names_`` (name per
    segment id), ``centers_`` (segment centres in original units, one row per segment id;
    :meth:`profiles` gives them as a table), ``sizes_`` (training customers per segment),
    ``labels_``. Only arrays and plain types are stored, so skops can save it.
    """

    def __init__(
        self,
        *,
        k_min: int = 3,
        k_max: int = 7,
        features: Sequence[str] | None = None,
        sample_size: int = 5000,
        n_init: int = 4,
        random_state: int | None = 0,
    ) -> None:
        self.k_min = k_min
        self.k_max = k_max
        self.features = features
        self.sample_size = sample_size
        self.n_init = n_init
        self.random_state = random_state

    def _choose_features(self, frame: pd.DataFrame) -> list[str]:
        if self.features is not None:
            missing = [c for c in self.features if c not in frame.columns]
            if missing:
                raise ModelError(f"Segmenter: feature column(s) {missing} are not in the table")
            return list(self.features)
        present = [c for c in BEHAVIOUR_FEATURES if c in frame.columns]
        if present:
            return present
        numeric = [c for c in frame.columns
                   if c not in ID_COLUMNS and pd.api.types.is_numeric_dtype(frame[c])]
        if not numeric:
            raise ModelError("Segmenter: the table has no numeric behaviour columns")
        return numeric

    def _matrix(self, frame: pd.DataFrame) -> np.ndarray:
        values = frame[self.features_].to_numpy(dtype="float64", na_value=np.nan, copy=True)
        for j, column in enumerate(self.features_):
            if column in LOG_FEATURES:
                values[:, j] = np.sign(values[:, j]) * np.log1p(np.abs(values[:, j]))
        return values

    def fit(self, X: Any, y: Any = None) -> Segmenter:
        """Cluster customers; ``y`` is ignored."""
        rows = len(X)
        with threads_for(rows):
            return self._fit(X)

    def _fit(self, X: Any) -> Segmenter:
        if self.k_min < 2 or self.k_max < self.k_min:
            raise ModelError(f"Segmenter: need 2 <= k_min <= k_max, got k_min={self.k_min}, "
                             f"k_max={self.k_max}")
        frame = coerce_frame(as_frame(X))
        self.features_ = self._choose_features(frame)
        for column in self.features_:
            if not pd.api.types.is_numeric_dtype(frame[column]):
                raise ModelError(f"Segmenter: feature column {column!r} is not numeric")
            if frame[column].isna().all():
                raise ModelError(f"Segmenter: feature column {column!r} is empty")
        if len(frame) <= self.k_max:
            raise ModelError(f"Segmenter: {len(frame)} customers are too few for up to "
                             f"{self.k_max} segments")
        self.imputer_ = SimpleImputer(strategy="median").fit(self._matrix(frame))
        self.scaler_ = StandardScaler().fit(self.imputer_.transform(self._matrix(frame)))
        z = self.scaler_.transform(self.imputer_.transform(self._matrix(frame)))
        rng = np.random.default_rng(self.random_state)
        sample = (rng.choice(len(z), self.sample_size, replace=False)
                  if len(z) > self.sample_size else np.arange(len(z)))
        fits: dict[int, KMeans] = {}
        self.silhouette_by_k_: dict[int, float] = {}
        for k in range(int(self.k_min), int(self.k_max) + 1):
            km = KMeans(n_clusters=k, n_init=int(self.n_init), random_state=self.random_state)
            labels = km.fit_predict(z)
            if len(np.unique(labels[sample])) < 2:
                continue
            fits[k] = km
            self.silhouette_by_k_[k] = float(silhouette_score(
                z[sample], labels[sample], random_state=self.random_state))
        if not fits:
            raise ModelError("Segmenter: the customers do not separate into segments "
                             "(all behaviour values equal)")
        best = max(self.silhouette_by_k_, key=lambda k: self.silhouette_by_k_[k])
        self.n_segments_ = best
        self.silhouette_ = self.silhouette_by_k_[best]
        raw = fits[best]
        names = name_segments(pd.DataFrame(raw.cluster_centers_, columns=self.features_))
        order = np.argsort(names, kind="stable")  # segment id = rank of its name
        self.segment_names_ = [names[i] for i in order]
        self.segment_of_cluster_ = np.empty(best, dtype=int)
        self.segment_of_cluster_[order] = np.arange(best)
        self.kmeans_ = raw
        self.labels_ = self.segment_of_cluster_[raw.labels_]
        centers = self.scaler_.inverse_transform(raw.cluster_centers_[order])
        for j, column in enumerate(self.features_):
            if column in LOG_FEATURES:
                centers[:, j] = np.sign(centers[:, j]) * np.expm1(np.abs(centers[:, j]))
        self.centers_ = centers
        self.sizes_ = np.bincount(self.labels_, minlength=best)
        self.n_features_in_ = len(self.features_)
        log.info("Segmenter: k=%d (silhouette %.3f), segments %s", best, self.silhouette_,
                 ", ".join(self.segment_names_))
        return self

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "kmeans_")

    def profiles(self) -> pd.DataFrame:
        """One row per segment: name, training customers, and the centre in original units
        (days, orders, currency, fractions)."""
        self._check_fitted()
        table = pd.DataFrame(self.centers_, columns=self.features_)
        table.insert(0, "customers", self.sizes_)
        table.insert(0, "segment", self.segment_names_)
        return table

    def _check_fitted(self) -> None:
        if not hasattr(self, "kmeans_"):
            raise ModelError("Segmenter is not fitted: call fit(X) first")

    def transform(self, X: Any) -> np.ndarray:
        """Standardised behaviour coordinates (the space K-Means works in)."""
        self._check_fitted()
        frame = coerce_frame(as_frame(X, columns=self.features_))
        missing = [c for c in self.features_ if c not in frame.columns]
        if missing:
            raise ModelError(f"Segmenter: the table lacks feature column(s) {missing}")
        return self.scaler_.transform(self.imputer_.transform(self._matrix(frame)))

    def predict(self, X: Any) -> np.ndarray:
        """Segment id per customer (index into ``segment_names_``)."""
        coordinates = self.transform(X)
        with threads_for(len(coordinates)):
            return self.segment_of_cluster_[self.kmeans_.predict(coordinates)]

    def predict_names(self, X: Any) -> np.ndarray:
        """Segment name per customer."""
        return np.asarray(self.segment_names_, dtype=object)[self.predict(X)]

    def distances(self, X: Any) -> np.ndarray:
        """Distance of each customer to each segment centre (columns in segment-id order)."""
        coordinates = self.transform(X)
        raw = self.kmeans_.transform(coordinates)
        out = np.empty_like(raw)
        out[:, self.segment_of_cluster_] = raw
        return out


def name_segments(centroids: pd.DataFrame) -> list[str]:
    """Name each standardised centroid by its best archetype, one-to-one.

    Unknown columns weigh 0. With more segments than archetypes, the extra segments take
    the name of their best archetype with a number (``"occasional 2"``).
    """
    names = list(ARCHETYPES)
    scores = np.zeros((len(centroids), len(names)))
    for j, name in enumerate(names):
        for column, weight in ARCHETYPES[name].items():
            if column in centroids.columns:
                scores[:, j] += weight * centroids[column].to_numpy()
    assigned: list[str | None] = [None] * len(centroids)
    remaining = list(range(len(centroids)))
    round_ = 1
    while remaining:
        rows, cols = linear_sum_assignment(-scores[remaining])
        for r, c in zip(rows, cols, strict=True):
            assigned[remaining[r]] = names[c] if round_ == 1 else f"{names[c]} {round_}"
        remaining = [i for i in remaining if assigned[i] is None]
        round_ += 1
    return [str(n) for n in assigned]
