"""Nearest-neighbour search for matching: within exact strata, with or without replacement.

One KD-tree (scipy's cKDTree) serves every stratum at once: each stratum's points are shifted
along the first axis by a gap wider than the data, so a neighbour from another stratum is always
farther than any neighbour inside it and is filtered out. No distance matrix is ever formed, so
a million units match in seconds, not hours.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree


@dataclass(frozen=True, slots=True)
class Matches:
    """Matched pairs as flat arrays: target `target[m]` matched to pool unit `pool[m]`.

    Indices refer to rows of the full unit table. `weight` is ``1 / number of matches`` of the
    target, so each matched target's counterpart weights sum to one.
    """

    target: np.ndarray
    pool: np.ndarray
    distance: np.ndarray
    weight: np.ndarray


def _shifted(coords: np.ndarray, strata: np.ndarray) -> np.ndarray:
    span = float(np.ptp(coords, axis=0).max()) if len(coords) else 0.0
    gap = 4.0 * (span + 1.0)
    out = coords.copy()
    out[:, 0] += strata * gap
    return out


def nearest(
    coords: np.ndarray,
    strata: np.ndarray,
    targets: np.ndarray,
    pool: np.ndarray,
    *,
    k: int,
    replace: bool = True,
    max_distance: float = np.inf,
    order: np.ndarray | None = None,
) -> Matches:
    """Match each target row to its `k` nearest pool rows in the same stratum.

    Args:
        coords: float64 coordinates, one row per unit (a score or whitened covariates).
        strata: int stratum code per unit; matches never cross strata.
        targets: row indices to be matched (e.g. the treated).
        pool: row indices to match from (e.g. the controls).
        k: matches per target (fewer when the stratum or the distance bound runs out).
        replace: whether a pool unit may serve several targets.
        max_distance: matches farther than this (in `coords` units) are not made.
        order: without replacement, targets are served in this order (indices into
            `targets`); greedy, as MatchIt's nearest-neighbour matching.
    """
    coords = np.asarray(coords, dtype=np.float64).reshape(len(strata), -1)
    shifted = _shifted(coords, strata)
    tree = cKDTree(shifted[pool])
    if replace:
        kk = min(k, len(pool))
        dist, idx = tree.query(shifted[targets], k=kk, distance_upper_bound=max_distance)
        dist, idx = dist.reshape(len(targets), kk), idx.reshape(len(targets), kk)
        found = idx < len(pool)
        rows = np.repeat(np.arange(len(targets)), kk).reshape(len(targets), kk)
        safe = np.where(found, idx, 0)
        ok = found & (strata[pool[safe]] == strata[targets][:, None])
        return _pairs(targets[rows[ok]], pool[safe[ok]], dist[ok])
    return _greedy(shifted, strata, targets, pool, tree, k, max_distance, order)


def _greedy(
    shifted: np.ndarray,
    strata: np.ndarray,
    targets: np.ndarray,
    pool: np.ndarray,
    tree: cKDTree,
    k: int,
    max_distance: float,
    order: np.ndarray | None,
) -> Matches:
    used = np.zeros(len(pool), dtype=bool)
    width = min(len(pool), max(4 * k, 16))
    dist, idx = tree.query(shifted[targets], k=width, distance_upper_bound=max_distance)
    dist, idx = dist.reshape(len(targets), width), idx.reshape(len(targets), width)
    out_t: list[int] = []
    out_p: list[int] = []
    out_d: list[float] = []
    for row in range(len(targets)) if order is None else order:
        stratum = strata[targets[row]]
        d_row, i_row, depth = dist[row], idx[row], width
        taken = 0
        while True:
            for d, i in zip(d_row, i_row, strict=True):
                if i >= len(pool) or strata[pool[i]] != stratum:
                    break  # sorted by distance: everything after is out of reach too
                if not used[i]:
                    used[i] = True
                    out_t.append(targets[row])
                    out_p.append(pool[i])
                    out_d.append(d)
                    taken += 1
                    if taken == k:
                        break
            last = i_row[-1] if len(i_row) else len(pool)
            if (taken == k or depth >= len(pool) or last >= len(pool)
                    or strata[pool[last]] != stratum):
                break
            # Every candidate so far was taken: widen the search for this target only.
            more = min(len(pool), 2 * depth)
            d_all, i_all = tree.query(shifted[targets[row]], k=more,
                                      distance_upper_bound=max_distance)
            d_row, i_row, depth = d_all[depth:], i_all[depth:], more
    return _pairs(np.asarray(out_t, dtype=np.int64), np.asarray(out_p, dtype=np.int64),
                  np.asarray(out_d, dtype=np.float64))


def _pairs(target: np.ndarray, pool: np.ndarray, distance: np.ndarray) -> Matches:
    order = np.argsort(target, kind="stable")
    target, pool, distance = target[order], pool[order], distance[order]
    _, first, counts = np.unique(target, return_index=True, return_counts=True)
    weight = np.repeat(1.0 / counts, counts) if len(target) else np.zeros(0)
    return Matches(target, pool, distance, weight)


def within_group_variance(
    coords: np.ndarray, strata: np.ndarray, group: np.ndarray, y: np.ndarray, *, j: int = 2
) -> np.ndarray:
    """Abadie-Imbens conditional variance of `y` per unit, by matching within its own group.

    Each unit is matched to its `j` nearest neighbours with the same treatment status (and
    stratum); ``sigma2 = j / (j + 1) * (y - mean of their y)^2``. Units with no such neighbour
    get their group's sample variance.
    """
    sigma2 = np.empty(len(y))
    for flag in (True, False):
        rows = np.flatnonzero(group == flag)
        pooled = float(np.var(y[rows], ddof=1)) if len(rows) > 1 else 0.0
        if len(rows) < 2:
            sigma2[rows] = pooled
            continue
        coords2 = np.asarray(coords, dtype=np.float64).reshape(len(strata), -1)
        shifted = _shifted(coords2, strata)
        tree = cKDTree(shifted[rows])
        kk = min(j + 1, len(rows))
        _, idx = tree.query(shifted[rows], k=kk)
        idx = idx.reshape(len(rows), kk)
        neighbour = rows[idx]
        not_self = neighbour != rows[:, None]
        same = not_self & (strata[neighbour] == strata[rows][:, None])
        # Keep at most j true neighbours (the query may or may not have returned the unit itself).
        same &= np.cumsum(same, axis=1) <= j
        count = same.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(same, y[neighbour], 0.0).sum(axis=1) / count
            est = count / (count + 1.0) * (y[rows] - mean) ** 2
        sigma2[rows] = np.where(count > 0, est, pooled)
    return sigma2
