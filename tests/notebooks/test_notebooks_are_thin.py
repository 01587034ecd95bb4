"""Every report notebook keeps to the rules that let the runner and papermill trust it."""

from __future__ import annotations

import ast
import logging
from pathlib import Path

import nbformat
import papermill
import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("*.ipynb"))


def test_there_are_notebooks() -> None:
    assert NOTEBOOKS


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_parameters_cell_is_first_and_fully_parsed(
    path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert "parameters" in code[0].metadata.get("tags", []), "first code cell must be parameters"
    tree = ast.parse(code[0].source)
    names = []
    for node in tree.body:
        assert isinstance(node, ast.Assign) and len(node.targets) == 1, ast.dump(node)
        assert isinstance(node.value, ast.Constant), f"{path.name}: parameters must be literals"
        names.append(node.targets[0].id)  # type: ignore[attr-defined]
    with caplog.at_level(logging.WARNING, logger="papermill"):
        declared = papermill.inspect_notebook(str(path))
    # papermill silently skips lines it cannot parse (e.g. an apostrophe in a comment).
    assert sorted(declared) == sorted(names), caplog.text
    assert not caplog.records, caplog.text


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebooks_are_thin_and_stripped(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    assert nb.metadata["kernelspec"]["name"] == "impact"
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        assert not cell.get("outputs"), f"{path.name}: outputs must be stripped"
        assert cell.get("execution_count") is None
        tree = ast.parse(cell.source)
        for node in ast.walk(tree):
            assert not isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.Lambda)), (
                f"{path.name}: no def/class/lambda in notebooks; move logic into impact"
            )
