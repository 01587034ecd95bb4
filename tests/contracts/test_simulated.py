"""The simulator's default sample passes its contracts; its injected bad rows are all caught."""

from __future__ import annotations

import pytest

from impact.contracts import validate

datasets = pytest.importorskip("impact.datasets")
if not hasattr(datasets, "inject_bad_rows"):  # pragma: no cover - while the simulator is built
    pytest.skip("impact.datasets has no inject_bad_rows yet", allow_module_level=True)

# inject_bad_rows kind -> the contract rule it must break.
RULE_OF_KIND = {
    "duplicate_event_id": "duplicate event_id",
    "negative_duration": "ended_at >= started_at",
    "null_agent_id": "agent_id not null",
    "handle_time_out_of_range": "handle_time_minutes <= 1440",
    "csat_out_of_range": "csat <= 5",
    "unknown_workflow": "workflow in {billing, technical, account, returns}",
    "negative_cost": "compute_cost_usd >= 0",
}


@pytest.mark.parametrize(
    ("table", "contract"),
    [
        ("events", "workflow_events"),
        ("assignments", "assignments"),
        ("rollouts", "rollouts"),
        ("agents", "agents"),
    ],
)
def test_default_sample_is_valid(sample: datasets.SampleData, table: str, contract: str) -> None:
    frame = getattr(sample, table)
    check = validate(frame, contract)
    assert check.rows_quarantined == 0, check.report()
    assert check.rows_valid == len(frame) > 0
    assert check.ok


def test_injected_bad_rows_are_counted_per_kind(sample: datasets.SampleData) -> None:
    assert set(RULE_OF_KIND) == set(datasets.BAD_ROW_KINDS)
    broken, counts = datasets.inject_bad_rows(sample.events, n_per_kind=5)
    check = validate(broken, "workflow_events")
    n_failed = dict(zip(check.summary.rule, check.summary.n_failed, strict=True))
    assert {kind: n_failed[rule] for kind, rule in RULE_OF_KIND.items()} == counts
    assert set(counts.values()) == {5}
    assert check.rows_quarantined == sum(counts.values()) == 35
    assert check.rows_valid + check.rows_quarantined == len(broken)
    # A negative duration also makes the handle time negative: the same 5 rows, two rules.
    assert n_failed["handle_time_minutes >= 0"] == 5
    others = set(n_failed) - set(RULE_OF_KIND.values()) - {"handle_time_minutes >= 0"}
    assert {rule: n_failed[rule] for rule in others if n_failed[rule]} == {}
