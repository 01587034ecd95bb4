"""Simulation studies with known, time-varying effects.

Callaway-Sant'Anna's 95% intervals must cover the true simple ATT in 94-96% of draws, and a
placebo (no effect at all) must be rejected about 5% of the time, while two-way fixed effects
is visibly biased by the growing effects. Panels are simulated directly (small, in numpy) and
each draw goes through the same group-time and aggregation code the estimator uses, with the
analytic influence-function SE (the bootstrap is checked against it in the reference tests).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from impact.estimators.aggregation import aggregate
from impact.estimators.panels import Wide
from impact.estimators.staggered import group_time
from impact.estimators.twfe import demean

pytestmark = pytest.mark.calibration

N_DRAWS = 1000  # coverage has a Monte Carlo SE of 0.7 points
N_UNITS, N_PERIODS, COHORTS = 120, 8, (3, 5, 7)
Z = stats.norm.ppf(0.975)


def _draw(rng: np.random.Generator, slope: float) -> tuple[Wide, float]:
    g = np.where(rng.random(N_UNITS) < 0.3, np.inf, rng.choice(COHORTS, N_UNITS))
    t = np.arange(1, N_PERIODS + 1, dtype=float)
    e = t[None, :] - g[:, None]
    post = e >= 0
    effect = np.zeros_like(e)
    effect[post] = slope * (e[post] + 1)  # grows with time since adoption
    # heteroskedastic, serially correlated errors, unit and period effects
    noise = rng.normal(0, 1, (N_UNITS, N_PERIODS)) * rng.uniform(0.5, 2, (N_UNITS, 1))
    noise = noise + 0.5 * np.roll(noise, 1, axis=1)
    y = 10 + rng.normal(0, 2, (N_UNITS, 1)) + rng.normal(0, 1, (1, N_PERIODS)) + effect + noise
    units = np.arange(N_UNITS)
    panel = Wide(
        units=units,
        times=t,
        y=y,
        cohort=g,
        weights=np.ones(N_UNITS),
        clusters=units,
        x=np.zeros((N_UNITS, N_PERIODS, 0)),
    )
    return panel, float(effect[post].mean())


def _twfe(panel: Wide) -> float:
    n, periods = panel.y.shape
    unit = np.repeat(np.arange(n), periods)
    time = np.tile(np.arange(periods), n)
    d = (panel.times[None, :] >= panel.cohort[:, None]).ravel().astype(float)
    tilde = demean(np.column_stack([panel.y.ravel(), d]), unit, time, np.ones(n * periods))
    return float(tilde[:, 1] @ tilde[:, 0] / (tilde[:, 1] @ tilde[:, 1]))


def _study(slope: float, control_group: str, seed: int, draws: int) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    covered, rejected, errors, twfe_errors = 0, 0, [], []
    for _ in range(draws):
        panel, truth = _draw(rng, slope)
        cells = group_time(panel, control_group=control_group)
        agg = aggregate("simple", cells.table, cells.influence, panel.cohort, panel.weights)
        se = np.sqrt((agg.overall_influence**2).sum()) / N_UNITS
        covered += abs(agg.overall - truth) <= Z * se
        rejected += abs(agg.overall) > Z * se
        errors.append(agg.overall - truth)
        twfe_errors.append(_twfe(panel) - truth)
    return {
        "coverage": covered / draws,
        "rejection": rejected / draws,
        "bias": float(np.mean(errors)),
        "bias_se": float(np.std(errors) / np.sqrt(draws)),
        "twfe_bias": float(np.mean(twfe_errors)),
        "twfe_bias_se": float(np.std(twfe_errors) / np.sqrt(draws)),
    }


def test_callaway_santanna_covers_growing_effects_where_twfe_is_biased() -> None:
    # measured: coverage 0.951 (not yet treated; 0.948 with never-treated comparisons)
    result = _study(slope=-0.5, control_group="not_yet_treated", seed=11, draws=N_DRAWS)
    assert 0.94 <= result["coverage"] <= 0.96, result
    assert abs(result["bias"]) < 3 * result["bias_se"], result
    # TWFE: biased towards zero by the forbidden (already-treated) comparisons
    assert result["twfe_bias"] > 10 * result["twfe_bias_se"], result


def test_no_effect_is_rejected_at_the_nominal_rate() -> None:
    # measured: rejection 0.065, coverage 0.935 (36 never-treated units as the comparison)
    result = _study(slope=0.0, control_group="never_treated", seed=12, draws=600)
    assert 0.03 <= result["rejection"] <= 0.07, result


def test_few_clusters_bootstrap_t_coverage_and_pre_trend_size() -> None:
    """14 teams (9 treated in 3 waves): the estimator's few-cluster regime, via its own
    inference helpers (bootstrap SE, t(G - 1) interval; F-form pre-trend test)."""
    from impact.estimators.did import StaggeredDiD, _infer, _pre_trend

    rng = np.random.default_rng(21)
    cohort = np.array([5.0] * 3 + [7.0] * 3 + [9.0] * 3 + [np.inf] * 5)
    n, periods, draws = len(cohort), 12, 400
    spec = StaggeredDiD(n_boot=199)
    t = np.arange(1, periods + 1, dtype=float)
    e = t[None, :] - cohort[:, None]
    post = e >= 0
    effect = np.zeros_like(e)
    effect[post] = -1.0 * (1 - np.exp(-(e[post] + 1) / 4))
    truth = float(effect[post].mean())
    covered = flagged = 0
    for _ in range(draws):
        y = (
            15
            + rng.normal(0, 1, (n, 1))
            + rng.normal(0, 1, (1, periods))
            + effect
            + rng.normal(0, 0.8, (n, periods))
        )
        panel = Wide(
            units=np.arange(n),
            times=t,
            y=y,
            cohort=cohort,
            weights=np.ones(n),
            clusters=np.arange(n),
            x=np.zeros((n, periods, 0)),
        )
        cells = group_time(panel, control_group="not_yet_treated")
        agg = aggregate("simple", cells.table, cells.influence, cohort, panel.weights)
        inf = _infer(
            np.array([agg.overall]),
            agg.overall_influence[:, None],
            panel.clusters,
            spec,
            use_boot=True,
        )
        covered += abs(agg.overall - truth) <= inf.crit * inf.std_error[0]
        check = _pre_trend(
            spec,
            cells.influence,
            cells.table,
            cohort,
            panel.weights,
            panel.clusters,
            [],
            few_clusters=True,
        )
        flagged += not check[0].passed
    # measured: coverage 0.9475, pre-trend false alarms 0.065 (nominal 0.05)
    assert 0.925 <= covered / draws <= 0.965, covered / draws
    assert flagged / draws <= 0.10, flagged / draws
