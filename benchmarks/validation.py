"""Contract validation of 10M events against one bare DuckDB scan of the same columns.

Ours: ``impact.validate(folder, "workflow_events")``: structure, 31 row rules, the unique
``event_id`` key, counts and one example per rule, in the engine. Baseline: one DuckDB query
over the same Parquet reading every value of every contract column (``count(*)`` and per column
``count, min, max``): the least any validator must do. Target: within 3x. Ours also runs on
100M events (unless ``BENCH_FULL=0``), alone: the target there is peak memory under 4 GiB with
impact's default DuckDB connection. The unique ``event_id`` is checked from the sorted 64-bit
hashes of the ids (``impact.contracts.keys``: 800 MB at 100M events), no longer by DuckDB's
distinct count, which spilled to disk at the default memory limit and took 3.1 GiB. The scan
at 100M (20 s, 2.9x in the last run that had it) is left out to keep ``make bench`` short.
"""

from __future__ import annotations

from typing import Any

import duckdb

import benchmarks as bench
import impact
import impact.engine

TARGET_RATIO = 3.0
MAX_RSS_MIB = 4 * 1024


def ours(n_events: int) -> dict[str, Any]:
    """Validate the cached events; return the counts the baseline can check."""
    check = impact.validate(bench.events(n_events), "workflow_events")
    failed = {r.rule: int(r.n_failed) for r in check.summary.itertuples()}
    return {
        "rows": check.rows_checked,
        "valid": check.rows_valid,
        "quarantined": check.rows_quarantined,
        "failed": failed,
        "memory_limit": impact.engine.memory_limit(),
    }


def scan(n_events: int) -> dict[str, Any]:
    """One DuckDB scan reading every value of every contract column; null counts per column."""
    columns = impact.load_contract("workflow_events").column_names
    parts = ", ".join(f'count("{c}"), min("{c}"), max("{c}")' for c in columns)
    glob = bench.parquet_glob(bench.events(n_events))
    con = duckdb.connect()
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


def measure(n_events: int, *, rounds: int = 2, repeat: int = 2) -> dict[str, Any]:
    """Both sides in their own fresh processes, alternated `rounds` times; each side's best."""
    bench.events(n_events)  # generate outside the timed processes
    mine, base = bench.versus(
        "benchmarks.validation:ours",
        "benchmarks.validation:scan",
        rounds=rounds,
        repeat=repeat,
        n_events=n_events,
    )
    agree, text = _agreement(mine.value, base.value)
    return bench.row(
        "contract validation",
        n_events=n_events,
        ours_s=mine.seconds,
        baseline="one DuckDB scan: count, min, max of every contract column",
        baseline_s=base.seconds,
        target=f"<= {TARGET_RATIO:g}x the scan",
        max_ratio=TARGET_RATIO,
        agree=agree,
        agreement=text,
        peak_rss_mib=mine.peak_rss_mib,
        notes=f"baseline peak RSS {base.peak_rss_mib:.0f} MiB; impact's default DuckDB "
        f"memory_limit {mine.value['memory_limit']} (the scan: DuckDB's default)",
    )


def measure_memory(n_events: int) -> dict[str, Any]:
    """Ours alone, once: its peak memory against the cap, and its counts adding up."""
    bench.events(n_events)
    mine = bench.isolated("benchmarks.validation:ours", n_events=n_events)
    value = mine.value
    agree = value["rows"] == n_events and value["valid"] + value["quarantined"] == n_events
    return bench.row(
        "contract validation",
        n_events=n_events,
        ours_s=mine.seconds,
        baseline="(no baseline at this size)",
        baseline_s=None,
        target="peak RSS < 4 GiB",
        max_rss_mib=MAX_RSS_MIB,
        agree=agree,
        agreement=f"rows {value['rows']:,} of {n_events:,} generated; valid+quarantined="
        f"{value['valid'] + value['quarantined']:,}",
        peak_rss_mib=mine.peak_rss_mib,
        notes=f"impact's default DuckDB memory_limit {value['memory_limit']}",
    )


def run() -> list[dict[str, Any]]:
    """10M events by default; 100M too unless ``BENCH_FULL=0``."""
    rows = [measure(bench.n_events_default())]
    if bench.full():
        rows.append(measure_memory(bench.BIG_EVENTS))
    return rows
