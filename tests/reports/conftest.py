"""The report notebooks, run once per session through the runner on the sample data.

Running a notebook is the slow part (a kernel, the estimators, HTML and PDF export), so the
owner's report is published twice (two consecutive weeks, so the second says what changed) and
every test that reads a published report shares these runs. Tests using them are marked
``notebook`` and ``xdist_group("notebooks")``, so one worker runs them, one at a time.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from impact.runs.config import load_project
from impact.runs.runner import RunOutcome, run_report

ROOT = Path(__file__).resolve().parents[2]
REPORTS = ("business_value_report", "payback", "portfolio_report")
# Draws enough for stable figures, fewer than the 10,000 of a real run.
FAST = {"draws": 2000}


@dataclass(frozen=True)
class Published:
    """A run's outcome, with its result.json and how long the runner took (seconds)."""

    outcome: RunOutcome
    result: dict[str, Any]
    seconds: float

    @property
    def directory(self) -> Path:
        return self.outcome.directory


class ReportProject:
    """A scratch project holding the real notebooks, registers and portfolio."""

    def __init__(self, root: Path) -> None:
        (root / "notebooks").mkdir(parents=True)
        for name in REPORTS:
            shutil.copy(ROOT / "notebooks" / f"{name}.ipynb", root / "notebooks")
        shutil.copytree(ROOT / "assumptions", root / "assumptions")
        config = {
            "reports": {
                name: {
                    "title": name,
                    "notebook": f"notebooks/{name}.ipynb",
                    "schedule": "0 6 * * MON",
                }
                for name in REPORTS
            }
        }
        (root / "impact.yaml").write_text(json.dumps(config))
        self.root = root
        self.project = load_project(root / "impact.yaml")
        self.runs: dict[tuple[str, str | None], Published] = {}

    def run(self, name: str, *, period_end: str | None = None) -> Published:
        key = (name, period_end)
        if key not in self.runs:
            started = time.perf_counter()
            outcome = run_report(self.project, name, params=FAST, period_end=period_end)
            seconds = time.perf_counter() - started
            assert outcome.ok, outcome.manifest.get("error")
            result = json.loads((outcome.directory / "result.json").read_text())
            self.runs[key] = Published(outcome, result, seconds)
        return self.runs[key]


@pytest.fixture(scope="session")
def report_project(tmp_path_factory: pytest.TempPathFactory) -> ReportProject:
    return ReportProject(tmp_path_factory.mktemp("reports-project"))


@pytest.fixture(scope="session")
def owner_report(report_project: ReportProject) -> tuple[Published, Published]:
    """The owner's report for two consecutive weeks (the second compares with the first)."""
    first = report_project.run("business_value_report", period_end="2026-08-16")
    second = report_project.run("business_value_report", period_end="2026-08-23")
    return first, second
