"""The logistic propensity model (Newton-Raphson) against statsmodels' Logit on the same data."""

from __future__ import annotations

import numpy as np
import pytest
import statsmodels.api as sm

from impact.errors import EstimationError
from impact.estimators.propensity import (
    fit_scores,
    logit_coefficients,
    logit_design,
    logit_fit,
)


def _data(n: int, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, k)) * np.arange(1, k + 1)
    eta = -0.5 + x @ (np.linspace(0.8, -0.4, k) / np.arange(1, k + 1))
    return x, rng.random(n) < 1 / (1 + np.exp(-eta))


@pytest.mark.parametrize(("n", "k", "seed"), [(200, 1, 0), (5_000, 3, 1), (100_000, 5, 2)])
def test_coefficients_and_scores_match_statsmodels(n: int, k: int, seed: int) -> None:
    x, treated = _data(n, k, seed)
    fit = sm.Logit(treated.astype(float), logit_design(x)).fit(disp=0, tol=1e-12)
    beta = logit_coefficients(x, treated)
    np.testing.assert_allclose(beta, fit.params, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(fit_scores(x, treated), fit.predict(), rtol=1e-9, atol=1e-15)


def test_weights_match_statsmodels_glm() -> None:
    x, treated = _data(3_000, 2, 3)
    w = np.random.default_rng(4).uniform(0.2, 3.0, len(treated))
    design = logit_design(x)
    glm = sm.GLM(treated.astype(float), design, family=sm.families.Binomial(), var_weights=w)
    beta = logit_fit(design, treated, w)
    assert beta is not None
    np.testing.assert_allclose(beta, glm.fit(tol=1e-12).params, rtol=1e-9)


def test_separation_and_collinearity_are_refused() -> None:
    x, _ = _data(500, 2, 5)
    separated = x[:, 0] > 0.3
    assert logit_fit(logit_design(x), separated) is None
    with pytest.raises(EstimationError, match="no overlap"):
        fit_scores(x, separated, names=("tenure", "volume"))
    # Quasi-complete: x > 0 adopts, x < 0 does not, and at x == 0 both do (no MLE either).
    x_ties = x.copy()
    x_ties[:10, 0] = 0.0
    quasi = (x_ties[:, 0] > 0) | ((x_ties[:, 0] == 0) & (np.arange(len(x)) % 2 == 0))
    assert logit_fit(logit_design(x_ties), quasi) is None
    with pytest.raises(EstimationError, match="collinear"):
        fit_scores(np.column_stack([x, 2 * x[:, 0]]), x[:, 1] > 0, names=("a", "b", "c"))


def test_extreme_but_finite_scores_stay_inside_the_unit_interval() -> None:
    x, treated = _data(2_000, 1, 6)
    scores = fit_scores(x * 8.0, treated)
    assert scores.min() > 0.0 and scores.max() < 1.0
