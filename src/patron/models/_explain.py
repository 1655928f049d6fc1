"""Why a model scores a customer as it does: reason codes and permutation importance.

Per-customer contributions, one per *input* column (one-hot levels and missing
indicators are summed back into their column), by the best method available:

* ``"linear"`` (logistic, ridge, lasso): coefficient × (transformed value − its training
  mean), i.e. coefficient × standardised value for numbers; exact for a linear model, in
  log-odds (classifiers) or currency (regressors);
* ``"shap"`` (tree models, when the optional ``shap`` package is installed —
  ``pip install "patron[explain]"``): TreeExplainer SHAP values, in log-odds for
  gradient boosting and probability for forests. Exact TreeSHAP costs about 1 ms per
  customer for a 200-tree model, so above :data:`EXACT_SHAP_MAX_ROWS` rows ``"auto"``
  takes ``"shap_approx"``: Saabas path attributions (``approximate=True``), ~80× faster,
  with the same top driver for ~90 % of customers;
* ``"replace"`` (the fallback, any model): the score minus the score with that column set
  to a typical customer's value (training median or most frequent level). It ignores
  interactions between columns, which is the price of needing nothing but ``predict``;
  it costs one prediction per column.

Reason codes keep the three largest absolute contributions, signed: ``+`` raises the
score (more churn risk, more spend), ``−`` lowers it.
"""

from __future__ import annotations

import importlib.util
import logging
from typing import Any, Literal

import numpy as np
import pandas as pd

from patron.errors import ModelError
from patron.models._base import threads_for

log = logging.getLogger(__name__)

Method = Literal["auto", "linear", "shap", "shap_approx", "replace"]
TOP_REASONS = 3
#: above this many rows, ``method="auto"`` uses approximate SHAP (see the module docstring)
EXACT_SHAP_MAX_ROWS = 5_000


def shap_available() -> bool:
    """Whether the optional ``shap`` package is importable."""
    return importlib.util.find_spec("shap") is not None


def _aggregate(values: np.ndarray, sources: np.ndarray, columns: list[str]) -> pd.DataFrame:
    """Sum transformed-column contributions into their input columns."""
    position = {c: i for i, c in enumerate(columns)}
    member = np.zeros((len(sources), len(columns)))
    member[np.arange(len(sources)), [position[s] for s in sources]] = 1.0
    return pd.DataFrame(values @ member, columns=columns)


def choose_method(model: Any, method: Method = "auto", n_rows: int = 0) -> str:
    """The method :func:`contributions` uses for ``model`` on ``n_rows`` customers."""
    if method != "auto":
        return method
    if getattr(model, "_is_linear", False):
        return "linear"
    final = model.pipeline_.named_steps["model"]
    if shap_available() and type(final).__name__ in (
        "HistGradientBoostingClassifier", "HistGradientBoostingRegressor",
        "RandomForestClassifier", "RandomForestRegressor",
    ):
        return "shap" if n_rows <= EXACT_SHAP_MAX_ROWS else "shap_approx"
    return "replace"


def contributions(model: Any, X: Any, *, method: Method = "auto") -> pd.DataFrame:
    """Contribution of each input column to each customer's score (rows follow ``X``)."""
    model._check_fitted()
    chosen = choose_method(model, method, len(X))
    columns = [str(c) for c in model.feature_names_in_]
    if chosen == "linear":
        final = model.pipeline_.named_steps["model"]
        if not hasattr(final, "coef_"):
            raise ModelError(f"{type(model).__name__}: method='linear' needs a linear model")
        z = model.transformed(X)
        coef = np.ravel(final.coef_) if np.ndim(final.coef_) == 1 else final.coef_[0]
        centre = model.transformed_mean_ if hasattr(model, "transformed_mean_") else 0.0
        values = (z - centre) * coef
        out = _aggregate(values, model.transformed_sources(), columns)
    elif chosen in ("shap", "shap_approx"):
        out = _shap_contributions(model, X, columns, approximate=chosen == "shap_approx")
    elif chosen == "replace":
        out = _replacement_contributions(model, X, columns)
    else:
        raise ModelError(f"unknown explanation method {method!r}; expected auto, linear, "
                         "shap, shap_approx or replace")
    out.index = X.index if isinstance(X, pd.DataFrame) else pd.RangeIndex(len(out))
    out.attrs["method"] = chosen
    return out


def _shap_contributions(
    model: Any, X: Any, columns: list[str], *, approximate: bool = False
) -> pd.DataFrame:
    from patron.errors import require

    shap = require("shap", "explain")
    final = model.pipeline_.named_steps["model"]
    z = model.transformed(X)
    explainer = shap.TreeExplainer(final)
    with threads_for(len(z)):
        values = explainer.shap_values(z, check_additivity=False, approximate=approximate)
    values = np.asarray(values)
    if values.ndim == 3:  # (rows, columns, classes): the positive class
        values = values[:, :, -1]
    return _aggregate(values, model.transformed_sources(), columns)


def _replacement_contributions(model: Any, X: Any, columns: list[str]) -> pd.DataFrame:
    frame = model._input(X).reset_index(drop=True)
    base = model.score_values(frame)
    out = np.empty((len(frame), len(columns)))
    for j, column in enumerate(columns):
        typical = frame.copy()
        reference = model.reference_.get(column, np.nan)
        typical[column] = reference
        if column in model.columns_.onehot + model.columns_.ordinal:
            typical[column] = typical[column].astype(object)
        out[:, j] = base - model.score_values(typical)
    return pd.DataFrame(out, columns=columns)


def _format_value(value: Any) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "missing"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return f"{value:.3g}" if abs(value) < 1e4 else f"{value:,.0f}"
    return str(value)


def reason_codes(
    model: Any, X: Any, *, top: int = TOP_REASONS, method: Method = "auto"
) -> pd.DataFrame:
    """The ``top`` strongest drivers per customer as text: ``reason_1 .. reason_<top>``.

    Each reads ``"<column>=<value> (+)"`` (raises the score) or ``(-)`` (lowers it), e.g.
    ``"recency_days=182 (+)"`` on a churn score: the customer's long absence drives the
    risk up. Empty strings fill in when a model has fewer columns than ``top``.
    """
    contrib = contributions(model, X, method=method)
    frame = model._input(X).reset_index(drop=True)
    values = contrib.to_numpy()
    order = np.argsort(-np.abs(values), axis=1)[:, :top]
    columns = np.asarray(contrib.columns)
    reasons = {}
    for k in range(top):
        texts = []
        for i in range(len(values)):
            if k >= values.shape[1]:
                texts.append("")
                continue
            j = order[i, k]
            if values[i, j] == 0:  # no driver left (e.g. lasso zeroed the rest)
                texts.append("")
                continue
            sign = "+" if values[i, j] > 0 else "-"
            texts.append(f"{columns[j]}={_format_value(frame.iat[i, j])} ({sign})")
        reasons[f"reason_{k + 1}"] = texts
    out = pd.DataFrame(reasons, index=contrib.index)
    out.attrs["method"] = contrib.attrs.get("method")
    return out


def permutation_importance_table(
    model: Any,
    X: Any,
    y: Any,
    *,
    n_repeats: int = 5,
    max_rows: int = 20_000,
    random_state: int | None = 0,
) -> pd.DataFrame:
    """Global importance: the drop in score when a column is shuffled (held-out data).

    Score is ROC-AUC for classifiers and R² for regressors, so importance is in those
    units. At most ``max_rows`` rows (a random sample) keep it to seconds.
    """
    from sklearn.inspection import permutation_importance
    from sklearn.metrics import r2_score, roc_auc_score

    model._check_fitted()
    frame = model._input(X).reset_index(drop=True)
    target = np.asarray(y)
    if len(frame) > max_rows:
        rng = np.random.default_rng(random_state)
        rows = rng.choice(len(frame), max_rows, replace=False)
        frame, target = frame.iloc[rows].reset_index(drop=True), target[rows]
    classifier = hasattr(model, "classes_")

    def scorer(estimator: Any, data: Any, truth: Any) -> float:
        score = estimator.score_values(data)
        if classifier:
            return float(roc_auc_score(truth, score))
        return float(r2_score(truth, score))

    result = permutation_importance(model, frame, target, scoring=scorer, n_repeats=n_repeats,
                                    random_state=random_state)
    table = pd.DataFrame({
        "feature": frame.columns,
        "importance": result.importances_mean,
        "std": result.importances_std,
    })
    return table.sort_values("importance", ascending=False, ignore_index=True)
