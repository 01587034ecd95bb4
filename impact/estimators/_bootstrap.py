"""Bootstrap inference for DiD: the multiplier bootstrap of influence functions and the wild
cluster bootstrap of a regression coefficient.

Both perturb *cluster* totals, never single rows, since units in one team share shocks. With
few clusters the draws are Webb's six-point weights (Rademacher weights give only ``2**G``
distinct draws, too few below about 12 clusters).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np

Weights = Literal["rademacher", "webb", "mammen"]
WEBB_BELOW = 12  # clusters; below this Rademacher draws are too coarse
BLOCK = 4_000_000  # multiplier weights drawn at once (32 MB)

_WEBB = np.array([-np.sqrt(1.5), -1.0, -np.sqrt(0.5), np.sqrt(0.5), 1.0, np.sqrt(1.5)])


def draws(
    n_draws: int, n_clusters: int, *, kind: Weights, seed: int | np.random.SeedSequence
) -> np.ndarray:
    """An ``n_draws x n_clusters`` matrix of mean-zero, variance-one multiplier weights."""
    rng = np.random.default_rng(seed)
    if kind == "rademacher":
        return rng.choice(np.array([-1.0, 1.0]), size=(n_draws, n_clusters))
    if kind == "webb":
        return rng.choice(_WEBB, size=(n_draws, n_clusters))
    root5 = np.sqrt(5.0)
    low, high = -(root5 - 1) / 2, (root5 + 1) / 2
    p_low = (root5 + 1) / (2 * root5)
    return np.where(rng.random((n_draws, n_clusters)) < p_low, low, high)


def default_kind(n_clusters: int) -> Weights:
    """Webb weights below :data:`WEBB_BELOW` clusters, Rademacher otherwise."""
    return "webb" if n_clusters < WEBB_BELOW else "rademacher"


def cluster_sums(influence: np.ndarray, clusters: np.ndarray) -> np.ndarray:
    """Row sums of `influence` (units x parameters) within each cluster (clusters x params)."""
    _, codes = np.unique(clusters, return_inverse=True)
    out = np.zeros((codes.max() + 1, influence.shape[1]))
    np.add.at(out, codes, influence)
    return out


@dataclass(frozen=True, slots=True)
class Multiplier:
    """Multiplier-bootstrap summary of K estimates.

    `std_error` is the interquartile range of the draws over 1.349 (robust to a few wild draws,
    as in Callaway and Sant'Anna's `did`); `band` is the critical value of a uniform band over
    all K estimates (the ``1 - alpha`` quantile of the largest studentized deviation);
    `p_value` is the share of draws at least as far from zero as the estimate.
    """

    std_error: np.ndarray
    band: float
    p_value: np.ndarray
    joint_p: float  # sup-t test that every estimate is zero
    n_draws: int
    kind: Weights


def multiplier(
    influence: np.ndarray,
    clusters: np.ndarray,
    estimates: np.ndarray,
    *,
    confidence: float,
    n_draws: int = 999,
    kind: Weights | None = None,
    seed: int = 0,
) -> Multiplier:
    """Multiplier bootstrap of estimates whose influence functions are the columns of
    `influence` (one row per unit, scaled so ``estimate - truth ~ mean(influence)``)."""
    n = influence.shape[0]
    sums = cluster_sums(influence, clusters)
    kind = kind or default_kind(sums.shape[0])
    # draws in blocks: n_draws x n_clusters weights would not fit in memory for 100k clusters
    rng_seeds = np.random.SeedSequence(seed).spawn(max(1, -(-n_draws * sums.shape[0] // BLOCK)))
    rows_per_block = -(-n_draws // len(rng_seeds))
    perturbed = np.vstack(
        [
            draws(
                min(rows_per_block, n_draws - i * rows_per_block),
                sums.shape[0],
                kind=kind,
                seed=child,
            )
            @ sums
            / n
            for i, child in enumerate(rng_seeds)
            if n_draws - i * rows_per_block > 0
        ]
    )
    q75, q25 = np.quantile(perturbed, [0.75, 0.25], axis=0)
    se = (q75 - q25) / 1.3489795003921634
    safe = np.where(se > 0, se, np.nan)
    with np.errstate(invalid="ignore"):
        studentized = np.nanmax(np.abs(perturbed / safe), axis=1)
    band = float(np.quantile(studentized, confidence)) if np.isfinite(studentized).any() else np.nan
    p = (np.abs(perturbed) >= np.abs(estimates)[None, :]).mean(axis=0)
    # a p-value of exactly 0 overstates what B draws can show
    p = np.maximum(p, 1.0 / (n_draws + 1))
    with np.errstate(invalid="ignore"):
        observed = np.nanmax(np.abs(estimates / safe)) if np.isfinite(safe).any() else np.nan
    joint = float(max((studentized >= observed).mean(), 1.0 / (n_draws + 1)))
    return Multiplier(std_error=se, band=band, p_value=p, joint_p=joint, n_draws=n_draws, kind=kind)


@dataclass(frozen=True, slots=True)
class WildCluster:
    """Wild cluster restricted (WCR) bootstrap result for one coefficient."""

    p_value: float
    ci_low: float
    ci_high: float
    n_draws: int
    kind: Weights


def wild_cluster(
    y: np.ndarray,
    x: np.ndarray,
    clusters: np.ndarray,
    column: int,
    *,
    confidence: float,
    n_draws: int = 999,
    kind: Weights | None = None,
    seed: int = 0,
    partial_out: Callable[[np.ndarray], np.ndarray] | None = None,
) -> WildCluster:
    """Wild cluster bootstrap-t with the null imposed (WCR, Cameron-Gelbach-Miller 2008).

    `x` holds every regressor (fixed effects already partialled out or as dummies). The p-value
    tests ``beta[column] == 0``; the interval inverts the bootstrap-t distribution around the
    unrestricted estimate with the unrestricted cluster-robust SE (a percentile-t interval).
    `partial_out` re-applies a fixed-effects within-transformation to each bootstrap outcome
    (`x` and `y` are then already transformed).
    """
    _, codes = np.unique(clusters, return_inverse=True)
    n_clusters = codes.max() + 1
    kind = kind or default_kind(n_clusters)
    xtx_inv = np.linalg.pinv(x.T @ x)
    beta = xtx_inv @ x.T @ y
    se = _crv1_se(x, y - x @ beta, codes, n_clusters, xtx_inv)[column]
    t_obs = beta[column] / se
    # restricted fit: drop the tested column
    others = np.delete(x, column, axis=1)
    if others.shape[1]:
        fit0 = others @ np.linalg.lstsq(others, y, rcond=None)[0]
    else:
        fit0 = np.zeros_like(y)
    resid0 = y - fit0
    v = draws(n_draws, n_clusters, kind=kind, seed=seed)
    t_boot = np.empty(n_draws)
    for b in range(n_draws):
        y_star = fit0 + resid0 * v[b, codes]
        if partial_out is not None:
            y_star = partial_out(y_star)
        beta_star = xtx_inv @ x.T @ y_star
        se_star = _crv1_se(x, y_star - x @ beta_star, codes, n_clusters, xtx_inv)[column]
        t_boot[b] = beta_star[column] / se_star if se_star > 0 else 0.0
    p = float(max((np.abs(t_boot) >= abs(t_obs)).mean(), 1.0 / (n_draws + 1)))
    crit = float(np.quantile(np.abs(t_boot), confidence))
    return WildCluster(
        p_value=p,
        ci_low=float(beta[column] - crit * se),
        ci_high=float(beta[column] + crit * se),
        n_draws=n_draws,
        kind=kind,
    )


def _crv1_se(
    x: np.ndarray, resid: np.ndarray, codes: np.ndarray, n_clusters: int, xtx_inv: np.ndarray
) -> np.ndarray:
    scores = np.zeros((n_clusters, x.shape[1]))
    np.add.at(scores, codes, x * resid[:, None])
    meat = scores.T @ scores
    n, k = x.shape
    scale = n_clusters / max(n_clusters - 1, 1) * (n - 1) / max(n - k, 1)
    return np.sqrt(np.clip(np.diag(xtx_inv @ meat @ xtx_inv) * scale, 0, None))
