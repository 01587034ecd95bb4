"""validate(): quarantine counts on injected bad rows, the partition invariant, mapping, output."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import ibis
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from impact.contracts import RULES_COLUMN, Validation, load_contract, require_columns, validate
from impact.errors import ContractError


def failed(check: Validation) -> dict[str, int]:
    summary = check.summary
    return {rule: int(n) for rule, n in zip(summary.rule, summary.n_failed, strict=True) if n}


def test_injected_rows_are_quarantined_exactly(
    broken_events: pd.DataFrame, injected: dict[str, str]
) -> None:
    check = validate(broken_events, "workflow_events")
    assert failed(check) == {rule: 5 for rule in injected.values()}
    assert (check.rows_checked, check.rows_valid, check.rows_quarantined) == (205, 170, 35)
    quarantine = check.quarantine.to_pandas()
    assert quarantine[RULES_COLUMN].value_counts().to_dict() == {r: 5 for r in injected.values()}


def test_valid_plus_quarantine_is_the_input(broken_events: pd.DataFrame) -> None:
    check = validate(broken_events, "workflow_events")
    valid = check.valid.to_pandas()
    quarantine = check.quarantine.to_pandas()
    assert len(valid) + len(quarantine) == len(broken_events) == check.rows_checked
    assert len(valid) == check.rows_valid and len(quarantine) == check.rows_quarantined
    # Every event id survives somewhere, the kept copy of each duplicate in `valid`.
    assert valid.event_id.is_unique
    assert set(valid.event_id) | set(quarantine.event_id) == set(broken_events.event_id)
    duplicated = broken_events.event_id[broken_events.event_id.duplicated()]
    assert set(duplicated) <= set(valid.event_id)


def test_output_columns(broken_events: pd.DataFrame) -> None:
    frame = broken_events.assign(note="kept")
    check = validate(frame, "workflow_events")
    assert list(check.valid.columns) == list(frame.columns)
    assert list(check.quarantine.columns) == [*frame.columns, RULES_COLUMN]
    assert check.valid.schema()["csat"] == ibis.dtype("int64")
    assert check.quarantine.to_pandas().note.eq("kept").all()


def test_a_row_breaking_several_rules_is_quarantined_once(clean_events: pd.DataFrame) -> None:
    clean_events.loc[0, ["workflow", "compute_cost_usd"]] = ["unknown", -1.0]
    clean_events.loc[0, "csat"] = 7
    check = validate(clean_events, "workflow_events")
    assert check.rows_quarantined == 1
    assert check.quarantine.to_pandas()[RULES_COLUMN].tolist() == [
        "workflow in {billing, technical, account, returns}; csat <= 5; compute_cost_usd >= 0"
    ]


def test_summary_and_messages(broken_events: pd.DataFrame) -> None:
    check = validate(broken_events, "workflow_events")
    summary = check.summary
    assert list(summary.columns) == ["column", "rule", "n_failed", "passed", "example", "message"]
    assert len(summary) == len(load_contract("workflow_events").rules)
    row = summary.set_index("rule").loc["handle_time_minutes <= 1440"]
    assert row.column == "handle_time_minutes" and not row.passed
    assert row.message.startswith("5 row(s) have handle_time_minutes > 1440 (e.g. event_id E")
    assert "handle_time_minutes=1500" in row.message
    ended = summary.set_index("rule").loc["ended_at >= started_at"]
    assert ended.column == "ended_at, started_at"
    assert ended.message.startswith("5 row(s) have ended_at < started_at (e.g. event_id E")
    null = summary.set_index("rule").loc["agent_id not null"]
    assert null.example.startswith("event_id E") and "agent_id" not in null.example
    report = check.report()
    assert report.splitlines()[0] == (
        "workflow_events 1.0.0: 205 row(s) checked, 170 valid, 35 quarantined"
    )
    assert len(report.splitlines()) == 1 + 7


def test_raise_if_any(broken_events: pd.DataFrame, clean_events: pd.DataFrame) -> None:
    validate(clean_events, "workflow_events").raise_if_any()
    with pytest.raises(ContractError) as info:
        validate(broken_events, "workflow_events").raise_if_any()
    failures = info.value.failures
    assert list(failures.columns) == ["column", "rule", "n_rows", "example"]
    assert failures.n_rows.tolist() == [5] * 7
    assert "duplicate event_id" in str(info.value) and "csat <= 5" in str(info.value)


def test_to_dict_is_json_ready(broken_events: pd.DataFrame) -> None:
    payload = validate(broken_events, "workflow_events").to_dict()
    again = json.loads(json.dumps(payload))
    assert again["contract"] == "workflow_events" and again["version"] == "1.0.0"
    assert (again["rows_checked"], again["rows_valid"], again["rows_quarantined"]) == (205, 170, 35)
    assert again["passed"] is False
    assert sum(r["n_failed"] for r in again["rules"]) == 35


def test_renders_in_jupyter(broken_events: pd.DataFrame) -> None:
    check = validate(broken_events, "workflow_events")
    page = check._repr_html_()
    assert "workflow_events 1.0.0" in page and "<table" in page
    assert "{billing, technical, account, returns}" in page
    assert repr(check) == (
        "Validation(contract='workflow_events', version='1.0.0', rows_checked=205, "
        "rows_valid=170, rows_quarantined=35)"
    )


def test_column_mapping(broken_events: pd.DataFrame) -> None:
    theirs = broken_events.rename(columns={"agent_id": "employee_no", "event_id": "ticket"})
    check = validate(
        theirs, "workflow_events", columns={"agent_id": "employee_no", "event_id": "ticket"}
    )
    assert (check.rows_valid, check.rows_quarantined) == (170, 35)
    assert "agent_id" in check.valid.columns and "employee_no" not in check.valid.columns
    assert failed(check)["agent_id not null"] == 5


def test_mapping_to_an_absent_column_is_structural(clean_events: pd.DataFrame) -> None:
    with pytest.raises(ContractError, match="columns= maps it to 'emp'"):
        validate(
            clean_events.drop(columns="agent_id"), "workflow_events", columns={"agent_id": "emp"}
        )


@pytest.mark.parametrize(
    ("columns", "message"),
    [
        ({"agent": "agent_id"}, "does not define"),
        ({"agent_id": "team_id"}, "already has a column 'agent_id'"),
        ({"agent_id": "x", "team_id": "x"}, "more than one"),
    ],
)
def test_bad_mapping(clean_events: pd.DataFrame, columns: dict[str, str], message: str) -> None:
    frame = clean_events.assign(x="a")
    with pytest.raises(ValueError, match=message):
        validate(frame, "workflow_events", columns=columns)


def test_a_swap_mapping_works(clean_events: pd.DataFrame) -> None:
    swapped = clean_events.rename(columns={"agent_id": "team_id", "team_id": "agent_id"})
    check = validate(
        swapped, "workflow_events", columns={"agent_id": "team_id", "team_id": "agent_id"}
    )
    valid = check.valid.order_by("event_id").to_pandas()
    assert valid.agent_id.tolist() == clean_events.agent_id.tolist()


def test_reserved_column_name(clean_events: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="_rules"):
        validate(clean_events.assign(_rules="x"), "workflow_events")


def test_a_loaded_contract_or_a_path_works(clean_events: pd.DataFrame) -> None:
    contract = load_contract("workflow_events")
    assert validate(clean_events, contract).rows_valid == 200
    assert contract.source is not None
    assert validate(clean_events, contract.source).rows_valid == 200


def _count_queries(monkeypatch: pytest.MonkeyPatch, backend: Any) -> list[str]:
    calls: list[str] = []
    for method in ("execute", "to_pyarrow", "to_pyarrow_batches", "raw_sql"):
        original = getattr(backend, method)

        def spy(
            *args: Any, _original: Callable[..., Any] = original, _name: str = method, **kwargs: Any
        ) -> Any:
            calls.append(_name)
            return _original(*args, **kwargs)

        monkeypatch.setattr(backend, method, spy)
    return calls


def test_one_aggregate_query_in_the_engine(
    clean_events: pd.DataFrame, broken_events: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    con = ibis.duckdb.connect()
    clean = con.create_table("clean", clean_events)
    broken = con.create_table("broken", broken_events.drop_duplicates("event_id"))
    copies = con.create_table("copies", broken_events)
    text = con.create_table("text", clean_events.astype({"started_at": "string"}))
    calls = _count_queries(monkeypatch, con)
    # Ibis streams the key hashes through raw_sql: one query, not two.
    hashes = ["to_pyarrow_batches", "raw_sql"]
    assert validate(clean, "workflow_events").rows_quarantined == 0
    # every rule's count in a single query, then the event ids' hashes; no example to fetch
    assert calls == ["to_pyarrow", *hashes]
    calls.clear()
    assert validate(broken, "workflow_events").rows_quarantined == 30
    assert calls == ["to_pyarrow", "to_pyarrow", *hashes]  # the counts, the examples, the keys
    calls.clear()
    validate(text, "workflow_events")
    assert calls == ["to_pyarrow", "to_pyarrow", *hashes]  # first the structural one
    calls.clear()
    check = validate(copies, "workflow_events")
    # Hashes repeat: the engine counts the copies, then ranks them in a second pass (counts,
    # then examples).
    assert calls == ["to_pyarrow", "to_pyarrow", *hashes, "to_pyarrow", "to_pyarrow", "to_pyarrow"]
    assert check.rows_quarantined == 35
    assert check.valid.count().execute() == 170  # valid/quarantine stay on that backend


def test_valid_needs_no_window_without_duplicates(clean_events: pd.DataFrame) -> None:
    clean = validate(clean_events, "workflow_events")
    assert "ROW_NUMBER" not in ibis.to_sql(clean.valid)
    copies = pd.concat([clean_events, clean_events.iloc[[0]]], ignore_index=True)
    assert "ROW_NUMBER" in ibis.to_sql(validate(copies, "workflow_events").valid)


def test_require_columns() -> None:
    require_columns(pd.DataFrame({"a": [1], "b": [2]}), "a", "b")
    with pytest.raises(ContractError) as info:
        require_columns(ibis.memtable({"a": [1]}), "a", "b", "c", what="panel")
    assert info.value.failures.column.tolist() == ["b", "c"]
    assert str(info.value).startswith("panel: 2 check(s) failed")


def test_two_broken_copies_are_both_quarantined(clean_events: pd.DataFrame) -> None:
    bad = clean_events.iloc[[5]].assign(csat=9)
    frame = pd.concat([clean_events.drop(index=5), bad, bad], ignore_index=True)
    check = validate(frame, "workflow_events")
    assert failed(check) == {"duplicate event_id": 1, "csat <= 5": 2}
    assert (check.rows_valid, check.rows_quarantined) == (199, 2)


@pytest.mark.slow
@settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    damage=st.lists(
        st.tuples(
            st.integers(0, 199),
            st.sampled_from(["copy", "null_team", "long", "early_end", "bad_region"]),
        ),
        max_size=40,
    )
)
def test_valid_and_quarantine_partition_any_input(
    clean_events: pd.DataFrame, damage: list[tuple[int, str]]
) -> None:
    frame = clean_events.copy()
    extra = []
    for row, kind in damage:
        if kind == "copy":
            extra.append(clean_events.iloc[[row]])
        elif kind == "null_team":
            frame.loc[row, "team_id"] = None
        elif kind == "long":
            frame.loc[row, "handle_time_minutes"] = 5000.0
        elif kind == "early_end":
            frame.loc[row, "ended_at"] = frame.loc[row, "started_at"] - pd.Timedelta(hours=1)
        else:
            frame.loc[row, "region"] = "MOON"
    frame = pd.concat([frame, *extra], ignore_index=True)
    check = validate(frame, "workflow_events")
    valid = check.valid.to_pandas()
    quarantine = check.quarantine.to_pandas()
    assert len(valid) + len(quarantine) == len(frame) == check.rows_checked
    assert (len(valid), len(quarantine)) == (check.rows_valid, check.rows_quarantined)
    assert valid.event_id.is_unique
    assert set(valid.event_id) | set(quarantine.event_id) == set(frame.event_id)
    assert (quarantine[RULES_COLUMN] != "").all()
    n_failed = dict(zip(check.summary.rule, check.summary.n_failed, strict=True))
    assert n_failed["duplicate event_id"] == len(frame) - frame.event_id.nunique()
