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
    """Aggregate column `values` of `cells` (one row per ATT(g, t)) as R's `did::aggte` does."""
    att = cells[values].to_numpy(np.float64)
    group = cells["cohort"].to_numpy(np.float64)
    time = cells["time"].to_numpy(np.float64)
    share = np.array([np.mean(weights * (cohort_of_unit == g)) for g in group])
    if kind == "simple":
        keep = np.flatnonzero(group <= time)
        est, inf = _weighted(att, influence, keep, share, cohort_of_unit, weights, group)
        return Aggregate(["overall"], np.array([est]), inf[:, None], est, inf)
    if kind == "dynamic":
        event = time - group
        labels = sorted(np.unique(event))
        ests, infs = [], []
        for e in labels:
            keep = np.flatnonzero(event == e)
            est, inf = _weighted(att, influence, keep, share, cohort_of_unit, weights, group)
            ests.append(est)
            infs.append(inf)
        post = np.array(labels) >= 0
        inf_mat = np.column_stack(infs)
        return Aggregate(
            [float(e) for e in labels],
            np.array(ests),
            inf_mat,
            float(np.mean(np.array(ests)[post])),
            inf_mat[:, post].mean(axis=1),
        )
    if kind == "group":
        cohorts = sorted(np.unique(group))
        ests, infs, pg = [], [], []
        for g in cohorts:
            keep = np.flatnonzero((group == g) & (g <= time))
            ests.append(att[keep].mean())
            infs.append(influence[:, keep].mean(axis=1))
            pg.append(np.mean(weights * (cohort_of_unit == g)))
        est_arr, inf_mat, pg_arr = np.array(ests), np.column_stack(infs), np.array(pg)
        overall = float((est_arr * pg_arr).sum() / pg_arr.sum())
        wif = _weight_influence(
            np.arange(len(cohorts)), pg_arr, cohort_of_unit, weights, np.array(cohorts)
        )
        overall_inf = inf_mat @ (pg_arr / pg_arr.sum()) + wif @ est_arr
        return Aggregate([float(g) for g in cohorts], est_arr, inf_mat, overall, overall_inf)
    if kind == "calendar":
        periods = sorted(np.unique(time[time >= group.min()]))
        ests, infs = [], []
        for t in periods:
            keep = np.flatnonzero((time == t) & (group <= t))
            est, inf = _weighted(att, influence, keep, share, cohort_of_unit, weights, group)
            ests.append(est)
            infs.append(inf)
        inf_mat = np.column_stack(infs)
        return Aggregate(
            [float(t) for t in periods],
            np.array(ests),
            inf_mat,
            float(np.mean(ests)),
            inf_mat.mean(axis=1),
        )
    raise ValueError(f"aggregation must be one of {list(AGGREGATIONS)}, got {kind!r}")


def _weighted(
    att: np.ndarray,
    influence: np.ndarray,
    keep: np.ndarray,
    share: np.ndarray,
    cohort_of_unit: np.ndarray,
    weights: np.ndarray,
    group: np.ndarray,
) -> tuple[float, np.ndarray]:
    """Cohort-share weighted mean of cells `keep`, with its influence function."""
    w = share[keep] / share[keep].sum()
    est = float((att[keep] * w).sum())
    wif = _weight_influence(keep, share, cohort_of_unit, weights, group)
    return est, influence[:, keep] @ w + wif @ att[keep]


def _weight_influence(
    keep: np.ndarray,
    share: np.ndarray,
    cohort_of_unit: np.ndarray,
    weights: np.ndarray,
    group: np.ndarray,
) -> np.ndarray:
    """Influence of the estimated weights ``share[k] / sum(share[keep])`` (units x cells)."""
    total = share[keep].sum()
    member = np.column_stack([weights * (cohort_of_unit == group[k]) - share[k] for k in keep])
    return member / total - np.outer(member.sum(axis=1), share[keep] / total**2)
