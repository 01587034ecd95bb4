"""Structural checks: missing columns, wrong types, parsing; one error listing every breach."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import ibis
import ibis.expr.datatypes as idt
import numpy as np
import pandas as pd
import pytest

from impact.contracts import validate
from impact.errors import ContractError


def breaches(error: ContractError) -> dict[tuple[str, str], int]:
    """(column, rule) -> n_rows of a structural error."""
    failures = error.failures
    assert list(failures.columns) == ["column", "rule", "n_rows", "example"]
    return {
        (c, r): int(n)
        for c, r, n in zip(failures.column, failures.rule, failures.n_rows, strict=True)
    }


def test_missing_required_column(clean_events: pd.DataFrame) -> None:
    with pytest.raises(ContractError) as info:
        validate(clean_events.drop(columns=["agent_id", "ai_used"]), "workflow_events")
    assert breaches(info.value) == {
        ("agent_id", "missing column"): 200,
        ("ai_used", "missing column"): 200,
    }
    assert info.value.contract == "workflow_events"


def test_missing_column_suggests_a_close_name(clean_events: pd.DataFrame) -> None:
    with pytest.raises(ContractError) as info:
        validate(clean_events.rename(columns={"agent_id": "agentid"}), "workflow_events")
    assert "did you mean 'agentid'? pass columns={'agent_id': 'agentid'}" in str(info.value)


def test_missing_optional_column_is_fine(clean_events: pd.DataFrame) -> None:
    check = validate(clean_events.drop(columns=["csat", "ai_model"]), "workflow_events")
    assert check.rows_valid == 200
    assert "csat" not in check.valid.columns
    assert not any("csat" in rule for rule in check.summary.rule)


def test_wrong_type(clean_events: pd.DataFrame) -> None:
    clean_events["handle_time_minutes"] = clean_events["handle_time_minutes"].map(
        lambda v: f"{v} min"
    )
    clean_events["resolved"] = clean_events["resolved"].astype(int)
    with pytest.raises(ContractError) as info:
        validate(clean_events, "workflow_events")
    assert breaches(info.value) == {
        ("handle_time_minutes", "wrong type: expected number, got string"): 200,
        ("resolved", "wrong type: expected boolean, got int64"): 200,
    }
    examples = dict(zip(info.value.failures.column, info.value.failures.example, strict=True))
    assert examples["handle_time_minutes"].endswith(" min")


def test_every_breach_in_one_error(clean_events: pd.DataFrame) -> None:
    frame = clean_events.drop(columns=["team_id"])
    frame["review_minutes"] = "n/a"
    frame["started_at"] = frame["started_at"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    frame.loc[[3, 4, 5], "started_at"] = ["yesterday", "31/02/2026", "2026-13-01 10:00"]
    with pytest.raises(ContractError) as info:
        validate(frame, "workflow_events")
    assert breaches(info.value) == {
        ("team_id", "missing column"): 200,
        ("started_at", "unparseable timestamp"): 3,
        ("review_minutes", "wrong type: expected number, got string"): 200,
    }
    message = str(info.value)
    assert message.startswith("workflow_events: 3 check(s) failed")
    for text in (
        "team_id",
        "missing column",
        "started_at",
        "unparseable timestamp",
        "2026-13-01 10:00",
        "review_minutes",
        "expected number, got string",
        "n/a",
        " 3 ",
        " 200 ",
    ):
        assert text in message


def test_string_timestamps_parse_to_utc(clean_events: pd.DataFrame) -> None:
    frame = clean_events.copy()
    frame["started_at"] = frame["started_at"].dt.strftime("%Y-%m-%d %H:%M:%S")  # naive text
    frame["ended_at"] = (
        frame["ended_at"]
        .dt.tz_convert("Asia/Kolkata")
        .map(
            lambda ts: ts.isoformat()  # with a +05:30 offset
        )
    )
    check = validate(frame, "workflow_events")
    assert check.rows_valid == 200
    schema = check.valid.schema()
    assert schema["started_at"] == schema["ended_at"] == idt.Timestamp(timezone="UTC")
    valid = check.valid.order_by("event_id").to_pandas()
    pd.testing.assert_series_equal(
        valid["ended_at"], clean_events["ended_at"], check_dtype=False, check_names=False
    )
    assert (valid["started_at"] == clean_events["started_at"]).all()


def test_naive_timestamps_are_utc(clean_events: pd.DataFrame) -> None:
    naive = clean_events.assign(
        started_at=clean_events.started_at.dt.tz_localize(None),
        ended_at=clean_events.ended_at.dt.tz_localize(None),
    )
    check = validate(naive, "workflow_events")
    assert check.rows_valid == 200
    first = check.valid.order_by("event_id").limit(1).to_pyarrow().to_pylist()[0]
    assert first["started_at"] == dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def test_aware_timestamps_are_converted_to_utc(clean_events: pd.DataFrame) -> None:
    paris = clean_events.assign(started_at=clean_events.started_at.dt.tz_convert("Europe/Paris"))
    check = validate(paris, "workflow_events")
    assert check.valid.schema()["started_at"] == idt.Timestamp(timezone="UTC")
    first = check.valid.order_by("event_id").limit(1).to_pyarrow().to_pylist()[0]
    assert first["started_at"] == dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def test_csv_with_string_timestamps(clean_events: pd.DataFrame, tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    clean_events.to_csv(path, index=False)
    check = validate(path, "workflow_events")
    assert (check.rows_checked, check.rows_valid) == (200, 200)
    assert check.valid.schema()["started_at"] == idt.Timestamp(timezone="UTC")
    assert check.valid.schema()["csat"] == idt.int64


def test_csv_with_an_unparseable_timestamp(clean_events: pd.DataFrame, tmp_path: Path) -> None:
    frame = clean_events.astype({"ended_at": "string"})
    frame.loc[[7, 8], "ended_at"] = "soon"
    path = tmp_path / "events.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(ContractError) as info:
        validate(path, "workflow_events")
    assert breaches(info.value) == {("ended_at", "unparseable timestamp"): 2}
    assert info.value.failures.example.tolist() == ["soon"]


@pytest.mark.parametrize("dtype", ["int8", "int16", "int32", "int64", "uint8", "Int16"])
def test_any_integer_width(clean_events: pd.DataFrame, dtype: str) -> None:
    frame = clean_events.assign(csat=clean_events.csat.fillna(3).astype(dtype))
    check = validate(frame, "workflow_events")
    assert check.rows_valid == 200
    assert check.valid.schema()["csat"] == idt.int64


def test_integers_accepted_where_numbers_are_expected(clean_events: pd.DataFrame) -> None:
    frame = clean_events.assign(review_minutes=clean_events.review_minutes.round().astype(int))
    check = validate(frame, "workflow_events")
    assert check.valid.schema()["review_minutes"] == idt.float64


def test_whole_floats_accepted_where_integers_are_expected(clean_events: pd.DataFrame) -> None:
    frame = clean_events.assign(csat=clean_events.csat.astype("float64"))  # NaN for no answer
    assert frame.csat.isna().sum() == 50
    check = validate(frame, "workflow_events")
    assert check.rows_valid == 200
    frame.loc[[1, 2], "csat"] = 2.5
    with pytest.raises(ContractError) as info:
        validate(frame, "workflow_events")
    assert breaches(info.value) == {("csat", "not a whole number"): 2}


def test_dates(tmp_path: Path) -> None:
    midnight = pd.DataFrame(
        {"team_id": ["T1", "T2"], "rollout_at": pd.to_datetime(["2026-05-04", None])}
    )
    check = validate(midnight, "rollouts")
    assert check.valid.schema()["rollout_at"] == idt.date
    text = pd.DataFrame({"team_id": ["T1", "T2", "T3"], "rollout_at": ["2026-05-04", None, "x"]})
    with pytest.raises(ContractError) as info:
        validate(text, "rollouts")
    assert breaches(info.value) == {("rollout_at", "unparseable date"): 1}
    timed = midnight.assign(rollout_at=pd.to_datetime(["2026-05-04 10:30", None]))
    with pytest.raises(ContractError) as info:
        validate(timed, "rollouts")
    assert breaches(info.value) == {("rollout_at", "has a time of day"): 1}


def test_all_null_column_passes_as_any_type() -> None:
    frame = pd.DataFrame({"team_id": ["T1"], "rollout_at": [None]}).astype({"rollout_at": object})
    check = validate(frame, "rollouts")
    assert check.valid.schema()["rollout_at"] == idt.date


def test_ids_exported_as_integers_become_strings() -> None:
    frame = pd.DataFrame({"team_id": [1, 2], "rollout_at": [None, None]})
    check = validate(frame, "rollouts")
    assert sorted(check.valid.to_pandas().team_id) == ["1", "2"]


def test_nested_types_are_reported_without_example() -> None:
    table = ibis.memtable({"team_id": [["T1"], ["T2"]], "rollout_at": [None, None]})
    with pytest.raises(ContractError) as info:
        validate(table, "rollouts")
    assert breaches(info.value) == {
        ("team_id", "wrong type: expected string, got array<string>"): 2
    }
    assert info.value.failures.example.isna().all()


def test_empty_input() -> None:
    frame = pd.DataFrame({"team_id": pd.Series([], dtype="string"), "rollout_at": []})
    check = validate(frame, "rollouts")
    assert (check.rows_checked, check.rows_valid, check.rows_quarantined) == (0, 0, 0)
    assert check.summary.n_failed.sum() == 0


def test_float_columns_may_hold_infinity_but_not_strings(clean_events: pd.DataFrame) -> None:
    frame = clean_events.assign(tenure=np.inf)  # extra columns are ignored
    assert validate(frame, "workflow_events").rows_valid == 200
