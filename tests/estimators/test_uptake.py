"""The per-use (Wald) rescaling: equals the A/B CACE, is calibrated, refuses a weak first stage."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

import impact
from impact.errors import EstimationError
from impact.estimators.uptake import per_use
from impact.result import Effect


def effect(
    estimate: float,
    se: float,
    *,
    outcome: str = "handle_time_minutes",
    crit: float = 1.959963984540054,
    baseline: float = 15.0,
) -> Effect:
    lift_se = se / baseline
    return Effect(
        outcome=outcome,
        method="m",
        estimand="ATT",
        estimate=estimate,
        std_error=se,
        ci_low=estimate - crit * se,
        ci_high=estimate + crit * se,
        p_value=float(2 * stats.norm.sf(abs(estimate / se))),
        baseline=baseline,
        lift=estimate / baseline,
        lift_ci=(estimate / baseline - crit * lift_se, estimate / baseline + crit * lift_se),
        n_treated=10,
        n_control=40,
    )


def test_per_use_of_the_pilot_itt_equals_the_library_cace(sample) -> None:
    # CACE is computed from per-agent values with its own influence functions (documented as
    # equal to 2SLS with HC2 errors); per_use only sees the two summaries.
    pilot = impact.with_assignments(impact.as_table(sample.events), sample.assignments)
    itt = impact.ab_test(pilot, "handle_time_minutes")
    uptake = impact.ab_test(pilot, "ai_used")
    cace = impact.ab_test(pilot, "handle_time_minutes", estimand="CACE")
    scaled = per_use(itt, uptake)
    assert scaled.estimate == pytest.approx(cace.estimate, rel=1e-9)
    # Ignoring the covariance of the two estimates moves the SE by well under 1% here, because
    # the first stage (who used the AI) is measured almost without error.
    assert scaled.std_error == pytest.approx(cace.std_error, rel=0.01)
    assert scaled.lift == pytest.approx(itt.lift / uptake.estimate)
    assert scaled.diagnostic("first_stage").value == pytest.approx(uptake.estimate)
    assert scaled.estimand == "ATE per use" and scaled.method.endswith("/per_use")


def test_per_use_keeps_the_critical_value_and_a_consistent_p_value() -> None:
    t_crit = float(stats.t.ppf(0.975, 9))  # a t(9) interval, as a DiD with 10 clusters gives
    num = effect(-1.0, 0.45, crit=t_crit)
    scaled = per_use(num, effect(0.5, 0.01, outcome="ai_used", baseline=1.0))
    half = (scaled.ci_high - scaled.ci_low) / 2
    assert half / scaled.std_error == pytest.approx(t_crit, rel=1e-9)
    z = abs(scaled.estimate) / scaled.std_error
    assert scaled.p_value == pytest.approx(2 * stats.t.sf(z, 9), rel=1e-6)
    assert (scaled.p_value < 0.05) == (scaled.ci_high < 0)


def test_a_weak_first_stage_is_refused() -> None:
    with pytest.raises(EstimationError, match=r"by only \+0\.020"):
        per_use(effect(-1.0, 0.3), effect(0.02, 0.01, outcome="ai_used"))


@pytest.mark.calibration
def test_per_use_interval_covers_the_true_ratio_95_percent_of_the_time() -> None:
    # Independent numerator and first stage with known truth: the delta-method interval of the
    # ratio must cover theta = -2 about 95% of the time (2,000 draws: +-1.5% at 3 SE).
    rng = np.random.default_rng(7)
    theta, share, se_num, se_share = -2.0, 0.45, 0.35, 0.04
    hits = 0
    draws = 2_000
    for num, den in zip(
        rng.normal(theta * share, se_num, draws), rng.normal(share, se_share, draws), strict=True
    ):
        scaled = per_use(effect(num, se_num), effect(den, se_share, outcome="ai_used"))
        hits += scaled.ci_low <= theta <= scaled.ci_high
    coverage = hits / draws
    assert 0.935 <= coverage <= 0.965, coverage
    assert math.isfinite(coverage)
