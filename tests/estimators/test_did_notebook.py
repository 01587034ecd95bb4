"""The staggered-rollout notebook runs end to end on the sample data through papermill."""

from __future__ import annotations

from pathlib import Path

import nbformat
import papermill
import pytest

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "did_rollout.ipynb"


@pytest.mark.notebook
@pytest.mark.slow
def test_did_notebook_runs_on_the_sample(tmp_path: Path) -> None:
    out = tmp_path / "did_rollout.ipynb"
    papermill.execute_notebook(
        str(NOTEBOOK),
        str(out),
        kernel_name="impact",
        progress_bar=False,
        parameters={"control_group": "never_treated"},
    )
    cells = [c for c in nbformat.read(out, as_version=4).cells if c.cell_type == "code"]
    text = "\n".join(o.get("data", {}).get("text/plain", "") for c in cells for o in c.outputs)
    assert not [o for c in cells for o in c.outputs if o.output_type == "error"]
    assert "<Effect did.callaway_santanna+bootstrap handle_time_minutes:" in text
    assert "pre_trend_p" in text
    assert "did.imputation" in text and "did.twfe+wild_bootstrap" in text
    assert "+placebo_time" in text and "+permutation" in text
