"""Customer models: scikit-learn style estimators for segments, churn, purchase, spend and CLV.

Every estimator takes a customer table (one row per customer, mixed types welcome) and
follows the scikit-learn contract, so it composes with ``Pipeline``, ``GridSearchCV`` and
``clone``. Labels and training sets over rolling cut-offs come from
:func:`training_set`; :mod:`patron.models.registry` keeps trained models with their
metadata; :func:`score_customers` writes scores with reason codes to the lake.
The probabilistic CLV models live in :mod:`patron.models.probabilistic`.
"""

from patron.models._explain import (
    contributions,
    permutation_importance_table,
    reason_codes,
    shap_available,
)
from patron.models._labels import (
    TASKS,
    LabelDefinition,
    Task,
    labels,
    matured_cutoffs,
    orders_end,
    training_set,
)
from patron.models._preprocess import coerce_frame, coerce_target, split_target
from patron.models._scoring import SCORE_TABLES, ScoreWrite, score_customers, score_frame
from patron.models._segment import ARCHETYPES, BEHAVIOUR_FEATURES, Segmenter, name_segments
from patron.models._supervised import (
    CLASSIFIER_ALGORITHMS,
    CLV_ALGORITHMS,
    SPEND_ALGORITHMS,
    ChurnModel,
    CLVRegressor,
    PurchaseModel,
    SpendModel,
)

__all__ = [
    "ARCHETYPES",
    "BEHAVIOUR_FEATURES",
    "CLASSIFIER_ALGORITHMS",
    "CLV_ALGORITHMS",
    "SCORE_TABLES",
    "SPEND_ALGORITHMS",
    "TASKS",
    "CLVRegressor",
    "ChurnModel",
    "LabelDefinition",
    "PurchaseModel",
    "ScoreWrite",
    "Segmenter",
    "SpendModel",
    "Task",
    "coerce_frame",
    "coerce_target",
    "contributions",
    "labels",
    "matured_cutoffs",
    "name_segments",
    "orders_end",
    "permutation_importance_table",
    "reason_codes",
    "score_customers",
    "score_frame",
    "shap_available",
    "split_target",
    "training_set",
]
