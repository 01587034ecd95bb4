"""The payback notebook runs end to end on the sample data (papermill, project kernel)."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from impact.value import bare_amounts

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "payback.ipynb"


@pytest.mark.notebook
@pytest.mark.slow
def test_payback_notebook_runs_on_sample_data(tmp_path: Path) -> None:
    papermill = pytest.importorskip("papermill")
    out = tmp_path / "payback.ipynb"
    papermill.execute_notebook(
        str(NOTEBOOK),
        str(out),
        parameters={"draws": 2000},
        kernel_name="impact",
        cwd=str(NOTEBOOK.parent),
        progress_bar=False,
    )
    nb = nbformat.read(out, as_version=4)
    text = "\n".join(
        str(o.get("data", {}).get("text/html", ""))
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
    )
    assert "register 2026.03.1 (sha " in text
    assert "P(payback &lt;= 12 months)" in text
    assert "95% interval" in text
    assert any(word in text for word in ("scale:", "stabilize:", "pivot:"))
    # No money figure without its interval, in any output the report shows.
    shown = [
        str(o.get("data", {}).get("text/html") or o.get("data", {}).get("text/plain", ""))
        + str(o.get("text", ""))
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
    ]
    assert [bare_amounts(t) for t in shown if bare_amounts(t)] == []


def test_notebook_parameters_match_the_brief() -> None:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    first = next(c for c in nb.cells if c.cell_type == "code")
    assert "parameters" in first.metadata["tags"]
    assert 'events_path = "sample:events"' in first.source
    assert 'assignments_path = "sample:assignments"' in first.source
    assert 'register_path = "assumptions/ai_assist.yaml"' in first.source
