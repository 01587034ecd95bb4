"""Aggregate group-time effects ATT(g, t) into the summaries a reader wants.

"simple" (one number: every treated cell weighted by cohort size), "dynamic" (an event study by
time since adoption), "group" (by cohort) and "calendar" (by period), with the influence
function of each aggregate. Weights are estimated cohort shares, so their own sampling noise
enters the influence function (the `wif` term of Callaway and Sant'Anna, 2021, section 4).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

Aggregation = Literal["simple", "dynamic", "group", "calendar"]
AGGREGATIONS: tuple[Aggregation, ...] = ("simple", "dynamic", "group", "calendar")


@dataclass(frozen=True, slots=True)
class Aggregate:
    """Aggregated effects: one row per label (event time, cohort, period; "overall" for the
    summary) with the estimate, and each row's influence function as a column."""

    labels: list[float | str]
    estimates: np.ndarray
    influence: np.ndarray  # units x labels
    overall: float
    overall_influence: np.ndarray


def aggregate(
    kind: Aggregation,
    cells: pd.DataFrame,
    influence: np.ndarray,
    cohort_of_unit: np.ndarray,
    weights: np.ndarray,
    *,
    values: str = "att",
) -> Aggregate:
    """Aggregate column `values` of `cells` (one row per ATT(g, t)) as R's `did::aggte` does.

    Every aggregate is a weighted mean of cells, so all of one kind's influence functions come
    from one matrix product (units x cells times cells x labels) plus the weights' own
    influence, which depends on a unit only through its cohort (see :func:`_weighted`).
    """
    att = cells[values].to_numpy(np.float64)
    group = cells["cohort"].to_numpy(np.float64)
    time = cells["time"].to_numpy(np.float64)
    cohorts, cell_cohort = np.unique(group, return_inverse=True)
    # each unit's cohort as an index into `cohorts`; units of no cohort (never treated) get
    # the extra index len(cohorts), whose weight influence is zero
    place = np.searchsorted(cohorts, cohort_of_unit).clip(max=len(cohorts) - 1)
    unit_cohort = np.where(cohorts[place] == cohort_of_unit, place, len(cohorts))
    pg = np.array([np.mean(weights * (cohort_of_unit == g)) for g in cohorts])
    share = pg[cell_cohort]
    combine = _Combine(att, influence, share, cell_cohort, unit_cohort, weights, len(cohorts))
    if kind == "simple":
        est, inf = combine.weighted([np.flatnonzero(group <= time)])
        return Aggregate(["overall"], est, inf, float(est[0]), inf[:, 0])
    if kind == "dynamic":
        event = time - group
        labels = sorted(np.unique(event))
        ests, inf_mat = combine.weighted([np.flatnonzero(event == e) for e in labels])
        post = np.array(labels) >= 0
        return Aggregate(
            [float(e) for e in labels],
            ests,
            inf_mat,
            float(np.mean(ests[post])),
            inf_mat[:, post].mean(axis=1),
        )
    if kind == "group":
        keeps = [np.flatnonzero((group == g) & (g <= time)) for g in cohorts]
        est_arr, inf_mat = combine.averaged(keeps)
        overall = float((est_arr * pg).sum() / pg.sum())
        # the cohort shares are estimated too: their influence enters the overall effect
        by_cohort = _Combine(
            est_arr, inf_mat, pg, np.arange(len(cohorts)), unit_cohort, weights, len(cohorts)
        )
        _, overall_inf = by_cohort.weighted([np.arange(len(cohorts))])
        return Aggregate([float(g) for g in cohorts], est_arr, inf_mat, overall, overall_inf[:, 0])
    if kind == "calendar":
        periods = sorted(np.unique(time[time >= group.min()]))
        ests, inf_mat = combine.weighted(
            [np.flatnonzero((time == t) & (group <= t)) for t in periods]
        )
        return Aggregate(
            [float(t) for t in periods],
            ests,
            inf_mat,
            float(np.mean(ests)),
            inf_mat.mean(axis=1),
        )
    raise ValueError(f"aggregation must be one of {list(AGGREGATIONS)}, got {kind!r}")


@dataclass(frozen=True, slots=True)
class _Combine:
    """Weighted means of estimates (`att`, one per cell) and their influence functions."""

    att: np.ndarray
    influence: np.ndarray  # units x cells
    share: np.ndarray  # each cell's weight: its cohort's (estimated) share of units
    cell_cohort: np.ndarray  # each cell's cohort, as an index
    unit_cohort: np.ndarray  # each unit's cohort index (n_cohorts: none)
    weights: np.ndarray  # unit weights
    n_cohorts: int

    def weighted(self, selections: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Cohort-share weighted means of each selection of cells, with influence functions.

        The weights ``share[k] / sum(share[keep])`` are estimated, which adds to each unit's
        influence (the `wif` term of Callaway and Sant'Anna, 2021): the derivative of the
        weighted mean in unit i's contribution to the shares, ``(w_i 1[g_i = g_k] - share_k)``.
        Summed over a selection's cells it is ``w_i * B[g_i]``, with ``B[g] = A(g) / total -
        count(g) * (share . att) / total**2``, `A(g)` and `count(g)` the sum of `att` and the
        number of selected cells of cohort g: one value per cohort, not a units x cells matrix.
        """
        estimates = np.empty(len(selections))
        # one column at a time, from the selected cells' columns only: the selections are
        # small and mostly disjoint, so this reads the units x cells matrix about once
        out = np.empty((len(self.weights), len(selections)), order="F")
        by_cohort = np.zeros(self.n_cohorts + 1)
        for j, keep in enumerate(selections):
            total = self.share[keep].sum()
            mix = self.share[keep] / total
            estimates[j] = float((self.att[keep] * mix).sum())
            weighted_att = float(self.share[keep] @ self.att[keep])
            codes = self.cell_cohort[keep]
            sums = np.bincount(codes, weights=self.att[keep], minlength=self.n_cohorts)
            counts = np.bincount(codes, minlength=self.n_cohorts)
            by_cohort[: self.n_cohorts] = sums / total - counts * weighted_att / total**2
            out[:, j] = self.influence[:, keep] @ mix
            out[:, j] += self.weights * by_cohort[self.unit_cohort]
        return estimates, out

    def averaged(self, selections: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Plain means of each selection of cells (equal weights, not estimated)."""
        estimates = np.empty(len(selections))
        out = np.empty((len(self.weights), len(selections)), order="F")
        for j, keep in enumerate(selections):
            if not len(keep):  # a cohort with no cell to average (as np.mean of nothing)
                out[:, j], estimates[j] = np.nan, np.nan
                continue
            estimates[j] = self.att[keep].mean()
            out[:, j] = self.influence[:, keep].mean(axis=1)
        return estimates, out
