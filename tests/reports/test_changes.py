"""What changed since the previous run, and the result.json schema every report payload meets."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

import impact
from impact.reports.changes import load_result, what_changed
from impact.reports.schema import json_safe, result_schema, validate_result


def money(point: float, low: float, high: float, unit: str = "usd") -> dict[str, Any]:
    label = {"usd": "NPV", "ratio": "ROI", "months": "months"}[unit]
    return {
        "label": label,
        "point": point,
        "low": low,
        "high": high,
        "unit": unit,
        "confidence": 0.95,
    }


def payload(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "run_id": "r1",
        "period_end": "2026-05-03",
        "recommendation": {"decision": "stabilize", "reasons": []},
        "signals": {"designs": "agree", "drift": "no alert"},
        "assumptions": [{"title": "AI assist", "version": "2026.03.1", "sha": "abc"}],
        "headline_numbers": {
            "npv": money(1.8e6, 0.1e6, 3.3e6),
            "p_payback": {"label": "chance of paying back", "point": 0.91, "unit": "probability"},
        },
    }
    return base | changes


def items(result: Any) -> dict[str, dict[str, Any]]:
    return {i["what"]: i for i in result.items}


def test_first_run_says_so() -> None:
    result = what_changed(payload(), None)
    assert result.first_run and result.items == ()
    assert result.summary.startswith("This is the first run of this report")


def test_nothing_material_changed_within_the_previous_interval() -> None:
    now = payload(
        headline_numbers={
            "npv": money(2.0e6, 0.3e6, 3.5e6),
            "p_payback": {"label": "chance of paying back", "point": 0.88, "unit": "probability"},
        }
    )
    result = what_changed(now, payload())
    assert not result.first_run and result.previous_run == "r1"
    assert result.previous_period_end == "2026-05-03"
    assert result.notable == ()
    assert result.summary == (
        "Since the previous report (run r1, period ending 2026-05-03): the recommendation is "
        "unchanged (stabilize). No headline number moved outside its previous interval."
    )
    assert items(result)["NPV"]["change"] == pytest.approx(0.2e6)


def test_recommendation_register_signal_and_numbers_that_moved() -> None:
    now = payload(
        recommendation={"decision": "scale", "reasons": []},
        signals={"designs": "partly agree", "drift": "no alert"},
        assumptions=[{"title": "AI assist", "version": "2026.04.1", "sha": "def"}],
        headline_numbers={
            "npv": money(3.6e6, 2.0e6, 5.0e6),  # above the previous interval's top
            "p_payback": {"label": "chance of paying back", "point": 0.70, "unit": "probability"},
        },
    )
    result = what_changed(now, payload())
    found = items(result)
    assert found["recommendation"]["notable"] and found["designs"]["notable"]
    assert not found["drift"]["changed"]
    assert found["assumptions: AI assist"]["before"] == "2026.03.1 (sha abc)"
    assert found["NPV"]["notable"]  # outside [0.1M, 3.3M]
    assert found["chance of paying back"]["notable"]  # -21 points >= 10
    text = result.summary
    assert "the recommendation changed from stabilize to scale" in text
    assert "designs changed from agree to partly agree" in text
    assert "assumptions: AI assist changed from 2026.03.1 (sha abc) to 2026.04.1 (sha def)" in text
    assert "NPV moved from $1,800,000 to $3,600,000" in text
    html = result._repr_html_()
    assert "outside the previous interval" in html and "-21.0 points" in html


def test_a_number_that_appears_or_disappears() -> None:
    now = payload(headline_numbers={"roi": money(1.5, 0.2, 3.0, "ratio")})
    found = items(what_changed(now, payload()))
    assert found["ROI"]["before"] is None and found["ROI"]["notable"]
    assert found["NPV"]["after"] is None and found["NPV"]["notable"]


def test_load_result(tmp_path: Path) -> None:
    assert load_result("") is None and load_result(None) is None
    path = tmp_path / "result.json"
    path.write_text(json.dumps({"headline": "h"}))
    assert load_result(path) == {"headline": "h"}
    assert load_result(str(path)) == {"headline": "h"}
    with pytest.raises(ValueError, match="cannot read the previous result"):
        load_result(tmp_path / "missing.json")
    path.write_text("[1, 2]")
    with pytest.raises(ValueError, match="does not hold a result object"):
        load_result(path)


def test_the_schema_refuses_a_money_figure_without_its_interval() -> None:
    summary = impact.reports.summarize("R", [], headline="h")
    good = summary.to_dict()
    validate_result(good)
    bare = good | {"headline_numbers": {"npv": {"label": "NPV", "point": 1.0, "unit": "usd"}}}
    with pytest.raises(ValueError, match="must contain"):
        validate_result(bare)
    null_end = good | {"headline_numbers": {"npv": money(1.0, 0.5, 2.0) | {"high": None}}}
    with pytest.raises(ValueError, match="high must be number"):
        validate_result(null_end)
    months = good | {
        "headline_numbers": {"payback": money(6.0, 4.0, 0.0, "months") | {"high": None}}
    }
    validate_result(months)  # "never pays back" is a missing end, allowed for months
    with pytest.raises(ValueError, match="recommendation"):
        validate_result(good | {"recommendation": {"decision": "maybe", "reasons": []}})
    # summarize validates as it builds: a bad figure fails in the notebook's own cell.
    with pytest.raises(ValueError, match=r"result\.json breaks its schema"):
        impact.reports.summarize("R", [], headline="h", numbers=bare["headline_numbers"])


def test_payload_is_strict_json_and_the_schema_is_a_valid_draft_7_document() -> None:
    assert json_safe({"a": [math.inf, -math.inf, math.nan, 1.5]}) == {"a": [None, None, None, 1.5]}
    schema = result_schema()
    assert schema["$schema"].startswith("http://json-schema.org/draft-07")
    import fastjsonschema

    fastjsonschema.compile(schema)  # raises JsonSchemaDefinitionException if malformed
    summary = impact.reports.summarize("R", [], headline="h", previous="")
    text = json.dumps(summary.to_dict(), allow_nan=False)
    assert '"first_run": true' in text
