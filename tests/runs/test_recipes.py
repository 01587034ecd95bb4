"""The orchestrator recipes parse, and the Airflow operator's papermill call works."""

from __future__ import annotations

import ast
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]
RECIPES = sorted((ROOT / "docs" / "recipes").glob("*.py"))


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: p.name)
def test_recipe_is_valid_python(path: Path) -> None:
    ast.parse(path.read_text())


@pytest.mark.notebook
@pytest.mark.xdist_group("notebooks")
def test_papermill_operator_call_executes_the_report(tmp_path: Path) -> None:
    """What Airflow's PapermillOperator runs: execute_notebook(input, output, params, kernel)."""
    import papermill

    tree = ast.parse((ROOT / "docs" / "recipes" / "airflow_dag.py").read_text())
    calls = [
        n
        for n in ast.walk(tree)
        if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "PapermillOperator"
    ]
    kernel = next(k.value.value for k in calls[0].keywords if k.arg == "kernel_name")
    output = tmp_path / "ab_report_2026-06-29.ipynb"
    papermill.execute_notebook(
        str(ROOT / "notebooks" / "ab_report.ipynb"),
        str(output),
        parameters={"period_end": "2026-06-28"},
        kernel_name=kernel,
        cwd=str(ROOT),
        progress_bar=False,
    )
    executed = nbformat.read(output, as_version=4)
    injected = [c for c in executed.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert injected and 'period_end = "2026-06-28"' in injected[0].source
    assert not any(
        o.get("output_type") == "error" for c in executed.cells for o in c.get("outputs", [])
    )
