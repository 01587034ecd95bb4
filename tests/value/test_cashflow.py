"""Deterministic cash flows: NPV and IRR against numpy-financial, payback against hand-worked
schedules, quality-adjusted value per ticket by hand."""

from __future__ import annotations

import math

import numpy as np
import numpy_financial as npf
import pytest

from impact.errors import ParameterError
from impact.value import BusinessCase, irr, monthly_rate, npv, payback_month
from impact.value.cashflow import value_per_ticket

from .conftest import effect, register


@pytest.mark.parametrize(
    ("flows", "month"),
    [
        ([-100, 30, 30, 30, 30], 4),  # cumulative -70, -40, -10, 20
        ([-90, 30, 30, 30, 30], 3),  # exactly covered in month 3
        ([-100, 10, 10, 10], math.inf),  # never within the horizon
        ([0, 5, 5], 1),  # nothing to recover: pays back in month 1
        ([-50, 60, 60], 1),  # month 1 covers the build
        ([-100, -20, 50, 80], 3),  # a loss-making first month, then -70, +10
        ([-100, 0, 0, 0], math.inf),
    ],
)
def test_payback_month_by_hand(flows: list[float], month: float) -> None:
    assert payback_month(np.array([flows], dtype=float))[0] == month


def test_payback_month_is_vectorised_over_draws() -> None:
    flows = np.array([[-100, 30, 30, 30, 30], [-100, 10, 10, 10, 10], [0, 1, 1, 1, 1]], float)
    assert payback_month(flows).tolist() == [4.0, math.inf, 1.0]


def test_fixed_case_by_hand() -> None:
    # $60/h = $1/min; -2 minutes per ticket x 100 tickets = $200/month; run $100; build $1,000.
    flows = BusinessCase((effect(estimate=-2.0),), register()).flows()
    assert flows.benefit[0].tolist() == [0.0] + [200.0] * 12
    assert flows.run[0].tolist() == [0.0] + [100.0] * 12
    assert flows.build[0].tolist() == [1000.0] + [0.0] * 12
    assert flows.payback_month()[0] == 10
    assert flows.npv()[0] == pytest.approx(-1000 + 12 * 100)
    assert flows.roi()[0] == pytest.approx((2400 - 2200) / 2200)


@pytest.mark.parametrize(
    ("changes", "estimate", "month"),
    [
        ({}, -2.0, 10),
        ({"build_usd": 0.0}, -2.0, 1),  # pays back in month 1
        ({"build_usd": 100.0}, -2.0, 1),
        ({}, -1.0, math.inf),  # benefit only covers the run cost: never
        ({}, -1.5, math.inf),  # would need 20 months; the horizon is 12
        ({"horizon_months": 24.0}, -1.5, 20),
    ],
)
def test_payback_of_fixed_cases(changes: dict[str, float], estimate: float, month: float) -> None:
    case = BusinessCase((effect(estimate=estimate),), register(**changes))
    assert case.flows().payback_month()[0] == month


def test_adoption_ramp_by_hand() -> None:
    # adoption 0.2, 0.4, 0.6, 0.8, 0.8, ...: net -60, -20, 20, 60, 60, ...
    reg = register(adoption_max=0.8, adoption_ramp_months=4.0, horizon_months=24.0)
    flows = BusinessCase((effect(estimate=-2.0),), reg).flows()
    np.testing.assert_allclose(flows.adoption[0, :6], [0, 0.2, 0.4, 0.6, 0.8, 0.8])
    np.testing.assert_allclose(flows.net[0, :6], [-1000, -60, -20, 20, 60, 60])
    # cumulative -1000 at month 4, then +60 a month: 17 more months -> month 21.
    assert flows.payback_month()[0] == 21


def test_npv_matches_numpy_financial() -> None:
    reg = register(discount_rate_annual=0.10, adoption_ramp_months=3.0, horizon_months=36.0)
    flows = BusinessCase((effect(estimate=-2.0),), reg).flows()
    rate = (1.10) ** (1 / 12) - 1
    assert flows.rate_monthly[0] == pytest.approx(rate, rel=1e-14)
    assert flows.npv()[0] == pytest.approx(npf.npv(rate, flows.net[0]), rel=1e-12)


def test_npv_on_random_flows_matches_numpy_financial() -> None:
    rng = np.random.default_rng(3)
    flows = rng.normal(100, 300, size=(5, 25))
    rates = rng.uniform(0, 0.05, 5)
    expected = [npf.npv(r, f) for r, f in zip(rates, flows, strict=True)]
    np.testing.assert_allclose(npv(flows, rates), expected, rtol=1e-12)


@pytest.mark.parametrize(
    "flows",
    [
        [-1000.0] + [100.0] * 12,
        [-5000.0, 200.0, 400.0, 800.0, 1200.0] + [1500.0] * 10,
        [-100.0, 110.0],
        [-100.0, 50.0, 40.0],  # negative IRR
    ],
)
def test_irr_matches_numpy_financial(flows: list[float]) -> None:
    assert irr(flows) == pytest.approx(npf.irr(flows), abs=1e-10)


def test_irr_is_nan_when_no_rate_balances() -> None:
    assert math.isnan(irr([100.0, 100.0]))


def test_monthly_rate_compounds_to_the_annual_rate() -> None:
    assert (1 + monthly_rate(0.12)) ** 12 == pytest.approx(1.12, rel=1e-14)


def test_quality_adjusted_value_per_ticket_by_hand() -> None:
    values = register().values()
    parts = value_per_ticket(
        {"handle_time_minutes": -2.0, "reopened": 0.02, "escalated": -0.01, "resolved": 0.01},
        values,
    )
    assert parts["handle_time_minutes"] == pytest.approx(2.0)  # 2 minutes at $1/min
    assert parts["reopened"] == pytest.approx(-0.2)  # 2 more reopens per 100 at $10
    assert parts["escalated"] == pytest.approx(0.2)  # 1 fewer escalation per 100 at $20
    assert parts["resolved"] == pytest.approx(0.05)
    assert parts["compute_usd_per_ticket"] == 0.0 and parts["review_minutes_per_ticket"] == 0.0


def test_faster_but_worse_shows_its_true_value() -> None:
    faster = BusinessCase((effect(estimate=-2.0),), register())
    worse = BusinessCase(
        (effect(estimate=-2.0), effect("reopened", estimate=0.15, se=0.01)), register()
    )
    assert faster.flows().payback_month()[0] == 10
    # 2.00 saved - 0.15 x $10 rework = $0.50 per ticket: $50 a month against $100 of run cost.
    assert worse.flows().benefit[0, 1] == pytest.approx(50.0)
    assert worse.flows().payback_month()[0] == math.inf


def test_ai_costs_come_from_the_register_unless_measured() -> None:
    values = register(compute_usd_per_ticket=0.3, review_minutes_per_ticket=0.5).values()
    parts = value_per_ticket({"handle_time_minutes": -2.0}, values)
    assert parts["compute_usd_per_ticket"] == pytest.approx(-0.3)
    assert parts["review_minutes_per_ticket"] == pytest.approx(-0.5)
    measured = value_per_ticket({"compute_cost_usd": 0.25, "review_minutes": 0.4}, values)
    assert set(measured) == {"compute_cost_usd", "review_minutes"}
    assert measured["compute_cost_usd"] == pytest.approx(-0.25)
    assert measured["review_minutes"] == pytest.approx(-0.4)


def test_rework_cannot_be_counted_twice() -> None:
    with pytest.raises(ParameterError, match="count rework twice"):
        value_per_ticket({"reopened": 0.01, "correction_minutes": 0.2}, register().values())


def test_unpriced_outcome_is_named() -> None:
    with pytest.raises(ParameterError, match="no price for outcome 'csat'"):
        BusinessCase((effect("csat", estimate=0.1),), register())


def test_roi_needs_costs() -> None:
    with pytest.raises(ParameterError, match="no build or run costs"):
        import copy

        from impact.value import Register

        from .conftest import FIXED

        raw = copy.deepcopy(FIXED)
        del raw["assumptions"]["build_usd"], raw["assumptions"]["run_usd_per_month"]
        BusinessCase((effect(),), Register.from_dict(raw))


def test_schedule_table_has_calendar_months() -> None:
    import pandas as pd

    from impact.value.cashflow import schedule_frame

    frame = schedule_frame(
        BusinessCase((effect(),), register()).flows(), pd.Timestamp("2026-07-01")
    )
    assert frame.month_start.iloc[1] == pd.Timestamp("2026-07-01")
    assert frame.cumulative_usd.iloc[10] == pytest.approx(0.0)
