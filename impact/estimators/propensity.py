"""Propensity scores: the probability that a unit adopts, given its pre-period covariates.

Two models: a logistic regression (statsmodels, the default; its coefficients are
interpretable and its scores feed the M-estimation sandwich of the weighting estimators) and
gradient boosting (scikit-learn, cross-fitted so a flexible model cannot memorise who adopted).
Users with their own scores pass them as a column instead.
"""

from __future__ import annotations

import math
import warnings
from typing import Literal

import numpy as np

from impact.errors import EstimationError, MissingDependencyError

ScoreModel = Literal["logit", "gbm"]
_EDGE = 1e-12  # scores are kept this far from 0 and 1 so their logits stay finite


def fit_scores(
    x: np.ndarray,
    treated: np.ndarray,
    *,
    model: ScoreModel = "logit",
    seed: int = 0,
    names: tuple[str, ...] = (),
) -> np.ndarray:
    """Propensity scores P(treated | x) for every row of the float64 design `x`.

    Raises EstimationError when the covariates separate treated and control units perfectly:
    then no control unit resembles a treated one and no comparison is possible.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> x = rng.normal(size=(200, 1))
        >>> t = rng.random(200) < 1 / (1 + np.exp(-x[:, 0]))
        >>> ps = fit_scores(x, t)
        >>> bool(ps.min() > 0 and ps.max() < 1), ps.shape
        (True, (200,))
    """
    if model == "logit":
        scores = _logit(x, treated, names)
    elif model == "gbm":
        scores = _boosting(x, treated, seed)
    else:
        raise ValueError(f"score_model must be 'logit' or 'gbm', got {model!r}")
    return scores


def logit_design(x: np.ndarray) -> np.ndarray:
    """The logistic model's design: an intercept, then `x` (float64)."""
    return np.column_stack([np.ones(len(x)), x])


def _logit(x: np.ndarray, treated: np.ndarray, names: tuple[str, ...]) -> np.ndarray:
    import statsmodels.api as sm
    from statsmodels.tools.sm_exceptions import ConvergenceWarning, PerfectSeparationWarning

    design = logit_design(x)
    if np.linalg.matrix_rank(design) < design.shape[1]:
        raise EstimationError(
            "the covariates are collinear (one is a combination of others, e.g. two indicators "
            f"of the same thing); drop one of {list(names)}"
        )
    with warnings.catch_warnings():
        warnings.simplefilter("error", PerfectSeparationWarning)
        warnings.simplefilter("error", ConvergenceWarning)
        warnings.simplefilter("error", RuntimeWarning)
        try:
            fit = sm.Logit(treated.astype(np.float64), design).fit(disp=0, maxiter=100)
        except (
            PerfectSeparationWarning,
            ConvergenceWarning,
            RuntimeWarning,
            np.linalg.LinAlgError,
        ) as exc:
            raise _no_overlap(names) from exc
    scores = np.asarray(fit.predict(design), dtype=np.float64)
    # Keep logits finite; weak overlap is reported by the diagnostics, not refused here.
    return np.clip(scores, _EDGE, 1 - _EDGE)


def logit_coefficients(x: np.ndarray, treated: np.ndarray) -> np.ndarray:
    """Maximum-likelihood coefficients of the logistic propensity model (intercept first)."""
    import statsmodels.api as sm

    return np.asarray(sm.Logit(treated.astype(np.float64), logit_design(x)).fit(disp=0).params)


def _boosting(x: np.ndarray, treated: np.ndarray, seed: int) -> np.ndarray:
    try:
        from sklearn.ensemble import HistGradientBoostingClassifier
        from sklearn.model_selection import StratifiedKFold, cross_val_predict
    except ImportError as exc:  # pragma: no cover - scikit-learn ships with the causal extra
        raise MissingDependencyError(
            "score_model='gbm' needs scikit-learn: pip install 'impact[causal]'"
        ) from exc
    folds = min(5, int(treated.sum()), int((~treated).sum()))
    if folds < 2:
        raise EstimationError("gradient-boosted scores need at least 2 treated and 2 control units")
    model = HistGradientBoostingClassifier(
        max_iter=200,
        learning_rate=0.05,
        max_leaf_nodes=15,
        min_samples_leaf=20,
        early_stopping=False,
        random_state=seed,
    )
    # Cross-fitted: each unit's score comes from a model that never saw it.
    cv = StratifiedKFold(folds, shuffle=True, random_state=seed)
    scores = cross_val_predict(model, x, treated, cv=cv, method="predict_proba")[:, 1]
    return np.clip(scores, 1e-6, 1 - 1e-6)


def _no_overlap(names: tuple[str, ...]) -> EstimationError:
    return EstimationError(
        f"no overlap: the covariates {list(names)} separate adopters from non-adopters "
        "(nearly) perfectly, so no non-adopter resembles an adopter. Check for a covariate "
        "measured after adoption, coarsen it, or restrict to comparable units."
    )


def logit(p: np.ndarray) -> np.ndarray:
    """log(p / (1 - p)), the scale on which matching calipers are set."""
    return np.log(p) - np.log1p(-p)


def effective_sample_size(weights: np.ndarray) -> float:
    """Kish's effective sample size, (sum w)^2 / sum w^2: how many equally weighted units the
    weighted sample is worth."""
    w = np.asarray(weights, dtype=np.float64)
    total = float(w.sum())
    return total * total / float((w * w).sum()) if total > 0 else math.nan
