"""Invariants of the business case that must hold for any inputs."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from impact.value import BusinessCase, Register, Value, payback

from .conftest import effect, register

minutes = st.floats(-10.0, 2.0, allow_nan=False)


@settings(max_examples=40, deadline=None)
@given(a=minutes, b=minutes)
def test_npv_and_roi_rise_as_more_minutes_are_saved(a: float, b: float) -> None:
    reg = register(discount_rate_annual=0.1, adoption_ramp_months=3.0)
    low, high = sorted((a, b))
    more = BusinessCase((effect(estimate=low),), reg).flows()  # more negative = more saved
    less = BusinessCase((effect(estimate=high),), reg).flows()
    assert more.npv()[0] >= less.npv()[0] - 1e-9
    assert more.roi()[0] >= less.roi()[0] - 1e-12
    assert more.payback_month()[0] <= less.payback_month()[0]


@settings(max_examples=30, deadline=None)
@given(extra=st.floats(0.0, 1e6, allow_nan=False))
def test_build_cost_lowers_npv_one_for_one(extra: float) -> None:
    base = BusinessCase((effect(),), register(discount_rate_annual=0.1)).flows().npv()[0]
    more = BusinessCase((effect(),), register(discount_rate_annual=0.1, build_usd=1000 + extra))
    assert more.flows().npv()[0] == pytest.approx(base - extra, abs=1e-6 * (1 + extra))


@settings(max_examples=30, deadline=None)
@given(volume=st.floats(1.0, 1e5, allow_nan=False), factor=st.floats(1.0, 10.0))
def test_more_volume_never_delays_payback(volume: float, factor: float) -> None:
    reg = register(adoption_ramp_months=4.0, horizon_months=36.0)
    slow = BusinessCase((effect(),), reg, volume=volume).flows().payback_month()[0]
    fast = BusinessCase((effect(),), reg, volume=volume * factor).flows().payback_month()[0]
    assert fast <= slow


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), estimate=minutes, se=st.floats(0.01, 3.0))
def test_intervals_are_ordered_and_probabilities_bounded(
    seed: int, estimate: float, se: float
) -> None:
    value = payback(effect(estimate=estimate, se=se), costs=register(), draws=300, seed=seed)
    for figure in (value.npv, value.roi, value.payback_months, value.value_per_ticket):
        assert isinstance(figure, Value) and figure.low <= figure.high
    p = [value.probability(m) for m in range(13)]
    assert p == sorted(p) and p[0] >= 0 and p[-1] + value.p_never == pytest.approx(1.0)


def test_sample_register_case_is_linear_in_the_effect(sample_register: Register) -> None:
    # Everything but the effect at its point value: NPV is exactly linear in minutes saved.
    case = BusinessCase((effect(),), sample_register)
    values = sample_register.values()
    npvs = [case.flows(values, {"handle_time_minutes": x}).npv()[0] for x in (-3, -2, -1)]
    assert npvs[0] - npvs[1] == pytest.approx(npvs[1] - npvs[2], rel=1e-9)
    assert math.isfinite(np.diff(npvs).sum())
