"""Each kind of row rule, passing and failing, with exact counts."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import ibis
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from impact.contracts import Validation, load_contract, validate


def failed(check: Validation) -> dict[str, int]:
    """Rule name -> rows that broke it, for the rules that broke."""
    summary = check.summary
    return {rule: int(n) for rule, n in zip(summary.rule, summary.n_failed, strict=True) if n}


def test_clean_events_pass_every_rule(clean_events: pd.DataFrame) -> None:
    check = validate(clean_events, "workflow_events")
    assert failed(check) == {}
    assert (check.rows_checked, check.rows_valid, check.rows_quarantined) == (200, 200, 0)
    assert len(check.summary) == len(load_contract("workflow_events").rules) == 31
    assert check.ok


def test_required(clean_events: pd.DataFrame) -> None:
    clean_events.loc[[1, 2], "team_id"] = None
    clean_events["resolved"] = clean_events["resolved"].astype("boolean")
    clean_events.loc[[3], "resolved"] = None
    clean_events.loc[[4], "ai_model"] = None  # nullable: no breach
    check = validate(clean_events, "workflow_events")
    assert failed(check) == {"team_id not null": 2, "resolved not null": 1}
    assert check.rows_quarantined == 3


def test_allowed_values(clean_events: pd.DataFrame) -> None:
    clean_events.loc[[0, 1, 2], "region"] = "LATAM"
    clean_events.loc[[3], "ai_model"] = "medium"
    clean_events.loc[[4], "workflow"] = "Billing"  # case matters
    check = validate(clean_events, "workflow_events")
    assert failed(check) == {
        "region in {AMER, EMEA, APAC}": 3,
        "ai_model in {small, large}": 1,
        "workflow in {billing, technical, account, returns}": 1,
    }


def test_minimum_and_maximum(clean_events: pd.DataFrame) -> None:
    clean_events.loc[[0, 1], "handle_time_minutes"] = -0.5
    clean_events.loc[[2], "handle_time_minutes"] = 1440.0  # the bound itself is allowed
    clean_events.loc[[3, 4, 5], "handle_time_minutes"] = 1440.01
    clean_events.loc[[6], "csat"] = 0
    clean_events.loc[[7], "review_minutes"] = -1.0
    check = validate(clean_events, "workflow_events")
    assert failed(check) == {
        "handle_time_minutes >= 0": 2,
        "handle_time_minutes <= 1440": 3,
        "csat >= 1": 1,
        "review_minutes >= 0": 1,
    }


def test_null_never_breaks_a_range(clean_events: pd.DataFrame) -> None:
    clean_events["csat"] = pd.array([None] * len(clean_events), dtype="Int64")
    check = validate(clean_events, "workflow_events")
    assert failed(check) == {}


def test_finite_nan_and_infinity(clean_events: pd.DataFrame) -> None:
    # NaN survives only outside pandas (pandas NaN means missing), so build an Arrow table.
    table = pa.Table.from_pandas(clean_events, preserve_index=False)
    handle = clean_events["handle_time_minutes"].to_numpy().copy()
    handle[[0, 1]] = np.nan
    handle[2] = np.inf
    cost = clean_events["compute_cost_usd"].to_numpy().copy()
    cost[3] = -np.inf
    table = table.set_column(
        table.schema.get_field_index("handle_time_minutes"),
        "handle_time_minutes",
        pa.array(handle, from_pandas=False),
    ).set_column(
        table.schema.get_field_index("compute_cost_usd"),
        "compute_cost_usd",
        pa.array(cost, from_pandas=False),
    )
    check = validate(ibis.memtable(table), "workflow_events")
    # Non-finite values break the finite rule only: ranges judge finite numbers.
    assert failed(check) == {"handle_time_minutes finite": 3, "compute_cost_usd finite": 1}
    assert check.rows_quarantined == 4


def test_pandas_nan_is_missing(clean_events: pd.DataFrame) -> None:
    clean_events.loc[[0], "handle_time_minutes"] = np.nan
    check = validate(clean_events, "workflow_events")
    assert failed(check) == {"handle_time_minutes not null": 1}


def test_cross_column(clean_events: pd.DataFrame) -> None:
    clean_events.loc[[0, 1], "ended_at"] = clean_events.loc[[0, 1], "started_at"] - pd.Timedelta(
        seconds=1
    )
    clean_events.loc[[2], "ended_at"] = clean_events.loc[2, "started_at"]  # zero: allowed
    check = validate(clean_events, "workflow_events")
    assert failed(check) == {"ended_at >= started_at": 2}


def test_cross_column_ignores_nulls_and_checks_both_bounds() -> None:
    register = pd.DataFrame(
        {
            "name": ["a", "b", "c", "d"],
            "value": [1.0, 0.5, 9.0, 2.0],
            "low": [0.5, 0.6, 1.0, None],
            "high": [2.0, 1.0, 8.0, 3.0],
            "distribution": ["uniform", "normal", "triangular", "fixed"],
            "unit": ["usd"] * 4,
            "category": ["labour", "compute", "value", "run"],
            "source": [None] * 4,
            "owner": ["fin"] * 4,
            "as_of": pd.to_datetime(["2026-01-01"] * 4).date,
        }
    )
    check = validate(register, "assumptions")
    assert failed(check) == {"low not null": 1, "value >= low": 1, "value <= high": 1}
    assert check.rows_valid == 1


def test_unique_keeps_one_copy(clean_events: pd.DataFrame) -> None:
    copies = pd.concat([clean_events, clean_events.iloc[[10, 10, 11]]], ignore_index=True)
    check = validate(copies, "workflow_events")
    assert failed(check) == {"duplicate event_id": 3}
    valid = check.valid.to_pandas()
    assert len(valid) == 200 and valid.event_id.is_unique
    assert check.quarantine.to_pandas().event_id.tolist().count("E00000010") == 2


def test_duplicates_are_kept_deterministically(clean_events: pd.DataFrame) -> None:
    twin = clean_events.iloc[[5]].assign(handle_time_minutes=1.0)  # sorts before the original
    for frame in (
        pd.concat([clean_events, twin], ignore_index=True),
        pd.concat([twin, clean_events], ignore_index=True),
    ):
        kept = validate(frame, "workflow_events").valid.to_pandas().set_index("event_id")
        assert kept.loc["E00000005", "handle_time_minutes"] == 1.0


def test_a_broken_copy_never_displaces_a_good_one(clean_events: pd.DataFrame) -> None:
    bad = clean_events.iloc[[5]].assign(workflow="aaa")  # would sort first by workflow
    frame = pd.concat([bad, clean_events], ignore_index=True)
    check = validate(frame, "workflow_events")
    kept = check.valid.to_pandas().set_index("event_id")
    assert kept.loc["E00000005", "workflow"] == clean_events.loc[5, "workflow"]
    quarantine = check.quarantine.to_pandas()
    assert quarantine["_rules"].tolist() == [
        "duplicate event_id; workflow in {billing, technical, account, returns}"
    ]
    assert check.rows_valid == 200


def test_composite_key() -> None:
    assignments = pd.DataFrame(
        {
            "experiment_id": ["P1", "P1", "P1", "P2", "P2", None],
            "agent_id": ["A1", "A2", "A1", "A1", "A1", "A1"],
            "arm": ["control", "treatment", "treatment", "control", "control", "control"],
            "assigned_at": pd.Timestamp("2026-04-27", tz="UTC"),
        }
    )
    check = validate(assignments, "assignments")
    # (P1, A1) twice and (P2, A1) twice: two extra copies; a NULL key is no duplicate.
    assert failed(check) == {"duplicate (experiment_id, agent_id)": 2, "experiment_id not null": 1}
    assert check.rows_valid == 3
    kept = check.valid.to_pandas().sort_values(["experiment_id", "agent_id"])
    assert kept.arm.tolist() == ["control", "treatment", "control"]  # "control" < "treatment"
    example = check.summary.set_index("rule").loc["duplicate (experiment_id, agent_id)", "example"]
    assert example == "experiment_id P1, agent_id A1"


def test_unique_on_rollouts_and_agents() -> None:
    rollouts = pd.DataFrame({"team_id": ["T1", "T2", "T1"], "rollout_at": [None] * 3})
    assert failed(validate(rollouts, "rollouts")) == {"duplicate team_id": 1}
    agents = pd.DataFrame(
        {
            "agent_id": ["A1", "A2"],
            "team_id": ["T1", "T1"],
            "region": ["EMEA", "Mars"],
            "tenure_months": [12.0, 601.0],
            "design": ["pilot", None],
        }
    )
    assert failed(validate(agents, "agents")) == {
        "region in {AMER, EMEA, APAC}": 1,
        "tenure_months <= 600": 1,
    }


def test_library_metrics_from_a_custom_contract(write_contract: Callable[..., Path]) -> None:
    path = write_contract(
        """
        - name: code
          logicalType: string
          quality:
            - metric: invalidValues
              arguments: {pattern: '^[A-Z]{2}[0-9]$'}
              mustBe: 0
            - metric: missingValues
              arguments: {missingValues: [null, '', 'N/A']}
              mustBe: 0
        - name: size
          logicalType: string
          enum: [{value: S}, {value: M}]
        - name: score
          logicalType: integer
          logicalTypeOptions: {exclusiveMinimum: 0, exclusiveMaximum: 10}
        """
    )
    frame = pd.DataFrame(
        {
            "code": ["AB1", "ab1", "N/A", "", None, "CD2"],
            "size": ["S", "M", "L", "S", None, "S"],
            "score": [1, 0, 10, 9, 5, None],
        },
    ).astype({"score": "Int64"})
    check = validate(frame, path)
    assert failed(check) == {
        "code matches ^[A-Z]{2}[0-9]$": 3,  # ab1, N/A, '' (null is not judged)
        "code not in {null, , N/A}": 3,  # N/A, '', null
        "size in {S, M}": 1,
        "score > 0": 1,
        "score < 10": 1,
    }


def test_tolerance_from_quality_operators(write_contract: Callable[..., Path]) -> None:
    path = write_contract(
        """
        - name: x
          logicalType: string
          quality:
            - metric: nullValues
              mustBeLessThan: 2
        - name: y
          logicalType: number
          quality:
            - metric: nullValues
              mustBeLessOrEqualTo: 25
              unit: percent
        """
    )
    one = pd.DataFrame({"x": ["a", None, "c", "d"], "y": [1.0, None, 2.0, 3.0]})
    check = validate(one, path)
    assert failed(check) == {"x not null": 1, "y not null": 1}
    assert check.ok and check.rows_quarantined == 1  # tolerated, still quarantined
    check.raise_if_any()
    two = pd.DataFrame({"x": [None, None, "c", "d"], "y": [None, None, 2.0, 3.0]})
    check = validate(two, path)
    assert check.failures.rule.tolist() == ["x not null", "y not null"]
    assert not check.ok


def test_sql_checks_are_listed_not_run(write_contract: Callable[..., Path]) -> None:
    path = write_contract(
        "- name: x\n  logicalType: string\n",
        quality="- type: sql\n  name: nasty\n  query: DROP TABLE x\n  mustBe: 0\n",
    )
    contract = load_contract(path)
    assert contract.rules == ()
    assert len(contract.unenforced) == 1 and "nasty" in contract.unenforced[0]
    assert validate(pd.DataFrame({"x": ["a"]}), contract).rows_valid == 1


@pytest.mark.parametrize(
    ("properties", "quality", "message"),
    [
        ("- name: x\n  logicalType: object\n", "", "logicalType 'object' is not supported"),
        (
            "- name: x\n  logicalType: number\n",
            "- type: custom\n  engine: impact\n  implementation: {compare: [x, '=>', y]}\n",
            "implementation: {compare",
        ),
        (
            "- name: x\n  logicalType: number\n",
            "- type: custom\n  engine: impact\n  implementation: {compare: [x, '>=', y]}\n",
            "refers to \\['y'\\]",
        ),
        (
            "- name: x\n  logicalType: number\n  quality:\n    - metric: nullValues\n"
            "      mustBeGreaterThan: 3\n",
            "",
            "cannot bound a count",
        ),
        (
            "- name: x\n  logicalType: number\n  quality:\n    - metric: averageValue\n",
            "",
            "metric 'averageValue' is not supported",
        ),
        (
            "- name: x\n  logicalType: string\n  quality:\n    - metric: invalidValues\n"
            "      arguments: {validValues: [yes, no]}\n",
            "",
            "quote every validValues entry",
        ),
        (
            "- name: x\n  logicalType: timestamp\n  logicalTypeOptions:\n"
            "    defaultTimezone: Europe/Paris\n",
            "",
            "defaultTimezone",
        ),
    ],
)
def test_contracts_impact_cannot_compile_are_rejected(
    write_contract: Callable[..., Path], properties: str, quality: str, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        load_contract(write_contract(properties, quality))
