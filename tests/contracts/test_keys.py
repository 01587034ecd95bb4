"""keys.repeats: exact counts of repeated keys, by sorted hashes on DuckDB, in the engine else."""

from __future__ import annotations

from typing import Any

import ibis
import numpy as np
import pandas as pd
import pytest

from impact.contracts import keys
from impact.engine import as_table


def _frame(n: int, seed: int) -> pd.DataFrame:
    """Keys drawn with replacement (so some repeat), with NULLs in both parts."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "id": pd.array(rng.integers(0, n, n).astype(str), dtype="string"),
            "day": pd.array(rng.integers(0, 3, n), dtype="Int64"),
            "at": pd.Timestamp("2026-01-01", tz="UTC")
            + pd.to_timedelta(rng.integers(0, n, n), "s"),
        }
    )
    frame.loc[rng.random(n) < 0.05, "id"] = None
    frame.loc[rng.random(n) < 0.05, "day"] = None
    return frame


def _expected(frame: pd.DataFrame, columns: list[str]) -> int:
    complete = frame.dropna(subset=columns)
    return int(complete.duplicated(subset=columns).sum())


@pytest.mark.parametrize("columns", [["id"], ["day"], ["at"], ["id", "day"], ["day", "at"]])
@pytest.mark.parametrize("seed", [0, 1])
def test_repeats_match_pandas(columns: list[str], seed: int) -> None:
    frame = _frame(5_000, seed)
    expected = _expected(frame, columns)
    assert expected > 0
    assert keys.repeats(as_table(frame), columns) == expected
    unique = frame.dropna(subset=columns).drop_duplicates(subset=columns)
    assert keys.repeats(as_table(unique), columns) == 0


def test_one_planted_copy_among_a_million_keys() -> None:
    ids = np.arange(1_000_000).astype(str)
    frame = pd.DataFrame({"id": np.append(ids, ids[123_456])})
    assert keys.repeats(as_table(frame), ["id"]) == 1
    assert keys.repeats(as_table(frame.iloc[:-1]), ["id"]) == 0


def test_nulls_never_count_and_tiny_tables() -> None:
    frame = pd.DataFrame({"id": [None, None, None, "a"], "day": [1, 1, None, 2]})
    assert keys.repeats(as_table(frame), ["id"]) == 0
    assert keys.repeats(as_table(frame), ["id", "day"]) == 0
    assert keys.repeats(as_table(frame), ["day"]) == 1
    assert keys.repeats(as_table(frame.iloc[:0]), ["id"]) == 0


def _engine_counts(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record whether the hashes were streamed and whether the engine counted distinct keys."""
    seen: list[str] = []
    hashes, engine = keys._hashes, ibis.expr.types.Table.aggregate

    def spy_hashes(*args: Any, **kwargs: Any) -> Any:
        seen.append("hashes")
        return hashes(*args, **kwargs)

    def spy_aggregate(self: Any, *args: Any, **kwargs: Any) -> Any:
        if "distinct" in kwargs:
            seen.append("distinct")
        return engine(self, *args, **kwargs)

    monkeypatch.setattr(keys, "_hashes", spy_hashes)
    monkeypatch.setattr(ibis.expr.types.Table, "aggregate", spy_aggregate)
    return seen


def test_clean_keys_never_reach_the_engines_distinct_count(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    frame = _frame(2_000, 3).dropna(subset=["id"]).drop_duplicates(subset=["id"])
    seen = _engine_counts(monkeypatch)
    assert keys.repeats(as_table(frame), ["id"]) == 0
    assert seen == ["hashes"]
    seen.clear()
    assert keys.repeats(as_table(pd.concat([frame, frame.iloc[:3]])), ["id"]) == 3
    assert seen == ["hashes", "distinct"]


def test_a_hash_collision_is_settled_exactly_by_the_engine(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    frame = pd.DataFrame({"id": ["a", "b", "c"]})
    # Every key hashing alike: the sorted hashes say "maybe", the engine says none repeat.
    monkeypatch.setattr(keys, "_hashes", lambda *a, **k: np.zeros(3, dtype=np.uint64))
    assert keys.repeats(as_table(frame), ["id"]) == 0


def test_a_table_that_changed_size_is_counted_in_the_engine() -> None:
    frame = pd.DataFrame({"id": ["a", "b", "b", "c"]})
    table = as_table(frame)
    # A stale count (the table grew or shrank since): no hashes, one consistent engine count.
    assert keys._hashes(table, ["id"], complete=3) is None
    assert keys._hashes(table, ["id"], complete=5) is None
    assert keys.repeats(table, ["id"], complete=3) == 1
    assert keys.repeats(table, ["id"], complete=5) == 1


def test_too_many_keys_or_another_engine_count_in_the_engine(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    frame = _frame(3_000, 4)
    expected = _expected(frame, ["id", "day"])
    seen = _engine_counts(monkeypatch)
    monkeypatch.setattr(keys, "LOCAL_KEYS_MAX", 10)
    assert keys.repeats(as_table(frame), ["id", "day"]) == expected
    assert seen == ["distinct"]
    monkeypatch.setattr(keys, "LOCAL_KEYS_MAX", 10**9)
    monkeypatch.setattr(keys, "_on_duckdb", lambda table: False)
    seen.clear()
    assert keys.repeats(as_table(frame), ["id", "day"]) == expected
    assert seen == ["distinct"]


def test_only_a_duckdb_table_is_hashed_locally() -> None:
    assert keys._on_duckdb(as_table(pd.DataFrame({"id": ["a"]})))
    unbound = ibis.table({"id": "string"}, name="nowhere")
    assert not keys._on_duckdb(unbound)
