"""Contract validation of 10M events against one bare DuckDB scan of the same columns.

Ours: ``impact.validate(folder, "workflow_events")``: structure, 31 row rules, the unique
``event_id`` key, counts and one example per rule, in the engine. Baseline: one DuckDB query
over the same Parquet reading every value of every contract column (``count(*)`` and per column
``count, min, max``): the least any validator must do. Target: within 3x. With ``BENCH_FULL=1``
the same runs on 100M events, where the target is peak memory under 4 GiB, with DuckDB's
``memory_limit`` set to 3GB on both sides (the default, 80% of RAM, lets the distinct count of
100M event ids grow to ~5.5 GiB rather than spill).
"""

from __future__ import annotations

from typing import Any

import duckdb

import benchmarks as bench
import impact
import impact.engine

TARGET_RATIO = 3.0
MAX_RSS_MIB = 4 * 1024
MEMORY_LIMIT_100M = "3GB"


def _limit(memory_limit: str | None) -> None:
    """Cap DuckDB's memory (it spills to disk beyond it); by default it may use 80% of RAM."""
    if memory_limit:
        impact.engine.default_backend().raw_sql(f"SET memory_limit = '{memory_limit}'")


def ours(n_events: int, memory_limit: str | None = None) -> dict[str, Any]:
    """Validate the cached events; return the counts the baseline can check."""
    _limit(memory_limit)
    check = impact.validate(bench.events(n_events), "workflow_events")
    failed = {r.rule: int(r.n_failed) for r in check.summary.itertuples()}
    return {
        "rows": check.rows_checked,
        "valid": check.rows_valid,
        "quarantined": check.rows_quarantined,
        "failed": failed,
    }


def scan(n_events: int, memory_limit: str | None = None) -> dict[str, Any]:
    """One DuckDB scan reading every value of every contract column; null counts per column."""
    columns = impact.load_contract("workflow_events").column_names
    parts = ", ".join(f'count("{c}"), min("{c}"), max("{c}")' for c in columns)
    glob = bench.parquet_glob(bench.events(n_events))
    con = duckdb.connect()
    if memory_limit:
        con.sql(f"SET memory_limit = '{memory_limit}'")
    query = f"SELECT count(*), {parts} FROM read_parquet('{glob}')"  # noqa: S608
    row = con.sql(query).fetchone()
    assert row is not None
    rows = int(row[0])
    nulls = {c: rows - int(row[1 + 3 * i]) for i, c in enumerate(columns)}
    return {"rows": rows, "nulls": nulls}


def _agreement(mine: dict[str, Any], base: dict[str, Any]) -> tuple[bool, str]:
    """Same row count; valid + quarantined = rows; every not-null rule counts the scan's nulls."""
    not_null = {
        rule.removesuffix(" not null"): n
        for rule, n in mine["failed"].items()
        if rule.endswith(" not null")
    }
    mismatched = [c for c, n in not_null.items() if base["nulls"][c] != n]
    ok = (
        mine["rows"] == base["rows"]
        and mine["valid"] + mine["quarantined"] == mine["rows"]
        and not mismatched
    )
    text = (
        f"rows {mine['rows']:,} vs {base['rows']:,}; valid+quarantined="
        f"{mine['valid'] + mine['quarantined']:,}; {len(not_null)} not-null counts "
        + ("equal" if not mismatched else f"differ on {mismatched}")
    )
    return ok, text


def measure(n_events: int, *, rounds: int = 2, memory_limit: str | None = None) -> dict[str, Any]:
    """Both sides in fresh processes, alternated `rounds` times; each side's best time."""
    bench.events(n_events)  # generate outside the timed processes
    mine, base = bench.versus(
        "benchmarks.validation:ours",
        "benchmarks.validation:scan",
        rounds=rounds,
        repeat=2,
        n_events=n_events,
        memory_limit=memory_limit,
    )
    agree, text = _agreement(mine.value, base.value)
    big = n_events >= 50_000_000
    return bench.row(
        "contract validation",
        n_events=n_events,
        ours_s=mine.seconds,
        baseline="one DuckDB scan: count, min, max of every contract column",
        baseline_s=base.seconds,
        target="peak RSS < 4 GiB" if big else f"<= {TARGET_RATIO:g}x the scan",
        max_ratio=None if big else TARGET_RATIO,
        max_rss_mib=MAX_RSS_MIB if big else None,
        agree=agree,
        agreement=text,
        peak_rss_mib=mine.peak_rss_mib,
        notes=f"baseline peak RSS {base.peak_rss_mib:.0f} MiB"
        + (f"; DuckDB memory_limit = {memory_limit} (both sides)" if memory_limit else ""),
    )


def run() -> list[dict[str, Any]]:
    """10M events by default; 100M too with ``BENCH_FULL=1``."""
    rows = [measure(bench.n_events_default())]
    if bench.full():
        # DuckDB's default memory limit is 80% of RAM, and counting 100M distinct event ids
        # fills ~5.5 GiB of it unless capped; capped, the count spills to disk instead.
        rows.append(measure(100_000_000, rounds=1, memory_limit=MEMORY_LIMIT_100M))
    return rows
