"""Run one report notebook with papermill and publish it safely.

A run executes in a staging folder, then is renamed into ``reports/<report>/<run_id>/`` in one
step. A failed run keeps its executed notebook and manifest for analysts, but never replaces
the last good report, and the index always lists the latest *good* run as the report.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from impact.engine import fingerprint
from impact.errors import ImpactError, MissingDependencyError, ParameterError
from impact.reports.html import export_html, extract_result
from impact.reports.pdf import export_pdf
from impact.runs import ledger
from impact.runs.config import Project
from impact.runs.delivery import deliver
from impact.runs.manifest import (
    MANIFEST,
    previous_result,
    rebuild_index,
    utc_now,
    write_json,
)
from impact.runs.params import check_parameters, declared_defaults

log = logging.getLogger(__name__)

# Exit codes, shared by the runner and the CLI (documented in docs/runs.md).
EXIT_OK = 0
EXIT_PARAMETER = 2
EXIT_CONTRACT = 3
EXIT_ESTIMATION = 4
EXIT_NOTEBOOK = 5
EXIT_KERNEL_DIED = 6
EXIT_OUTPUT = 7

_ENAME_CODES = {
    "ContractError": EXIT_CONTRACT,
    "EstimationError": EXIT_ESTIMATION,
    "ParameterError": EXIT_PARAMETER,
}


@dataclass(frozen=True, slots=True)
class RunOutcome:
    """What a run did: its folder, status, exit code and manifest."""

    report: str
    run_id: str
    status: str  # "succeeded", "failed", or "unchanged" (same inputs as an earlier success)
    exit_code: int
    directory: Path
    manifest: Mapping[str, Any]

    @property
    def ok(self) -> bool:
        return self.status in ("succeeded", "unchanged")


def make_run_id(params: Mapping[str, Any], started: Any) -> str:
    digest = hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode())
    return f"{started:%Y%m%dT%H%M%S%fZ}-{digest.hexdigest()[:8]}"


def run_report(
    project: Project,
    name: str,
    *,
    params: Mapping[str, Any] | None = None,
    period_end: str | None = None,
    progress: bool = False,
    force: bool = False,
) -> RunOutcome:
    """Execute report `name` with its configured parameters overridden by `params`.

    Raises ParameterError (before any kernel starts) for an unknown report or parameter or a
    value of the wrong type. Every other failure is recorded and returned, not raised. A run on
    exactly the inputs of an earlier success (parameters, notebook, input file contents)
    returns that run with status ``"unchanged"`` unless `force` is set.

    Input files are the parameters, passed or left at the notebook's default, that name an
    existing file or folder. They are fingerprinted before the kernel starts and again after
    it ends: a file that changed in between is listed in the manifest's
    ``inputs_changed_during_run`` (with a warning in ``warnings``); the run is still published.
    """
    spec = project.report(name)
    merged = dict(spec.parameters) | dict(params or {})
    if period_end is not None:
        merged["period_end"] = period_end
    checked = check_parameters(spec.notebook, merged)
    recover_abandoned(project)
    notebook_sha = _sha256(spec.notebook)
    # A path left at the notebook's default is read as surely as one passed in.
    read = declared_defaults(spec.notebook) | checked
    inputs = _input_fingerprints(project.root, read)
    key = _inputs_key(checked, notebook_sha, inputs)
    if not force and (previous := ledger.successful_run(project.reports_dir, name, key)):
        folder = project.reports_dir / name / previous
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        return RunOutcome(name, previous, "unchanged", EXIT_OK, folder, manifest)
    started = utc_now()
    run_id = make_run_id(checked, started)
    staging = project.reports_dir / ".staging" / f"{name}-{run_id}"
    staging.mkdir(parents=True, exist_ok=False)
    executed = staging / "notebook.ipynb"
    manifest: dict[str, Any] = {
        "report": name,
        "run_id": run_id,
        "title": spec.title,
        "parameters": checked,
        "period_end": checked.get("period_end") or None,
        "notebook": {"path": str(spec.notebook.relative_to(project.root)), "sha256": notebook_sha},
        "inputs": inputs,
        "engine": _engine_versions(),
        "started_at": started.isoformat(),
    }
    ledger.record_start(
        project.reports_dir,
        run_id=run_id,
        report=name,
        period_end=manifest["period_end"],
        inputs_key=key,
        started_at=manifest["started_at"],
    )
    run_params = _with_previous(project, name, checked, read)
    if "previous_result" in run_params:
        manifest["previous_result"] = run_params["previous_result"] or None
    clock = time.perf_counter()
    exit_code, error = _execute(project, spec.notebook, executed, run_params, progress=progress)
    if changed := _changed_inputs(project.root, read, inputs):
        # Published all the same (the run read each file once, as it then was), but said
        # plainly; the ledger keeps the fingerprints from before, so the next run re-runs.
        manifest["inputs_changed_during_run"] = changed
        manifest["warnings"] = [
            f"input {param!r} changed while the report ran; it reflects the file as it was "
            "when read, and the next run will read it again"
            for param in changed
        ]
        log.warning("%s %s: input(s) %s changed during the run", name, run_id, changed)
    if exit_code == EXIT_OK:
        exit_code, error = _publish_files(executed, staging, spec.title, manifest)
    manifest |= {
        "status": "succeeded" if exit_code == EXIT_OK else "failed",
        "exit_code": exit_code,
        "error": error,
        "finished_at": utc_now().isoformat(),
        "duration_s": round(time.perf_counter() - clock, 3),
    }
    final = _settle(project, staging, manifest)
    return RunOutcome(name, run_id, manifest["status"], exit_code, final, manifest)


def _with_previous(
    project: Project, name: str, checked: Mapping[str, Any], declared: Mapping[str, Any]
) -> dict[str, Any]:
    """`checked`, plus ``previous_result`` (the last good run's result.json, ``""`` on a first
    run) when the notebook declares it and the caller left it unset. It stays out of the
    inputs key: which run came before does not change this run's inputs."""
    params = dict(checked)
    if "previous_result" in declared and "previous_result" not in checked:
        period = checked.get("period_end") or None
        params["previous_result"] = previous_result(project.reports_dir, name, period, project.root)
    return params


def _settle(project: Project, staging: Path, manifest: dict[str, Any]) -> Path:
    """Write the manifest, move the run into place, record it and rebuild the index."""
    write_json(staging / MANIFEST, manifest)
    final = project.reports_dir / manifest["report"] / manifest["run_id"]
    final.parent.mkdir(parents=True, exist_ok=True)
    staging.rename(final)  # atomic within one file system: the run appears whole
    if manifest["status"] == "succeeded":
        write_json(final.parent / "latest.json", {"run_id": manifest["run_id"]})
    ledger.record_finish(project.reports_dir, manifest)
    rebuild_index(project.reports_dir)
    if manifest["status"] == "succeeded" and project.delivery is not None:
        try:
            deliver(manifest, project.delivery)
        except OSError as exc:  # the report is published; a failed digest must not undo it
            log.warning("delivery of %s failed: %s", manifest["run_id"], exc)
    return final


def recover_abandoned(project: Project) -> list[str]:
    """Record runs killed mid-way (their process is gone) as failed, keeping their notebook."""
    recovered = []
    for row in ledger.abandoned_runs(project.reports_dir):
        staging = project.reports_dir / ".staging" / f"{row['report']}-{row['run_id']}"
        staging.mkdir(parents=True, exist_ok=True)
        manifest = {
            "report": row["report"],
            "run_id": row["run_id"],
            "title": row["report"],
            "period_end": row["period_end"],
            "parameters": {},
            "started_at": row["started_at"],
            "status": "failed",
            "exit_code": EXIT_KERNEL_DIED,
            "error": {"type": "Killed", "message": "the run's process died before it finished"},
            "finished_at": utc_now().isoformat(),
        }
        _settle(project, staging, manifest)
        recovered.append(row["run_id"])
    return recovered


def _execute(
    project: Project, notebook: Path, output: Path, params: Mapping[str, Any], *, progress: bool
) -> tuple[int, dict[str, str] | None]:
    import papermill
    from nbclient.exceptions import DeadKernelError
    from papermill.exceptions import PapermillExecutionError

    try:
        with _inline_plots():
            papermill.execute_notebook(
                str(notebook),
                str(output),
                parameters=dict(params),
                kernel_name=project.kernel,
                cwd=str(project.root),
                progress_bar=progress,
                log_output=False,
                **_kernel_transport(),
            )
    except PapermillExecutionError as exc:
        code = _ENAME_CODES.get(exc.ename, EXIT_NOTEBOOK)
        return code, {
            "type": exc.ename,
            "message": str(exc.evalue)[:2000],
            "cell": str(exc.exec_count),
        }
    except DeadKernelError as exc:
        return EXIT_KERNEL_DIED, {"type": "DeadKernelError", "message": str(exc)[:2000]}
    except (ImpactError, OSError, RuntimeError, ValueError) as exc:
        return EXIT_NOTEBOOK, {"type": type(exc).__name__, "message": str(exc)[:2000]}
    return EXIT_OK, None


def _kernel_transport() -> dict[str, Any]:
    """Report kernels talk to the runner over Unix domain sockets (ZeroMQ IPC) in the user's
    private Jupyter runtime folder, rather than unencrypted localhost TCP ports that any local
    user could connect to; Windows, which has no IPC transport, keeps TCP."""
    if os.name == "nt":
        return {}
    import uuid

    from jupyter_client.manager import AsyncKernelManager  # nbclient's own default
    from jupyter_core.paths import jupyter_runtime_dir

    class IPCKernelManager(AsyncKernelManager):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(transport="ipc", **kwargs)
            # jupyter_client would put the sockets in the working directory (the project)
            runtime = Path(jupyter_runtime_dir())
            runtime.mkdir(mode=0o700, parents=True, exist_ok=True)
            self.ip = str(runtime / f"impact-{uuid.uuid4().hex[:12]}-ipc")

    return {"kernel_manager_class": IPCKernelManager}


@contextmanager
def _inline_plots() -> Iterator[None]:
    """Report kernels draw inline, whatever MPLBACKEND the caller's shell has (e.g. Agg)."""
    saved = os.environ.get("MPLBACKEND")
    os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("MPLBACKEND", None)
        else:
            os.environ["MPLBACKEND"] = saved


def _publish_files(
    executed: Path, staging: Path, title: str, manifest: dict[str, Any]
) -> tuple[int, dict[str, str] | None]:
    try:
        result = extract_result(executed)
        if result is None:
            return EXIT_NOTEBOOK, {
                "type": "NoResult",
                "message": "the notebook displayed no impact.reports.ReportSummary",
            }
        result = result | {"report": manifest["report"], "run_id": manifest["run_id"]}
        write_json(staging / "result.json", result)
        export_html(executed, staging / "report.html", title=title)
    except OSError as exc:
        return EXIT_OUTPUT, {"type": type(exc).__name__, "message": str(exc)}
    try:
        export_pdf(staging / "report.html", staging / "report.pdf")
    except (MissingDependencyError, OSError, ValueError) as exc:
        # The HTML report stands on its own; a missing PDF is recorded, not fatal.
        manifest["pdf_error"] = f"{type(exc).__name__}: {exc}"[:500]
    manifest["headline"] = result.get("headline")
    manifest["contracts"] = _contracts_of(result)
    return EXIT_OK, None


def _contracts_of(result: Mapping[str, Any]) -> dict[str, str]:
    quality = result.get("data_quality") or {}
    if quality.get("contract"):
        return {str(quality["contract"]): str(quality.get("version"))}
    return {}


def _input_fingerprints(root: Path, params: Mapping[str, Any]) -> dict[str, str]:
    """A content fingerprint of every parameter that names an existing file or folder.

    A YAML input that names further files (the portfolio lists its use cases' registers) makes
    those inputs too, keyed ``param>path``: editing only a register is a new input.
    """
    out = {}
    for key, value in params.items():
        if (path := _input_path(root, value)) is None:
            continue
        out[key] = fingerprint(path)
        if path.is_file() and path.suffix.lower() in {".yaml", ".yml"}:
            for named in _named_in_yaml(path):
                if (inner := _input_path(root, named)) is not None and inner != path:
                    out[f"{key}>{named}"] = fingerprint(inner)
    return out


def _input_path(root: Path, value: Any) -> Path | None:
    if not (isinstance(value, str) and value.strip()):
        return None
    path = root / value
    # "." or "/" names a folder holding the whole project: not an input, and no end.
    if path.exists() and not (path.is_dir() and root.resolve().is_relative_to(path.resolve())):
        return path
    return None


def _named_in_yaml(path: Path) -> list[str]:
    """Every string value in a YAML file (safe loader); [] when it does not parse."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return []
    found: list[str] = []
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            found.append(item)
        elif isinstance(item, Mapping):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return sorted(set(found))


def _changed_inputs(root: Path, params: Mapping[str, Any], before: Mapping[str, str]) -> list[str]:
    """Parameters whose input file is no longer what it was before the run (or is gone)."""
    after = _input_fingerprints(root, params)
    return sorted(key for key in before.keys() | after.keys() if before.get(key) != after.get(key))


def _engine_versions() -> dict[str, str]:
    import duckdb
    import ibis

    return {"ibis": ibis.__version__, "duckdb": duckdb.__version__}


def _inputs_key(params: Mapping[str, Any], notebook_sha: str, inputs: Mapping[str, str]) -> str:
    payload = json.dumps([params, notebook_sha, inputs], sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


__all__ = ["ParameterError", "RunOutcome", "recover_abandoned", "run_report"]
