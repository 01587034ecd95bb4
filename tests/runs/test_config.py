from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from impact.errors import ParameterError
from impact.runs.config import load_project
from impact.runs.params import coerce, parse_assignments

ROOT = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "notebooks").mkdir(exist_ok=True)
    (tmp_path / "notebooks" / "r.ipynb").write_text("{}")
    path = tmp_path / "impact.yaml"
    path.write_text(text)
    return path


def test_the_repository_config_loads() -> None:
    project = load_project(ROOT / "impact.yaml")
    assert "ab_report" in project.reports
    assert project.reports["ab_report"].schedule == "0 6 * * MON"
    assert project.reports_dir == ROOT / "reports"


def test_every_report_is_scheduled_for_its_audience() -> None:
    from croniter import croniter

    from impact.runs.params import declared_parameters

    project = load_project(ROOT / "impact.yaml")
    expected = {
        "business_value_report": ("weekly", "business value owner"),
        "payback": ("monthly", "finance"),
        "portfolio_report": ("quarterly", "portfolio board"),
        "ab_report": ("weekly", "business value owner"),
    }
    assert set(project.reports) == set(expected)
    for name, (cadence, audience) in expected.items():
        spec = project.reports[name]
        assert audience in spec.audience, name
        fires = croniter(str(spec.schedule), datetime(2026, 1, 1, tzinfo=UTC))
        first, second = fires.get_next(datetime), fires.get_next(datetime)
        gap_days = (second - first).days
        assert {"weekly": 7, "monthly": 31, "quarterly": 90}[cadence] == gap_days, name
        declared = declared_parameters(spec.notebook)
        # Scheduled per period, compared with the last good run, configured only with names
        # the notebook declares.
        assert {"period_end", "previous_result"} <= set(declared), name
        assert set(spec.parameters) <= set(declared), name


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("reports: {r: {notebook: ../evil.ipynb}}", "notebooks must be .ipynb files under"),
        ("reports: {r: {notebook: notebooks/r.ipynb, schedule: 'every day'}}", "invalid cron"),
        ("reports: {R!: {notebook: notebooks/r.ipynb}}", "must be lower-case"),
        ("reports: {r: {notebook: notebooks/missing.ipynb}}", "no notebook at"),
        ("reports: [1, 2]", "expected a mapping with a 'reports' section"),
    ],
)
def test_bad_configs_are_named(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(ParameterError, match=message):
        load_project(write(tmp_path, body))


@pytest.mark.parametrize(
    ("value", "type_name", "expected"),
    [
        ("3", "int", 3),
        ("0.9", "float", 0.9),
        (1, "float", 1.0),
        ("yes", "bool", True),
        ("false", "bool", False),
        ("x", "str", "x"),
        (None, "None", None),
    ],
)
def test_coerce(value: object, type_name: str, expected: object) -> None:
    assert coerce("p", value, type_name) == expected


@pytest.mark.parametrize(
    ("value", "type_name"), [("x", "int"), (True, "int"), ("maybe", "bool"), (3, "str")]
)
def test_coerce_rejects(value: object, type_name: str) -> None:
    with pytest.raises(ParameterError, match="parameter 'p' expects"):
        coerce("p", value, type_name)


def test_parse_assignments() -> None:
    assert parse_assignments(("a=1", "b=x=y")) == {"a": "1", "b": "x=y"}
    with pytest.raises(ParameterError, match="NAME=VALUE"):
        parse_assignments(("novalue",))
