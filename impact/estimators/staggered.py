"""Callaway and Sant'Anna (2021) group-time effects ATT(g, t) for staggered adoption.

Each ATT(g, t) is a 2x2 comparison of the cohort first treated in period g with a comparison
group (never treated, or not yet treated by t), between period t and a base period (g - 1 -
anticipation after treatment; t - 1 before it: R `did`'s "varying" base period). Every
estimate carries its influence function (one value per unit), so aggregations and their
standard errors follow by linear algebra; see :mod:`impact.estimators.aggregation`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from impact.errors import EstimationError
from impact.estimators.panels import Wide
from impact.estimators.propensity import logit_fit, logit_probabilities

ControlGroup = Literal["never_treated", "not_yet_treated"]
Adjustment = Literal["none", "regression", "doubly_robust"]


@dataclass(frozen=True, slots=True)
class GroupTime:
    """Every ATT(g, t) with its influence function (units x cells) and the per-cell means."""

    table: pd.DataFrame  # cohort, time, event_time, att, post, n_treated, n_control, ...
    influence: np.ndarray
    observed_influence: np.ndarray  # of the cohort's observed mean outcome at t
    notes: tuple[str, ...]


def group_time(
    panel: Wide,
    *,
    control_group: ControlGroup,
    anticipation: int = 0,
    adjustment: Adjustment = "none",
) -> GroupTime:
    """ATT(g, t) for every treated cohort g and every period t after the first."""
    g_unit, times, y, w = panel.cohort, panel.times, panel.y, panel.weights
    n = len(g_unit)
    notes: list[str] = []
    cohorts = np.unique(g_unit[np.isfinite(g_unit)])
    if not len(cohorts):
        raise EstimationError(
            "no unit is ever treated in the panel window: the cohort column is empty, zero or "
            "after the last period for every unit"
        )
    never = ~np.isfinite(g_unit)
    usable = g_unit.copy()
    last_period = times[-1]
    if control_group == "never_treated" and not never.any():
        raise EstimationError(
            "control_group='never_treated' but every unit is treated eventually; use "
            "control_group='not_yet_treated' (compares with units treated later)"
        )
    if control_group == "not_yet_treated" and not never.any():
        # as R's `did`: the last cohort becomes the comparison group, periods from its
        # treatment on are dropped
        last = cohorts.max()
        usable = np.where(g_unit == last, np.inf, g_unit)
        cohorts = cohorts[cohorts < last]
        last_period = last - anticipation - 1
        notes.append(
            f"no unit is never treated: the last cohort (first treated in period {last:g}) "
            f"serves as the comparison group, and periods from {last - anticipation:g} on are "
            "not used"
        )
        if not len(cohorts):
            raise EstimationError(
                "every treated unit starts in the same period and no unit is never treated: "
                "there is no comparison group for a DiD"
            )
    # Units grouped by cohort: a cell's treated units are one cohort and its comparison units
    # a few others, so each cell reads only their rows (outcomes one column per period).
    blocks = {value: np.flatnonzero(usable == value) for value in np.unique(usable)}
    outcomes = {value: np.asfortranarray(y[rows]) for value, rows in blocks.items()}
    most = len(cohorts) * (len(times) - 1)
    influence = np.zeros((n, most), order="F")
    observed_influence = np.zeros((n, most), order="F")
    rows_out: list[dict[str, object]] = []
    empty_cells: list[str] = []
    for g in cohorts:
        treated = blocks[g]
        for idx in range(1, len(times)):
            current = times[idx]
            if current > last_period:
                break
            if g <= current:
                earlier = np.flatnonzero(times + anticipation < g)
                if not len(earlier):
                    empty_cells.append(f"(g={g:g}, t={current:g}): no base period")
                    continue
                base = earlier[-1]
            else:
                base = idx - 1
            if control_group == "never_treated":
                comparison = [np.inf] if np.inf in blocks else []
            else:
                cutoff = max(current, times[base]) + anticipation
                comparison = [value for value in blocks if value > cutoff and value != g]
            if not comparison:
                empty_cells.append(f"(g={g:g}, t={current:g})")
                continue
            k = len(rows_out)
            if adjustment == "none":
                att = _difference_in_means(
                    g, comparison, blocks, outcomes, w, idx, base, influence[:, k]
                )
            else:
                keep = np.concatenate([treated, *(blocks[value] for value in comparison)])
                dy = y[keep, idx] - y[keep, base]
                is_treated = np.zeros(len(keep), dtype=bool)
                is_treated[: len(treated)] = True
                att, psi = _two_by_two(dy, is_treated, panel.x[keep, base, :], w[keep], adjustment)
                influence[keep, k] = psi * n / len(keep)
            w_treated = w[treated]
            level = outcomes[g][:, idx]
            total = w_treated.sum()
            mean_t = float(w_treated @ level / total)
            observed_influence[treated, k] = w_treated * (level - mean_t) * (n / total)
            rows_out.append(
                {
                    "cohort": g,
                    "time": current,
                    "event_time": current - g,
                    "base_time": times[base],
                    "post": bool(g <= current),
                    "att": att,
                    "observed": mean_t,
                    "n_treated": len(treated),
                    "n_control": sum(len(blocks[value]) for value in comparison),
                }
            )
    if empty_cells:
        notes.append(
            f"{len(empty_cells)} group-time cell(s) have no comparison unit and are not "
            f"estimated: {', '.join(empty_cells[:5])}{' ...' if len(empty_cells) > 5 else ''}"
        )
    table = pd.DataFrame(rows_out)
    if table.empty or not table["post"].any():
        raise EstimationError(
            "no post-treatment group-time effect can be estimated: every treated cohort lacks "
            f"a comparison group ({control_group}) in its treated periods. Use "
            "control_group='not_yet_treated' or add never-treated units."
        )
    return GroupTime(
        table=table,
        influence=influence[:, : len(table)],
        observed_influence=observed_influence[:, : len(table)],
        notes=tuple(notes),
    )


def _difference_in_means(
    g: float,
    comparison: list[float],
    blocks: dict[float, np.ndarray],
    outcomes: dict[float, np.ndarray],
    w: np.ndarray,
    idx: int,
    base: int,
    influence: np.ndarray,
) -> float:
    """ATT(g, t) without covariates, writing its influence function into `influence`.

    The outcome regression on an intercept alone: the treated cohort's mean change minus the
    comparison units' (weighted), and the influence ``n w_i (dy_i - mean) / W`` of each side
    (minus on the comparison side), as the general :func:`_outcome_regression` gives.
    """
    n = len(w)
    change_t = outcomes[g][:, idx] - outcomes[g][:, base]
    w_t = w[blocks[g]]
    total_t = w_t.sum()
    eta_t = float(w_t @ change_t) / total_t
    changes = [outcomes[v][:, idx] - outcomes[v][:, base] for v in comparison]
    weights = [w[blocks[v]] for v in comparison]
    total_c = sum(float(wc.sum()) for wc in weights)
    eta_c = sum(float(wc @ dc) for wc, dc in zip(weights, changes, strict=True)) / total_c
    influence[blocks[g]] = w_t * (change_t - eta_t) * (n / total_t)
    for value, wc, dc in zip(comparison, weights, changes, strict=True):
        influence[blocks[value]] = -wc * (dc - eta_c) * (n / total_c)
    return eta_t - eta_c


def _two_by_two(
    dy: np.ndarray, d: np.ndarray, x: np.ndarray, w: np.ndarray, adjustment: Adjustment
) -> tuple[float, np.ndarray]:
    """ATT on outcome changes and its influence function (Sant'Anna and Zhao 2020, panel)."""
    ones = np.ones((len(dy), 1))
    design = np.column_stack([ones, x]) if adjustment != "none" else ones
    if adjustment == "doubly_robust":
        return _doubly_robust(dy, d.astype(float), design, w)
    return _outcome_regression(dy, d.astype(float), design, w)


def _outcome_regression(
    dy: np.ndarray, d: np.ndarray, design: np.ndarray, w: np.ndarray
) -> tuple[float, np.ndarray]:
    """Outcome-regression DiD: the comparison group's change, predicted for the treated."""
    control_w = w * (1 - d)
    xtx = (design * control_w[:, None]).T @ design
    if np.linalg.matrix_rank(xtx) < design.shape[1]:
        raise EstimationError(
            "the covariates are collinear (or constant) among the comparison units of a "
            "group-time cell; drop one"
        )
    beta = np.linalg.solve(xtx, (design * control_w[:, None]).T @ dy)
    predicted = design @ beta
    w_treat = w * d
    eta_treat = (w_treat * dy).sum() / w_treat.sum()
    eta_control = (w_treat * predicted).sum() / w_treat.sum()
    n = len(dy)
    # the estimated regression's own influence (asymptotic linear representation of beta)
    score = (control_w * (dy - predicted))[:, None] * design
    lin_rep = score @ np.linalg.inv(xtx / n)
    m1 = (w_treat[:, None] * design).mean(axis=0)
    inf_treat = (w_treat * dy - w_treat * eta_treat) / w_treat.mean()
    inf_control = (w_treat * predicted - w_treat * eta_control + lin_rep @ m1) / w_treat.mean()
    return float(eta_treat - eta_control), inf_treat - inf_control


def _doubly_robust(
    dy: np.ndarray, d: np.ndarray, design: np.ndarray, w: np.ndarray
) -> tuple[float, np.ndarray]:
    """Doubly robust DiD (Sant'Anna and Zhao 2020, `drdid_panel`): logit propensity score and a
    linear outcome model among comparison units; consistent if either is right."""
    n = len(dy)
    ps = np.clip(_logit(d, design, w), 1e-16, 1 - 1e-6)
    control_w = w * (1 - d)
    xtx = (design * control_w[:, None]).T @ design
    beta = np.linalg.solve(xtx, (design * control_w[:, None]).T @ dy)
    predicted = design @ beta
    w_treat = w * d
    w_cont = w * ps * (1 - d) / (1 - ps)
    att_treat = w_treat * (dy - predicted)
    att_cont = w_cont * (dy - predicted)
    eta_treat = att_treat.mean() / w_treat.mean()
    eta_cont = att_cont.mean() / w_cont.mean()
    # influence of the outcome regression
    score_ols = (control_w * (dy - predicted))[:, None] * design
    lin_ols = score_ols @ np.linalg.inv(xtx / n)
    # influence of the logit
    hessian = (design * (w * ps * (1 - ps))[:, None]).T @ design / n
    lin_ps = (w * (d - ps))[:, None] * design @ np.linalg.inv(hessian)
    inf_treat_1 = att_treat - w_treat * eta_treat
    m1 = (w_treat[:, None] * design).mean(axis=0)
    inf_treat = (inf_treat_1 - lin_ols @ m1) / w_treat.mean()
    inf_cont_1 = att_cont - w_cont * eta_cont
    m2 = ((w_cont * (dy - predicted - eta_cont))[:, None] * design).mean(axis=0)
    m3 = (w_cont[:, None] * design).mean(axis=0)
    inf_control = (inf_cont_1 + lin_ps @ m2 - lin_ols @ m3) / w_cont.mean()
    return float(eta_treat - eta_cont), inf_treat - inf_control


def _logit(d: np.ndarray, design: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Fitted probabilities of a weighted logistic regression (Newton-Raphson)."""
    beta = logit_fit(design, d, w)
    if beta is not None:
        return logit_probabilities(design, beta)
    raise EstimationError(
        "the propensity-score model did not converge in a group-time cell (the covariates "
        "separate treated from comparison units); use adjustment='regression' or fewer covariates"
    )
