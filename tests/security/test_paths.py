"""Report names, notebooks and run folders cannot escape the project's notebooks/ and reports/."""

from __future__ import annotations

import json
import os
from pathlib import Path

import nbformat
import pytest

from impact.errors import ParameterError
from impact.runs.config import load_project
from impact.runs.runner import make_run_id, run_report


def project(root: Path, notebook: str, name: str = "r") -> Path:
    (root / "notebooks").mkdir(parents=True, exist_ok=True)
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell('x = ""')
    cell.metadata["tags"] = ["parameters"]
    nb.cells = [cell]
    nbformat.write(nb, root / "notebooks" / "ok.ipynb")
    config = root / "impact.yaml"
    config.write_text(json.dumps({"reports": {name: {"notebook": notebook}}}))
    return config


@pytest.mark.parametrize(
    "notebook",
    [
        "../outside.ipynb",
        "notebooks/../../outside.ipynb",
        "/etc/outside.ipynb",
        "notebooks/ok.py",
        "notebooks/linked.ipynb",  # a symlink inside notebooks/ pointing outside
    ],
)
def test_notebooks_outside_notebooks_are_refused(tmp_path: Path, notebook: str) -> None:
    root = tmp_path / "project"
    outside = tmp_path / "outside.ipynb"
    nbformat.write(nbformat.v4.new_notebook(), outside)
    config = project(root, notebook)
    os.symlink(outside, root / "notebooks" / "linked.ipynb")
    with pytest.raises(ParameterError, match=r"notebooks must be \.ipynb files under notebooks/"):
        load_project(config)


def test_a_notebook_inside_notebooks_is_accepted(tmp_path: Path) -> None:
    spec = load_project(project(tmp_path, "notebooks/ok.ipynb")).report("r")
    assert spec.notebook == (tmp_path / "notebooks" / "ok.ipynb").resolve()


@pytest.mark.parametrize("name", ["../r", "r/../../x", "R", "r r", ".hidden", "", "r" * 65])
def test_report_names_cannot_be_paths(tmp_path: Path, name: str) -> None:
    with pytest.raises(ParameterError, match="must be lower-case letters, digits, _ or -"):
        load_project(project(tmp_path, "notebooks/ok.ipynb", name=name))


def test_run_report_refuses_a_name_that_is_not_configured(tmp_path: Path) -> None:
    loaded = load_project(project(tmp_path, "notebooks/ok.ipynb"))
    for name in ("../r", "r/..", "/tmp/r"):
        with pytest.raises(ParameterError, match="no report"):
            run_report(loaded, name)
    assert not (tmp_path / "reports").exists()


def test_run_ids_are_timestamps_and_a_hash_whatever_the_parameters() -> None:
    from datetime import UTC, datetime

    run_id = make_run_id(
        {"x": "../../../etc/passwd", "period_end": "../.."}, datetime(2026, 3, 9, tzinfo=UTC)
    )
    assert run_id.startswith("20260309T000000000000Z-")
    assert "/" not in run_id and ".." not in run_id and len(run_id) == 31


def test_reports_dir_stays_in_the_project(tmp_path: Path) -> None:
    config = project(tmp_path / "p", "notebooks/ok.ipynb")
    data = json.loads(config.read_text()) | {"reports_dir": "../../elsewhere"}
    config.write_text(json.dumps(data))
    with pytest.raises(ParameterError, match="reports_dir"):
        load_project(config)
