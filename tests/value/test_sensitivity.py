"""One-at-a-time sensitivity and break-even values, against hand-worked NPVs."""

from __future__ import annotations

import copy

import pytest

from impact.value import BusinessCase, Register, break_even, sensitivity

from .conftest import FIXED, effect, register

# FIXED register: NPV(e, L) = -1000 + 12 * (100 * (-e) * L / 60 - 100), e minutes, L $/hour.


def npv(e: float, labour: float = 60.0) -> float:
    return -1000 + 12 * (100 * (-e) * labour / 60 - 100)


def uncertain_labour() -> Register:
    raw = copy.deepcopy(FIXED)
    raw["assumptions"]["labour_usd_per_hour"].update(low=30.0, high=90.0, distribution="triangular")
    return Register.from_dict(raw)


def test_only_uncertain_inputs_are_listed_and_priced_by_hand() -> None:
    e = effect(estimate=-2.0, se=0.5)
    s = sensitivity(BusinessCase((e,), uncertain_labour()))
    assert s.table["name"].tolist() == ["labour_usd_per_hour", "handle_time_minutes"]
    labour, eff = s.table.iloc[0], s.table.iloc[1]
    assert labour.npv_low_usd == pytest.approx(npv(-2.0, 30.0))
    assert labour.npv_high_usd == pytest.approx(npv(-2.0, 90.0))
    assert eff.npv_low_usd == pytest.approx(npv(e.ci_low))
    assert eff.npv_high_usd == pytest.approx(npv(e.ci_high))
    assert labour.swing_usd == pytest.approx(2400.0)
    assert s.base_npv_usd == pytest.approx(npv(-2.0)) and s.base_payback_months == 10
    assert labour.payback_low_months == float("inf") and labour.payback_high_months == 5


def test_break_even_of_the_most_important_assumption() -> None:
    s = sensitivity(BusinessCase((effect(estimate=-2.0, se=0.5),), uncertain_labour()))
    assert s.most_important == "labour_usd_per_hour"
    # -1000 + 12 * (200 L / 60 - 100) = 0  ->  L = 55
    assert s.break_even.value == pytest.approx(55.0, abs=1e-8)
    assert "labour_usd_per_hour = 55" in str(s.break_even)


def test_break_even_of_an_effect() -> None:
    case = BusinessCase((effect(estimate=-2.0, se=0.5),), register())
    root = break_even(case, "handle_time_minutes")
    assert root.value == pytest.approx(-1 - 10 / 12, abs=1e-9)


def test_no_break_even_when_npv_keeps_its_sign() -> None:
    case = BusinessCase((effect(estimate=-2.0),), register(build_usd=0.0))
    root = break_even(case, "discount_rate_annual")
    assert root.value is None
    assert "keeps its sign" in str(root)


def test_sample_register_tornado_is_sorted(sample_register: Register) -> None:
    s = sensitivity(BusinessCase((effect(estimate=-2.2, se=0.4),), sample_register))
    swings = s.table.swing_usd.tolist()
    assert swings == sorted(swings, reverse=True)
    assert "horizon_months" not in set(s.table.name)  # fixed: cannot move the answer
    assert "value_usd_per_resolution" not in set(s.table.name)  # no effect on resolved given
    top = s.break_even
    at_root = sample_register.values() | {}
    case = BusinessCase((effect(estimate=-2.2, se=0.4),), sample_register)
    if top.name == "handle_time_minutes":
        flows = case.flows(at_root, {"handle_time_minutes": top.value})
    else:
        flows = case.flows(at_root | {top.name: top.value}, None)
    assert abs(flows.npv()[0]) < 1e-3
