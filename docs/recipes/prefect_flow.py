"""Prefect: the weekly A/B report as a flow; deploy with a cron schedule."""

from __future__ import annotations

from prefect import flow, task

from impact.runs.config import load_project
from impact.runs.runner import run_report


@task(retries=0)  # the runner records failures itself; retry only transient infrastructure
def run(report: str, period_end: str | None) -> str:
    outcome = run_report(load_project(), report, period_end=period_end)
    if not outcome.ok:
        raise RuntimeError(f"{report} failed with exit code {outcome.exit_code}")
    return str(outcome.directory / "report.html")


@flow(name="impact-ab-report")
def weekly(period_end: str | None = None) -> str:
    return run("ab_report", period_end)


if __name__ == "__main__":
    weekly.serve(name="weekly-ab-report", cron="0 6 * * MON")
