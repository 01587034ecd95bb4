"""Published runs: aggregates only, no secrets, parameters as literals, nothing outside reports/.

These run real reports through the runner (papermill + the `impact` kernel), once per fixture.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import nbformat
import pandas as pd
import pytest

from impact.datasets import simulate
from impact.runs.config import load_project
from impact.runs.runner import RunOutcome, run_report

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.notebook, pytest.mark.xdist_group("notebooks")]

SECRETS = {
    "IMPACT_WAREHOUSE_PASSWORD": "pw-6b1f0c9e-never-print-me",
    "SNOWFLAKE_TOKEN": "tok-2d7a44f1-never-print-me",
    "AWS_SECRET_ACCESS_KEY": "secret-91c3e8aa-never-print-me",
}
_EMBEDDED = re.compile(r"data:[\w/+.-]+;base64,[A-Za-z0-9+/=\s]+")
_TOKEN = re.compile(r"[\w.-]+")


def ab_project(root: Path) -> tuple[Path, set[str]]:
    """A project running the bundled A/B report on simulated Parquet files in data/.

    The events break their contract in a few rows (3 out-of-range `csat`, 1 duplicated event),
    so the report has a data-quality section with a quarantine to describe. Returns the config
    path and every event and agent id of the input.
    """
    sample = simulate(n_agents=120, n_teams=12, n_weeks=12, tickets_per_agent_week=8, seed=3)
    events = sample.events.copy()
    events.loc[events.index[:3], "csat"] = 9
    events = pd.concat([events, events.iloc[[10]]], ignore_index=True)
    (root / "data").mkdir(parents=True)
    events.to_parquet(root / "data" / "events.parquet")
    sample.assignments.to_parquet(root / "data" / "assignments.parquet")
    (root / "notebooks").mkdir()
    shutil.copy(ROOT / "notebooks" / "ab_report.ipynb", root / "notebooks")
    config = {
        "reports": {
            "ab_report": {
                "notebook": "notebooks/ab_report.ipynb",
                "parameters": {
                    "events_path": "data/events.parquet",
                    "assignments_path": "data/assignments.parquet",
                },
            }
        }
    }
    (root / "impact.yaml").write_text(json.dumps(config))
    ids = set(events.event_id) | set(events.agent_id) | set(sample.assignments.agent_id)
    return root / "impact.yaml", ids


def published_text(run: RunOutcome, name: str) -> str:
    """A published file's text, without embedded images (their base64 is not words)."""
    return _EMBEDDED.sub("", (run.directory / name).read_text(encoding="utf-8"))


def leaked(text: str, ids: set[str]) -> list[str]:
    return sorted(set(_TOKEN.findall(text)) & ids)


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> tuple[RunOutcome, set[str]]:
    config, ids = ab_project(tmp_path_factory.mktemp("clean"))
    patch = pytest.MonkeyPatch()
    for name, value in SECRETS.items():
        patch.setenv(name, value)  # the kernel inherits them, as a scheduled run would
    try:
        run = run_report(load_project(config), "ab_report")
    finally:
        patch.undo()
    assert run.ok, run.manifest.get("error")
    return run, ids


@pytest.mark.parametrize("name", ["report.html", "result.json", "manifest.json"])
def test_published_run_contains_no_unit_or_event_id(
    published: tuple[RunOutcome, set[str]], name: str
) -> None:
    run, ids = published
    text = published_text(run, name)
    assert len(text) > 500 and "handle" in text  # the file has real content to search
    assert leaked(text, ids) == []


def test_the_report_says_what_was_quarantined(published: tuple[RunOutcome, set[str]]) -> None:
    run, _ = published
    quality = json.loads((run.directory / "result.json").read_text())["data_quality"]
    assert quality["rows_quarantined"] == 4
    html = published_text(run, "report.html")
    assert "4 quarantined" in html and "csat &lt;= 5" in html


def test_the_id_scan_can_fail(published: tuple[RunOutcome, set[str]]) -> None:
    """The scanner finds an id placed in a published-looking text (guards the tests above)."""
    _, ids = published
    some = sorted(ids)[:2]
    assert leaked(f"<td>{some[0]}</td> e.g. event_id {some[1]}: csat=9", ids) == some


def dirty_check() -> tuple[Any, set[str]]:
    """What the report notebook validates and displays, on input with a quarantine."""
    import impact

    sample = simulate(n_agents=40, n_teams=4, n_weeks=4, tickets_per_agent_week=3, seed=1)
    events = sample.events.copy()
    events.loc[events.index[:3], "csat"] = 9
    events = pd.concat([events, events.iloc[[10]]], ignore_index=True)
    check = impact.validate(events, "workflow_events")
    assert check.rows_quarantined == 4  # the input really has a quarantine to describe
    return check, set(events.event_id) | set(events.agent_id)


def test_result_json_of_a_run_with_quarantine_contains_no_id() -> None:
    import impact

    check, ids = dirty_check()
    summary = impact.reports.summarize("Pilot", [], headline="h", data_quality=check)
    text = json.dumps(summary.to_dict())
    assert "rows_quarantined" in text and "csat <= 5" in text
    assert leaked(text, ids) == []


def test_data_quality_section_of_a_report_contains_no_id() -> None:
    check, ids = dirty_check()
    html = check._repr_html_()  # what the report's data-quality cell renders
    assert "csat" in html
    assert leaked(html, ids) == []


def test_no_secret_from_the_environment_is_written(
    published: tuple[RunOutcome, set[str]],
) -> None:
    run, _ = published
    written = [p for p in run.directory.rglob("*") if p.is_file()]
    written += [run.directory.parent / "latest.json", run.directory.parents[1] / "index.html"]
    assert {p.name for p in written} >= {"manifest.json", "result.json", "report.html"}
    for path in written:
        data = path.read_bytes()
        for name, value in SECRETS.items():
            assert value.encode() not in data, f"{name} leaked into {path.name}"
    ledger = (run.directory.parents[1] / ".ledger.sqlite").read_bytes()
    assert not any(v.encode() in ledger for v in SECRETS.values())


# -- parameters are literals, and runs stay inside reports/ ---------------------------------
def literal_project(root: Path) -> Path:
    (root / "notebooks").mkdir(parents=True)
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell('value = ""\nother = ""\nperiod_end = ""')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [
        params,
        nbformat.v4.new_code_cell(
            "import impact\n"
            "impact.reports.summarize('Literals', [], headline=value,\n"
            "    facts={'value_type': type(value).__name__, 'other': other,\n"
            "           'period_end': period_end})"
        ),
    ]
    nb.metadata["kernelspec"] = {"name": "impact", "display_name": "impact", "language": "python"}
    nbformat.write(nb, root / "notebooks" / "literals.ipynb")
    config = {"reports": {"literals": {"notebook": "notebooks/literals.ipynb"}}}
    (root / "impact.yaml").write_text(json.dumps(config))
    return root / "impact.yaml"


def files_under(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()}


def test_hostile_parameter_values_arrive_as_strings_and_nothing_escapes(tmp_path: Path) -> None:
    project_root = tmp_path / "project"
    project = load_project(literal_project(project_root))
    sentinel, sentinel2 = tmp_path / "pwned", tmp_path / "pwned2"
    code = f"__import__('os').system('touch {sentinel}')"
    breakout = f'"""\nimport os; os.system("touch {sentinel2}")\n"""'
    before = files_under(tmp_path)
    run = run_report(
        project,
        "literals",
        params={"value": code, "other": breakout},
        period_end="../../../../escaped",
    )
    assert run.ok, run.manifest.get("error")
    result: dict[str, Any] = json.loads((run.directory / "result.json").read_text())
    assert result["headline"] == code
    assert result["facts"] == {
        "value_type": "str",
        "other": breakout,
        "period_end": "../../../../escaped",
    }
    assert not sentinel.exists() and not sentinel2.exists()
    created = files_under(tmp_path) - before
    reports = project.reports_dir.resolve()
    assert created and all(p.resolve().is_relative_to(reports) for p in created), created
    assert run.directory.resolve().parent == reports / "literals"


# -- small segments are blanked in what is published -------------------------------------------
def segment_project(root: Path) -> tuple[Path, pd.DataFrame]:
    """A report of per-team figures, published through impact.privacy.suppress_small.

    Teams have 10 agents each, except T02, cut to 3. Returns the config and the true table.
    """
    sample = simulate(n_agents=60, n_teams=6, n_weeks=4, tickets_per_agent_week=3, seed=5)
    events = sample.events
    small = sorted(events.loc[events.team_id == "T02", "agent_id"].unique())[:3]
    events = events.loc[(events.team_id != "T02") | events.agent_id.isin(small)]
    (root / "data").mkdir(parents=True)
    events.to_parquet(root / "data" / "events.parquet")
    (root / "notebooks").mkdir()
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell('events_path = "data/events.parquet"\nminimum = 10')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [
        params,
        nbformat.v4.new_code_cell(
            "import impact\n"
            "events = impact.load(events_path, contract='workflow_events')\n"
            "teams = events.group_by('team_id').aggregate(\n"
            "    agents=events.agent_id.nunique(),\n"
            "    minutes=events.handle_time_minutes.mean().round(3),\n"
            ")\n"
            "teams = teams.order_by('team_id')  # ties for the partner go to the first team\n"
            "shown = impact.privacy.suppress_small(teams, 'agents', minimum=minimum)\n"
            "impact.reports.summarize('Teams', [], headline='Handle time per team')"
        ),
        nbformat.v4.new_code_cell("shown.to_pandas()"),
    ]
    nb.metadata["kernelspec"] = {"name": "impact", "display_name": "impact", "language": "python"}
    nbformat.write(nb, root / "notebooks" / "teams.ipynb")
    config = {"reports": {"teams": {"notebook": "notebooks/teams.ipynb"}}}
    (root / "impact.yaml").write_text(json.dumps(config))
    truth = events.groupby("team_id").agg(
        agents=("agent_id", "nunique"), minutes=("handle_time_minutes", "mean")
    )
    return root / "impact.yaml", truth


def test_a_published_report_blanks_segments_under_ten_units(tmp_path: Path) -> None:
    config, truth = segment_project(tmp_path)
    assert truth.agents.to_dict() == {f"T0{i}": 3 if i == 2 else 10 for i in range(1, 7)}
    run = run_report(load_project(config), "teams")
    assert run.ok, run.manifest.get("error")
    html = published_text(run, "report.html")
    cells = {
        team: re.findall(r"<td>(.*?)</td>", row)
        for team, row in re.findall(r"<th>\d+</th>\s*<td>(T\d\d)</td>(.*?)</tr>", html, re.S)
    }
    # T02 (3 agents) is blanked, and so is the next smallest (T01, first of the ties), so that
    # T02 cannot be recovered from a total; the others show their figures.
    assert sorted(cells) == sorted(truth.index)
    for team, (agents, minutes, suppressed) in cells.items():
        if team in ("T01", "T02"):
            assert (agents, minutes, suppressed) == ("NaN", "NaN", "True")
            assert f"{truth.minutes[team]:.3f}" not in html
        else:
            assert float(agents) == truth.agents[team] and suppressed == "False"
            assert float(minutes) == pytest.approx(truth.minutes[team], abs=5e-4)
