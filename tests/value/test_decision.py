"""scale / stabilize / pivot from the evidence, with the thresholds from config."""

from __future__ import annotations

import pytest

from impact.errors import ParameterError
from impact.value import DecisionRule, Guardrail, NorthStar, Register, decide, payback

from .conftest import effect, register

RULE = DecisionRule(
    NorthStar("handle_time_minutes", "lower", min_lift=0.05),
    guardrails=(Guardrail("reopened", "lower", 0.01), Guardrail("csat", "higher", 0.1)),
    payback_months=12,
    scale_probability=0.8,
    pivot_probability=0.2,
)
STAR = effect(estimate=-2.16, se=0.3673)  # lift -18% (CI -24% to -12%)
HOLDS = [effect("reopened", estimate=0.002, se=0.0025), effect("csat", estimate=0.0, se=0.03)]


@pytest.fixture(scope="module")
def pays() -> object:
    return payback(effect(estimate=-4.0, se=0.3), costs=register(), draws=2_000)


@pytest.fixture(scope="module")
def does_not_pay() -> object:
    return payback(effect(estimate=-1.0, se=0.1), costs=register(), draws=2_000)


def test_scale_when_everything_holds(pays) -> None:
    d = decide(STAR, rule=RULE, guardrails=HOLDS, value=pays)
    assert d.recommendation == "scale"
    p = pays.probability(12)
    assert p == 1.0
    assert d.headline == (
        "scale: handle time -18% (CI -24% to -12%), guardrails hold, P(payback <= 12 months) = 1.00"
    )
    assert set(d.checks.status) == {"improved", "holds", "likely"}


def test_faster_but_worse_is_stabilize(pays) -> None:
    worse = [effect("reopened", estimate=0.03, se=0.005), HOLDS[1]]
    d = decide(STAR, rule=RULE, guardrails=worse, value=pays)
    assert d.recommendation == "stabilize"
    assert "guardrail breached: reopened" in d.headline
    assert any("reopened breached" in r for r in d.reasons)


def test_guardrail_breach_on_a_higher_is_better_metric(pays) -> None:
    worse = [HOLDS[0], effect("csat", estimate=-0.3, se=0.05)]
    d = decide(STAR, rule=RULE, guardrails=worse, value=pays)
    assert d.recommendation == "stabilize" and "breached: csat" in d.headline


def test_unresolved_guardrail_is_stabilize(pays) -> None:
    wide = [effect("reopened", estimate=0.004, se=0.01), HOLDS[1]]
    d = decide(STAR, rule=RULE, guardrails=wide, value=pays)
    assert d.recommendation == "stabilize"
    assert "not yet ruled out: reopened" in d.headline


def test_unmeasured_guardrail_blocks_scaling(pays) -> None:
    d = decide(STAR, rule=RULE, guardrails=HOLDS[:1], value=pays)
    assert d.recommendation == "stabilize"
    assert any("csat was not measured" in r for r in d.reasons)


@pytest.mark.parametrize(
    ("star", "reason"),
    [
        (effect(estimate=1.0, se=0.2), "got worse"),
        (effect(estimate=-0.3, se=0.05), "below the 5% minimum"),
    ],
)
def test_pivot_when_the_north_star_fails(pays, star, reason: str) -> None:
    d = decide(star, rule=RULE, guardrails=HOLDS, value=pays)
    assert d.recommendation == "pivot"
    assert reason in d.reasons[0]


def test_pivot_when_payback_is_unlikely(does_not_pay) -> None:
    d = decide(STAR, rule=RULE, guardrails=HOLDS, value=does_not_pay)
    assert d.recommendation == "pivot"
    assert "P(payback <= 12 months) = 0.00" in d.headline


def test_inconclusive_north_star_is_stabilize(pays) -> None:
    d = decide(effect(estimate=-0.5, se=0.5), rule=RULE, guardrails=HOLDS, value=pays)
    assert d.recommendation == "stabilize"
    assert "not yet established" in d.reasons[0]


def test_rule_from_the_sample_register(sample_register: Register) -> None:
    rule = DecisionRule.from_register(sample_register)
    assert rule.north_star == NorthStar("handle_time_minutes", "lower", 0.05)
    assert [g.outcome for g in rule.guardrails] == ["reopened", "escalated", "csat"]
    assert (rule.payback_months, rule.scale_probability, rule.pivot_probability) == (12, 0.8, 0.2)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({}, "needs a north_star"),
        ({"north_star": {"outcome": "x"}, "treshold": 1}, "unknown decision setting"),
        ({"north_star": {"outcome": "x", "better": "down"}}, "better must be 'lower' or"),
        ({"north_star": {"outcome": "x"}, "scale_probability": 0.1}, "pivot_probability <"),
        ({"north_star": {"outcome": "x", "goal": 3}}, "decision config"),
        (
            {"north_star": {"outcome": "x"}, "guardrails": [{"outcome": "y", "margin": -1}]},
            "margin must be >= 0",
        ),
    ],
)
def test_bad_decision_config(raw: dict, message: str) -> None:
    with pytest.raises(ParameterError, match=message):
        DecisionRule.from_mapping(raw)


def test_wrong_north_star_effect_is_named() -> None:
    with pytest.raises(ParameterError, match="north star is 'handle_time_minutes'"):
        decide(effect("resolved", estimate=0.01, se=0.002), rule=RULE)


def test_wrong_types_are_named(pays) -> None:
    with pytest.raises(TypeError, match=r"north_star must hold impact.Effect"):
        decide("handle_time_minutes", rule=RULE)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="value must be a Payback"):
        decide(STAR, rule=RULE, value=0.9)  # type: ignore[arg-type]
