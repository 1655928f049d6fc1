"""The scikit-learn contract, checked over every customer model."""

from __future__ import annotations

import inspect

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline

from patron.errors import ModelError
from patron.models import ChurnModel, CLVRegressor, PurchaseModel, Segmenter, SpendModel


def customer_table(n: int = 400, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Mixed-type customers, a churn flag driven by recency and a spend amount."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({
        "recency_days": rng.exponential(60, n),
        "frequency_orders": rng.poisson(4, n).astype(float),
        "spend_total": rng.gamma(2.0, 100.0, n),
        "discount_share": rng.beta(1, 3, n),
        "tenure_days": rng.uniform(10, 900, n),
        "region": rng.choice(["EU", "NA", "APAC"], n),
    })
    logit = 0.03 * X["recency_days"] - 0.4 * X["frequency_orders"] - 0.5
    churn = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    spend = np.where(rng.random(n) < 0.4, X["spend_total"] * 0.2 + rng.gamma(2, 10, n), 0.0)
    return X, churn, spend


CLASSIFIERS = [ChurnModel(algorithm="logistic"), ChurnModel(algorithm="random_forest",
               n_estimators=20), ChurnModel(), PurchaseModel(max_iter=30)]
REGRESSORS = [SpendModel(max_iter=30), SpendModel(algorithm="random_forest", n_estimators=20),
              SpendModel(algorithm="two_part", max_iter=30), CLVRegressor(),
              CLVRegressor(algorithm="lasso")]
ALL = [*CLASSIFIERS, *REGRESSORS, Segmenter(k_min=2, k_max=4)]


def _ids(models: list) -> list[str]:
    return [f"{type(m).__name__}-{getattr(m, 'algorithm', 'kmeans')}" for m in models]


def _fit(model, X, churn, spend):
    if isinstance(model, Segmenter):
        return model.fit(X)
    if model in CLASSIFIERS or hasattr(model, "predict_proba"):
        return model.fit(X, churn)
    return model.fit(X, spend)


@pytest.mark.parametrize("model", ALL, ids=_ids(ALL))
def test_init_stores_keyword_only_params_as_given(model):
    signature = inspect.signature(type(model).__init__)
    params = [p for p in signature.parameters.values() if p.name != "self"]
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in params)
    assert set(model.get_params()) == {p.name for p in params}
    fresh = type(model)(**model.get_params())
    assert fresh.get_params() == model.get_params()
    assert not [k for k in vars(fresh) if k.endswith("_")]  # nothing learned in __init__


@pytest.mark.parametrize("model", ALL, ids=_ids(ALL))
def test_fit_returns_self_and_learns_underscore_attributes(model):
    X, churn, spend = customer_table()
    est = clone(model)
    assert _fit(est, X, churn, spend) is est
    learned = [k for k in vars(est) if k.endswith("_") and not k.startswith("_")]
    assert "n_features_in_" in learned
    assert est.get_params() == model.get_params()  # fit leaves hyper-parameters alone


@pytest.mark.parametrize("model", ALL, ids=_ids(ALL))
def test_unfitted_model_refuses_to_predict_with_one_clear_error(model):
    X, _, _ = customer_table(50)
    with pytest.raises(ModelError, match="not fitted"):
        clone(model).predict(X)


@pytest.mark.parametrize("model", ALL, ids=_ids(ALL))
def test_clone_of_fitted_model_is_unfitted_with_same_params(model):
    X, churn, spend = customer_table()
    fitted = _fit(clone(model), X, churn, spend)
    copy = clone(fitted)
    assert copy.get_params() == fitted.get_params()
    with pytest.raises(ModelError):
        copy.predict(X)


@pytest.mark.parametrize("model", CLASSIFIERS, ids=_ids(CLASSIFIERS))
def test_classifier_probabilities_are_valid_and_rank_risk(model):
    X, churn, _ = customer_table(800)
    est = clone(model).fit(X.iloc[:600], churn[:600])
    proba = est.predict_proba(X.iloc[600:])
    assert proba.shape == (200, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    from sklearn.metrics import roc_auc_score

    assert roc_auc_score(churn[600:], proba[:, 1]) > 0.7


def test_unknown_algorithm_is_accepted_by_init_and_refused_by_fit_naming_it():
    model = ChurnModel(algorithm="deep_forest")  # type: ignore[arg-type]
    X, churn, _ = customer_table(50)
    with pytest.raises(ModelError, match="deep_forest"):
        model.fit(X, churn)


def test_works_in_pipeline_and_grid_search():
    X, churn, _ = customer_table(300)
    search = GridSearchCV(ChurnModel(algorithm="logistic"), {"C": [0.01, 1.0]}, cv=3,
                          scoring="roc_auc")
    search.fit(X, churn)
    assert search.best_params_["C"] in (0.01, 1.0)
    assert 0.5 < search.best_score_ <= 1.0
    pipe = Pipeline([("model", CLVRegressor())]).fit(X, X["spend_total"] * 0.5)
    assert pipe.predict(X).shape == (300,)


def test_mixed_types_give_the_same_model_as_clean_numbers():
    """Numbers as text, blanks meaning missing and a Yes/No target work like clean data."""
    X, churn, _ = customer_table(300)
    messy = X.copy()
    messy["recency_days"] = [f"{v:.6f}" for v in X["recency_days"]]
    messy["region"] = X["region"].where(np.arange(300) % 10 != 0, " ")
    target = pd.Series(np.where(churn == 1, "Yes", "No"), name="churned")
    clean = X.copy()
    clean["region"] = X["region"].where(np.arange(300) % 10 != 0, None)
    a = ChurnModel(algorithm="logistic").fit(messy, target)
    b = ChurnModel(algorithm="logistic").fit(clean, churn)
    assert list(a.classes_) == ["No", "Yes"]
    np.testing.assert_allclose(a.predict_proba(messy)[:, 1], b.predict_proba(clean)[:, 1],
                               atol=1e-6)
    assert set(a.predict(messy)) <= {"Yes", "No"}


@pytest.mark.parametrize("labels", [("1", "0"), (True, False), ("y", "n"), ("churned", "active")])
def test_two_valued_targets_put_the_positive_class_second(labels):
    X, churn, _ = customer_table(200)
    y = np.where(churn == 1, labels[0], labels[1]).astype(object)
    model = ChurnModel(algorithm="logistic").fit(X, y)
    assert model.classes_[1] == labels[0]


def test_target_without_variance_names_the_column():
    X, _, _ = customer_table(100)
    with pytest.raises(ModelError, match=r"'churned'.*single value"):
        ChurnModel().fit(X, pd.Series(["No"] * 100, name="churned"))


def test_all_null_feature_names_the_column():
    X, churn, _ = customer_table(100)
    X["satisfaction_mean"] = np.nan
    with pytest.raises(ModelError, match="'satisfaction_mean'"):
        ChurnModel().fit(X, churn)


def test_missing_target_column_and_missing_feature_are_named():
    from patron.models import split_target

    X, churn, _ = customer_table(100)
    with pytest.raises(ModelError, match="'churn_flag'"):
        split_target(X, "churn_flag")
    model = ChurnModel(algorithm="logistic").fit(X, churn)
    with pytest.raises(ModelError, match="'tenure_days'"):
        model.predict(X.drop(columns=["tenure_days"]))


def test_unseen_category_and_blank_values_at_predict_time_are_scored():
    X, churn, _ = customer_table(200)
    model = ChurnModel().fit(X, churn)
    new = X.head(3).copy()
    new["region"] = ["MARS", None, ""]
    new.loc[new.index[0], "spend_total"] = np.nan
    assert np.isfinite(model.predict_proba(new)).all()


def test_two_part_spend_is_probability_times_amount():
    X, _, spend = customer_table(500)
    model = SpendModel(algorithm="two_part", max_iter=30).fit(X, spend)
    p_buy, amount = model.predict_parts(X)
    np.testing.assert_allclose(model.predict(X), p_buy * amount)
    assert ((p_buy >= 0) & (p_buy <= 1)).all() and (amount >= 0).all()


def test_clv_regressor_chooses_alpha_by_cross_validation():
    X, _, _ = customer_table(300)
    y = 3.0 * X["spend_total"] + np.random.default_rng(1).normal(0, 5, 300)
    model = CLVRegressor(alphas=(1e-3, 1e3)).fit(X, y)
    assert model.alpha_ == 1e-3  # the signal is strong: the weak penalty wins
    assert model.score(X, y) > 0.99


def clustered_customers(n_per_group: int = 150, seed: int = 0) -> tuple[pd.DataFrame, list]:
    """Four behaviour groups whose profiles match archetypes, and their true names."""
    rng = np.random.default_rng(seed)
    groups = {  # recency d, orders, spend, discount share, tenure d
        "high-value": (10, 20, 4000, 0.05, 800),
        "discount-driven": (40, 6, 400, 0.8, 700),
        "churn-prone": (300, 3, 250, 0.1, 700),
        "new": (15, 1, 80, 0.1, 20),
    }
    frames, truth = [], []
    for name, (recency, orders, spend, discount, tenure) in groups.items():
        frames.append(pd.DataFrame({
            "recency_days": recency * rng.lognormal(0, 0.15, n_per_group),
            "frequency_orders": np.maximum(1, orders * rng.lognormal(0, 0.15, n_per_group)),
            "spend_total": spend * rng.lognormal(0, 0.15, n_per_group),
            "discount_share": np.clip(discount + rng.normal(0, 0.04, n_per_group), 0, 1),
            "tenure_days": tenure * rng.lognormal(0, 0.15, n_per_group),
        }))
        truth += [name] * n_per_group
    return pd.concat(frames, ignore_index=True), truth


def test_segmenter_finds_k_and_names_segments_from_their_profiles():
    from sklearn.metrics import adjusted_rand_score

    X, truth = clustered_customers()
    model = Segmenter(k_min=2, k_max=6).fit(X)
    assert model.n_segments_ == 4
    assert adjusted_rand_score(truth, model.labels_) > 0.95
    assert (model.predict_names(X) == np.asarray(truth)).mean() > 0.95


def test_segmenter_names_are_stable_across_retrains_and_row_order():
    X, _ = clustered_customers()
    a = Segmenter(k_min=2, k_max=6).fit(X)
    shuffled = X.sample(frac=1.0, random_state=3).reset_index(drop=True)
    b = Segmenter(k_min=2, k_max=6, random_state=7).fit(shuffled)
    assert a.segment_names_ == b.segment_names_
    assert (a.predict(X) == b.predict(X)).mean() > 0.99


def test_large_tables_are_fitted_on_a_stratified_sample_of_max_train_rows():
    import numpy as np
    import pandas as pd

    from patron.models import ChurnModel

    rng = np.random.default_rng(0)
    n = 5_000
    X = pd.DataFrame({"recency_days": rng.exponential(100, n), "orders": rng.poisson(3, n)})
    y = np.where(rng.random(n) < 0.2, "Yes", "No")
    from patron.models._supervised import _stratified_sample

    rows, target, _ = _stratified_sample(X, y, None, 1_000, 0)
    assert len(rows) == 1_000 and (np.asarray(target) == "Yes").mean() == pytest.approx(
        (y == "Yes").mean(), abs=0.002
    )
    model = ChurnModel(algorithm="logistic", max_train_rows=1_000).fit(X, y)
    full = ChurnModel(algorithm="logistic", max_train_rows=None).fit(X, y)
    assert model.predict_proba(X).shape == (n, 2)
    assert np.abs(model.predict_proba(X)[:, 1] - full.predict_proba(X)[:, 1]).max() < 0.1
