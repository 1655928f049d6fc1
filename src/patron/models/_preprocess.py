"""From any customer table to model inputs: type coercion, checks and one ColumnTransformer.

Customer tables arrive in every shape: numbers stored as text (``"12.50"``), blanks and
``"N/A"`` that mean missing, text categories, ``Yes/No`` or ``1/0`` targets. Everything
here is deterministic and learned only from the training rows, so the same function
serves fit and predict without leaking the test rows into the preprocessing.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

from patron.errors import ModelError

log = logging.getLogger(__name__)

#: text that means "no value" in exported tables (compared after trimming, ignoring case)
MISSING_TOKENS = frozenset({"", "na", "n/a", "nan", "null", "none", "nil", "-", "?", "#n/a"})
_POSITIVE = frozenset({"yes", "y", "true", "t", "1", "1.0"})
_NEGATIVE = frozenset({"no", "n", "false", "f", "0", "0.0"})
#: columns that identify a row rather than describe a customer
ID_COLUMNS = ("customer_id", "as_of")
#: a text column parses as numbers when at least this share of its values do
NUMERIC_SHARE = 0.95


@dataclass(frozen=True)
class ColumnKinds:
    """How each input column is encoded: standardised numbers, one-hot or ordinal codes."""

    numeric: tuple[str, ...]
    onehot: tuple[str, ...]
    ordinal: tuple[str, ...]

    @property
    def all(self) -> tuple[str, ...]:
        return self.numeric + self.onehot + self.ordinal


def as_frame(X: Any, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """A DataFrame from a DataFrame or 2-D array (arrays get columns ``x0, x1, ...``)."""
    if isinstance(X, pd.DataFrame):
        return X
    array = np.asarray(X)
    if array.ndim == 1:
        array = array.reshape(-1, 1)
    if array.ndim != 2:
        raise ModelError(f"expected a table (2-D), got an array of shape {array.shape}")
    names = list(columns) if columns is not None and len(columns) == array.shape[1] else [
        f"x{i}" for i in range(array.shape[1])
    ]
    return pd.DataFrame(array, columns=names)


def _clean_text(values: pd.Series) -> pd.Series:
    text = values.astype("string").str.strip()
    return text.mask(text.str.lower().isin(MISSING_TOKENS))


def coerce_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Typed copy: blanks → missing, numeric text → float, booleans → 0/1, dates → days.

    Dates and timestamps become days since 1970-01-01 (float), so tenure-like columns stay
    usable. Columns that stay text are returned as ``object`` with ``NaN`` for missing.
    """
    out: dict[str, pd.Series] = {}
    for name in frame.columns:
        values = frame[name]
        if pd.api.types.is_bool_dtype(values) or pd.api.types.is_numeric_dtype(values):
            out[name] = values.astype("float64")
        elif pd.api.types.is_datetime64_any_dtype(values):
            days = (values - pd.Timestamp("1970-01-01")) / pd.Timedelta(days=1)
            out[name] = days.astype("float64")
        else:
            text = _clean_text(values)
            present = text.notna()
            numbers = pd.to_numeric(text.str.replace(",", "", regex=False), errors="coerce")
            if present.any() and numbers[present].notna().mean() >= NUMERIC_SHARE:
                out[name] = numbers.astype("float64")
            else:
                lowered = text.str.lower()
                flags = lowered.dropna().unique()
                if len(flags) and set(flags) <= (_POSITIVE | _NEGATIVE):
                    out[name] = lowered.map(
                        lambda v: np.nan if pd.isna(v) else float(v in _POSITIVE)
                    ).astype("float64")
                else:
                    out[name] = text.astype(object).where(present, np.nan)
    return pd.DataFrame(out, index=frame.index)


def infer_kinds(
    frame: pd.DataFrame, *, max_onehot: int = 20, exclude: Sequence[str] = ID_COLUMNS
) -> ColumnKinds:
    """Split usable columns into numeric, one-hot (≤ ``max_onehot`` levels) and ordinal.

    Raises ``ModelError`` naming an all-null column: it carries no information, and a
    silent drop would hide a broken upstream join.
    """
    numeric, onehot, ordinal = [], [], []
    for name in frame.columns:
        if name in exclude:
            continue
        values = frame[name]
        if values.isna().all():
            raise ModelError(
                f"feature column {name!r} is empty (all values missing); drop it or fix "
                "the source"
            )
        if pd.api.types.is_numeric_dtype(values):
            numeric.append(name)
        elif values.nunique(dropna=True) <= max_onehot:
            onehot.append(name)
        else:
            ordinal.append(name)
    if not (numeric or onehot or ordinal):
        raise ModelError("the table has no feature columns besides identifiers and the target")
    return ColumnKinds(tuple(numeric), tuple(onehot), tuple(ordinal))


def build_preprocessor(kinds: ColumnKinds, *, scale: bool = True) -> ColumnTransformer:
    """One ColumnTransformer for mixed tables.

    * numbers: median imputation with a missing-indicator column, then standardisation
      (so linear coefficients are per standard deviation);
    * few-level text: blanks become their own level ``"(missing)"`` (missing is often
      informative), then one-hot (a level unseen in training → all zeros);
    * many-level text: ordinal codes (unknown and missing → −1), standardised.
    """
    steps: list[tuple[str, Any, list[str]]] = []
    if kinds.numeric:
        numeric_steps: list[tuple[str, Any]] = [
            ("impute", SimpleImputer(strategy="median", add_indicator=True,
                                     keep_empty_features=True))
        ]
        if scale:
            numeric_steps.append(("scale", StandardScaler()))
        steps.append(("numeric", Pipeline(numeric_steps), list(kinds.numeric)))
    if kinds.onehot:
        steps.append((
            "onehot",
            Pipeline([
                ("impute", SimpleImputer(strategy="constant", fill_value="(missing)")),
                ("encode", OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
            ]),
            list(kinds.onehot),
        ))
    if kinds.ordinal:
        ordinal_steps: list[tuple[str, Any]] = [
            ("encode", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1,
                                      encoded_missing_value=-1)),
        ]
        if scale:
            ordinal_steps.append(("scale", StandardScaler()))
        steps.append(("ordinal", Pipeline(ordinal_steps), list(kinds.ordinal)))
    return ColumnTransformer(steps, remainder="drop", verbose_feature_names_out=False)


def source_columns(preprocessor: ColumnTransformer) -> np.ndarray:
    """For each output column of a fitted preprocessor, the input column it comes from.

    Reason codes and importances are reported per *input* column (one-hot levels and
    missing indicators are summed back into their source).
    """
    sources: list[str] = []
    for name, transformer, columns in preprocessor.transformers_:
        if name == "remainder" or transformer == "drop":
            continue
        if name == "numeric":
            imputer = transformer.named_steps["impute"]
            sources += list(columns)
            indicator = imputer.indicator_
            if indicator is not None:
                sources += [columns[i] for i in indicator.features_]
        elif name == "onehot":
            encoder = transformer.named_steps["encode"]
            for column, levels in zip(columns, encoder.categories_, strict=True):
                sources += [column] * len(levels)
        else:
            sources += list(columns)
    return np.asarray(sources, dtype=object)


def coerce_target(y: Any, name: str, *, kind: str) -> tuple[np.ndarray, np.ndarray | None]:
    """Target values as floats (regression) or 0/1 with the original class labels.

    Returns ``(values, classes)``; ``classes`` is ``[negative, positive]`` for
    classification (``Yes/No``, ``True/False`` and ``1/0`` in any spelling put the positive
    class second; other labels are sorted) and ``None`` for regression. Raises
    ``ModelError`` naming the column when the target is unusable: missing values, more than
    two classes, non-numbers for a regression, or a single value (nothing to learn).
    """
    series = pd.Series(np.asarray(y, dtype=object) if not isinstance(y, pd.Series) else y)
    if series.isna().any():
        raise ModelError(f"target column {name!r} has {int(series.isna().sum())} missing "
                         "values; drop those rows first")
    if kind == "regression":
        values = pd.to_numeric(_clean_text(series).str.replace(",", "", regex=False),
                               errors="coerce")
        if values.isna().any():
            bad = series[values.isna()].iloc[0]
            raise ModelError(f"target column {name!r} must be numeric; found {bad!r}")
        array = values.to_numpy(dtype="float64")
        if np.nanstd(array) == 0:
            raise ModelError(f"target column {name!r} has a single value ({array[0]:g}); "
                             "there is nothing to learn")
        return array, None
    inferred = pd.api.types.infer_dtype(series, skipna=False)
    if inferred in ("boolean", "integer", "floating") or pd.api.types.is_numeric_dtype(series):
        raw = series.to_numpy()
    else:
        raw = _clean_text(series).to_numpy(dtype=object)
        if pd.isna(raw).any():
            raise ModelError(f"target column {name!r} has blank values; drop those rows first")
    levels = pd.unique(raw)
    if len(levels) < 2:
        raise ModelError(f"target column {name!r} has a single value ({levels[0]!r}); "
                         "there is nothing to learn")
    if len(levels) == 2:
        classes = _order_binary(list(levels))
        return (raw == classes[1]).astype("int64"), np.asarray(classes)
    tokens = {str(v).strip().lower() for v in levels}
    if tokens <= (_POSITIVE | _NEGATIVE) and tokens & _POSITIVE and tokens & _NEGATIVE:
        flags = np.array([str(v).strip().lower() in _POSITIVE for v in raw], dtype="int64")
        return flags, np.array([0, 1])
    raise ModelError(f"target column {name!r} has {len(levels)} classes "
                     f"({', '.join(map(str, levels[:5]))}...); churn and purchase models "
                     "need two")


def _order_binary(levels: list[Any]) -> list[Any]:
    def token(v: Any) -> str:
        return str(v).strip().lower()

    first, second = levels
    if token(first) in _POSITIVE and token(second) in _NEGATIVE:
        return [second, first]
    if token(second) in _POSITIVE and token(first) in _NEGATIVE:
        return [first, second]
    try:
        return sorted(levels)
    except TypeError:
        return sorted(levels, key=str)


def split_target(table: pd.DataFrame, target: str) -> tuple[pd.DataFrame, pd.Series]:
    """Features and target of a customer table a user brings (a CSV export, say).

    Rows whose target is blank are dropped (they cannot be scored against); text columns
    unique in every row are identifiers (customer ids, e-mails) and are dropped too, since
    a model would only memorise them. Raises ``ModelError`` when ``target`` is absent.
    """
    if target not in table.columns:
        raise ModelError(f"target column {target!r} is not in the table; columns: "
                         f"{', '.join(map(str, table.columns[:20]))}")
    y = table[target]
    if not pd.api.types.is_numeric_dtype(y) and not pd.api.types.is_bool_dtype(y):
        y = _clean_text(y)
    keep = y.notna()
    if not keep.all():
        log.info("dropping %d rows without a value in %r", int((~keep).sum()), target)
    features = table.loc[keep].drop(columns=[target])
    identifiers = [
        c for c in features.columns
        if not pd.api.types.is_numeric_dtype(features[c])
        and features[c].nunique(dropna=True) == len(features) and len(features) > 20
    ]
    if identifiers:
        log.info("ignoring identifier column(s) %s", ", ".join(map(str, identifiers)))
        features = features.drop(columns=identifiers)
    return features.reset_index(drop=True), y[keep].rename(target).reset_index(drop=True)
