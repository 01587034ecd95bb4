"""End to end on 10M events: the A/B call against statsmodels, and the scheduled report.

(The A/B estimator against its GROUP BY floor is ``benchmarks/ab.py``.)

1. ``impact.ab_test(metric="ratio")`` (event-weighted means, delta method, clustered by unit)
   against statsmodels OLS with cluster-robust errors on the events (pulled into pandas, as a
   user without `impact` would). Same estimand; target: at least 20x faster.
2. ``impact.runs.runner.run_report`` of ``notebooks/ab_report.ipynb`` in a temporary project
   whose ``events_path`` is the 10M folder, against the notebook's own library calls made in
   one process (the ratio is what papermill, the kernel and HTML/PDF export add).

The simulated Parquet has no arms; ``benchmarks.assignments`` assigns every fifth agent to
treatment, so the true effect is zero and only speed and agreement are measured.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import statsmodels.api as sm

import benchmarks as bench
import impact
from impact.runs.config import load_project
from impact.runs.runner import run_report

OUTCOME = "handle_time_minutes"
STATSMODELS_MAX_RATIO = 1 / 20
NOTEBOOK = bench.ROOT.parent / "notebooks" / "ab_report.ipynb"


def _effect(effect: Any) -> dict[str, float]:
    return {
        "estimate": float(effect.estimate),
        "std_error": float(effect.std_error),
        "p_value": float(effect.p_value),
        "n_treated": int(effect.n_treated),
        "n_control": int(effect.n_control),
    }


def ab_ours(n_events: int, metric: str = "mean") -> dict[str, float]:
    """``impact.ab_test`` on the Parquet folder joined to the assignments (all in DuckDB)."""
    events = impact.as_table(bench.events(n_events))
    pilot = impact.with_assignments(
        events, bench.assignments(n_events), experiment=bench.EXPERIMENT
    )
    return _effect(impact.ab_test(pilot, OUTCOME, metric=metric))


def _pilot_sql(n_events: int, select: str, group_by: str = "") -> str:
    events = bench.parquet_glob(bench.events(n_events))
    assigned = bench.assignments(n_events)
    # Our own paths and literals, not user input.
    return (
        f"SELECT {select} FROM read_parquet('{events}') AS e "  # noqa: S608
        f"JOIN read_parquet('{assigned}') AS a USING (agent_id) "
        f"WHERE a.experiment_id = '{bench.EXPERIMENT}' AND e.started_at >= a.assigned_at "
        f"{group_by}"
    )


def ab_statsmodels(n_events: int, metric: str = "ratio") -> dict[str, float]:
    """OLS of the outcome on the arm over every event, errors clustered by unit (statsmodels).

    `metric` is accepted for symmetry with :func:`ab_ours` (OLS on events is the ratio metric).
    """
    con = duckdb.connect()
    query = _pilot_sql(
        n_events,
        f"e.{OUTCOME} AS y, (a.arm = 'treatment')::DOUBLE AS treated, e.agent_id",
    )
    frame = con.sql(query).df()
    groups = frame["agent_id"].astype("category").cat.codes.to_numpy()
    design = sm.add_constant(frame["treated"].to_numpy(np.float64))
    fit = sm.OLS(frame["y"].to_numpy(np.float64), design).fit(
        cov_type="cluster", cov_kwds={"groups": groups}
    )
    return {
        "estimate": float(fit.params[1]),
        "std_error": float(fit.bse[1]),
        "p_value": float(fit.pvalues[1]),
    }


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


def ab_rows(n_events: int) -> list[dict[str, Any]]:
    """The ratio metric (event-weighted means, clustered by unit) against statsmodels."""
    bench.assignments(n_events)  # generate outside the timed processes
    ratio, ols = bench.versus(
        "benchmarks.report:ab_ours",
        "benchmarks.report:ab_statsmodels",
        rounds=1,
        repeat=2,
        n_events=n_events,
        metric="ratio",
    )
    # Same point estimate (difference of event-weighted means); the delta-method and CR1
    # cluster-robust standard errors differ only by small-sample factors (~1/n_units).
    agree = _close(ratio.value, ols.value, ("estimate",), 1e-9) and _close(
        ratio.value, ols.value, ("std_error",), 0.01
    )
    return [
        bench.row(
            "A/B end to end: ab_test(metric='ratio') vs cluster-robust OLS",
            n_events=n_events,
            ours_s=ratio.seconds,
            baseline="statsmodels OLS, cluster-robust by unit, on the events in pandas",
            baseline_s=ols.seconds,
            target=">= 20x faster (ratio <= 0.05)",
            max_ratio=STATSMODELS_MAX_RATIO,
            agree=agree,
            agreement="estimate to 1e-9, SE to 1%: "
            + _describe(ratio.value, ols.value, ("estimate", "std_error")),
            peak_rss_mib=ratio.peak_rss_mib,
            notes=f"statsmodels peak RSS {ols.peak_rss_mib:.0f} MiB",
        )
    ]


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


def ab_100m() -> dict[str, Any]:
    """``BENCH_FULL=1``: the A/B call (unit means) on 100M events; the target is memory."""
    n_events = 100_000_000
    bench.assignments(n_events)
    mine = bench.isolated("benchmarks.report:ab_ours", n_events=n_events)
    return bench.row(
        "A/B end to end: ab_test (unit means, Welch)",
        n_events=n_events,
        ours_s=mine.seconds,
        baseline="",
        baseline_s=None,
        target="peak RSS < 4 GiB",
        max_rss_mib=4 * 1024,
        agree=None,
        agreement="",
        peak_rss_mib=mine.peak_rss_mib,
        notes=f"estimate {mine.value['estimate']:.6g}, {mine.value['n_treated']} treated units",
    )


def run() -> list[dict[str, Any]]:
    """10M events by default; the A/B call on 100M too with ``BENCH_FULL=1``."""
    n_events = bench.n_events_default()
    rows = [*ab_rows(n_events), report_row(n_events)]
    if bench.full():
        rows.append(ab_100m())
    return rows
