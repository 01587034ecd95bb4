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
import pandas as pd

Weights = Literal["rademacher", "webb", "mammen"]
WEBB_BELOW = 12  # clusters; below this Rademacher draws are too coarse
MIN_CLUSTERS = 30  # below this, cluster-robust normal intervals are too narrow
MIN_TREATED_CLUSTERS = 10  # likewise when few clusters carry the treatment
BLOCK = 4_000_000  # multiplier weights drawn at once (32 MB)
WILD_BLOCK = 4_000_000  # rows x clusters transformed at once (32 MB)

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


def few_clusters(n_clusters: int, n_treated: int) -> bool:
    """Whether cluster-robust normal theory is unreliable: fewer than 30 clusters, or fewer
    than 10 of them treated (MacKinnon and Webb 2017)."""
    return n_clusters < MIN_CLUSTERS or n_treated < MIN_TREATED_CLUSTERS


def few_clusters_note(n_clusters: int, n_treated: int, cluster: str, how: str) -> str:
    """The plain-words warning for a business reader, `how` saying what was done instead."""
    return (
        f"only {n_clusters} clusters ({cluster}), {n_treated} of them with the AI: with so few, "
        f"ordinary confidence intervals are too narrow, so {how}. Treat the result as "
        "indicative; more teams (or clusters) would make it firmer."
    )


def cluster_sums(influence: np.ndarray, clusters: np.ndarray) -> np.ndarray:
    """Row sums of `influence` (units x parameters) within each cluster (clusters x params),
    in the order of the sorted cluster labels.

    When every unit is its own cluster, in sorted order (the default: clusters are the
    panel's sorted units), that is `influence` itself, returned without a copy.
    """
    codes, n_clusters = cluster_codes(clusters)
    if codes is None:
        return influence
    out = np.empty((n_clusters, influence.shape[1]))
    for j in range(influence.shape[1]):  # one bincount per column: np.add.at is ~10x slower
        out[:, j] = np.bincount(codes, weights=influence[:, j], minlength=n_clusters)
    return out


def cluster_codes(clusters: np.ndarray) -> tuple[np.ndarray | None, int]:
    """Each unit's cluster as an index into the sorted distinct labels, and their number;
    ``None`` for the indices when the labels are already distinct and sorted (the identity).
    """
    clusters = np.asarray(clusters)
    n = len(clusters)
    try:
        if n < 2 or bool((clusters[1:] > clusters[:-1]).all()):
            return None, n
    except TypeError:  # labels of mixed types do not compare; np.unique says so below
        pass
    # pandas' hash factorize; numpy 2.4's np.unique of a million integers is ~50x slower
    # than sorting them. The codes follow the sorted labels either way.
    codes, labels = pd.factorize(clusters, sort=True)
    if not len(codes) or codes.min() >= 0:
        return codes, len(labels)
    _, codes = np.unique(clusters, return_inverse=True)  # missing labels: one cluster, as numpy
    return codes.ravel(), int(codes.max()) + 1


def n_distinct(labels: np.ndarray) -> int:
    """How many distinct cluster labels there are (see :func:`cluster_codes`)."""
    return cluster_codes(labels)[1]


def sup_t(
    sums: np.ndarray, n: int, *, confidence: float, n_draws: int = 999, seed: int = 0
) -> float:
    """Critical value of a uniform (sup-t) band over K estimates from their covariance.

    The ``confidence`` quantile of ``max_k |Z_k| / sd_k`` for ``Z ~ N(0, V)``, ``V = S'S / n**2``
    the cluster-robust covariance of the estimates (`sums`: clusters x K influence sums):
    Montiel Olea and Plagborg-Moller (2019), and what a Gaussian multiplier bootstrap of the
    influence functions converges to. Simulated in K dimensions, so its cost does not grow
    with the number of clusters (a multiplier bootstrap draws ``n_draws x clusters`` weights).
    NaN when no estimate has a positive variance.
    """
    vcov = sums.T @ sums / n**2
    sd = np.sqrt(np.clip(np.diag(vcov), 0, None))
    live = sd > 0
    if not live.any():
        return float("nan")
    corr = vcov[np.ix_(live, live)] / np.outer(sd[live], sd[live])
    values, vectors = np.linalg.eigh(corr)
    root = vectors * np.sqrt(np.clip(values, 0, None))
    z = np.random.default_rng(seed).standard_normal((n_draws, len(values))) @ root.T
    return float(np.quantile(np.abs(z).max(axis=1), confidence))


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
    varies = bool(np.isfinite(safe).any())  # False when every estimate has zero variance
    if varies:
        with np.errstate(invalid="ignore"):
            studentized = np.nanmax(np.abs(perturbed / safe), axis=1)
    else:
        studentized = np.full(perturbed.shape[0], np.nan)
    band = float(np.quantile(studentized, confidence)) if varies else np.nan
    p = (np.abs(perturbed) >= np.abs(estimates)[None, :]).mean(axis=0)
    # a p-value of exactly 0 overstates what B draws can show
    p = np.maximum(p, 1.0 / (n_draws + 1))
    # With no variation there is nothing to test: a joint p of 1/(B+1) would cry wolf.
    joint = np.nan
    if varies:
        with np.errstate(invalid="ignore"):
            observed = np.nanmax(np.abs(estimates / safe))
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
    # Each draw's outcome is fit0 + sum_h v_h resid0 1[cluster h], so everything a draw needs
    # (X'y*, then each cluster's score X_g'u*) is linear in v: precompute the per-cluster
    # pieces once and every draw costs O(G^2 k) instead of a pass over the rows.
    fitted = fit0 if partial_out is None else partial_out(fit0[:, None])[:, 0]
    base = _totals(codes, x * fitted[:, None], n_clusters)  # G x k: X_g' fit0
    # cross[g, h] = X_g' (transformed resid0 on cluster h's rows only): G x G x k
    cross = np.zeros((n_clusters, n_clusters, x.shape[1]))
    step = max(1, WILD_BLOCK // max(len(y) * x.shape[1], 1))
    for first in range(0, n_clusters, step):
        hs = np.arange(first, min(first + step, n_clusters))
        spread = resid0[:, None] * (codes[:, None] == hs[None, :])
        if partial_out is not None:
            spread = partial_out(spread)
        cross[:, hs, :] = _totals(codes, spread[:, :, None] * x[:, None, :], n_clusters)
    gram = _totals(codes, x[:, :, None] * x[:, None, :], n_clusters)  # X_g' X_g
    beta_star = (base.sum(axis=0) + v @ cross.sum(axis=0)) @ xtx_inv.T  # draws x k
    scores = base[None] + np.einsum("bh,ghk->bgk", v, cross)
    scores -= np.einsum("gkl,bl->bgk", gram, beta_star)
    bread = np.einsum("k,bgk->bg", xtx_inv[column], scores)
    n, k = x.shape
    scale = n_clusters / max(n_clusters - 1, 1) * (n - 1) / max(n - k, 1)
    se_star = np.sqrt(scale * (bread**2).sum(axis=1))
    with np.errstate(divide="ignore", invalid="ignore"):
        t_boot = np.where(se_star > 0, beta_star[:, column] / se_star, 0.0)
    p = float(max((np.abs(t_boot) >= abs(t_obs)).mean(), 1.0 / (n_draws + 1)))
    crit = float(np.quantile(np.abs(t_boot), confidence))
    return WildCluster(
        p_value=p,
        ci_low=float(beta[column] - crit * se),
        ci_high=float(beta[column] + crit * se),
        n_draws=n_draws,
        kind=kind,
    )


def _totals(codes: np.ndarray, values: np.ndarray, n_clusters: int) -> np.ndarray:
    """Sums of `values` (rows x ...) within each cluster (clusters x ...)."""
    flat = values.reshape(len(values), -1)
    out = np.empty((n_clusters, flat.shape[1]))
    for j in range(flat.shape[1]):
        out[:, j] = np.bincount(codes, weights=flat[:, j], minlength=n_clusters)
    return out.reshape(n_clusters, *values.shape[1:])


def _crv1_se(
    x: np.ndarray, resid: np.ndarray, codes: np.ndarray, n_clusters: int, xtx_inv: np.ndarray
) -> np.ndarray:
    scores = _totals(codes, x * resid[:, None], n_clusters)
    meat = scores.T @ scores
    n, k = x.shape
    scale = n_clusters / max(n_clusters - 1, 1) * (n - 1) / max(n - k, 1)
    return np.sqrt(np.clip(np.diag(xtx_inv @ meat @ xtx_inv) * scale, 0, None))
