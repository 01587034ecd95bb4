"""Schedules: due periods, catch-up, idempotence, the run-due lock, backfill."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import nbformat
import pytest

from impact.errors import ParameterError
from impact.runs import ledger
from impact.runs.config import load_project
from impact.runs.schedule import backfill, due_periods, run_due

pytestmark = [pytest.mark.notebook, pytest.mark.xdist_group("notebooks")]

WEEKLY = "0 6 * * MON"


def tiny_project(tmp_path: Path, *, sleep_s: float = 0.0, schedule: str = WEEKLY) -> Path:
    """A project whose one report is a fast notebook that shows a summary for its period."""
    (tmp_path / "notebooks").mkdir()
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell('period_end = ""\nsleep_s = 0.0')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [
        params,
        nbformat.v4.new_code_cell(
            "import time\nimport impact\ntime.sleep(sleep_s)\n"
            "impact.reports.summarize('Tiny', [], headline=f'period {period_end}')"
        ),
    ]
    nb.metadata["kernelspec"] = {"name": "impact", "display_name": "impact", "language": "python"}
    nbformat.write(nb, tmp_path / "notebooks" / "tiny.ipynb")
    config = {
        "reports": {
            "tiny": {
                "notebook": "notebooks/tiny.ipynb",
                "schedule": schedule,
                "parameters": {"sleep_s": sleep_s},
            }
        }
    }
    (tmp_path / "impact.yaml").write_text(json.dumps(config))
    return tmp_path / "impact.yaml"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_a_new_report_runs_only_its_latest_period(tmp_path: Path) -> None:
    project = load_project(tiny_project(tmp_path))
    spec = project.report("tiny")
    assert due_periods(project, spec, now=at("2026-04-22T09:00")) == ["2026-04-19"]
    assert due_periods(project, spec, now=at("2026-04-20T05:59")) == ["2026-04-12"]


def test_scheduled_sequence_catches_up_and_is_idempotent(tmp_path: Path) -> None:
    project = load_project(tiny_project(tmp_path))
    first = run_due(project, now=at("2026-04-20T07:00"))
    assert [(o.status, o.manifest["period_end"]) for o in first] == [("succeeded", "2026-04-19")]
    assert run_due(project, now=at("2026-04-20T08:00")) == []  # nothing new is due
    # Two weeks pass without a run-due call: both missed periods run, oldest first.
    caught_up = run_due(project, now=at("2026-05-04T06:30"))
    assert [o.manifest["period_end"] for o in caught_up] == ["2026-04-26", "2026-05-03"]
    assert all(o.ok for o in caught_up)
    assert run_due(project, now=at("2026-05-04T06:45")) == []
    periods = ledger.succeeded_periods(project.reports_dir, "tiny")
    assert periods == {"2026-04-19", "2026-04-26", "2026-05-03"}
    results = sorted(
        json.loads(p.read_text())["headline"]
        for p in (project.reports_dir / "tiny").glob("*/result.json")
    )
    assert results == ["period 2026-04-19", "period 2026-04-26", "period 2026-05-03"]


def test_same_inputs_are_not_run_twice(tmp_path: Path) -> None:
    project = load_project(tiny_project(tmp_path))
    from impact.runs.runner import run_report

    first = run_report(project, "tiny", period_end="2026-04-19")
    again = run_report(project, "tiny", period_end="2026-04-19")
    assert (first.status, again.status) == ("succeeded", "unchanged")
    assert again.run_id == first.run_id
    forced = run_report(project, "tiny", period_end="2026-04-19", force=True)
    assert forced.status == "succeeded" and forced.run_id != first.run_id


def test_two_concurrent_run_due_calls_run_each_report_once(tmp_path: Path) -> None:
    config = tiny_project(tmp_path, sleep_s=3.0)
    env = {**os.environ, "IMPACT_PROJECT": str(tmp_path)}
    command = [sys.executable, "-m", "impact", "run-due", "--now", "2026-04-20T07:00"]
    procs = [
        subprocess.Popen(
            command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    runs = ledger.runs(load_project(config).reports_dir, "tiny")
    assert len(runs) == 1 and runs[0]["status"] == "succeeded"
    assert sorted("nothing due" in out for out, _ in outputs) == [False, True]


def test_backfill_runs_every_period_in_range(tmp_path: Path) -> None:
    project = load_project(tiny_project(tmp_path))
    outcomes = backfill(project, "tiny", start=date(2026, 4, 1), end=date(2026, 4, 14))
    assert [o.manifest["period_end"] for o in outcomes] == ["2026-04-05", "2026-04-12"]
    with pytest.raises(ParameterError, match="backfill range is empty"):
        backfill(project, "tiny", start=date(2026, 4, 14), end=date(2026, 4, 1))
