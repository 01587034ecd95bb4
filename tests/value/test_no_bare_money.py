"""No money figure without its interval: every rendered value object is checked for bare amounts.

`bare_amounts` finds money in HTML or text that has neither an interval in brackets after it
nor a range around it, and money table columns (``*_usd``) without their low/high pair. The
same check runs on the executed payback notebook (tests/value/test_notebook.py).
"""

from __future__ import annotations

import pandas as pd
import pytest

from impact.value import (
    DecisionRule,
    NorthStar,
    Payback,
    Register,
    bare_amounts,
    bare_columns,
    cost_per_outcome,
    decide,
    payback,
    sensitivity,
)

from .conftest import effect, register


def test_the_check_finds_bare_amounts_and_accepts_intervals() -> None:
    assert bare_amounts("NPV $1,200 (95% interval -$300 to $2,500)") == []
    assert bare_amounts("NPV -$1,200 (one-at-a-time range -$3,000.50 to $2,500)") == []
    assert bare_amounts("<td>$4,541,467 to -$8,401,034</td>") == []
    assert bare_amounts("build costs $220,000 in month 0") == ["$220,000"]
    assert bare_amounts("<td>$12.50</td><td>$3</td>") == ["$12.50", "$3"]
    assert bare_amounts("&lt;b&gt;-$5 (95% interval)") == ["-$5"]  # no interval in the bracket
    frame = pd.DataFrame({"month": [1], "net_usd": [1.0], "net_low_usd": [0.0]})
    assert bare_amounts(frame.to_html()) == ["net_usd"]
    band = pd.DataFrame({"point_usd": [1.0], "low_usd": [0.0], "high_usd": [2.0]})
    assert bare_columns(band.columns) == []


@pytest.fixture(scope="module")
def value(sample_register: Register) -> Payback:
    return payback(effect(estimate=-2.2, se=0.4), costs=sample_register, draws=2_000)


def test_payback_renders_every_figure_with_its_interval(value: Payback) -> None:
    for text in (value._repr_html_(), value.headline(), repr(value)):
        assert bare_amounts(text) == [], text
    assert bare_columns(value.schedule.columns) == []
    assert bare_amounts(value.schedule.to_html()) == []
    assert bare_columns(value.figures().columns) == []


def test_the_schedule_carries_the_monthly_band(value: Payback) -> None:
    schedule = value.schedule
    assert schedule.cumulative_low_usd.tolist() == pytest.approx(value.band.low_usd.tolist())
    assert schedule.cumulative_high_usd.tolist() == pytest.approx(value.band.high_usd.tolist())
    for name in ("benefit", "cost", "net", "cumulative"):
        low, high = schedule[f"{name}_low_usd"], schedule[f"{name}_high_usd"]
        assert (low <= high).all()
    # Month 0 holds the build costs only; the point schedule is the point case.
    assert schedule.benefit_usd.iloc[0] == 0.0
    assert schedule.cumulative_usd.iloc[-1] == pytest.approx(value.case.flows().cumulative[0, -1])


def test_sensitivity_shows_ranges_not_bare_figures(value: Payback) -> None:
    with_mc = value.sensitivity()
    assert bare_amounts(with_mc._repr_html_()) == []
    assert str(value.npv) in with_mc._repr_html_()
    alone = sensitivity(value.case)
    assert bare_amounts(alone._repr_html_()) == []
    assert "one-at-a-time range" in alone._repr_html_()
    assert value.case.register.label in alone._repr_html_()


def test_cost_per_outcome_renders_components_with_intervals(
    events: pd.DataFrame, sample_register: Register
) -> None:
    cost = cost_per_outcome(
        events, costs=sample_register, effect=effect(estimate=-2.0), by=["ai_model"], draws=2_000
    )
    for text in (cost._repr_html_(), cost.table.to_html(), cost.components().to_html()):
        assert bare_amounts(text) == []
    assert sample_register.label in cost._repr_html_()


def test_decision_reasons_carry_the_npv_interval() -> None:
    rule = DecisionRule(NorthStar("handle_time_minutes", "lower", 0.05))
    value = payback(effect(estimate=-4.0, se=0.3), costs=register(), draws=500)
    decision = decide(effect(estimate=-4.0, se=0.3), rule=rule, value=value)
    for text in (decision._repr_html_(), decision.headline, *decision.reasons):
        assert bare_amounts(text) == []
    assert any("95% interval" in r for r in decision.reasons)
