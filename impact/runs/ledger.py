"""The run ledger: one SQLite row per run, beside the reports it describes.

The manifests on disk stay the source of truth for readers; the ledger answers the scheduler's
questions quickly ("when did this report last succeed, for which period?") and records runs
that died before they could write a manifest.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

LEDGER = ".ledger.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    report TEXT NOT NULL,
    period_end TEXT,
    status TEXT NOT NULL,          -- running, succeeded, failed
    exit_code INTEGER,
    inputs_key TEXT NOT NULL,      -- hash of parameters, notebook and input fingerprints
    pid INTEGER,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    manifest TEXT
);
CREATE INDEX IF NOT EXISTS runs_by_report ON runs (report, status, period_end);
"""


@contextmanager
def _connect(reports_dir: Path) -> Iterator[sqlite3.Connection]:
    reports_dir.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(reports_dir / LEDGER, timeout=30)
    try:
        con.executescript(_SCHEMA)
        with con:  # one transaction per use
            yield con
    finally:
        con.close()


def record_start(
    reports_dir: Path,
    *,
    run_id: str,
    report: str,
    period_end: str | None,
    inputs_key: str,
    started_at: str,
) -> None:
    with _connect(reports_dir) as con:
        con.execute(
            "INSERT INTO runs (run_id, report, period_end, status, inputs_key, pid, started_at) "
            "VALUES (?, ?, ?, 'running', ?, ?, ?)",
            (run_id, report, period_end, inputs_key, os.getpid(), started_at),
        )


def record_finish(reports_dir: Path, manifest: Mapping[str, Any]) -> None:
    with _connect(reports_dir) as con:
        con.execute(
            "UPDATE runs SET status = ?, exit_code = ?, finished_at = ?, manifest = ? "
            "WHERE run_id = ?",
            (
                manifest["status"],
                manifest["exit_code"],
                manifest["finished_at"],
                json.dumps(manifest, default=str),
                manifest["run_id"],
            ),
        )


def successful_run(reports_dir: Path, report: str, inputs_key: str) -> str | None:
    """The run id of an earlier success on exactly the same inputs, if any."""
    with _connect(reports_dir) as con:
        row = con.execute(
            "SELECT run_id FROM runs WHERE report = ? AND inputs_key = ? AND status = 'succeeded' "
            "ORDER BY started_at DESC LIMIT 1",
            (report, inputs_key),
        ).fetchone()
    return row[0] if row else None


def previous_success(reports_dir: Path, report: str, period_end: str | None) -> str | None:
    """The run id of the last success of `report` to compare a new run with, if any.

    For a run with a `period_end`: the most recent success (by start) of a period ending no
    later than it, so a backfill of an old period compares with the period before it, never
    with newer runs. Without one (a manual run on all data): the most recent success.
    """
    query = "SELECT run_id FROM runs WHERE report = ? AND status = 'succeeded'"
    args: tuple[str, ...] = (report,)
    if period_end:
        query += " AND period_end IS NOT NULL AND period_end <= ?"
        args += (period_end,)
    with _connect(reports_dir) as con:
        row = con.execute(query + " ORDER BY started_at DESC LIMIT 1", args).fetchone()
    return row[0] if row else None


def succeeded_periods(reports_dir: Path, report: str) -> set[str]:
    """The period ends for which `report` has a successful run."""
    with _connect(reports_dir) as con:
        rows = con.execute(
            "SELECT DISTINCT period_end FROM runs WHERE report = ? AND status = 'succeeded' "
            "AND period_end IS NOT NULL",
            (report,),
        ).fetchall()
    return {r[0] for r in rows}


def runs(reports_dir: Path, report: str | None = None) -> list[dict[str, Any]]:
    """Every recorded run (newest first), optionally of one report."""
    query = (
        "SELECT run_id, report, period_end, status, exit_code, started_at, finished_at FROM runs"
    )
    args: tuple[str, ...] = ()
    if report:
        query += " WHERE report = ?"
        args = (report,)
    with _connect(reports_dir) as con:
        con.row_factory = sqlite3.Row
        return [dict(r) for r in con.execute(query + " ORDER BY started_at DESC", args)]


def abandoned_runs(reports_dir: Path) -> list[dict[str, Any]]:
    """Runs still marked running whose process no longer exists (killed mid-run)."""
    with _connect(reports_dir) as con:
        con.row_factory = sqlite3.Row
        rows = [dict(r) for r in con.execute("SELECT * FROM runs WHERE status = 'running'")]
    return [r for r in rows if not _alive(r["pid"])]


def _alive(pid: int | None) -> bool:
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
