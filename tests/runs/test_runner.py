"""The runner end to end: papermill with the `impact` kernel, publishing, manifests, index."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest

from impact.errors import ParameterError
from impact.runs.config import load_project
from impact.runs.runner import EXIT_CONTRACT, run_report

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.notebook, pytest.mark.xdist_group("notebooks")]


def make_project(tmp_path: Path, parameters: dict[str, object] | None = None) -> Path:
    (tmp_path / "notebooks").mkdir()
    shutil.copy(ROOT / "notebooks" / "ab_report.ipynb", tmp_path / "notebooks")
    config = {
        "reports": {
            "ab_report": {
                "title": "Pilot report",
                "notebook": "notebooks/ab_report.ipynb",
                "schedule": "0 6 * * MON",
                "parameters": parameters or {},
            }
        }
    }
    (tmp_path / "impact.yaml").write_text(json.dumps(config))  # JSON is valid YAML
    return tmp_path / "impact.yaml"


def test_unknown_parameter_is_rejected_before_a_kernel_starts(tmp_path: Path) -> None:
    project = load_project(make_project(tmp_path))
    started = time.perf_counter()
    with pytest.raises(ParameterError, match=r"declares no parameter \['outcom'\]"):
        run_report(project, "ab_report", params={"outcom": "resolved"})
    assert time.perf_counter() - started < 2.0  # no kernel was started
    assert not (tmp_path / "reports").exists()


def test_wrongly_typed_parameter_is_rejected(tmp_path: Path) -> None:
    project = load_project(make_project(tmp_path))
    with pytest.raises(ParameterError, match="parameter 'confidence' expects float, got 'high'"):
        run_report(project, "ab_report", params={"confidence": "high"})
    with pytest.raises(ParameterError, match="no report 'nope'"):
        run_report(project, "nope")


def test_default_then_overridden_run_publish_and_index(tmp_path: Path) -> None:
    project = load_project(make_project(tmp_path))
    first = run_report(project, "ab_report")
    assert first.ok, first.manifest.get("error")
    folder = first.directory
    assert folder == tmp_path / "reports" / "ab_report" / first.run_id
    for name in ("notebook.ipynb", "report.html", "result.json", "manifest.json"):
        assert (folder / name).is_file(), name
    result = json.loads((folder / "result.json").read_text())
    assert result["effects"][0]["outcome"] == "handle_time_minutes"
    assert result["effects"][0]["estimate"] < 0
    assert result["data_quality"]["contract"] == "workflow_events"
    assert result["headline"].startswith("The AI lowered handle time by")
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["status"] == "succeeded" and manifest["exit_code"] == 0
    assert len(manifest["notebook"]["sha256"]) == 64
    assert manifest["contracts"] == {"workflow_events": result["data_quality"]["version"]}
    html = (folder / "report.html").read_text()
    assert "The AI lowered handle time" in html
    assert "import impact" not in html  # no code cells
    assert "<img" in html  # the plot is embedded

    second = run_report(project, "ab_report", params={"outcome": "resolved", "confidence": "0.9"})
    assert second.ok, second.manifest.get("error")
    result = json.loads((second.directory / "result.json").read_text())
    assert result["effects"][0]["outcome"] == "resolved"
    assert result["effects"][0]["confidence"] == 0.9
    assert second.manifest["parameters"] == {"outcome": "resolved", "confidence": 0.9}

    latest = json.loads((tmp_path / "reports" / "ab_report" / "latest.json").read_text())
    assert latest == {"run_id": second.run_id}
    index = (tmp_path / "reports" / "index.html").read_text()
    assert second.run_id in index and first.run_id in index
    assert f"ab_report/{second.run_id}/report.html" in index


def test_failed_run_keeps_last_good_report(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("event_id,agent_id\nE1,A1\n")
    project = load_project(make_project(tmp_path))
    good = run_report(project, "ab_report")
    assert good.ok
    failed = run_report(project, "ab_report", params={"events_path": str(bad)})
    assert not failed.ok and failed.exit_code == EXIT_CONTRACT
    assert failed.manifest["error"]["type"] == "ContractError"
    assert "missing" in failed.manifest["error"]["message"]
    assert (failed.directory / "notebook.ipynb").is_file()  # kept for analysts
    assert not (failed.directory / "report.html").exists()
    latest = json.loads((tmp_path / "reports" / "ab_report" / "latest.json").read_text())
    assert latest == {"run_id": good.run_id}
    index = (tmp_path / "reports" / "index.html").read_text()
    assert f"ab_report/{good.run_id}/report.html" in index
    assert "failed" in index


def test_the_previous_run_is_the_last_success_not_after_this_period(tmp_path: Path) -> None:
    from impact.runs import ledger
    from impact.runs.manifest import previous_result

    reports = tmp_path / "reports"
    for run_id, period, status in [
        ("r1", "2026-04-05", "succeeded"),
        ("r2", "2026-04-12", "succeeded"),
        ("r3", "2026-04-19", "failed"),
        ("r4", None, "succeeded"),  # a manual run without a period
    ]:
        ledger.record_start(
            reports, run_id=run_id, report="r", period_end=period, inputs_key=run_id,
            started_at=f"2026-05-0{run_id[1]}T00:00:00",
        )  # fmt: skip
        manifest = {"run_id": run_id, "status": status, "exit_code": 0, "finished_at": "x"}
        ledger.record_finish(reports, manifest)
        (reports / "r" / run_id).mkdir(parents=True)
        (reports / "r" / run_id / "result.json").write_text("{}")
    assert ledger.previous_success(reports, "r", None) == "r4"
    assert ledger.previous_success(reports, "r", "2026-04-19") == "r2"  # r3 failed, r4 no period
    assert ledger.previous_success(reports, "other", None) is None
    # A backfill of an old period compares with the period before it, never a newer one.
    assert previous_result(reports, "r", "2026-04-10", tmp_path) == "reports/r/r1/result.json"
    assert previous_result(reports, "r", "2026-04-01", tmp_path) == ""


@pytest.mark.skipif(os.name == "nt", reason="Windows has no ZeroMQ IPC transport")
def test_report_kernels_use_unix_sockets_not_open_tcp_ports() -> None:
    """The runner hands papermill a kernel manager on the IPC transport: no localhost TCP port
    another local user could connect to, and no ipykernel warning in every scheduled log."""
    import nbformat
    from jupyter_core.paths import jupyter_runtime_dir
    from nbclient import NotebookClient

    from impact.runs import runner

    manager_class = runner._kernel_transport()["kernel_manager_class"]
    manager, other = manager_class(kernel_name="python3"), manager_class(kernel_name="python3")
    assert manager.transport == "ipc"
    # sockets in the private runtime folder, one name per kernel; never in the project
    assert Path(manager.ip).parent == Path(jupyter_runtime_dir()) and manager.ip != other.ip
    # nbclient's own (async) manager underneath: a sync one never notices a dead kernel
    default = NotebookClient(nbformat.v4.new_notebook()).kernel_manager_class
    assert issubclass(manager_class, default)
