"""Simulation study: the NPV interval covers the NPV at the true effect at its nominal rate."""

from __future__ import annotations

import numpy as np
import pytest

from impact.value import payback

from .conftest import effect, register

TRUE_EFFECT, SE = -2.0, 0.5
TRUE_NPV = -1000 + 12 * (-100 * TRUE_EFFECT - 100)  # the FIXED register, see test_montecarlo


@pytest.mark.calibration
def test_npv_interval_coverage_and_payback_probability() -> None:
    rng = np.random.default_rng(2026)
    replications = 400
    covered, p12 = 0, []
    for i in range(replications):
        estimate = rng.normal(TRUE_EFFECT, SE)  # one pilot's estimate of the true effect
        value = payback(effect(estimate=estimate, se=SE), costs=register(), draws=2_000, seed=i)
        covered += value.npv.low <= TRUE_NPV <= value.npv.high
        p12.append(value.probability(12))
    coverage = covered / replications
    # 95% nominal; with 400 replications the Monte Carlo SE of the rate is ~0.011.
    assert 0.92 <= coverage <= 0.98, coverage
    # The truth pays back in month 10 (<= 12): the probability should lean that way on average.
    assert np.mean(p12) > 0.5
