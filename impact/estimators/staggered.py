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
    rows, infl, obs_infl = [], [], []
    empty_cells: list[str] = []
    for g in cohorts:
        treated = usable == g
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
                control = ~np.isfinite(usable)
            else:
                control = (usable > max(current, times[base]) + anticipation) & ~treated
            if not control.any():
                empty_cells.append(f"(g={g:g}, t={current:g})")
                continue
            keep = treated | control
            dy = y[keep, idx] - y[keep, base]
            x = panel.x[keep, base, :]
            att, psi = _two_by_two(dy, treated[keep], x, w[keep], adjustment)
            influence = np.zeros(n)
            influence[keep] = psi * n / keep.sum()
            wt = w * treated
            mean_t = float((wt * y[:, idx]).sum() / wt.sum())
            observed = np.where(treated, w * (y[:, idx] - mean_t) / wt.mean(), 0.0)
            rows.append(
                {
                    "cohort": g,
                    "time": current,
                    "event_time": current - g,
                    "base_time": times[base],
                    "post": bool(g <= current),
                    "att": att,
                    "observed": mean_t,
                    "n_treated": int(treated.sum()),
                    "n_control": int(control.sum()),
                }
            )
            infl.append(influence)
            obs_infl.append(observed)
    if empty_cells:
        notes.append(
            f"{len(empty_cells)} group-time cell(s) have no comparison unit and are not "
            f"estimated: {', '.join(empty_cells[:5])}{' ...' if len(empty_cells) > 5 else ''}"
        )
    table = pd.DataFrame(rows)
    if table.empty or not table["post"].any():
        raise EstimationError(
            "no post-treatment group-time effect can be estimated: every treated cohort lacks "
            f"a comparison group ({control_group}) in its treated periods. Use "
            "control_group='not_yet_treated' or add never-treated units."
        )
    return GroupTime(
        table=table,
        influence=np.column_stack(infl),
        observed_influence=np.column_stack(obs_infl),
        notes=tuple(notes),
    )


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


def _logit(d: np.ndarray, design: np.ndarray, w: np.ndarray, max_iter: int = 100) -> np.ndarray:
    """Fitted probabilities of a weighted logistic regression (Newton-Raphson)."""
    beta = np.zeros(design.shape[1])
    for _ in range(max_iter):
        p = 1 / (1 + np.exp(-np.clip(design @ beta, -30, 30)))
        hessian = (design * (w * p * (1 - p))[:, None]).T @ design
        if np.linalg.matrix_rank(hessian) < design.shape[1]:
            break
        step = np.linalg.solve(hessian, design.T @ (w * (d - p)))
        beta += step
        if np.max(np.abs(step)) < 1e-10:
            return 1 / (1 + np.exp(-np.clip(design @ beta, -30, 30)))
    raise EstimationError(
        "the propensity-score model did not converge in a group-time cell (the covariates "
        "separate treated from comparison units); use adjustment='regression' or fewer covariates"
    )
