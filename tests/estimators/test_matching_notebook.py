"""The matched-cohort notebook runs end to end on the sample data through papermill."""

from __future__ import annotations

from pathlib import Path

import nbformat
import papermill
import pytest

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "matched_cohort.ipynb"


@pytest.mark.notebook
@pytest.mark.slow
def test_matched_cohort_notebook_runs_on_the_sample(tmp_path: Path) -> None:
    out = tmp_path / "matched_cohort.ipynb"
    papermill.execute_notebook(
        str(NOTEBOOK),
        str(out),
        kernel_name="impact",
        progress_bar=False,
        parameters={"refute_simulations": 5},
    )
    cells = [c for c in nbformat.read(out, as_version=4).cells if c.cell_type == "code"]
    text = "\n".join(o.get("data", {}).get("text/plain", "") for c in cells for o in c.outputs)
    assert not [o for c in cells for o in c.outputs if o.output_type == "error"]
    assert "<Effect matching.nearest.logit post_handle_time_minutes:" in text
    assert "placebo treatment" in text and "unmeasured confounder" in text
