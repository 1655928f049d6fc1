"""Yardsticks a model is read against: ground truth on synthetic data, probabilistic CLV.

On synthetic data (:func:`patron.synth.generate`) every customer's true state is known, so
a churn ROC-AUC can be put next to the best any model could reach: the *oracle* scores a
customer as certain to churn if they had already dropped out at the cut-off, and
otherwise by the Poisson chance ``exp(−λ·H)`` of no purchase in ``H`` days at their true
rate λ (orders per day). It ignores seasonality, so it is a near-ceiling, not an exact one.
"""

from __future__ import annotations

import logging
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import adjusted_rand_score, roc_auc_score

from patron.evaluation._metrics import regression_metrics

log = logging.getLogger(__name__)


def churn_truth_baselines(
    predictions: pd.DataFrame, ground_truth: pd.DataFrame, *, cutoff: date, horizon_days: int
) -> dict[str, float]:
    """ROC-AUC of the model, of the true-state oracle and of the latent type alone.

    ``predictions`` has ``customer_id, y, score`` (a backtest's test rows);
    ``ground_truth`` is ``ground_truth.parquet`` of the synthetic data. Customers missing
    from the truth (ids changed by injected dirt) are left out of all three.
    """
    truth = ground_truth.set_index("customer_id")
    rows = predictions[predictions["customer_id"].isin(truth.index)]
    if rows["y"].nunique() < 2:
        return {}
    t = truth.loc[rows["customer_id"]]
    dropout = pd.to_datetime(t["dropout_ts"])
    dead = (dropout.notna() & (dropout < pd.Timestamp(cutoff))).to_numpy()
    rate = t["purchase_rate_per_day"].to_numpy(dtype="float64")
    oracle = np.where(dead, 1.0, np.exp(-rate * horizon_days))
    types = t["latent_type"].astype(str).to_numpy()
    type_rate = pd.Series(rows["y"].to_numpy()).groupby(types).transform("mean").to_numpy()
    return {
        "customers_compared": float(len(rows)),
        "model_roc_auc": float(roc_auc_score(rows["y"], rows["score"])),
        "oracle_roc_auc": float(roc_auc_score(rows["y"], oracle)),
        "latent_type_roc_auc": float(roc_auc_score(rows["y"], type_rate)),
    }


def segment_truth_ari(
    customer_ids: Any, segments: Any, ground_truth: pd.DataFrame
) -> dict[str, float]:
    """Adjusted Rand index of segments against the true latent types (1 = same grouping,
    0 = chance)."""
    truth = ground_truth.set_index("customer_id")["latent_type"]
    frame = pd.DataFrame({"customer_id": np.asarray(customer_ids), "segment": segments})
    frame = frame[frame["customer_id"].isin(truth.index)]
    if frame.empty:
        return {}
    return {"customers_compared": float(len(frame)),
            "adjusted_rand_index": float(adjusted_rand_score(
                truth.loc[frame["customer_id"]].to_numpy(), frame["segment"].to_numpy()))}


def probabilistic_clv(
    con: Any, cutoff: date, *, horizon_days: int = 365
) -> pd.DataFrame | None:
    """BG/NBD × Gamma-Gamma expected revenue over ``horizon_days`` from orders before
    ``cutoff`` (undiscounted, margin 1: comparable with a revenue label). ``None`` when the
    probabilistic models are unavailable or cannot be fitted."""
    try:
        from patron.features import rfm_summary
        from patron.models.probabilistic import (
            BetaGeoModel,
            GammaGammaModel,
            customer_lifetime_value,
        )
    except ImportError:  # pragma: no cover - both ship with patron today
        return None
    from patron.errors import PatronError

    try:
        orders = con.table("clean_orders")
        from patron.features import purchase_lines

        purchases = purchase_lines(orders)
        summary = rfm_summary(purchases, as_of=cutoff - timedelta(days=1), time_unit="D")
        frame = summary.execute().set_index("customer_id")
        frame = frame[frame["T"] > 0]  # first purchase on the last day: no age to fit yet
        frame["monetary_value"] = frame["monetary_value"].clip(lower=0.01)
        frame.loc[frame["frequency"] == 0, "monetary_value"] = 0.0
        bgnbd = BetaGeoModel(penalizer=1e-3).fit(frame)
        spend = GammaGammaModel(penalizer=1e-3).fit(frame)
        clv = customer_lifetime_value(
            bgnbd, spend, frame, horizon_months=max(1, round(horizon_days / 30.4375)),
            discount_rate=0.0, time_unit="D")
    except (PatronError, ValueError, np.linalg.LinAlgError) as exc:
        log.warning("probabilistic CLV unavailable: %s", exc)
        return None
    return clv.reset_index()


def compare_with_probabilistic(
    predictions: pd.DataFrame, probabilistic: pd.DataFrame | None
) -> dict[str, Any]:
    """MAE/RMSE/R² of the regressor and of the probabilistic CLV on the same customers."""
    if probabilistic is None:
        return {}
    merged = predictions.merge(probabilistic[["customer_id", "clv"]], on="customer_id")
    if merged.empty:
        return {}
    return {
        "customers_compared": float(len(merged)),
        "regressor": regression_metrics(merged["y"], merged["score"]),
        "probabilistic_bgnbd_gamma_gamma": regression_metrics(merged["y"], merged["clv"]),
    }
