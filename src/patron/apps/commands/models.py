"""``patron train | evaluate | score | models``, and their demo steps (orders 50 and 60).

``train`` backtests a model (train on earlier cut-offs, test on a later one), refits it on
the newest matured cut-offs and saves it to the registry with its metrics and an HTML
report; ``--table FILE --target COLUMN`` instead cross-validates on any customer table.
``score`` writes every promoted model's scores with reason codes to ``scores/<table>``.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from patron.errors import PatronError

if TYPE_CHECKING:
    from patron.apps.demo import DemoContext
    from patron.evaluation import Evaluation, TrainedModel

TASKS = ("churn", "purchase", "spend", "clv", "segments")
models_app = typer.Typer(help="List, inspect and promote saved models.", no_args_is_help=True)


def _date(value: str | None, option: str = "--as-of") -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise PatronError(f"{option} {value!r}: expected a date like 2026-10-01") from None


@contextlib.contextmanager
def _connection(settings: Any) -> Iterator[Any]:
    from patron.engine import connect

    con = connect(settings)
    try:
        yield con
    finally:
        with contextlib.suppress(Exception):
            con.disconnect()


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1e4 else f"{value:,.0f}"
    return str(value)


_SHOWN = {
    "classification": ("n", "base_rate", "roc_auc", "pr_auc", "log_loss", "brier", "accuracy",
                       "precision", "recall", "f1", "precision_at_capacity",
                       "recall_at_capacity", "lift_top_decile"),
    "regression": ("n", "mae", "rmse", "r2", "actual_mean", "actual_total", "predicted_total"),
    "segmentation": ("n", "segments", "silhouette"),
}


def print_evaluation(ev: Evaluation, console: Any, *, title: str | None = None) -> None:
    """The label definition, the key metrics and any comparisons, as tables."""
    if ev.label and ev.label.get("description"):
        console.print(f"[bold]{ev.model_name}[/]: {ev.label['description']}")
    if ev.test_cutoff and ev.train_cutoffs:
        console.print(f"backtest: trained on {', '.join(ev.train_cutoffs)}; "
                      f"tested at {ev.test_cutoff}")
    table = Table(title=title or f"{ev.model_name} ({ev.method})")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key in _SHOWN.get(ev.kind, ()):
        if key in ev.metrics:
            table.add_row(key, _fmt(ev.metrics[key]))
    console.print(table)
    truth = ev.comparisons.get("ground_truth")
    if truth and "oracle_roc_auc" in truth:
        console.print(
            f"ground truth: model ROC-AUC {truth['model_roc_auc']:.3f} vs best achievable "
            f"{truth['oracle_roc_auc']:.3f} (true alive state and purchase rate); latent type "
            f"alone {truth['latent_type_roc_auc']:.3f}")
    if truth and "adjusted_rand_index" in truth:
        console.print(f"ground truth: adjusted Rand index vs true latent types "
                      f"{truth['adjusted_rand_index']:.3f}")
    probabilistic = ev.comparisons.get("probabilistic")
    if probabilistic:
        ours, theirs = probabilistic["regressor"], probabilistic["probabilistic_bgnbd_gamma_gamma"]
        console.print(f"vs BG/NBD × Gamma-Gamma on {probabilistic['customers_compared']:,.0f} "
                      f"customers: MAE {ours['mae']:,.1f} vs {theirs['mae']:,.1f}, "
                      f"R² {ours['r2']:.3f} vs {theirs['r2']:.3f}")
    if ev.kind == "segmentation" and "profiles" in ev.tables:
        _print_profiles(ev.tables["profiles"], console)


def _print_profiles(profiles: Any, console: Any) -> None:
    table = Table(title="segment profiles (centres, original units)")
    for column in profiles.columns:
        table.add_column(str(column), justify="left" if column == "segment" else "right")
    for row in profiles.itertuples(index=False):
        table.add_row(*[_fmt(v) if not isinstance(v, str) else v for v in row])
    console.print(table)


def _print_trained(results: list[TrainedModel], console: Any) -> None:
    for result in results:
        print_evaluation(result.evaluation, console)
        state = "promoted" if result.record.promoted else "saved (not promoted)"
        console.print(f"{state}: {result.record.tag}" +
                      (f"; report {result.report}" if result.report else ""))


def _train_table(path: Path, target: str, task: str, algorithm: str | None, folds: int,
                 console: Any) -> None:
    import pandas as pd

    from patron.evaluation import cross_validate
    from patron.models import (
        ChurnModel,
        CLVRegressor,
        PurchaseModel,
        Segmenter,
        SpendModel,
        split_target,
    )

    if not path.exists():
        raise PatronError(f"--table {path}: no such file")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    elif suffix == ".parquet":
        frame = pd.read_parquet(path)
    else:
        raise PatronError(f"--table {path}: expected a .csv or .parquet file")
    if task == "segments":
        model = Segmenter().fit(frame)
        console.print(f"segments: k={model.n_segments_}, silhouette {model.silhouette_:.3f}")
        _print_profiles(model.profiles(), console)
        return
    builders = {"churn": ChurnModel, "purchase": PurchaseModel, "spend": SpendModel,
                "clv": CLVRegressor}
    estimator = builders[task](**({"algorithm": algorithm} if algorithm else {}))
    features, y = split_target(frame, target)
    result = cross_validate(estimator, features, y, folds=folds, model_name=task)
    console.print(f"{path.name}: {len(features):,} rows, {features.shape[1]} feature columns, "
                  f"target {target!r}" + (f" (positive class {result.label['positive_class']!r})"
                                          if result.label.get("positive_class") else ""))
    print_evaluation(result, console, title=f"{task}: {folds}-fold cross-validation "
                     "(out-of-fold scores)")


def train_command(
    task: Annotated[str, typer.Argument(help="churn, purchase, spend, clv or segments")],
    as_of: Annotated[str | None, typer.Option(help="scoring date YYYY-MM-DD; default: the "
                                              "day after the last order")] = None,
    algorithm: Annotated[str | None, typer.Option(
        help="churn/purchase: gradient_boosting, random_forest, logistic; spend: "
             "gradient_boosting, random_forest, two_part; clv: ridge, lasso")] = None,
    table: Annotated[Path | None, typer.Option(help="cross-validate on this customer table "
                                               "(.csv or .parquet) instead of the lake")] = None,
    target: Annotated[str | None, typer.Option(help="target column of --table")] = None,
    folds: Annotated[int, typer.Option(min=2, help="folds of --table cross-validation")] = 5,
    truth: Annotated[Path | None, typer.Option(help="ground_truth.parquet of synthetic data: "
                                               "report metrics against the truth")] = None,
    promote: Annotated[bool, typer.Option(help="make the new model the one scoring uses")]
    = True,
) -> None:
    """Train and evaluate a model; save it to the registry (or cross-validate a table)."""
    from patron.apps.cli import console, settings

    if task not in TASKS:
        raise PatronError(f"unknown model {task!r}; expected one of {', '.join(TASKS)}")
    if table is not None:
        if target is None and task != "segments":
            raise PatronError("--table needs --target COLUMN (the column to predict)")
        _train_table(table, target or "", task, algorithm, folds, console)
        return
    from patron.evaluation import load_ground_truth, train_task

    cfg = settings()
    with _connection(cfg) as con, console.status(f"training {task}"):
        results = train_task(cfg, task, con=con, as_of=_date(as_of), algorithm=algorithm,
                             ground_truth=load_ground_truth(truth), promote=promote)
    _print_trained(results, console)


def evaluate_command(
    model: Annotated[str | None, typer.Argument(help="model name (churn, purchase_30d, ...); "
                                                "default: all")] = None,
    version: Annotated[str | None, typer.Option(help="version; default: the promoted one")]
    = None,
    rerun: Annotated[bool, typer.Option(help="re-run the backtest now instead of showing the "
                                        "saved one")] = False,
) -> None:
    """Show the backtest metrics saved with a model (or re-run the backtest)."""
    from patron.apps.cli import console, settings
    from patron.models.registry import ModelRegistry

    cfg = settings()
    registry = ModelRegistry.from_settings(cfg)
    names = [model] if model else [n for n in registry.names()
                                   if registry.promoted_version(n)]
    if not names:
        raise PatronError("no saved models", hint="train one: patron train churn")
    for name in names:
        estimator, record = registry.load(name, version)
        if rerun and record.label:
            from patron.evaluation import backtest
            from patron.models import LabelDefinition

            label = {k: v for k, v in record.label.items() if k != "description"}
            training = record.training
            with _connection(cfg) as con, console.status(f"backtesting {name}"):
                ev = backtest(con, estimator, LabelDefinition(**label),
                              test_cutoff=date.fromisoformat(training["backtest_test_cutoff"]),
                              train_cutoffs=[date.fromisoformat(c)
                                             for c in training["backtest_train_cutoffs"]])
            print_evaluation(ev, console, title=f"{record.tag} (backtest re-run)")
            continue
        _print_saved(record, console)


def _print_saved(record: Any, console: Any) -> None:
    metrics = record.metrics.get("backtest") or record.metrics.get("fit") or {}
    kind = ("segmentation" if record.name == "segments" else
            "classification" if "roc_auc" in metrics else "regression")
    if record.label:
        console.print(f"[bold]{record.tag}[/]: {record.label.get('description', '')}")
    table = Table(title=f"{record.tag} — {'fit' if kind == 'segmentation' else 'backtest'} "
                  f"metrics (test cut-off {record.training.get('backtest_test_cutoff', '-')})")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key in _SHOWN[kind]:
        if metrics.get(key) is not None:
            table.add_row(key, _fmt(metrics[key]))
    console.print(table)
    comparisons = record.metrics.get("comparisons") or {}
    truth = comparisons.get("ground_truth") or {}
    if "oracle_roc_auc" in truth:
        console.print(f"ground truth: model {truth['model_roc_auc']:.3f} vs best achievable "
                      f"{truth['oracle_roc_auc']:.3f}")
    if "adjusted_rand_index" in truth:
        console.print(f"ground truth: ARI vs latent types {truth['adjusted_rand_index']:.3f}")
    report = Path(record.path) / "evaluation.html"
    if report.exists():
        console.print(f"report: {report}")


def score_command(
    as_of: Annotated[str | None, typer.Option(help="date to score at YYYY-MM-DD (features "
                                              "use data before it); default: day after the "
                                              "last order")] = None,
    reasons: Annotated[bool, typer.Option(help="add reason_1..3 columns")] = True,
) -> None:
    """Score every customer with the promoted models into scores/<model>."""
    from patron.apps.cli import console, settings
    from patron.models import orders_end, score_customers

    cfg = settings()
    day = _date(as_of)
    if day is None:
        with _connection(cfg) as con:
            day = orders_end(con)
    with console.status(f"scoring as of {day}"):
        written = score_customers(cfg, day, reasons=reasons)
    _print_scores(written, console, day)


def _print_scores(written: list, console: Any, day: date) -> None:
    table = Table(title=f"scores as of {day}")
    for column in ("table", "customers", "model version", "columns"):
        table.add_column(column, justify="right" if column == "customers" else "left")
    for w in written:
        shown = [c for c in w.columns if c not in ("customer_id", "as_of", "model_version")
                 and not c.startswith("reason_")]
        table.add_row(f"scores/{w.table}", f"{w.rows:,}", w.model_version, ", ".join(shown))
    console.print(table)


@models_app.command("list")
def models_list() -> None:
    """Every saved model version, newest last; * marks the promoted one."""
    from patron.apps.cli import console, settings
    from patron.models.registry import ModelRegistry

    registry = ModelRegistry.from_settings(settings())
    records = registry.list()
    if not records:
        console.print(f"no saved models in {registry.root}")
        return
    table = Table(title=f"models in {registry.root}")
    for column in ("model", "version", "", "created", "estimator", "trained on", "metric"):
        table.add_column(column)
    for r in records:
        metrics = r.metrics.get("backtest") or r.metrics.get("fit") or {}
        key = next((k for k in ("roc_auc", "r2", "silhouette") if metrics.get(k) is not None),
                   None)
        params = r.params.get("algorithm", "")
        table.add_row(r.name, r.version, "*" if r.promoted else "", r.created_at,
                      f"{r.estimator}({params})" if params else r.estimator,
                      ", ".join(r.training.get("cutoffs", [])) or r.training.get("as_of", ""),
                      f"{key} {metrics[key]:.3f}" if key else "")
    console.print(table)


@models_app.command("show")
def models_show(
    name: Annotated[str, typer.Argument(help="model name, e.g. churn or purchase_30d")],
    version: Annotated[str | None, typer.Argument(help="version; default: promoted")] = None,
) -> None:
    """Everything saved about a model version, as JSON."""
    from dataclasses import asdict

    from patron.apps.cli import console, settings
    from patron.models.registry import ModelRegistry

    record = ModelRegistry.from_settings(settings()).get(name, version)
    console.print_json(json.dumps(asdict(record)))


@models_app.command("promote")
def models_promote(
    name: Annotated[str, typer.Argument(help="model name")],
    version: Annotated[str, typer.Argument(help="version to promote, e.g. v2")],
) -> None:
    """Make a version the one `patron score` uses."""
    from patron.apps.cli import console, settings
    from patron.models.registry import ModelRegistry

    record = ModelRegistry.from_settings(settings()).promote(name, version)
    console.print(f"promoted {record.tag}")


def register(app: typer.Typer) -> None:
    app.command("train")(train_command)
    app.command("evaluate")(evaluate_command)
    app.command("score")(score_command)
    app.add_typer(models_app, name="models")


# -- demo ---------------------------------------------------------------------------------


def _demo_train(ctx: DemoContext) -> None:
    from patron.engine import connect
    from patron.evaluation import FeatureCache, load_ground_truth, train_task

    truth = load_ground_truth(ctx.data / "ground_truth.parquet")
    cache = FeatureCache()
    con = connect(ctx.settings, lake=ctx.lake)
    try:
        for task in TASKS:
            with ctx.console.status(f"training {task}"):
                results = train_task(ctx.settings, task, con=con, as_of=ctx.as_of, cache=cache,
                                     ground_truth=truth)
            _print_trained(results, ctx.console)
    finally:
        with contextlib.suppress(Exception):
            con.disconnect()


def _demo_score(ctx: DemoContext) -> None:
    from patron.models import score_customers

    with ctx.console.status(f"scoring as of {ctx.as_of}"):
        written = score_customers(ctx.settings, ctx.as_of)
    _print_scores(written, ctx.console, ctx.as_of)
    churn = ctx.lake.read("scores", "churn") if ctx.lake.has_table("scores", "churn") else None
    if churn is not None and len(churn):
        top = churn.sort_values("churn_probability", ascending=False).head(5)
        table = Table(title="highest churn risk, and why")
        for column in ("customer", "P(churn)", "reason 1", "reason 2", "reason 3"):
            table.add_column(column)
        for row in top.itertuples():
            table.add_row(row.customer_id, f"{row.churn_probability:.2f}", row.reason_1,
                          row.reason_2, row.reason_3)
        ctx.console.print(table)


DEMO_STEPS = [
    (50, "train and evaluate models", _demo_train),
    (60, "score customers", _demo_score),
]
