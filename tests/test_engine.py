from __future__ import annotations

from pathlib import Path

import duckdb
import ibis
import pandas as pd
import pytest

from impact import engine
from impact.engine import (
    MEMORY_LIMIT_ENV,
    as_table,
    default_backend,
    fingerprint,
    memory_limit,
    sample_frame,
)
from impact.errors import ContractError, ParameterError

FRAME = pd.DataFrame({"agent_id": ["a", "b", "c"], "y": [1.5, 2.5, 3.5]})


def test_frames_paths_and_tables_become_the_same_ibis_table(tmp_path: Path) -> None:
    FRAME.to_parquet(tmp_path / "x.parquet")
    FRAME.to_csv(tmp_path / "x.csv", index=False)
    with duckdb.connect(str(tmp_path / "x.duckdb")) as con:
        con.execute("CREATE TABLE events AS SELECT * FROM FRAME")
    sources = [FRAME, tmp_path / "x.parquet", str(tmp_path / "x.csv"), ibis.memtable(FRAME)]
    for source in sources:
        got = as_table(source).order_by("agent_id").execute()
        pd.testing.assert_frame_equal(got, FRAME, check_dtype=False)
    got = as_table(tmp_path / "x.duckdb", table="events").order_by("agent_id").execute()
    pd.testing.assert_frame_equal(got, FRAME, check_dtype=False)


def test_a_folder_of_parquet_files_is_one_table(tmp_path: Path) -> None:
    (tmp_path / "parts").mkdir()
    FRAME.iloc[:2].to_parquet(tmp_path / "parts" / "a.parquet")
    FRAME.iloc[2:].to_parquet(tmp_path / "parts" / "b.parquet")
    assert as_table(tmp_path / "parts").count().execute() == 3


def test_csv_with_byte_order_mark_and_semicolons(tmp_path: Path) -> None:
    path = tmp_path / "bom.csv"
    path.write_bytes("\ufeffagent_id;y\na;1.5\nb;2.5\n".encode())
    table = as_table(path)
    assert table.columns == ("agent_id", "y")
    assert table.y.sum().execute() == pytest.approx(4.0)


def test_bad_sources_are_named(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no such file"):
        as_table(tmp_path / "missing.parquet")
    (tmp_path / "x.xlsx").write_text("")
    with pytest.raises(ValueError, match=r"cannot read x\.xlsx"):
        as_table(tmp_path / "x.xlsx")
    (tmp_path / "x.duckdb").write_text("")
    with pytest.raises(ValueError, match="pass table=NAME"):
        as_table(tmp_path / "x.duckdb")
    with pytest.raises(TypeError, match="got int"):
        as_table(3)
    with pytest.raises(ValueError, match="no sample table 'tickets'"):
        sample_frame("tickets")


def test_unreadable_csv_is_a_contract_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.csv"
    path.write_bytes(b'a,b\n1,2\n\xff\xfe\x00garbage,"unterminated\n')
    with pytest.raises(ContractError, match="readable CSV"):
        as_table(path).count().execute()


def test_fingerprint_follows_content(tmp_path: Path) -> None:
    path = tmp_path / "x.parquet"
    FRAME.to_parquet(path)
    first = fingerprint(path)
    assert first == fingerprint(path) and len(first) == 16
    FRAME.assign(y=FRAME.y + 1).to_parquet(path)
    assert fingerprint(path) != first
    assert fingerprint(FRAME) == fingerprint(FRAME.copy()) != fingerprint(FRAME.iloc[:2])


def test_the_default_connection_caps_duckdb_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    """3 GB (or 80% of memory, if less) unless IMPACT_DUCKDB_MEMORY_LIMIT says otherwise, so
    a distinct count over 100M events spills to disk instead of taking most of the RAM."""
    monkeypatch.delenv(MEMORY_LIMIT_ENV, raising=False)
    default = memory_limit()
    assert default is not None and default.endswith("MB") and int(default[:-2]) <= 3000
    query = "SELECT current_setting('memory_limit')"
    expected = duckdb.connect()
    expected.sql(f"SET memory_limit = '{default}'")
    assert default_backend().raw_sql(query).fetchone() == expected.sql(query).fetchone()
    assert memory_limit({MEMORY_LIMIT_ENV: " 8GB "}) == "8GB"
    assert memory_limit({MEMORY_LIMIT_ENV: "None"}) is None
    # a size DuckDB cannot read is a ParameterError naming the variable, at the first query
    monkeypatch.setattr(engine, "_DEFAULT", None)
    monkeypatch.setenv(MEMORY_LIMIT_ENV, "lots")
    with pytest.raises(ParameterError, match="IMPACT_DUCKDB_MEMORY_LIMIT='lots'"):
        default_backend()
