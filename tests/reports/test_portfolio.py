"""The portfolio: the file is checked, evidence is graded by its rules, use cases are ranked."""

from __future__ import annotations

from pathlib import Path

import pytest

from impact.errors import ParameterError
from impact.reports.portfolio import evidence_strength, load_portfolio, portfolio
from impact.result import Diagnostic, Effect
from impact.value import bare_amounts

ROOT = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "portfolio.yaml"
    path.write_text("format: 1\nversion: t1\ntitle: Test portfolio\n" + body)
    return path


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("use_cases: {}", "lists no use cases"),
        ("use_cases: {Bad: {register: r.yaml}}", "names are lower-case"),
        ("use_cases: {a: {events: e.parquet}}", "needs a 'register'"),
        ("use_cases: {a: {register: r.yaml, colour: red}}", r"unknown key\(s\) \['colour'\]"),
        ("use_cases: {a: {register: r.yaml}}", "either 'events'"),
        ("use_cases: {a: {register: r.yaml, events: e, simulate: {seed: 1}}}", "either 'events'"),
        ("use_cases: {a: {register: r.yaml, events: e.parquet}}", "need 'assignments'"),
        ("cases: {}", "with a 'use_cases' section"),
    ],
)
def test_bad_portfolio_files_are_named(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(ParameterError, match=message):
        load_portfolio(write(tmp_path, body))


def test_the_bundled_portfolio_loads() -> None:
    header, cases = load_portfolio(ROOT / "assumptions" / "portfolio.yaml")
    assert header["title"] and header["version"]
    assert [c.name for c in cases] == ["support_assist", "claims_triage", "email_drafting"]
    assert all((ROOT / c.register).is_file() for c in cases)


def lift(estimate: float, half_width: float, *, passed: bool = True) -> Effect:
    return Effect(
        outcome="handle_time_minutes",
        method="ab.welch+cuped",
        estimand="ATE",
        estimate=estimate,
        std_error=half_width / 1.96,
        ci_low=estimate - half_width,
        ci_high=estimate + half_width,
        p_value=0.01,
        baseline=15.0,
        lift=estimate / 15,
        lift_ci=((estimate - half_width) / 15, (estimate + half_width) / 15),
        n_treated=12,
        n_control=48,
        diagnostics=(Diagnostic("sample_ratio_p", 0.5 if passed else 0.001, passed=passed),),
    )


def test_evidence_strength_rules() -> None:
    assert evidence_strength(lift(-2.0, 0.9))[0] == "strong"
    grade, why = evidence_strength(lift(-2.0, 1.5))  # clear, but wider than half the effect
    assert grade == "moderate" and "wide" in why
    grade, why = evidence_strength(lift(-2.0, 0.5, passed=False))
    assert grade == "moderate" and "sample_ratio_p" in why
    assert evidence_strength(lift(-0.5, 1.0))[0] == "weak"


@pytest.mark.slow
def test_ranking_by_recommendation_evidence_and_value(tmp_path: Path) -> None:
    registers = ROOT / "assumptions"
    path = write(
        tmp_path,
        "use_cases:\n"
        f"  small_gain:\n    register: {registers / 'email_drafting.yaml'}\n"
        "    simulate: {seed: 5, effect: -0.03, n_agents: 100, n_teams: 10, n_weeks: 16,"
        " treatment_share: 0.3}\n"
        f"  big_gain:\n    register: {registers / 'claims_triage.yaml'}\n"
        "    simulate: {seed: 11, effect: -0.3, n_agents: 100, n_teams: 10, n_weeks: 16,"
        " treatment_share: 0.3}\n",
    )
    result = portfolio(path, draws=1_000)
    assert [a.use_case.name for a in result.assessments] == ["big_gain", "small_gain"]
    big, small = result.assessments
    assert big.evidence in ("strong", "moderate") and small.decision.recommendation == "pivot"
    assert big.value.npv.point > small.value.npv.point
    # The total adds the two simulations draw by draw (independent seeds per use case).
    assert result.total_npv.point == pytest.approx(big.value.npv.point + small.value.npv.point)
    assert result.total_npv.low < result.total_npv.point < result.total_npv.high
    table = result.table().frame
    assert list(table["rank"]) == [1, 2]
    assert bare_amounts(result.table()._repr_html_()) == []
    summary = result.summary(previous="")
    payload = summary.to_dict()
    assert payload["signals"]["ranking"] == "big_gain > small_gain"
    assert {"total_npv", "big_gain.npv", "small_gain.p_payback"} <= set(payload["headline_numbers"])
    assert summary.headline.startswith("Of 2 AI use cases")
    assert bare_amounts(summary._repr_html_()) == []
