"""Each report notebook runs through the runner on the sample data and says what it should."""

from __future__ import annotations

import re
from typing import Any

import pytest

from impact.reports.schema import validate_result
from impact.runs.runner import run_report
from impact.value import bare_amounts

Published = Any  # tests/reports/conftest.py: a run's outcome, result.json and duration
ReportProject = Any

pytestmark = [pytest.mark.notebook, pytest.mark.xdist_group("notebooks")]


def reader_html(run: Published) -> str:
    return (run.directory / "report.html").read_text(encoding="utf-8")


def visible_text(html: str) -> str:
    """The page without <style>/<script> blocks and tags (what a reader sees, roughly)."""
    html = re.sub(r"<(style|script)\b.*?</\1>", " ", html, flags=re.DOTALL)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_owner_report_opens_with_the_answer_and_shows_the_evidence(
    owner_report: tuple[Published, Published], sample
) -> None:
    first, _ = owner_report
    result = first.result
    validate_result(result)
    assert result["recommendation"]["decision"] in ("scale", "stabilize", "pivot")
    assert result["headline"].startswith("The AI lowered handle time by")
    numbers = result["headline_numbers"]
    north = numbers["north_star"]
    # The pilot's in-sample truth lies inside the reported interval (seeded sample).
    assert north["low"] < sample.truth.pilot_itt_lift < north["high"]
    for key in ("npv", "cost_with_ai", "cost_without_ai", "cost_difference"):
        assert numbers[key]["unit"] == "usd" and numbers[key]["low"] <= numbers[key]["high"]
    assert result["signals"] == {
        "designs": "agree",
        "drift": "no alert",
        "data quality": "all rows passed",
    }
    assert result["assumptions"][0]["version"] == "2026.03.1"
    assert result["changes"]["first_run"] is True
    assert result["period_end"] == "2026-08-16"
    assert first.outcome.manifest["previous_result"] is None

    html = reader_html(first)
    text = visible_text(html)
    assert "import impact" not in html  # no code cells
    assert text.index("Recommendation:") < text.index("What changed since the previous report")
    for section in (
        "The effect on each metric",
        "What would have happened without the AI",
        "Do different ways of measuring agree?",
        "Is the effect holding up?",
        "Cost per outcome, with and without the AI",
        "Payback",
        "Data quality",
        "Method and assumptions",
    ):
        assert section in text, section
    assert "This is the first run of this report" in text
    assert "All 31 checks of contract workflow_events" in text
    assert "The three designs agree" in text
    assert "No significant decline in the effect on handle time" in text
    assert html.count("<img") >= 7  # effects, counterfactual, designs, drift, cost, 2 x payback
    assert bare_amounts(html) == [], "every money figure in the report needs its interval"


def test_the_second_week_says_what_changed_since_the_first(
    owner_report: tuple[Published, Published], report_project: ReportProject
) -> None:
    first, second = owner_report
    changes = second.result["changes"]
    assert changes["first_run"] is False
    assert changes["previous_run"] == first.outcome.run_id
    assert changes["previous_period_end"] == "2026-08-16"
    assert second.outcome.manifest["previous_result"].endswith(
        f"{first.outcome.run_id}/result.json"
    )
    what = {i["what"]: i for i in changes["items"]}
    assert what["recommendation"]["before"] == first.result["recommendation"]["decision"]
    npv = what["net present value over 36 months"]
    assert npv["before"]["point"] == first.result["headline_numbers"]["npv"]["point"]
    assert npv["change"] == pytest.approx(
        second.result["headline_numbers"]["npv"]["point"] - npv["before"]["point"]
    )
    assert what["assumptions: AI assist for support tickets"]["changed"] is False
    assert "Since the previous report (run " in visible_text(reader_html(second))
    # Which run came before is not an input: the manifest's parameters omit it, and the same
    # week run again is recognised as unchanged (no kernel starts).
    assert "previous_result" not in second.outcome.manifest["parameters"]
    again = run_report(
        report_project.project,
        "business_value_report",
        params={"draws": 2000},
        period_end="2026-08-23",
    )
    assert (again.status, again.run_id) == ("unchanged", second.outcome.run_id)


def test_payback_report_for_finance(report_project: ReportProject) -> None:
    run = report_project.run("payback")
    result = run.result
    validate_result(result)
    assert result["title"] == "AI assist for support tickets: payback"
    assert result["headline"].startswith("AI assist for support tickets: NPV $")
    assert {"npv", "roi", "payback_months", "p_payback", "value_per_ticket"} <= set(
        result["headline_numbers"]
    )
    assert result["recommendation"]["decision"] in ("scale", "stabilize", "pivot")
    html = reader_html(run)
    assert bare_amounts(html) == []
    assert "register 2026.03.1 (sha " in html and "P(payback &lt;= 12 months)" in html
    assert html.count("<img") >= 5


def test_portfolio_report_ranks_the_use_cases(report_project: ReportProject) -> None:
    run = report_project.run("portfolio_report")
    result = run.result
    validate_result(result)
    ranking = result["signals"]["ranking"].split(" > ")
    assert sorted(ranking) == ["claims_triage", "email_drafting", "support_assist"]
    # The simulated e-mail use case has a tiny true effect (-3%): it ranks last, to pivot.
    assert ranking[-1] == "email_drafting"
    assert result["signals"]["AI drafts for customer e-mails: recommendation"] == "pivot"
    assert result["headline"].startswith("Of 3 AI use cases")
    assert result["headline_numbers"]["total_npv"]["unit"] == "usd"
    assert len(result["assumptions"]) == 3
    text = visible_text(reader_html(run))
    for section in ("The ranking", "How strong is the evidence?", "Data quality", "Assumptions"):
        assert section in text
    assert bare_amounts(reader_html(run)) == []
