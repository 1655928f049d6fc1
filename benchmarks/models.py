"""Benchmark: train and score time and peak memory of each default customer model.

A customer feature table of realistic shape (the columns of
:func:`patron.features.customer_features`: 40 numbers with heavy tails and missing
values, one 8-level category) is generated with NumPy, with a churn flag and a spend
amount driven by recency and frequency. Every (model, size) runs in a fresh process so
its peak RSS is its own; the ``baseline`` row is the same process with the data only.

* ``train_s``: ``fit`` on all rows;
* ``score_s``: ``score_values`` (P(churn) / predicted spend / segment) on all rows;
* ``reasons_per_10k_s``: reason codes for 10,000 customers (method ``auto``);
* ``peak_rss_mb``: peak resident memory of the process (data + model).

Targets: the default churn model trains in ≤ 15 s and scores 1M customers in ≤ 10 s.
Results go to ``benchmarks/results/models.json`` with the random forest / gradient
boosting cost ratio. Usage: ``python benchmarks/models.py --sizes 100000,1000000``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

RESULTS = Path(__file__).resolve().parent / "results" / "models.json"
CATEGORIES = ("Electronics", "Apparel", "Home", "Beauty", "Sports", "Books", "Grocery", "Toys")
#: model label → (estimator factory source, target)
MODELS = {
    "baseline": ("None", "churn"),
    "churn gradient_boosting (default)": ("ChurnModel()", "churn"),
    "churn random_forest": ("ChurnModel(algorithm='random_forest', n_jobs=-1)", "churn"),
    "churn logistic": ("ChurnModel(algorithm='logistic')", "churn"),
    "spend gradient_boosting": ("SpendModel()", "spend"),
    "spend two_part": ("SpendModel(algorithm='two_part')", "spend"),
    "clv ridge": ("CLVRegressor()", "spend"),
    "segments k-means": ("Segmenter()", None),
}


def feature_table(n: int, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """``n`` customers with the shape of ``customer_features`` and two targets."""
    rng = np.random.default_rng(seed)
    rate = rng.gamma(2.0, 0.02, n)  # orders per day
    tenure = rng.uniform(1, 1000, n)
    frequency = rng.poisson(rate * tenure).astype("float64")
    has = frequency > 0
    recency = np.where(has, rng.exponential(1 / np.maximum(rate, 1e-3)).clip(0, tenure), np.nan)
    aov = rng.gamma(3.0, 25.0, n)
    columns: dict[str, np.ndarray] = {
        "tenure_days": tenure, "recency_days": recency, "frequency_orders": frequency,
        "days_since_first_order": np.where(has, tenure * rng.uniform(0.5, 1, n), np.nan),
        "spend_total": frequency * aov, "aov": np.where(has, aov, np.nan),
        "interpurchase_mean_days": np.where(frequency > 1, 1 / np.maximum(rate, 1e-3), np.nan),
        "interpurchase_std_days": np.where(frequency > 2, rng.gamma(2, 10, n), np.nan),
    }
    for w in (30, 90, 365):
        orders_w = rng.poisson(rate * w).astype("float64")
        columns[f"orders_{w}d"] = orders_w
        columns[f"spend_{w}d"] = orders_w * aov
    for name in ("category_count", "sessions_count", "sessions_30d", "tickets_count",
                 "tickets_open", "posts_count", "marketing_touches"):
        columns[name] = rng.poisson(3, n).astype("float64")
    for name in ("preferred_category_share", "discount_share", "return_rate",
                 "channel_share_web", "channel_share_app", "channel_share_store",
                 "channel_share_phone", "channel_share_marketplace", "device_share_desktop",
                 "device_share_mobile", "device_share_tablet", "device_share_other",
                 "session_conversion_rate", "marketing_open_rate", "marketing_click_rate",
                 "marketing_conversion_rate"):
        columns[name] = np.where(has, rng.beta(1, 3, n), np.nan)
    for name, scale in (("days_since_last_session", 60), ("session_pages_mean", 5),
                        ("session_duration_mean_s", 300), ("satisfaction_mean", 4),
                        ("rating_mean", 4), ("sentiment_mean", 0.5)):
        values = rng.gamma(2, scale / 2, n)
        columns[name] = np.where(rng.random(n) < 0.3, np.nan, values)
    frame = pd.DataFrame(columns)
    frame.insert(0, "customer_id", [f"C{i:08d}" for i in range(n)])
    frame["preferred_category"] = np.where(has, rng.choice(CATEGORIES, n), None)
    logit = 0.02 * np.nan_to_num(recency, nan=400) - 0.3 * frequency ** 0.5 - 1.0
    churn = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    spend = np.where(rng.random(n) < 1 - churn * 0.8, aov * rng.gamma(1, 1, n), 0.0)
    return frame, churn, spend


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def run_one(label: str, n: int) -> dict:
    """Time one model at one size in this process (called in a child process)."""
    from patron.models import ChurnModel, CLVRegressor, Segmenter, SpendModel, reason_codes

    factories = {"ChurnModel": ChurnModel, "SpendModel": SpendModel,
                 "CLVRegressor": CLVRegressor, "Segmenter": Segmenter}
    source, target = MODELS[label]
    frame, churn, spend = feature_table(n)
    X = frame.drop(columns=["customer_id"])
    out = {"model": label, "customers": n, "features": X.shape[1],
           "data_rss_mb": round(peak_rss_mb(), 1)}
    if source == "None":
        out["peak_rss_mb"] = out["data_rss_mb"]
        return out
    model = eval(source, {}, factories)  # a constructor call from MODELS above
    y = churn if target == "churn" else spend
    started = time.perf_counter()
    model.fit(X) if target is None else model.fit(X, y)
    out["train_s"] = round(time.perf_counter() - started, 2)
    started = time.perf_counter()
    if target is None:
        model.predict(X)
    else:
        model.score_values(X)
    out["score_s"] = round(time.perf_counter() - started, 2)
    if target is not None:
        sample = X.iloc[:10_000]
        started = time.perf_counter()
        reasons = reason_codes(model, sample)
        out["reasons_per_10k_s"] = round(time.perf_counter() - started, 2)
        out["reasons_method"] = reasons.attrs.get("method")
    out["peak_rss_mb"] = round(peak_rss_mb(), 1)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--rf-max", type=int, default=1_000_000,
                        help="largest size the random forest runs at")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one, args.n)))
        return
    rows = []
    for n in (int(s) for s in args.sizes.split(",")):
        for label in args.models.split(","):
            if "random_forest" in label and n > args.rf_max:
                continue
            done = subprocess.run([sys.executable, __file__, "--one", label, "--n", str(n)],
                                  capture_output=True, text=True, check=False)
            if done.returncode != 0:
                print(done.stderr[-2000:], file=sys.stderr)
                continue
            row = json.loads(done.stdout.strip().splitlines()[-1])
            rows.append(row)
            print(json.dumps(row), flush=True)
    ratios = {}
    for n in {r["customers"] for r in rows}:
        by = {r["model"]: r for r in rows if r["customers"] == n}
        gb, rf = by.get("churn gradient_boosting (default)"), by.get("churn random_forest")
        if gb and rf:
            ratios[str(n)] = {"train": round(rf["train_s"] / gb["train_s"], 1),
                              "score": round(rf["score_s"] / max(gb["score_s"], 1e-3), 1)}
    result = {"machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                          "platform": platform.platform()},
              "targets": {"churn_train_s": 15, "churn_score_1m_s": 10},
              "random_forest_vs_gradient_boosting": ratios, "rows": rows}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2))
    header = ["model", "customers", "train_s", "score_s", "reasons_per_10k_s", "peak_rss_mb"]
    print(" | ".join(header))
    for r in rows:
        print(" | ".join(str(r.get(h, "")) for h in header))
    print("random forest / gradient boosting cost:", json.dumps(ratios))


if __name__ == "__main__":
    main()
