"""The matched sample's bookkeeping: common support, coordinates, reports and diagnostics.

Helpers of :mod:`impact.estimators.matching`, kept apart so the estimator reads as the method.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from impact.errors import EstimationError
from impact.estimators._units import Units
from impact.estimators.balance import SMD_THRESHOLD
from impact.estimators.neighbours import Matches, _pairs
from impact.estimators.propensity import effective_sample_size, logit
from impact.result import Diagnostic

MIN_MATCHED = 10
MIN_RETAINED = 0.9  # below this share of adopters matched, the estimand has drifted


def regression(u: Units, rows: np.ndarray, change: np.ndarray) -> np.ndarray:
    """Linear prediction of the outcome change from the covariates, fitted on `rows`."""
    design = np.column_stack([np.ones(len(u.x)), u.x])
    if rows.sum() <= design.shape[1]:
        return np.zeros(len(u.x))  # too few units to fit: no adjustment
    beta = np.linalg.lstsq(design[rows], change[rows], rcond=None)[0]
    return design @ beta


def common_support(
    scores: np.ndarray, treated: np.ndarray, estimand: str, on: bool
) -> tuple[np.ndarray, pd.DataFrame]:
    keep = np.ones(len(scores), dtype=bool)
    rows = []
    if on:
        lo_c, hi_c = scores[~treated].min(), scores[~treated].max()
        lo_t, hi_t = scores[treated].min(), scores[treated].max()
        checks = [
            (treated, scores < lo_c, "adopter", "score below every non-adopter's"),
            (treated, scores > hi_c, "adopter", "score above every non-adopter's"),
        ]
        if estimand == "ATE":
            checks += [
                (~treated, scores < lo_t, "non-adopter", "score below every adopter's"),
                (~treated, scores > hi_t, "non-adopter", "score above every adopter's"),
            ]
        for group, outside, who, why in checks:
            hit = group & outside
            if hit.any():
                rows.append(
                    {"group": who, "reason": f"common support: {why}", "units": int(hit.sum())}
                )
                keep &= ~hit
    return keep, pd.DataFrame(rows, columns=["group", "reason", "units"])


def coordinates(u: Units, scores: np.ndarray, distance: str, keep: np.ndarray) -> np.ndarray:
    if distance == "logit":
        return logit(scores)[:, None]
    if distance == "propensity":
        return scores[:, None]
    if distance == "inverse_variance":
        # each covariate scaled by its sample SD: the diagonal "inverse variance" metric, the
        # default of Abadie-Imbens' Stata `nnmatch` (and of R's Matching without Weight.matrix)
        sd = u.x[keep].std(axis=0, ddof=1)
        return u.x / np.where(sd > 0, sd, 1.0)
    # Mahalanobis: whiten with the pooled within-group covariance, then distances are Euclidean.
    kept = keep.copy()
    centred = u.x.copy()
    for flag in (True, False):
        rows = kept & (u.treated == flag)
        centred[rows] -= u.x[rows].mean(axis=0)
    cov = np.atleast_2d(np.cov(centred[kept], rowvar=False))
    try:
        chol = np.linalg.cholesky(cov)
    except np.linalg.LinAlgError as exc:
        raise EstimationError(
            f"the covariates {list(u.names)} are collinear; Mahalanobis distance needs an "
            "invertible covariance: drop a redundant covariate"
        ) from exc
    return np.linalg.solve(chol, u.x.T).T


def subset(m: Matches, ok: np.ndarray) -> Matches:
    return _pairs(m.target[ok], m.pool[ok], m.distance[ok])


def unmatched(u: Units, m: Matches, targets: np.ndarray, pool: np.ndarray) -> pd.DataFrame:
    matched = np.zeros(len(u.y), dtype=bool)
    matched[m.target] = True
    missing = targets[~matched[targets]]
    if len(missing) == 0:
        return pd.DataFrame(columns=["group", "reason", "units"])
    who = "adopter" if u.treated[missing[0]] else "non-adopter"
    has_pool = np.zeros(int(u.strata.max()) + 1, dtype=bool)
    has_pool[u.strata[pool]] = True
    empty_stratum = ~has_pool[u.strata[missing]]
    rows = [
        (int(empty_stratum.sum()), "no match in its exact stratum"),
        (int((~empty_stratum).sum()), "no match within the caliper (or all used)"),
    ]
    return pd.DataFrame([{"group": who, "reason": r, "units": c} for c, r in rows if c])


def pairs_table(u: Units, m: Matches, scores: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "treated_unit": u.ids[m.target],
            "control_unit": u.ids[m.pool],
            "weight": m.weight,
            "distance": m.distance,
            "treated_score": scores[m.target],
            "control_score": scores[m.pool],
        }
    )


def pairs_summary(m: Matches, w: np.ndarray, u: Units) -> pd.DataFrame:
    used = w[~u.treated]
    used = used[used > 0]
    return pd.DataFrame(
        [
            {
                "treated_matched": int(np.count_nonzero(np.diff(m.target)) + (len(m.target) > 0)),
                "pairs": len(m.target),
                "controls_used": len(used),
                "max_control_reuse": float(used.max(initial=0)),
                "mean_distance": float(m.distance.mean()) if len(m.distance) else math.nan,
                "max_distance": float(m.distance.max()) if len(m.distance) else math.nan,
            }
        ]
    )


def diagnostics(
    balance: pd.DataFrame, u: Units, treated_used: int, weights: np.ndarray
) -> tuple[Diagnostic, ...]:
    worst = float(balance.smd_after.abs().max())
    ratios = balance.var_ratio_after.to_numpy()
    worst_ratio = float(np.nanmax(np.abs(np.log(ratios)))) if np.isfinite(ratios).any() else 0.0
    share = treated_used / int(u.treated.sum())
    ess = effective_sample_size(weights[~u.treated])
    worst_name = balance.covariate.iloc[int(balance.smd_after.abs().to_numpy().argmax())]
    return (
        Diagnostic(
            "max_abs_smd_after",
            worst,
            passed=worst < SMD_THRESHOLD,
            detail=f"largest |standardized mean difference| after matching "
            f"({worst_name}); below {SMD_THRESHOLD} is balanced",
        ),
        Diagnostic(
            "max_variance_ratio",
            float(math.exp(worst_ratio)),
            passed=math.exp(worst_ratio) <= 2,
            detail="largest variance ratio (either way) after matching; within 2",
        ),
        Diagnostic(
            "treated_retained",
            share,
            passed=share >= MIN_RETAINED,
            detail=f"share of adopters matched; at least {MIN_RETAINED:.0%} keeps the ATT",
        ),
        Diagnostic(
            "effective_controls",
            ess,
            passed=ess >= MIN_MATCHED,
            detail="effective number of non-adopters after weighting by reuse",
        ),
    )
