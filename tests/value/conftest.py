"""Small, fully controlled registers and effects for the value-layer tests."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from impact.result import Effect
from impact.value import Register

SAMPLE_REGISTER = Path(__file__).resolve().parents[2] / "assumptions" / "ai_assist.yaml"


def fixed(value: float, unit: str, category: str) -> dict[str, Any]:
    return {"value": value, "unit": unit, "category": category}


#: Every assumption fixed: the business case is deterministic and hand-computable.
FIXED: dict[str, Any] = {
    "format": 1,
    "version": "test-1",
    "start_date": "2026-07-01",
    "assumptions": {
        "labour_usd_per_hour": fixed(60.0, "usd_per_hour", "labour"),
        "review_minutes_per_ticket": fixed(0.0, "minutes_per_ticket", "labour"),
        "compute_usd_per_ticket": fixed(0.0, "usd_per_ticket", "compute"),
        "rework_usd_per_reopen": fixed(10.0, "usd_per_reopen", "value"),
        "cost_usd_per_escalation": fixed(20.0, "usd_per_escalation", "value"),
        "value_usd_per_resolution": fixed(5.0, "usd_per_resolution", "value"),
        "build_usd": fixed(1000.0, "usd", "build"),
        "run_usd_per_month": fixed(100.0, "usd_per_month", "run"),
        "tickets_per_month": fixed(100.0, "tickets_per_month", "adoption"),
        "adoption_max": fixed(1.0, "share", "adoption"),
        "adoption_ramp_months": fixed(0.0, "months", "adoption"),
        "discount_rate_annual": fixed(0.0, "per_year", "finance"),
        "horizon_months": fixed(12.0, "months", "finance"),
    },
}


def register(**values: float) -> Register:
    """The FIXED register with some point values changed (still fixed)."""
    raw = copy.deepcopy(FIXED)
    for name, value in values.items():
        raw["assumptions"][name]["value"] = value
    return Register.from_dict(raw)


def effect(
    outcome: str = "handle_time_minutes", estimate: float = -2.0, se: float = 0.5, **changes: Any
) -> Effect:
    base = dict(
        outcome=outcome,
        method="ab.welch",
        estimand="ATE",
        estimate=estimate,
        std_error=se,
        ci_low=estimate - 1.96 * se,
        ci_high=estimate + 1.96 * se,
        p_value=0.001,
        baseline=12.0,
        lift=estimate / 12.0,
        lift_ci=((estimate - 1.96 * se) / 12.0, (estimate + 1.96 * se) / 12.0),
        n_treated=40,
        n_control=160,
    )
    return Effect(**(base | changes))


@pytest.fixture(scope="session")
def sample_register() -> Register:
    return Register.from_yaml(SAMPLE_REGISTER)
