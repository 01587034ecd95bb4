"""Faults during runs never lose the last good report, and are recorded with their exit code."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from impact.runs import ledger
from impact.runs.config import load_project
from impact.runs.runner import EXIT_KERNEL_DIED, EXIT_NOTEBOOK, run_report

pytestmark = [pytest.mark.notebook, pytest.mark.xdist_group("notebooks")]


def fault_project(tmp_path: Path) -> Path:
    """One report whose `fault` parameter makes it succeed, raise, kill its kernel or hang."""
    (tmp_path / "notebooks").mkdir()
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell('fault = "none"')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [
        params,
        nbformat.v4.new_code_cell(
            "import os, time\nimport impact\n"
            "if fault == 'raise':\n    raise RuntimeError('a cell failed')\n"
            "if fault == 'kill-kernel':\n    os.kill(os.getpid(), 9)\n"
            "if fault == 'hang':\n    time.sleep(120)\n"
            "impact.reports.summarize('Faults', [], headline=f'fault {fault}')"
        ),
    ]
    nb.metadata["kernelspec"] = {"name": "impact", "display_name": "impact", "language": "python"}
    nbformat.write(nb, tmp_path / "notebooks" / "faults.ipynb")
    (tmp_path / "impact.yaml").write_text(
        json.dumps({"reports": {"faults": {"notebook": "notebooks/faults.ipynb"}}})
    )
    return tmp_path / "impact.yaml"


def assert_last_good_intact(reports: Path, good_run: str) -> None:
    latest = json.loads((reports / "faults" / "latest.json").read_text())
    assert latest == {"run_id": good_run}
    assert (reports / "faults" / good_run / "report.html").is_file()
    index = (reports / "index.html").read_text()
    assert f"faults/{good_run}/report.html" in index


def test_failing_cell_and_dead_kernel_are_recorded(tmp_path: Path) -> None:
    project = load_project(fault_project(tmp_path))
    good = run_report(project, "faults")
    assert good.ok
    raised = run_report(project, "faults", params={"fault": "raise"})
    assert (raised.status, raised.exit_code) == ("failed", EXIT_NOTEBOOK)
    assert raised.manifest["error"]["type"] == "RuntimeError"
    assert "a cell failed" in raised.manifest["error"]["message"]
    died = run_report(project, "faults", params={"fault": "kill-kernel"})
    assert (died.status, died.exit_code) == ("failed", EXIT_KERNEL_DIED)
    assert_last_good_intact(project.reports_dir, good.run_id)
    statuses = {
        r["run_id"]: (r["status"], r["exit_code"])
        for r in ledger.runs(project.reports_dir, "faults")
    }
    assert statuses == {
        good.run_id: ("succeeded", 0),
        raised.run_id: ("failed", EXIT_NOTEBOOK),
        died.run_id: ("failed", EXIT_KERNEL_DIED),
    }


def test_runner_killed_mid_run_is_recovered_as_failed(tmp_path: Path) -> None:
    config = fault_project(tmp_path)
    project = load_project(config)
    good = run_report(project, "faults")
    env = {**os.environ, "IMPACT_PROJECT": str(tmp_path)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "impact", "run", "faults", "-p", "fault=hang"],
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while not any(r["status"] == "running" for r in ledger.runs(project.reports_dir, "faults")):
        assert time.monotonic() < deadline, "the run never started"
        time.sleep(0.2)
    time.sleep(3)  # let the kernel start and hang in its cell
    os.killpg(proc.pid, signal.SIGKILL)  # the runner and its kernel, mid-run
    proc.wait(timeout=30)
    assert_last_good_intact(project.reports_dir, good.run_id)
    # The next run notices the abandoned one and records it, keeping its partial notebook.
    after = run_report(project, "faults", params={"fault": "raise"})
    runs = {r["run_id"]: r for r in ledger.runs(project.reports_dir, "faults")}
    killed = [r for r in runs.values() if r["run_id"] not in (good.run_id, after.run_id)]
    assert len(killed) == 1 and (killed[0]["status"], killed[0]["exit_code"]) == ("failed", 6)
    manifest = json.loads(
        (project.reports_dir / "faults" / killed[0]["run_id"] / "manifest.json").read_text()
    )
    assert manifest["error"]["type"] == "Killed"
    assert not list((project.reports_dir / ".staging").iterdir())
    assert_last_good_intact(project.reports_dir, good.run_id)


def test_disk_full_while_publishing_keeps_the_last_good_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    import impact.runs.runner as runner

    project = load_project(fault_project(tmp_path))
    good = run_report(project, "faults")

    def full_disk(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(runner, "export_html", full_disk)
    failed = run_report(project, "faults", params={"fault": "none-again"})
    assert (failed.status, failed.exit_code) == ("failed", runner.EXIT_OUTPUT)
    assert "No space left on device" in failed.manifest["error"]["message"]
    assert_last_good_intact(project.reports_dir, good.run_id)
