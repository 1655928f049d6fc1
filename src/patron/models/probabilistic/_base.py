"""The estimator base shared by the probabilistic CLV models.

Subclasses declare their parameter names and input columns and implement four hooks:
``_validate`` (refuse degenerate data), ``_loglik_grad`` (total weighted log-likelihood
and its analytic gradient in natural parameters), ``_start`` (a data-driven starting
point in log-parameters) and, optionally, ``_exact_log_likelihood``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from patron.errors import ModelError
from patron.models.probabilistic._data import as_columns, check_weights
from patron.models.probabilistic._optimize import maximise_log_likelihood

Z_95 = 1.959963984540054


class ProbabilisticModel(BaseEstimator):
    """Maximum likelihood estimator of a buy-till-you-die model.

    Parameters
    ----------
    penalizer:
        L2 penalty on the log-parameters, per customer (0 = plain maximum likelihood). A
        small value (1e-3) keeps weakly identified parameters finite on thin data.
    n_starts:
        Number of optimiser starts: the data-driven start plus random perturbations of it.
    tol:
        Gradient tolerance of L-BFGS-B on the mean objective per customer.
    max_iter:
        Iteration cap of each L-BFGS-B run.
    random_state:
        Seed of the perturbed starts and of the subsample used for them on large data.
    """

    _param_names: ClassVar[tuple[str, ...]] = ()
    _columns: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self,
        *,
        penalizer: float = 0.0,
        n_starts: int = 3,
        tol: float = 1e-8,
        max_iter: int = 1000,
        random_state: int | None = 0,
    ) -> None:
        self.penalizer = penalizer
        self.n_starts = n_starts
        self.tol = tol
        self.max_iter = max_iter
        self.random_state = random_state

    # hooks -------------------------------------------------------------------------
    def _validate(self, arrays: dict[str, np.ndarray], *, for_fit: bool) -> None:
        raise NotImplementedError

    def _prepare(self, arrays: dict[str, np.ndarray], weights: np.ndarray) -> dict[str, Any]:
        """Precompute what the log-likelihood needs and does not depend on parameters."""
        return {**arrays, "weights": weights}

    def _loglik_grad(self, params: np.ndarray, data: dict[str, Any]) -> tuple[float, np.ndarray]:
        raise NotImplementedError

    def _start(self, arrays: dict[str, np.ndarray], weights: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _exact_log_likelihood(
        self, params: np.ndarray, arrays: dict[str, np.ndarray], weights: np.ndarray
    ) -> float | None:
        """The log-likelihood by the closed form, when the fit used an approximation."""
        return None

    # estimator ---------------------------------------------------------------------
    @property
    def _name(self) -> str:
        return type(self).__name__

    def _arrays(self, data: Any, *, for_fit: bool) -> tuple[dict[str, np.ndarray], Any]:
        arrays, index = as_columns(data, self._columns, self._name)
        self._validate(arrays, for_fit=for_fit)
        return arrays, index

    def fit(self, X: Any, y: Any = None, *, weights: Any = None) -> ProbabilisticModel:
        """Fit by maximum likelihood on a per-customer summary.

        ``X`` is a DataFrame with the model's columns or a 2-D array with them in order;
        ``weights`` (optional) counts the customers each row stands for. ``y`` is ignored.
        """
        from threadpoolctl import threadpool_limits

        # the optimiser works on a handful of parameters: threaded BLAS only adds
        # synchronisation, which made a CDNOW fit 10x slower on a busy 2-core machine
        with threadpool_limits(limits=1, user_api="blas"):
            return self._fit(X, weights)

    def _fit(self, X: Any, weights: Any) -> ProbabilisticModel:
        arrays, _ = self._arrays(X, for_fit=True)
        n_rows = len(arrays[self._columns[0]])
        w = check_weights(weights, n_rows, self._name)

        def make(rows: np.ndarray | None) -> tuple[Any, float]:
            sub = arrays if rows is None else {k: v[rows] for k, v in arrays.items()}
            sub_w = w if rows is None else w[rows]
            prepared = self._prepare(sub, sub_w)
            return (lambda p: self._loglik_grad(p, prepared)), float(sub_w.sum())

        result = maximise_log_likelihood(
            make,
            self._start(arrays, w),
            n_rows=n_rows,
            names=self._param_names,
            model=self._name,
            penalizer=float(self.penalizer),
            n_starts=int(self.n_starts),
            tol=float(self.tol),
            max_iter=int(self.max_iter),
            random_state=self.random_state,
        )
        params = np.exp(result.log_params)
        names = list(self._param_names)
        cov_log = np.linalg.inv(result.hessian)
        se_log = np.sqrt(np.clip(np.diag(cov_log), 0.0, None))
        exact = self._exact_log_likelihood(params, arrays, w)
        self.params_ = pd.Series(params, index=names, name="estimate")
        self.covariance_log_params_ = pd.DataFrame(cov_log, index=names, columns=names)
        self.standard_errors_ = pd.Series(params * se_log, index=names, name="standard_error")
        self.confidence_intervals_ = pd.DataFrame(
            {
                "lower": np.exp(result.log_params - Z_95 * se_log),
                "upper": np.exp(result.log_params + Z_95 * se_log),
            },
            index=names,
        )
        self.log_likelihood_ = float(result.log_likelihood if exact is None else exact)
        self.n_customers_ = float(w.sum())
        k = len(names)
        self.aic_ = 2 * k - 2 * self.log_likelihood_
        self.bic_ = k * np.log(self.n_customers_) - 2 * self.log_likelihood_
        self.n_evaluations_ = result.n_evaluations
        return self

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "params_")

    def _check_fitted(self) -> np.ndarray:
        if not hasattr(self, "params_"):
            raise ModelError(f"{self._name} is not fitted: call fit(summary) first")
        return self.params_.to_numpy()

    def summary(self) -> pd.DataFrame:
        """Estimates, standard errors and 95 % confidence intervals, one row per parameter."""
        self._check_fitted()
        return pd.concat(
            [self.params_, self.standard_errors_, self.confidence_intervals_], axis=1
        )

