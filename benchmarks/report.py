"""The scheduled report end to end on 10M events.

``impact.runs.runner.run_report`` of ``notebooks/ab_report.ipynb`` in a temporary project
whose ``events_path`` is the 10M folder (validation, the A/B test, the summary, HTML and PDF,
manifest and index), against the notebook's own library calls made in one process: the ratio
is what papermill, the kernel and the HTML/PDF export add. (The A/B estimator against its
floor, pandas and statsmodels is ``benchmarks/ab.py``.)

The simulated Parquet has no arms; ``benchmarks.assignments`` assigns every fifth agent to
treatment, so the true effect is zero and only speed and agreement are measured.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import benchmarks as bench
import impact
from impact.runs.config import load_project
from impact.runs.runner import run_report

OUTCOME = "handle_time_minutes"
NOTEBOOK = bench.ROOT.parent / "notebooks" / "ab_report.ipynb"


def report_ours(n_events: int) -> dict[str, Any]:
    """``run_report`` in a temporary project pointed at the 10M events; the published result."""
    events, assigned = bench.events(n_events), bench.assignments(n_events)
    with tempfile.TemporaryDirectory(prefix="impact-bench-") as tmp:
        root = Path(tmp)
        (root / "notebooks").mkdir()
        shutil.copy(NOTEBOOK, root / "notebooks" / NOTEBOOK.name)
        config = {
            "reports_dir": "reports",
            "kernel": "impact",
            "reports": {
                "ab_report": {
                    "title": "A/B report on the benchmark events",
                    "notebook": f"notebooks/{NOTEBOOK.name}",
                    "parameters": {
                        "events_path": str(events),
                        "assignments_path": str(assigned),
                        "experiment": bench.EXPERIMENT,
                    },
                }
            },
        }
        (root / "impact.yaml").write_text(json.dumps(config))
        outcome = run_report(load_project(root / "impact.yaml"), "ab_report", force=True)
        if not outcome.ok:
            raise RuntimeError(f"report failed: {outcome.manifest.get('error')}")
        result = json.loads((outcome.directory / "result.json").read_text())
        effect = result["effects"][0]
        return {
            "estimate": float(effect["estimate"]),
            "p_value": float(effect["p_value"]),
            "files": sorted(p.name for p in outcome.directory.iterdir()),
            "pdf_error": outcome.manifest.get("pdf_error"),
        }


def report_calls(n_events: int) -> dict[str, Any]:
    """The notebook's library calls in this process: validate, join, test, summarise."""
    check = impact.validate(bench.events(n_events), contract="workflow_events")
    pilot = impact.with_assignments(
        check.valid, bench.assignments(n_events), experiment=bench.EXPERIMENT
    )
    effect = impact.ab_test(pilot, OUTCOME, expected_share=0.2)
    impact.reports.summarize("A/B report", [effect], data_quality=check).to_dict()
    return {"estimate": float(effect.estimate), "p_value": float(effect.p_value)}


def _close(a: dict[str, Any], b: dict[str, Any], keys: tuple[str, ...], rtol: float) -> bool:
    return all(abs(a[k] - b[k]) <= rtol * max(abs(a[k]), abs(b[k]), 1e-300) for k in keys)


def _describe(a: dict[str, Any], b: dict[str, Any], keys: tuple[str, ...]) -> str:
    return ", ".join(f"{k} {a[k]:.6g} vs {b[k]:.6g}" for k in keys)


def report_row(n_events: int) -> dict[str, Any]:
    """The scheduled report end to end against its library calls in one process."""
    ours, calls = bench.versus(
        "benchmarks.report:report_ours",
        "benchmarks.report:report_calls",
        rounds=1,
        n_events=n_events,
    )
    agree = _close(ours.value, calls.value, ("estimate", "p_value"), 1e-9)
    pdf = ours.value.get("pdf_error")
    return bench.row(
        "scheduled report (run_report, ab_report.ipynb)",
        n_events=n_events,
        ours_s=ours.seconds,
        baseline="the notebook's library calls in one process",
        baseline_s=calls.seconds,
        target="reported (no target)",
        agree=agree,
        agreement="result.json vs in-process: "
        + _describe(ours.value, calls.value, ("estimate", "p_value")),
        peak_rss_mib=ours.peak_rss_mib,
        notes=f"published {', '.join(ours.value['files'])}"
        + (f"; PDF skipped: {pdf}" if pdf else "")
        + "; peak RSS includes the notebook kernel (a waited-for descendant)",
    )


def run() -> list[dict[str, Any]]:
    """The scheduled report on 10M events (``BENCH_EVENTS`` to change)."""
    return [report_row(bench.n_events_default())]
