"""Dagster: the weekly A/B report as a scheduled job that calls the impact runner."""

from __future__ import annotations

from dagster import Definitions, OpExecutionContext, ScheduleDefinition, job, op

from impact.runs.config import load_project
from impact.runs.runner import run_report


@op
def ab_report(context: OpExecutionContext) -> str:
    period_end = context.op_config.get("period_end") if context.op_config else None
    outcome = run_report(load_project(), "ab_report", period_end=period_end)
    if not outcome.ok:
        raise RuntimeError(f"ab_report failed with exit code {outcome.exit_code}")
    return str(outcome.directory / "report.html")


@job
def weekly_ab_report() -> None:
    ab_report()


defs = Definitions(
    jobs=[weekly_ab_report],
    schedules=[ScheduleDefinition(job=weekly_ab_report, cron_schedule="0 6 * * MON")],
)
