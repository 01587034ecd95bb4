"""Command line: click commands that call the library. No logic lives here.

Every :class:`~impact.errors.ImpactError` becomes a one-line message and its exit code; the
built-in errors impact raises for bad arguments (a missing file, an unknown table, a file it
cannot read) become a one-line message and exit code 2. None ends in a traceback.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from impact.errors import ImpactError


def _friendly(func: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ImpactError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(exc.exit_code)
        except (FileNotFoundError, KeyError, ValueError) as exc:
            # impact raises these for bad arguments (an unknown table, an unreadable suffix).
            message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
            click.echo(f"error: {message}", err=True)
            sys.exit(2)

    return wrapper


@click.group()
@click.version_option(package_name="impact")
def cli() -> None:
    """impact: what an AI rollout really changed, and what it is worth."""


@cli.command()
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--contract", "-c", required=True, help="Contract name or path to an ODCS file.")
@click.option(
    "--map",
    "mapping",
    multiple=True,
    metavar="COLUMN=YOURS",
    help="Map a contract column to your column name; repeatable.",
)
@click.option("--table", help="The table to check when PATH is a DuckDB database file.")
@_friendly
def validate(path: Path, contract: str, mapping: tuple[str, ...], table: str | None) -> None:
    """Check PATH against a data contract; exit 3 if any row or column breaks it."""
    from impact.contracts import validate as run_validation
    from impact.engine import as_table
    from impact.runs.params import parse_assignments

    source = as_table(path, table=table)
    check = run_validation(source, contract, columns=parse_assignments(mapping) or None)
    click.echo(check.report())
    if check.rows_quarantined:
        sys.exit(3)


@cli.command("sample-data")
@click.argument("out_dir", type=click.Path(path_type=Path))
@click.option(
    "--seed", default=0, show_default=True, type=click.IntRange(min=0), help="Random seed."
)
@click.option(
    "--agents",
    "n_agents",
    default=200,
    show_default=True,
    type=click.IntRange(min=1),
    help="Number of agents.",
)
@click.option(
    "--weeks",
    "n_weeks",
    default=26,
    show_default=True,
    type=click.IntRange(min=1),
    help="Number of weeks.",
)
@_friendly
def sample_data(out_dir: Path, seed: int, n_agents: int, n_weeks: int) -> None:
    """Write simulated workflow events (with known true effects) as Parquet to OUT_DIR."""
    from impact.datasets import write_sample

    try:
        paths = write_sample(out_dir, seed=seed, n_agents=n_agents, n_weeks=n_weeks)
    except ValueError as exc:  # a size the simulation cannot build, e.g. fewer agents than teams
        raise click.UsageError(str(exc)) from exc
    for name, path in paths.items():
        click.echo(f"{name}: {path}")


@cli.command("list")
@_friendly
def list_reports() -> None:
    """List the configured reports and their schedules."""
    from impact.runs.config import load_project

    project = load_project()
    for spec in project.reports.values():
        click.echo(f"{spec.name:28} {spec.schedule or '(manual)':18} {spec.title}")


@cli.command()
@click.argument("report")
@click.option(
    "--param",
    "-p",
    "pairs",
    multiple=True,
    metavar="NAME=VALUE",
    help="Override a notebook parameter; repeatable.",
)
@click.option(
    "--params",
    "params_file",
    type=click.Path(exists=True, path_type=Path),
    help="YAML file of parameters.",
)
@click.option("--period-end", help="Last day (ISO date) of the period the report covers.")
@click.option("--force", is_flag=True, help="Run even if the same inputs already succeeded.")
@_friendly
def run(
    report: str,
    pairs: tuple[str, ...],
    params_file: Path | None,
    period_end: str | None,
    force: bool,
) -> None:
    """Run REPORT once and publish it under reports/."""
    from impact.runs.config import load_project
    from impact.runs.params import load_params_file, parse_assignments
    from impact.runs.runner import run_report

    params = (load_params_file(params_file) if params_file else {}) | parse_assignments(pairs)
    outcome = run_report(
        load_project(),
        report,
        params=params,
        period_end=period_end,
        progress=sys.stderr.isatty(),
        force=force,
    )
    _echo_outcome(outcome)
    sys.exit(outcome.exit_code)


@cli.command("run-all")
@_friendly
def run_all() -> None:
    """Run every configured report once with its default parameters."""
    from impact.runs.config import load_project
    from impact.runs.runner import run_report

    project = load_project()
    worst = 0
    for name in project.reports:
        outcome = run_report(project, name, progress=sys.stderr.isatty())
        _echo_outcome(outcome)
        worst = max(worst, outcome.exit_code)
    click.echo(f"index: {project.reports_dir / 'index.html'}")
    sys.exit(worst)


@cli.command("run-due")
@click.option(
    "--now",
    type=click.DateTime(["%Y-%m-%dT%H:%M", "%Y-%m-%d"]),
    help="Act as if it were this UTC time (replays and tests).",
)
@_friendly
def run_due(now: Any) -> None:
    """Run every scheduled report period that is due (safe to call from cron)."""
    from datetime import UTC

    from impact.runs.config import load_project
    from impact.runs.schedule import run_due as run_due_reports

    _logging()
    outcomes = run_due_reports(load_project(), now=now.replace(tzinfo=UTC) if now else None)
    for outcome in outcomes:
        _echo_outcome(outcome)
    if not outcomes:
        click.echo("nothing due")
    sys.exit(max((o.exit_code for o in outcomes), default=0))


@cli.command()
@click.argument("report")
@click.option("--from", "start", required=True, type=click.DateTime(["%Y-%m-%d"]))
@click.option("--to", "end", required=True, type=click.DateTime(["%Y-%m-%d"]))
@_friendly
def backfill(report: str, start: Any, end: Any) -> None:
    """Run REPORT for every scheduled period from --from to --to (ISO dates)."""
    from impact.runs.config import load_project
    from impact.runs.schedule import backfill as backfill_report

    _logging()
    outcomes = backfill_report(
        load_project(), report, start=start.date(), end=end.date(), progress=sys.stderr.isatty()
    )
    for outcome in outcomes:
        _echo_outcome(outcome)
    sys.exit(max((o.exit_code for o in outcomes), default=0))


@cli.command()
@click.option("--interval", default=60.0, show_default=True, help="Seconds between checks.")
@_friendly
def scheduler(interval: float) -> None:
    """Run due reports in a foreground loop (one machine; Ctrl-C stops)."""
    from impact.runs.config import load_project
    from impact.runs.schedule import scheduler as loop

    _logging()
    loop(load_project, interval_s=interval)


def _logging() -> None:
    import logging

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")


def _echo_outcome(outcome: Any) -> None:
    where = outcome.directory / ("report.html" if outcome.ok else "notebook.ipynb")
    click.echo(f"{outcome.report}: {outcome.status} ({outcome.run_id}) -> {where}")
    if not outcome.ok and outcome.manifest.get("error"):
        error = outcome.manifest["error"]
        click.echo(f"  {error.get('type')}: {error.get('message')}", err=True)


def main() -> None:
    cli()
