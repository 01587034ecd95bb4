"""The owner's and finance's summaries: the recommendation first, plain words, every money
figure with its interval, units in every header."""

from __future__ import annotations

import pandas as pd
import pytest

import impact
from impact.datasets import inject_bad_rows, simulate
from impact.reports import business
from impact.result import Effect
from impact.value import bare_amounts

REGISTER = impact.value.Register.from_yaml("assumptions/ai_assist.yaml")
RULE = impact.value.DecisionRule.from_register(REGISTER)


def effect(outcome: str, estimate: float, se: float, baseline: float) -> Effect:
    low, high = estimate - 1.96 * se, estimate + 1.96 * se
    return Effect(
        outcome=outcome,
        method="ab.welch+cuped",
        estimand="ATE",
        estimate=estimate,
        std_error=se,
        ci_low=low,
        ci_high=high,
        p_value=0.001,
        baseline=baseline,
        lift=estimate / baseline,
        lift_ci=(low / baseline, high / baseline),
        n_treated=12,
        n_control=48,
    )


NORTH_STAR = effect("handle_time_minutes", -2.3, 0.26, 15.9)
GUARDS = [
    effect("reopened", 0.0093, 0.004, 0.049),  # may rise by more than the 1-point margin
    effect("escalated", -0.0137, 0.005, 0.101),
    effect("csat", 0.17, 0.04, 3.82),
]


@pytest.fixture(scope="module")
def value() -> impact.value.Payback:
    return impact.value.payback(NORTH_STAR, costs=REGISTER, draws=2_000, seed=1)


def test_the_owner_summary_opens_with_the_answer(value: impact.value.Payback) -> None:
    decision = impact.value.decide(NORTH_STAR, rule=RULE, guardrails=GUARDS, value=value)
    assert decision.recommendation == "stabilize"
    summary = business.value_summary(
        REGISTER.title,
        decision=decision,
        rule=RULE,
        north_star=NORTH_STAR,
        guardrails=GUARDS,
        value=value,
        register=REGISTER,
        previous="",
    )
    assert summary.headline.startswith(
        "The AI lowered handle time by 14.5% (95% CI 11.3% to 17.7%)"
    )
    assert f"worth a net present value of {value.npv} over 36 months" in summary.headline
    assert (
        "Stabilize before scaling: a rise in the reopen rate beyond its 1-point limit is not yet "
        "ruled out: change +0.9 points (95% CI +0.1 to +1.7)" in summary.headline
    )
    assert summary.reasons[2].startswith("Escalation rate: -1.4 points (95% CI -2.4 to -0.4)")
    payload = summary.to_dict()
    assert payload["recommendation"]["decision"] == "stabilize"
    assert payload["assumptions"][0]["version"] == REGISTER.version
    assert payload["changes"]["first_run"] is True
    numbers = payload["headline_numbers"]
    assert numbers["npv"]["low"] < numbers["npv"]["point"] < numbers["npv"]["high"]
    assert numbers["p_payback"]["point"] == pytest.approx(value.probability(12))
    html = summary._repr_html_()
    assert "Recommendation: <strong>STABILIZE</strong>" in html
    assert bare_amounts(html) == [], "every money figure needs its interval"


def test_finance_summary_and_reader_tables(value: impact.value.Payback) -> None:
    decision = impact.value.decide(NORTH_STAR, rule=RULE, guardrails=GUARDS, value=value)
    summary = business.payback_summary(
        REGISTER.title,
        value=value,
        rule=RULE,
        decision=decision,
        north_star=NORTH_STAR,
        guardrails=GUARDS,
        register=REGISTER,
    )
    assert summary.headline.startswith(f"{REGISTER.title}: NPV {value.npv} over 36 months")
    assert summary.headline.endswith("Recommendation: stabilize.")
    assert bare_amounts(summary._repr_html_()) == []
    assert summary.changes is None  # no `previous` given: no what-changed section

    table = business.effects_table(NORTH_STAR, GUARDS, rule=RULE).frame
    assert list(table["metric"]) == [
        "handle time",
        "reopen rate",
        "escalation rate",
        "customer satisfaction (1-5)",
    ]
    assert table.loc[0, "without AI (its unit)"] == "15.90 minutes"
    assert table.loc[1, "with AI (its unit)"] == "5.8%"
    assert table.loc[1, "limit"] == "may not rise by 1 point"
    assert table.loc[3, "change (95% CI)"].startswith("+0.17 points on a 1-5 scale")
    checks = business.decision_table(
        decision, rule=RULE, north_star=NORTH_STAR, guardrails=GUARDS, value=value
    ).frame
    assert list(checks["status"]) == ["improved", "inconclusive", "holds", "holds", "likely"]
    assert checks["check"].iloc[1] == "guardrail: reopen rate"


def test_quality_table_counts_quarantined_rows_by_rule_without_ids() -> None:
    events = simulate(n_agents=20, n_teams=2, n_weeks=6, seed=2).events
    clean = business.quality_table(impact.validate(events, "workflow_events"))
    assert clean.frame.empty and clean.caption.startswith("All 31 checks of contract")
    broken, counts = inject_bad_rows(events, n_per_kind=3)
    table = business.quality_table(impact.validate(broken, "workflow_events"))
    frame = table.frame
    assert frame["rows quarantined"].sum() >= sum(counts.values()) - 3  # duplicates keep one
    assert "csat <= 5" in set(frame["rule"])
    html = table._repr_html_()
    assert not any(str(i) in html for i in broken["event_id"].head(50))
    assert isinstance(frame, pd.DataFrame)
