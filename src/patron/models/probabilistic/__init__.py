"""Probabilistic ("buy till you die") CLV models on NumPy/SciPy.

Transaction models take a per-customer summary ``frequency, recency, T`` in one time
unit ("periods"): :class:`BetaGeoModel` (BG/NBD), :class:`ModifiedBetaGeoModel`
(MBG/NBD), :class:`ParetoNBDModel`; :class:`BetaGeoBetaBinomModel` (BG/BB) takes discrete
opportunities; :class:`GammaGammaModel` models spend; :func:`customer_lifetime_value`
combines a transaction and a spend model into a discounted cash flow.
"""

from patron.models.probabilistic._beta_geo import BetaGeoModel, ModifiedBetaGeoModel
from patron.models.probabilistic._bgbb import BetaGeoBetaBinomModel
from patron.models.probabilistic._clv import PERIODS_PER_MONTH, customer_lifetime_value
from patron.models.probabilistic._gamma_gamma import GammaGammaModel
from patron.models.probabilistic._pareto_nbd import ParetoNBDModel
from patron.models.probabilistic._scoring import TRANSACTION_MODELS, CLVScores, score_clv
from patron.models.probabilistic._simulate import (
    simulate_beta_geo,
    simulate_beta_geo_beta_binom,
    simulate_gamma_gamma,
    simulate_pareto_nbd,
)

__all__ = [
    "PERIODS_PER_MONTH",
    "TRANSACTION_MODELS",
    "BetaGeoBetaBinomModel",
    "BetaGeoModel",
    "CLVScores",
    "GammaGammaModel",
    "ModifiedBetaGeoModel",
    "ParetoNBDModel",
    "customer_lifetime_value",
    "score_clv",
    "simulate_beta_geo",
    "simulate_beta_geo_beta_binom",
    "simulate_gamma_gamma",
    "simulate_pareto_nbd",
]
