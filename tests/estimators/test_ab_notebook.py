"""The A/B walkthrough notebook runs end to end on the sample data through papermill."""

from __future__ import annotations

from pathlib import Path

import nbformat
import papermill
import pytest

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "ab_test.ipynb"


@pytest.mark.notebook
@pytest.mark.slow
def test_ab_notebook_runs_on_the_sample(tmp_path: Path) -> None:
    out = tmp_path / "ab_test.ipynb"
    papermill.execute_notebook(
        str(NOTEBOOK),
        str(out),
        kernel_name="impact",
        progress_bar=False,
        parameters={"cap_quantile": 0.99},
    )
    cells = [c for c in nbformat.read(out, as_version=4).cells if c.cell_type == "code"]
    text = "\n".join(o.get("data", {}).get("text/plain", "") for c in cells for o in c.outputs)
    assert not [o for c in cells for o in c.outputs if o.output_type == "error"]
    assert "<Effect ab.ratio+cuped handle_time_minutes per event:" in text
    assert "<Effect ab.cace+cuped handle_time_minutes:" in text
    assert "guardrail" in text and "workflow=billing" in text
