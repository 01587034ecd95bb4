"""Adoption-aware estimands: the effect of *using* the AI among those who take it up (CACE).

Randomization assigns access, not use. The intention-to-treat effect (ITT) compares arms as
assigned. When treated agents use the AI on only part of their tickets (and control agents on
none, or some), the complier average causal effect rescales the ITT by how much assignment moved
use: ``CACE = ITT(outcome) / ITT(AI-use share)``, the Wald / instrumental-variable estimator with
assignment as the instrument. Its standard error is the delta method on per-unit values, which
equals 2SLS with HC2 errors on the same unit-level data.
"""

from __future__ import annotations

import math

import numpy as np

from impact.errors import EstimationError
from impact.estimators.adjustment import Comparison

MIN_FIRST_STAGE = 0.05  # below this, assignment barely moves use: the ratio is unstable


def cace(y_t: np.ndarray, d_t: np.ndarray, y_c: np.ndarray, d_c: np.ndarray) -> Comparison:
    """Wald estimate ``(mean y_t - mean y_c) / (mean d_t - mean d_c)`` with its delta-method SE.

    `d_*` are the per-unit shares of items handled with the AI. `mean_t`/`mean_c` in the result
    are the arms' outcome means (the ITT baseline); `var_mean_t` carries the variance of the
    CACE's treated-arm part so that the lift (CACE / control mean) gets a delta-method interval.
    """
    n_t, n_c = len(y_t), len(y_c)
    if min(n_t, n_c) < 2:
        raise EstimationError("CACE needs at least 2 units per arm")
    first_stage = float(d_t.mean() - d_c.mean())
    if abs(first_stage) < MIN_FIRST_STAGE:
        raise EstimationError(
            f"assignment changed the AI-use share by only {first_stage:+.3f} (treated "
            f"{d_t.mean():.3f}, control {d_c.mean():.3f}); the CACE would divide by ~0. Report "
            "the ITT instead."
        )
    wald = float((y_t.mean() - y_c.mean()) / first_stage)
    # Influence of each unit on the Wald ratio: residual y - wald * d, centred within its arm.
    g_t, g_c = y_t - wald * d_t, y_c - wald * d_c
    var = (np.var(g_t, ddof=1) / n_t + np.var(g_c, ddof=1) / n_c) / first_stage**2
    se = math.sqrt(var)
    if not se > 0:
        raise EstimationError("the outcome has zero variance in both arms; no test is possible")
    # For the lift: the treated-part variance and the covariance with the control mean.
    cov_wc = -float(np.cov(g_c, y_c, ddof=1)[0, 1]) / n_c / first_stage
    var_c = float(np.var(y_c, ddof=1)) / n_c
    return Comparison(
        estimate=wald,
        std_error=se,
        df=None,
        mean_t=float(y_c.mean()) + wald,
        mean_c=float(y_c.mean()),
        var_mean_t=var + var_c + 2 * cov_wc,
        var_mean_c=var_c,
        cov_means=var_c + cov_wc,
        theta=(first_stage,),
    )
