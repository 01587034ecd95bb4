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
    ties: bool = False,
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
        ties: with replacement, also keep every pool row exactly as near as the `k`-th one
            (each match weighted 1 / count), as R's Matching (``ties=TRUE``) and Stata's
            ``nnmatch`` do; otherwise ties are broken by order.
    """
    coords = np.asarray(coords, dtype=np.float64).reshape(len(strata), -1)
    shifted = _shifted(coords, strata)
    if replace and shifted.shape[1] == 1:
        found = _nearest_sorted(shifted[:, 0], strata, targets, pool, k, max_distance)
        return _with_ties(found, shifted, pool) if ties else found
    tree = cKDTree(shifted[pool])
    if replace:
        kk = min(k, len(pool))
        dist, idx = tree.query(shifted[targets], k=kk, distance_upper_bound=max_distance)
        dist, idx = dist.reshape(len(targets), kk), idx.reshape(len(targets), kk)
        found = idx < len(pool)
        rows = np.repeat(np.arange(len(targets)), kk).reshape(len(targets), kk)
        safe = np.where(found, idx, 0)
        ok = found & (strata[pool[safe]] == strata[targets][:, None])
        matches = _pairs(targets[rows[ok]], pool[safe[ok]], dist[ok])
        return _with_ties(matches, shifted, pool, tree) if ties else matches
    if shifted.shape[1] == 1:
        return _greedy_sorted(shifted[:, 0], strata, targets, pool, k, max_distance, order)
    return _greedy(shifted, strata, targets, pool, tree, k, max_distance, order)


def _nearest_sorted(
    values: np.ndarray,
    strata: np.ndarray,
    targets: np.ndarray,
    pool: np.ndarray,
    k: int,
    max_distance: float,
) -> Matches:
    # One dimension: the k nearest lie in the window of k pool points either side of the
    # target's insertion point in the sorted pool (np.searchsorted), so no tree is needed.
    srt = _stable_order(values[pool])
    pool_sorted = pool[srt]
    sorted_values = values[pool_sorted]
    n = len(pool_sorted)
    pos = np.searchsorted(sorted_values, values[targets])
    offsets = np.arange(-k, k)
    cand = pos[:, None] + offsets[None, :]
    inside = (cand >= 0) & (cand < n)
    idx = pool_sorted[np.clip(cand, 0, n - 1)]
    dist = np.where(inside, np.abs(values[idx] - values[targets][:, None]), np.inf)
    kk = min(k, n)
    pick = _smallest(dist, kk)
    rows = np.arange(len(targets))[:, None]
    idx, dist = idx[rows, pick], dist[rows, pick]
    ok = np.isfinite(dist) & (dist <= max_distance) & (strata[idx] == strata[targets][:, None])
    target_rows = np.broadcast_to(targets[:, None], idx.shape)
    return _pairs(target_rows[ok], idx[ok], dist[ok])


def _stable_order(values: np.ndarray) -> np.ndarray:
    """``np.argsort(values, kind="stable")``, from the faster unstable sort when no two values
    tie (then both orders are the same), as continuous scores almost never do."""
    order = np.argsort(values)
    ordered = values[order]
    if bool((ordered[1:] > ordered[:-1]).all()):
        return order
    return np.argsort(values, kind="stable")


def _smallest(dist: np.ndarray, count: int) -> np.ndarray:
    """The columns of each row's `count` smallest values, smallest first: the first `count`
    columns of ``np.argsort(dist, axis=1, kind="stable")`` (ties go to the earlier column).

    A window of a few candidates per row is ranked by comparing columns pairwise, which is
    several times faster than a sort per row of a million short rows.
    """
    rows, width = dist.shape
    if width > 16:  # pairwise comparisons grow with the square of the width
        return np.argsort(dist, axis=1, kind="stable")[:, :count]
    columns = [np.ascontiguousarray(dist[:, c]) for c in range(width)]
    rank = [np.zeros(rows, dtype=np.int8) for _ in range(width)]
    for a in range(width):
        for b in range(a + 1, width):
            later_smaller = columns[b] < columns[a]  # ties: the earlier column ranks first
            rank[a] += later_smaller
            rank[b] += ~later_smaller
    pick = np.zeros((rows, count), dtype=np.int64)
    for column in range(width):
        chosen = np.flatnonzero(rank[column] < count)
        pick[chosen, rank[column][chosen]] = column
    return pick


def _greedy_sorted(
    values: np.ndarray,
    strata: np.ndarray,
    targets: np.ndarray,
    pool: np.ndarray,
    k: int,
    max_distance: float,
    order: np.ndarray | None,
) -> Matches:
    """Greedy matching without replacement on a line (a score).

    The pool is sorted once; two union-find chains point from any position to the nearest
    still-available pool unit on its right and on its left (with path compression), so each
    greedy step costs near-constant time instead of a fresh tree search. The loop is plain
    Python on lists, with the finds inlined: a million units match in about two seconds.
    """
    srt = _stable_order(values[pool])
    pool_sorted = pool[srt]
    sorted_values = values[pool_sorted]
    n = len(pool_sorted)
    vals = sorted_values.tolist()
    pool_strata = strata[pool_sorted].tolist()
    right = list(range(n + 1))  # right[i]: first available index >= i (n: none)
    left = list(range(n + 1))  # left[i + 1]: last available index <= i (0: none)
    positions = np.searchsorted(sorted_values, values[targets]).tolist()
    target_values = values[targets].tolist()
    target_strata = strata[targets].tolist()
    out_rows: list[int] = []
    out_at: list[int] = []
    out_d: list[float] = []
    for row in range(len(targets)) if order is None else order.tolist():
        x, stratum, pos = target_values[row], target_strata[row], positions[row]
        for _ in range(k):
            r = pos
            while right[r] != r:
                r = right[r]
            i = pos
            while right[i] != r:  # path compression: later searches jump straight there
                right[i], i = r, right[i]
            lo = pos
            while left[lo] != lo:
                lo = left[lo]
            i = pos
            while left[i] != lo:
                left[i], i = lo, left[i]
            lo -= 1
            best, best_d = -1, max_distance
            if r < n and pool_strata[r] == stratum:
                d = abs(vals[r] - x)
                if d <= best_d:
                    best, best_d = r, d
            if lo >= 0 and pool_strata[lo] == stratum:
                d = abs(vals[lo] - x)
                if d <= best_d and (best < 0 or d < best_d):  # ties go to the right
                    best, best_d = lo, d
            if best < 0:
                break
            right[best] = best + 1
            left[best + 1] = best
            out_rows.append(row)
            out_at.append(best)
            out_d.append(best_d)
    return _pairs(
        targets[np.asarray(out_rows, dtype=np.int64)],
        pool_sorted[np.asarray(out_at, dtype=np.int64)],
        np.asarray(out_d, dtype=np.float64),
    )


#: Targets whose candidate lists are fetched from the tree at once.
GREEDY_CHUNK = 4096


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
    """Greedy matching without replacement in several dimensions (one KD-tree query per
    chunk of targets, in `order`).

    Each target walks its candidates nearest first and takes the first unused ones. A list can
    run out while candidates remain, all of them taken by earlier targets; then the target asks
    the tree for more, and once most of the tree's points are taken, or a target needs many
    more, the tree is rebuilt from the pool units still free. The first unused candidate in a
    list is always the nearest free one, so this is exactly the sequential greedy algorithm; the
    rebuilds only keep a depleted neighbourhood from being searched again and again (without
    them, 100,000 units took minutes).
    """
    used = np.zeros(len(pool), dtype=bool)
    width = min(len(pool), max(4 * k, 16))
    rows = np.arange(len(targets)) if order is None else np.asarray(order)
    target_strata = strata[targets]
    pool_strata = strata[pool]
    live = np.arange(len(pool))  # the pool units (indices into `pool`) in the current tree
    stale = 0  # of them, taken since the tree was built
    out_t: list[int] = []
    out_p: list[int] = []
    out_d: list[float] = []

    def candidates(point: np.ndarray, count: int) -> tuple[list[float], list[int], bool]:
        """The `count` nearest tree points as pool indices, and whether the tree holds more
        points within reach than the list."""
        count = min(count, len(live))
        dist, idx = tree.query(point, k=count, distance_upper_bound=max_distance)
        dist, idx = np.atleast_1d(dist), np.atleast_1d(idx)
        found = idx < len(live)
        ids = np.where(found, live[np.where(found, idx, 0)], -1)
        return dist.tolist(), ids.tolist(), bool(found.all()) and count < len(live)

    def walk(
        stratum: int, dist: list[float], ids: list[int], taken: int, target: int
    ) -> tuple[int, bool]:
        """Take unused candidates in order; return how many now and whether the list ended
        with every member taken (more may lie beyond it)."""
        nonlocal stale
        for d, i in zip(dist, ids, strict=True):
            if i < 0 or pool_strata[i] != stratum:
                return taken, False  # nearest first: nothing beyond is within reach
            if not used[i]:
                used[i] = True
                stale += 1
                out_t.append(target)
                out_p.append(int(pool[i]))
                out_d.append(d)
                taken += 1
                if taken == k:
                    return taken, False
        return taken, True

    for first in range(0, len(rows), GREEDY_CHUNK):
        if not len(live):
            break
        chunk = rows[first : first + GREEDY_CHUNK]
        count = min(width, len(live))
        dist, idx = tree.query(shifted[targets[chunk]], k=count, distance_upper_bound=max_distance)
        dist, idx = dist.reshape(len(chunk), count), idx.reshape(len(chunk), count)
        found = idx < len(live)
        ids = np.where(found, live[np.where(found, idx, 0)], -1)
        truncated = count < len(live)  # the tree holds more than each list
        for row, d_row, i_row in zip(chunk.tolist(), dist.tolist(), ids.tolist(), strict=True):
            stratum, target = int(target_strata[row]), int(targets[row])
            taken, ran_out = walk(stratum, d_row, i_row, 0, target)
            depth, more_exist = count, truncated
            while ran_out and more_exist and len(live):
                if 2 * stale > len(live) or depth >= 4 * width:
                    # most of the tree is taken, or this neighbourhood is: rebuild it from the
                    # free units, so searches stop wading through taken ones
                    live, stale = np.flatnonzero(~used), 0
                    if not len(live):
                        break
                    tree = cKDTree(shifted[pool[live]])
                    depth = width
                else:
                    depth = min(2 * depth, len(live))
                d_all, i_all, more_exist = candidates(shifted[target], depth)
                taken, ran_out = walk(stratum, d_all, i_all, taken, target)
    return _pairs(
        np.asarray(out_t, dtype=np.int64),
        np.asarray(out_p, dtype=np.int64),
        np.asarray(out_d, dtype=np.float64),
    )


TIE_RTOL = 1e-10  # distances this close (relatively) to the k-th count as tied


def _with_ties(
    m: Matches, shifted: np.ndarray, pool: np.ndarray, tree: cKDTree | None = None
) -> Matches:
    """Extend `m` (k nearest per target) with every pool row tied with each target's k-th.

    Rows of other strata are never within reach: strata are shifted apart by more than any
    distance inside one (see `_shifted`).
    """
    if not len(m.target):
        return m
    starts = np.flatnonzero(np.r_[True, m.target[1:] != m.target[:-1]])
    ends = np.r_[starts[1:], len(m.target)]
    targets = m.target[starts]
    reach = np.maximum.reduceat(m.distance, starts) * (1 + TIE_RTOL) + 1e-300
    if shifted.shape[1] == 1:
        values = shifted[pool, 0]
        order = _stable_order(values)
        sorted_values = values[order]
        x = shifted[targets, 0]
        lo = np.searchsorted(sorted_values, x - reach, side="left")
        hi = np.searchsorted(sorted_values, x + reach, side="right")
        counts = hi - lo
        offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
        picked = order[np.repeat(lo, counts) + offsets]
        dist = np.abs(values[picked] - np.repeat(x, counts))
        keep = dist <= np.repeat(reach, counts)
        return _pairs(np.repeat(targets, counts)[keep], pool[picked[keep]], dist[keep])
    tree = tree if tree is not None else cKDTree(shifted[pool])
    near = tree.query_ball_point(shifted[targets], r=reach)
    counts = np.fromiter((len(v) for v in near), dtype=np.int64, count=len(near))
    if (counts <= ends - starts).all():
        return m  # no ties anywhere
    picked = np.fromiter((i for v in near for i in v), dtype=np.int64, count=int(counts.sum()))
    owners = np.repeat(targets, counts)
    dist = np.sqrt(((shifted[pool[picked]] - shifted[owners]) ** 2).sum(axis=1))
    return _pairs(owners, pool[picked], dist)


def _pairs(target: np.ndarray, pool: np.ndarray, distance: np.ndarray) -> Matches:
    order = np.argsort(target, kind="stable")
    target, pool, distance = target[order], pool[order], distance[order]
    if not len(target):
        return Matches(target, pool, distance, np.zeros(0))
    # Sorted, so run lengths are match counts (np.unique would hash a million ids: slower).
    starts = np.flatnonzero(np.r_[True, target[1:] != target[:-1]])
    counts = np.diff(np.r_[starts, len(target)])
    weight = np.repeat(1.0 / counts, counts)
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
    coords = np.asarray(coords, dtype=np.float64).reshape(len(strata), -1)
    shifted = _shifted(coords, strata)
    for flag in (True, False):
        rows = np.flatnonzero(group == flag)
        pooled = float(np.var(y[rows], ddof=1)) if len(rows) > 1 else 0.0
        if len(rows) < 2:
            sigma2[rows] = pooled
            continue
        if shifted.shape[1] == 1:
            neighbour, same = _sorted_neighbours(shifted[rows, 0], j)
            neighbour = rows[neighbour]
        else:
            kk = min(j + 1, len(rows))
            _, idx = cKDTree(shifted[rows]).query(shifted[rows], k=kk)
            neighbour = rows[idx.reshape(len(rows), kk)]
            same = neighbour != rows[:, None]
        same &= strata[neighbour] == strata[rows][:, None]
        # Keep at most j true neighbours (the query may or may not have returned the unit itself).
        same &= np.cumsum(same, axis=1) <= j
        count = same.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(same, y[neighbour], 0.0).sum(axis=1) / count
            est = count / (count + 1.0) * (y[rows] - mean) ** 2
        sigma2[rows] = np.where(count > 0, est, pooled)
    return sigma2


def _sorted_neighbours(values: np.ndarray, j: int) -> tuple[np.ndarray, np.ndarray]:
    """The `j` nearest other points of each point on a line, from a window of the sorted order.

    Returns (index, valid) arrays of shape (n, j), nearest first. The window's distances are
    differences of shifted slices of the sorted values (no gathers), ranked by :func:`_smallest`.
    """
    n = len(values)
    srt = _stable_order(values)
    ordered = values[srt]
    offsets = np.r_[np.arange(-j, 0), np.arange(1, j + 1)]
    padded = np.concatenate([np.full(j, np.inf), ordered, np.full(j, np.inf)])  # ends: inf
    dist = np.empty((n, len(offsets)))
    for c, o in enumerate(offsets):
        np.abs(padded[j + o : j + o + n] - ordered, out=dist[:, c])
    pick = _smallest(dist, j)
    valid = np.isfinite(np.take_along_axis(dist, pick, axis=1))
    position = np.clip(np.arange(n)[:, None] + offsets[pick], 0, n - 1)
    index, ok = np.empty((n, j), dtype=np.int64), np.empty((n, j), dtype=bool)
    index[srt], ok[srt] = srt[position], valid  # back from sorted order to the input's
    return index, ok
