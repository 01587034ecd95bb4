"""More faults: an input file that changes during a run, and a clock that jumps backwards.

One small project serves every test: its notebook sums a CSV and, when a flag file exists,
appends a row to that CSV while it runs (a writer racing the report).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import nbformat
import pytest

from impact.engine import fingerprint
from impact.runs import ledger
from impact.runs.config import Project, load_project
from impact.runs.runner import RunOutcome, run_report
from impact.runs.schedule import run_due

pytestmark = [pytest.mark.notebook, pytest.mark.xdist_group("notebooks")]

MONDAY = datetime(2026, 3, 9, 7, 0, tzinfo=UTC)  # after the 06:00 tick of Monday 9 March
WEEK_EARLIER = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)


def racing_project(root: Path, *, configured: bool = True) -> Path:
    """The project; with `configured`, impact.yaml passes data_path (as real configs do)."""
    (root / "notebooks").mkdir(parents=True)
    (root / "data").mkdir()
    (root / "data" / "input.csv").write_text("x\n1\n2\n3\n")
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell('data_path = "data/input.csv"\nperiod_end = ""')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [
        params,
        nbformat.v4.new_code_cell(
            "import pathlib\nimport impact\n"
            "total = float(impact.as_table(data_path).x.sum().execute())\n"
            "if pathlib.Path('data/race.flag').exists():\n"
            "    with open(data_path, 'a') as handle:\n"
            "        handle.write('100\\n')  # another process writes while the report runs\n"
            "impact.reports.summarize('Race', [], headline=f'total {total:g}')"
        ),
    ]
    nb.metadata["kernelspec"] = {"name": "impact", "display_name": "impact", "language": "python"}
    nbformat.write(nb, root / "notebooks" / "race.ipynb")
    report = {"notebook": "notebooks/race.ipynb", "schedule": "0 6 * * MON"}
    if configured:
        report["parameters"] = {"data_path": "data/input.csv"}
    config = {"reports": {"race": report}}
    (root / "impact.yaml").write_text(json.dumps(config))
    return root / "impact.yaml"


def headline(run: RunOutcome) -> str:
    return json.loads((run.directory / "result.json").read_text())["headline"]


@pytest.fixture(scope="module")
def raced(tmp_path_factory: pytest.TempPathFactory) -> tuple[Project, RunOutcome, str]:
    """The scheduled run for the week to 8 March, during which the input file grows."""
    root = tmp_path_factory.mktemp("race")
    project = load_project(racing_project(root))
    data = root / "data" / "input.csv"
    before = fingerprint(data)
    (root / "data" / "race.flag").touch()
    outcomes = run_due(project, now=MONDAY)
    (root / "data" / "race.flag").unlink()
    assert [o.status for o in outcomes] == ["succeeded"]
    assert data.read_text() == "x\n1\n2\n3\n100\n"  # the race really happened
    return project, outcomes[0], before


def test_clock_jumping_back_neither_reruns_nor_crashes(
    raced: tuple[Project, RunOutcome, str],
) -> None:
    project, first, _ = raced
    assert first.manifest["period_end"] == "2026-03-08"
    assert run_due(project, now=WEEK_EARLIER) == []  # a week back: nothing is due
    assert run_due(project, now=MONDAY) == []  # and the same moment again: no double run
    assert run_due(project, now=datetime(2026, 3, 9, 6, 0, tzinfo=UTC)) == []
    runs = ledger.runs(project.reports_dir, "race")
    assert [(r["period_end"], r["status"]) for r in runs] == [("2026-03-08", "succeeded")]


def test_the_manifest_fingerprints_what_the_run_read(
    raced: tuple[Project, RunOutcome, str],
) -> None:
    _, first, before = raced
    assert first.manifest["inputs"] == {"data_path": before}
    assert headline(first) == "total 6"  # read before the writer appended


def test_a_rerun_on_changed_input_runs_again(raced: tuple[Project, RunOutcome, str]) -> None:
    project, first, before = raced
    again = run_report(project, "race", period_end="2026-03-08")
    assert again.status == "succeeded" and again.run_id != first.run_id  # not "unchanged"
    assert again.manifest["inputs"]["data_path"] != before
    assert headline(again) == "total 106"
    latest = json.loads((project.reports_dir / "race" / "latest.json").read_text())
    assert latest == {"run_id": again.run_id}
    # The same inputs once more: recognised, not re-executed.
    same = run_report(project, "race", period_end="2026-03-08")
    assert (same.status, same.run_id) == ("unchanged", again.run_id)


def test_a_default_input_path_is_fingerprinted_too(tmp_path: Path) -> None:
    project = load_project(racing_project(tmp_path, configured=False))
    first = run_report(project, "race")
    assert first.ok and set(first.manifest["inputs"]) == {"data_path"}
    assert "inputs_changed_during_run" not in first.manifest  # nothing wrote during this run
    (tmp_path / "data" / "input.csv").write_text("x\n5\n")
    again = run_report(project, "race")
    assert again.status == "succeeded" and headline(again) == "total 5"


def test_the_manifest_says_an_input_changed_during_the_run(
    raced: tuple[Project, RunOutcome, str],
) -> None:
    _, first, _ = raced
    assert first.manifest["inputs_changed_during_run"] == ["data_path"]
    (warning,) = first.manifest["warnings"]
    assert "'data_path' changed while the report ran" in warning
    # The run was published: it read the file once, before the writer appended.
    assert first.status == "succeeded" and headline(first) == "total 6"
