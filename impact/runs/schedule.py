"""When reports are due: cron schedules, catch-up of missed periods, and a lock.

`run_due` is safe to call from cron or a systemd timer every few minutes: it holds a file lock
so two callers never run the same report twice, and it runs each missed period once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta

from croniter import croniter
from filelock import FileLock, Timeout

from impact.errors import ParameterError
from impact.runs import ledger
from impact.runs.config import Project, ReportSpec
from impact.runs.params import declared_parameters
from impact.runs.runner import RunOutcome, run_report

log = logging.getLogger(__name__)

LOCK = ".run-due.lock"


def ticks(schedule: str, start: datetime, end: datetime) -> Iterator[datetime]:
    """Cron fire times in ``(start, end]`` (UTC)."""
    clock = croniter(schedule, start)
    while (tick := clock.get_next(datetime)) <= end:
        yield tick


def period_end_of(tick: datetime) -> str:
    """A run at `tick` reports on data up to the end of the previous day."""
    return (tick - timedelta(days=1)).date().isoformat()


def due_periods(project: Project, spec: ReportSpec, *, now: datetime) -> list[str]:
    """Period ends that are due and have no successful run yet, oldest first.

    Without history, only the latest tick is due (a new report does not replay the past);
    after a success, every tick since the last successful period is due (missed runs).
    """
    if spec.schedule is None:
        return []
    done = ledger.succeeded_periods(project.reports_dir, spec.name)
    if done:
        last = max(date.fromisoformat(p) for p in done)
        start = datetime.combine(last + timedelta(days=1), datetime.min.time(), UTC)
    else:
        previous = croniter(spec.schedule, now).get_prev(datetime)
        start = previous - timedelta(seconds=1)
    return [
        p for p in (period_end_of(t) for t in ticks(spec.schedule, start, now)) if p not in done
    ]


def run_due(
    project: Project, *, now: datetime | None = None, progress: bool = False
) -> list[RunOutcome]:
    """Run every scheduled report period that is due; return what ran.

    If another `run_due` holds the lock, return at once with nothing run.
    """
    now = now or datetime.now(UTC)
    project.reports_dir.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(project.reports_dir / LOCK))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        log.info("another run-due holds %s; nothing to do", lock.lock_file)
        return []
    try:
        outcomes = []
        for spec in project.reports.values():
            for period in due_periods(project, spec, now=now):
                outcomes.append(_run_period(project, spec, period, progress=progress))
        return outcomes
    finally:
        lock.release()


def backfill(
    project: Project, name: str, *, start: date, end: date, progress: bool = False
) -> list[RunOutcome]:
    """Run `name` for every scheduled period between `start` and `end` (inclusive)."""
    spec = project.report(name)
    if spec.schedule is None:
        raise ParameterError(f"report {name!r} has no schedule to backfill")
    if end < start:
        raise ParameterError(f"backfill range is empty: {start} is after {end}")
    first = datetime.combine(start, datetime.min.time(), UTC) - timedelta(seconds=1)
    last = datetime.combine(end + timedelta(days=1), datetime.min.time(), UTC)
    periods = [period_end_of(t) for t in ticks(spec.schedule, first, last)]
    return [_run_period(project, spec, p, progress=progress) for p in periods]


def _run_period(project: Project, spec: ReportSpec, period: str, *, progress: bool) -> RunOutcome:
    if "period_end" not in declared_parameters(spec.notebook):
        raise ParameterError(
            f"{spec.notebook.name} declares no 'period_end' parameter, so report {spec.name!r} "
            "cannot be scheduled per period"
        )
    log.info("running %s for the period ending %s", spec.name, period)
    return run_report(project, spec.name, period_end=period, progress=progress)


def scheduler(
    project_loader: Callable[[], Project],
    *,
    interval_s: float = 60.0,
    iterations: int | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Foreground loop for one machine: `run_due` every `interval_s` seconds."""
    count = 0
    while iterations is None or count < iterations:
        for outcome in run_due(project_loader()):
            log.info("%s %s: %s", outcome.report, outcome.run_id, outcome.status)
        count += 1
        if iterations is None or count < iterations:
            sleep(interval_s)
