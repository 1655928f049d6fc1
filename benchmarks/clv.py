"""Benchmark: fit time of patron's CLV models vs. lifetimes (and PyMC-Marketing MAP).

Data: the CDNOW sample summary (weeks), the full CDNOW cohort summarised here (weeks,
calibration to 1997-09-30), and synthetic BG/NBD / Pareto/NBD customers. Also counts
synthetic data sets on which lifetimes raises and patron does not. PyMC-Marketing runs in
its own virtual environment (``--pymc-python``) through a subprocess, so its stack never
enters the project's environment.

    python benchmarks/clv.py --sizes 1000000 --out benchmarks/results/clv.json
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import textwrap
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from patron.models.probabilistic import (
    BetaGeoModel,
    GammaGammaModel,
    ParetoNBDModel,
    simulate_beta_geo,
    simulate_gamma_gamma,
    simulate_pareto_nbd,
)

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"
CALIBRATION_END = pd.Timestamp("1997-09-30")
#: lifetimes' Pareto/NBD takes minutes beyond this many customers; it is skipped there.
LIFETIMES_PARETO_MAX = 30_000


def summarise(lines: pd.DataFrame, end: pd.Timestamp) -> pd.DataFrame:
    """frequency, recency, T (weeks) and monetary_value of purchases up to ``end``; several
    purchases of one customer on one day are one transaction."""
    lines = lines[lines["date"] <= end]
    daily = lines.groupby(["customer_id", "date"], as_index=False)["value"].sum()
    grouped = daily.groupby("customer_id")
    first, last = grouped["date"].min(), grouped["date"].max()
    count = grouped.size()
    repeat_value = (grouped["value"].sum() - daily.sort_values("date").groupby(
        "customer_id")["value"].first())
    frequency = (count - 1).astype(float)
    return pd.DataFrame({
        "frequency": frequency,
        "recency": (last - first).dt.days / 7.0,
        "T": (end - first).dt.days / 7.0,
        "monetary_value": np.where(frequency > 0, repeat_value / frequency.clip(lower=1), 0.0),
    })


def load_cdnow() -> dict[str, pd.DataFrame]:
    sample = pd.read_csv(DATA / "CDNOW_sample.txt", sep=r"\s+", header=None,
                         names=["master_id", "customer_id", "date", "n_cds", "value"])
    master = pd.read_csv(DATA / "CDNOW_master.txt", sep=r"\s+", header=0,
                         names=["customer_id", "date", "n_cds", "value"])
    for lines in (sample, master):
        lines["date"] = pd.to_datetime(lines["date"].astype(str), format="%Y%m%d")
    return {
        "cdnow-sample": summarise(sample, CALIBRATION_END),
        "cdnow-full": summarise(master, CALIBRATION_END),
    }


def synthetic(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    summary = simulate_beta_geo(n, 0.24, 4.4, 0.79, 2.4, T=rng.uniform(27, 39, n),
                                random_state=seed)
    summary["monetary_value"] = simulate_gamma_gamma(summary["frequency"], 6.25, 3.74, 15.44,
                                                     random_state=seed)
    return summary


def timed(fit: Callable[[], Any], repeat: int) -> tuple[float | None, str | None]:
    """Best wall time of ``repeat`` runs in seconds, or the error it raised."""
    best = None
    for _ in range(repeat):
        started = time.perf_counter()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fit()
        except Exception as error:
            return None, f"{type(error).__name__}: {str(error)[:120]}"
        elapsed = time.perf_counter() - started
        best = elapsed if best is None else min(best, elapsed)
    return best, None


def bench_dataset(name: str, summary: pd.DataFrame) -> list[dict[str, Any]]:
    import lifetimes

    rfm = summary[["frequency", "recency", "T"]]
    # Gamma-Gamma is defined on repeat buyers with positive spend (CDNOW has $0 purchases)
    buyers = (summary["frequency"] > 0) & (summary["monetary_value"] > 0)
    spend = summary.loc[buyers, ["frequency", "monetary_value"]]
    repeat = 3 if len(summary) < 100_000 else 1
    cases = [
        ("BG/NBD", lambda: BetaGeoModel().fit(rfm),
         lambda: lifetimes.BetaGeoFitter().fit(rfm["frequency"], rfm["recency"], rfm["T"])),
        ("Pareto/NBD", lambda: ParetoNBDModel().fit(rfm),
         (lambda: lifetimes.ParetoNBDFitter().fit(rfm["frequency"], rfm["recency"], rfm["T"]))
         if len(rfm) <= LIFETIMES_PARETO_MAX else None),
        ("Gamma-Gamma", lambda: GammaGammaModel().fit(spend),
         lambda: lifetimes.GammaGammaFitter().fit(spend["frequency"], spend["monetary_value"])),
    ]
    rows = []
    for model, ours, theirs in cases:
        patron_s, patron_error = timed(ours, repeat)
        if theirs is None:
            lifetimes_s, lifetimes_error = None, f"skipped above {LIFETIMES_PARETO_MAX} customers"
        else:
            lifetimes_s, lifetimes_error = timed(theirs, repeat)
        rows.append({
            "dataset": name, "customers": len(summary), "model": model,
            "patron_s": patron_s, "patron_error": patron_error,
            "lifetimes_s": lifetimes_s, "lifetimes_error": lifetimes_error,
            "speedup_vs_lifetimes": (lifetimes_s / patron_s) if lifetimes_s and patron_s else None,
        })
        their = lifetimes_s or lifetimes_error
        print(f"  {name:14s} {model:12s} patron {patron_s}  lifetimes {their}", file=sys.stderr)
    return rows


def failure_count(n_sets: int, n_customers: int) -> dict[str, Any]:
    """Fit random synthetic data sets with both libraries; count who raises."""
    import lifetimes

    rng = np.random.default_rng(42)
    counts = {"data_sets": n_sets, "customers_each": n_customers,
              "lifetimes_raises": 0, "patron_raises": 0, "lifetimes_raises_patron_not": 0,
              "examples": []}
    for i in range(n_sets):
        ages = rng.uniform(5, 80, n_customers)
        if i % 2 == 0:
            truth = dict(r=np.exp(rng.uniform(-2.5, 1)), alpha=np.exp(rng.uniform(0, 3)),
                         a=np.exp(rng.uniform(-1.5, 1)), b=np.exp(rng.uniform(-0.5, 2)))
            data = simulate_beta_geo(n_customers, **truth, T=ages, random_state=i)
            ours, theirs = BetaGeoModel, lifetimes.BetaGeoFitter
        else:
            truth = dict(r=np.exp(rng.uniform(-2, 1)), alpha=np.exp(rng.uniform(0, 3)),
                         s=np.exp(rng.uniform(-1, 1)), beta=np.exp(rng.uniform(0, 4)))
            data = simulate_pareto_nbd(n_customers, **truth, T=ages, random_state=i)
            ours, theirs = ParetoNBDModel, lifetimes.ParetoNBDFitter
        _, their_error = timed(
            lambda theirs=theirs, data=data: theirs().fit(
                data["frequency"], data["recency"], data["T"]
            ),
            1,
        )
        _, our_error = timed(lambda ours=ours, data=data: ours().fit(data), 1)
        counts["lifetimes_raises"] += their_error is not None
        counts["patron_raises"] += our_error is not None
        if their_error and not our_error:
            counts["lifetimes_raises_patron_not"] += 1
            if len(counts["examples"]) < 5:
                counts["examples"].append({"model": ours.__name__, "lifetimes": their_error,
                                           "truth": {k: round(v, 4) for k, v in truth.items()}})
    return counts


PYMC_SCRIPT = textwrap.dedent("""
    import json, sys, time, warnings
    warnings.simplefilter("ignore")
    import pandas as pd
    started = time.perf_counter()
    from pymc_marketing.clv import BetaGeoModel, ParetoNBDModel
    imported = time.perf_counter() - started
    data = pd.read_csv(sys.argv[1])
    data = data.rename(columns={"ID": "customer_id"})[["customer_id", "frequency", "recency", "T"]]
    out = {"import_s": imported}
    for name, cls in (("BG/NBD", BetaGeoModel), ("Pareto/NBD", ParetoNBDModel)):
        started = time.perf_counter()
        model = cls(data=data)
        model.fit(method="map")
        out[name] = {"map_fit_s": time.perf_counter() - started,
                     "params": {k: float(v) for k, v in model.fit_summary().items()
                                if not hasattr(v, "__len__")}
                     if hasattr(model.fit_summary(), "items") else None}
    print(json.dumps(out))
""")


def bench_pymc(python: Path, timeout_s: float) -> dict[str, Any]:
    if not python.exists():
        return {"status": "not run", "reason": f"{python} not found (pip install pymc-marketing "
                "in a separate venv failed or was not attempted)"}
    started = time.perf_counter()
    try:
        done = subprocess.run(
            [str(python), "-c", PYMC_SCRIPT, str(DATA / "cdnow_customers_summary.csv")],
            capture_output=True, text=True, timeout=timeout_s,
        )
    except subprocess.TimeoutExpired:
        return {"status": "failed", "reason": f"timed out after {timeout_s:.0f} s"}
    if done.returncode != 0:
        return {"status": "failed", "reason": done.stderr.strip().splitlines()[-1][:300]}
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["status"] = "ok"
    result["wall_s"] = time.perf_counter() - started
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[1_000_000],
                        help="synthetic customer counts (default: 1000000)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/clv.json")
    parser.add_argument("--failure-sets", type=int, default=40,
                        help="synthetic data sets for the convergence-failure count")
    parser.add_argument("--pymc-python", type=Path, default=ROOT / ".venv-pymc/bin/python",
                        help="Python of a venv with pymc-marketing (make .venv-pymc)")
    parser.add_argument("--pymc-timeout", type=float, default=900.0)
    args = parser.parse_args(argv)

    rows: list[dict[str, Any]] = []
    for name, summary in load_cdnow().items():
        rows += bench_dataset(name, summary)
    for n in args.sizes:
        rows += bench_dataset(f"synthetic-{n}", synthetic(n))
    failures = failure_count(args.failure_sets, 2000)
    pymc = bench_pymc(args.pymc_python, args.pymc_timeout)
    patron_bg = next(r["patron_s"] for r in rows
                     if r["dataset"] == "cdnow-sample" and r["model"] == "BG/NBD")
    if pymc.get("status") == "ok":
        pymc["speedup_patron_vs_pymc_bgnbd_map"] = pymc["BG/NBD"]["map_fit_s"] / patron_bg

    report = {"machine": {"python": platform.python_version(), "cpu": platform.processor(),
                          "cores": __import__("os").cpu_count()},
              "fits": rows, "convergence_failures": failures, "pymc_marketing": pymc}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, default=float))

    table = pd.DataFrame(rows)[["dataset", "customers", "model", "patron_s", "lifetimes_s",
                                "speedup_vs_lifetimes"]]
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(f"\nsynthetic data sets where lifetimes raises and patron does not: "
          f"{failures['lifetimes_raises_patron_not']} / {failures['data_sets']} "
          f"(lifetimes raised {failures['lifetimes_raises']}, patron {failures['patron_raises']})")
    if pymc.get("status") == "ok":
        print(f"PyMC-Marketing MAP, CDNOW sample: BG/NBD {pymc['BG/NBD']['map_fit_s']:.2f} s, "
              f"Pareto/NBD {pymc['Pareto/NBD']['map_fit_s']:.2f} s "
              f"(patron BG/NBD {patron_bg:.3f} s: "
              f"{pymc['speedup_patron_vs_pymc_bgnbd_map']:.0f}x faster)")
    else:
        print(f"PyMC-Marketing: {pymc['status']}: {pymc.get('reason')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
