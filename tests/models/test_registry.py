"""The model registry: versions, metadata, promotion and safe loading."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator

from patron.errors import ModelError
from patron.models import ChurnModel, Segmenter
from patron.models.registry import ModelRegistry, list_models


def _fitted_churn(seed: int = 0) -> tuple[ChurnModel, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"recency_days": rng.exponential(50, 200),
                      "region": rng.choice(["EU", "NA"], 200)})
    y = (X["recency_days"] + rng.normal(0, 20, 200) > 50).astype(int)
    return ChurnModel(algorithm="logistic").fit(X, y), X


def test_save_load_round_trip_keeps_predictions_and_metadata(tmp_path):
    registry = ModelRegistry(tmp_path / "_models")
    model, X = _fitted_churn()
    record = registry.save(model, "churn", label={"task": "churn", "horizon_days": 90},
                           training={"cutoffs": ["2026-07-03"]}, metrics={"roc_auc": 0.9})
    assert (record.version, record.promoted, record.tag) == ("v1", True, "churn-v1")
    loaded, loaded_record = registry.load("churn")
    np.testing.assert_allclose(loaded.predict_proba(X), model.predict_proba(X))
    assert loaded_record.features == ["recency_days", "region"]
    assert loaded_record.label == {"task": "churn", "horizon_days": 90}
    assert loaded_record.metrics == {"roc_auc": 0.9}
    assert loaded_record.params["algorithm"] == "logistic"
    assert {"scikit-learn", "numpy", "skops"} <= set(loaded_record.libraries)
    meta = json.loads((tmp_path / "_models/churn/v1/meta.json").read_text())
    assert meta["version"] == "v1" and meta["estimator"] == "ChurnModel"


def test_new_versions_are_numbered_and_promotion_is_explicit(tmp_path):
    registry = ModelRegistry(tmp_path)
    first, _ = _fitted_churn(0)
    second, _ = _fitted_churn(1)
    registry.save(first, "churn")
    record = registry.save(second, "churn", promote=False)
    assert record.version == "v2" and not record.promoted
    assert registry.promoted_version("churn") == "v1"
    registry.promote("churn", "v2")
    assert registry.get("churn").version == "v2"
    assert [(r.version, r.promoted) for r in registry.versions("churn")] == [
        ("v1", False), ("v2", True)]
    assert [m["model_version"] for m in list_models(tmp_path)] == ["churn-v1", "churn-v2"]


def test_unknown_model_and_version_are_clear_errors(tmp_path):
    registry = ModelRegistry(tmp_path)
    with pytest.raises(ModelError, match="no saved model named 'churn'"):
        registry.load("churn")
    registry.save(_fitted_churn()[0], "churn")
    with pytest.raises(ModelError, match=r"no version .v9.*v1"):
        registry.promote("churn", "v9")


def test_segmenter_round_trips(tmp_path):
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"recency_days": np.r_[rng.normal(10, 1, 50), rng.normal(200, 5, 50)],
                      "spend_total": np.r_[rng.normal(900, 9, 50), rng.normal(50, 5, 50)]})
    registry = ModelRegistry(tmp_path)
    registry.save(Segmenter(k_min=2, k_max=3).fit(X), "segments")
    loaded, record = registry.load("segments")
    assert loaded.n_segments_ == 2 and record.features == ["recency_days", "spend_total"]


class Untrusted(BaseEstimator):
    """A type from outside the trusted libraries."""

    def fit(self, X, y=None):
        self.n_features_in_ = 1
        return self


def test_a_file_with_untrusted_types_is_refused(tmp_path):
    registry = ModelRegistry(tmp_path)
    registry.save(Untrusted().fit(None), "custom")
    with pytest.raises(ModelError, match=r"does not trust.*Untrusted"):
        registry.load("custom")


def test_registry_path_from_settings(tmp_path):
    from patron.config import Settings

    settings = Settings(root=tmp_path, lake={"path": tmp_path / "lake"})
    assert ModelRegistry.from_settings(settings).root == (tmp_path / "lake/_models").resolve()
    settings = Settings(root=tmp_path, models={"registry_path": "saved"})
    assert ModelRegistry.from_settings(settings).root == (tmp_path / "saved").resolve()
