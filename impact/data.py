"""Load workflow data and reduce it inside the engine.

`load` reads any source, maps the user's column names to the contract's, validates it and
returns the valid rows as an Ibis table. The aggregation helpers turn events into the small
tables estimators need (per unit, per unit x period) without pulling events into Python.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import ibis
import ibis.expr.types as ir

from impact import contracts, privacy
from impact.engine import as_table

if TYPE_CHECKING:
    from ibis.backends import BaseBackend

log = logging.getLogger(__name__)

Period = Literal["day", "week", "month"]
_TRUNCATE = {"day": "D", "week": "W", "month": "M"}
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_ONE_DAY = timedelta(days=1)
_SHOWN = 20  # experiment names listed in an error


def load(
    source: Any,
    *,
    contract: str | Path | None = None,
    columns: Mapping[str, str] | None = None,
    table: str | None = None,
    backend: BaseBackend | None = None,
    pseudonymize: Sequence[str] = (),
) -> ir.Table:
    """Read `source` and return its valid rows as an Ibis table (nothing is pulled into pandas).

    With a `contract`, the table is validated: a structural breach raises
    :class:`~impact.errors.ContractError`; rows breaking a row rule are quarantined (left out of
    the result) and logged with their count. Use :func:`impact.validate` to see the quarantine.

    Args:
        source: a DataFrame, an Ibis table or a path (Parquet, CSV, DuckDB file).
        contract: a bundled contract name (``"workflow_events"``) or a path to an ODCS file.
        columns: contract column name -> your column name, for data with other names.
        table: the table name when `source` is a DuckDB database file.
        backend: an Ibis connection to read files with (DuckDB by default).
        pseudonymize: identifier columns (e.g. ``["agent_id"]``) to replace, after
            validation, by their keyed hash (:func:`impact.privacy.pseudonymize`; the key
            comes from ``IMPACT_PSEUDONYM_KEY``), so raw ids never reach an analysis.

    Example:
        >>> from impact.datasets import simulate
        >>> events = load(simulate(n_agents=20, n_weeks=4).events, contract="workflow_events")
        >>> events.count().execute() > 0
        True
    """
    raw = as_table(source, table=table, backend=backend)
    if contract is None:
        return _pseudonyms(_renamed(raw, columns or {}), pseudonymize)
    check = contracts.validate(raw, contract, columns=columns)
    if check.rows_quarantined:
        log.warning(
            "%s: %d of %d row(s) quarantined (%s)",
            check.contract,
            check.rows_quarantined,
            check.rows_checked,
            "; ".join(f"{r.rule}: {r.n_failed}" for r in check.summary.itertuples() if r.n_failed),
        )
    return _pseudonyms(check.valid, pseudonymize)


def _pseudonyms(table: ir.Table, columns: Sequence[str]) -> ir.Table:
    return privacy.pseudonymize(table, columns) if columns else table


def _renamed(table: ir.Table, columns: Mapping[str, str]) -> ir.Table:
    """`table` with ``columns=`` (new name -> the input's name) applied; absent inputs raise."""
    if absent := {new: old for new, old in columns.items() if old not in table.columns}:
        raise ValueError(
            f"columns= maps {absent} to column(s) the input does not have; it has "
            f"{sorted(table.columns)}"
        )
    renames = {new: old for new, old in columns.items() if new != old}
    return table.rename(renames) if renames else table


def require(table: ir.Table, *columns: str) -> None:
    """Raise `KeyError` naming the first of `columns` that `table` lacks, and what it has."""
    for column in columns:
        if column not in table.columns:
            raise KeyError(f"no column {column!r}; the table has {sorted(table.columns)}")


def numeric(table: ir.Table, column: str) -> ir.FloatingValue:
    """`column` as float64, so booleans become proportions and small ints cannot overflow.

    Text is refused, not parsed: a contract casts text to its types, and an estimator says
    which values do not parse; here a string would only fail later, inside the engine.
    """
    require(table, column)
    dtype = table[column].type()
    if not (dtype.is_numeric() or dtype.is_boolean() or dtype.is_null()):
        raise TypeError(
            f"column {column!r} is {dtype}, not numeric: convert it first, or validate the "
            "table against its contract, which casts each column to the contract's type"
        )
    return table[column].cast("float64")


def unit_summary(
    events: ir.Table,
    *,
    unit: str,
    outcomes: Sequence[str],
    by: Sequence[str] = (),
) -> ir.Table:
    """One row per unit (and `by` group): event count, and the sum and mean of each outcome.

    Example:
        >>> import pandas as pd
        >>> t = as_table(pd.DataFrame({"u": ["a", "a", "b"], "y": [1, 3, 5]}))
        >>> unit_summary(t, unit="u", outcomes=["y"]).order_by("u").execute().y_mean.tolist()
        [2.0, 5.0]
    """
    require(events, unit, *by)
    metrics: dict[str, ir.Value] = {"n_events": events.count()}
    for name in outcomes:
        value = numeric(events, name)
        metrics[f"{name}_sum"] = value.sum()
        metrics[f"{name}_mean"] = value.mean()
        metrics[f"{name}_n"] = value.count()
    return events.group_by([unit, *by]).aggregate(**metrics)


def period_of(events: ir.Table, time: str, period: Period = "week") -> ir.Value:
    """The start of the `period` containing each event's `time` (weeks start on Monday)."""
    if period not in _TRUNCATE:
        raise ValueError(f"period must be one of {', '.join(_TRUNCATE)}; got {period!r}")
    return _instants(events, time).truncate(_TRUNCATE[period]).cast("date")


def _instants(events: ir.Table, time: str) -> ir.TimestampValue | ir.DateValue:
    """Column `time`, checked to hold timestamps or dates (text is not parsed here)."""
    require(events, time)
    dtype = events[time].type()
    if not (dtype.is_timestamp() or dtype.is_date()):
        raise TypeError(
            f"column {time!r} is {dtype}, not a timestamp or date: validate the table against "
            "its contract, which parses ISO-8601 text into UTC timestamps"
        )
    return events[time]


def panel(
    events: ir.Table,
    *,
    unit: str,
    time: str,
    outcomes: Sequence[str],
    period: Period = "week",
    by: Sequence[str] = (),
) -> ir.Table:
    """One row per unit x period: ``period`` (a date), event count, sum and mean of each outcome.

    Example:
        >>> import pandas as pd
        >>> frame = pd.DataFrame({"u": ["a", "a", "b"], "y": [1.0, 3.0, 5.0],
        ...                       "ts": pd.to_datetime(["2026-03-02", "2026-03-10",
        ...                                             "2026-03-03"], utc=True)})
        >>> p = panel(as_table(frame), unit="u", time="ts", outcomes=["y"]).execute()
        >>> len(p), sorted(p.period.astype(str).unique())
        (3, ['2026-03-02', '2026-03-09'])
    """
    with_period = events.mutate(period=period_of(events, time, period))
    return unit_summary(with_period, unit=unit, outcomes=outcomes, by=["period", *by])


def with_assignments(
    events: Any,
    assignments: Any,
    *,
    unit: str = "agent_id",
    experiment: str | None = None,
    time: str = "started_at",
    since_assignment: bool = True,
) -> ir.Table:
    """Events of assigned units, with their `arm`; by default only events after assignment.

    `assignments` has one row per (experiment, unit): ``experiment_id, <unit>, arm,
    assigned_at``. Its structure is checked against the ``assignments`` contract (columns
    present, types readable; ISO-8601 text and naive timestamps become UTC), but no row is
    quarantined: a unit in two arms must reach the estimator, which refuses it by name.
    Events before a unit's assignment belong to the pre-period, not to the test.

    Both arguments may be anything :func:`impact.as_table` reads (a table, a frame, a path or
    ``"sample:events"``).

    Raises:
        ContractError: `assignments` lacks a column or holds values of the wrong type.
        ValueError: `experiment` is not in `assignments` (the message lists those that are).

    Example:
        >>> pilot = with_assignments("sample:events", "sample:assignments")
        >>> sorted(pilot.select("arm").distinct().to_pyarrow().column(0).to_pylist())
        ['control', 'treatment']
    """
    events = as_table(events)
    needed = ["arm", "assigned_at", *(["experiment_id"] if experiment is not None else [])]
    raw = as_table(assignments)
    if unit != "agent_id" and "agent_id" in raw.columns:
        raw = raw.drop("agent_id")  # `unit` plays the contract's agent_id; this one is unused
    assigned = contracts.conform(
        raw, "assignments", columns={"agent_id": unit}, only=["agent_id", *needed]
    )
    if experiment is not None:
        assigned = _one_experiment(assigned, experiment)
    assigned = assigned.select(assigned.agent_id.name(unit), "arm", "assigned_at")
    require(events, unit, *([time] if since_assignment else []))
    joined = events.inner_join(assigned, unit)
    if since_assignment:
        joined = joined.filter(_instants(joined, time) >= joined.assigned_at)
    return joined


def _one_experiment(assigned: ir.Table, experiment: str) -> ir.Table:
    """The assignments of `experiment`; `ValueError` listing those present when it has none."""
    chosen = assigned.filter(assigned.experiment_id == experiment)
    if chosen.count().execute():
        return chosen
    present = assigned.select("experiment_id").distinct().limit(_SHOWN + 1).to_pyarrow()
    names = sorted(map(str, present.column(0).to_pylist()))
    shown = ", ".join(names[:_SHOWN]) + (", ..." if len(names) > _SHOWN else "")
    raise ValueError(
        f"no assignments for experiment {experiment!r}; the assignments have: {shown or 'none'}"
    )


def between(
    events: ir.Table,
    time: str,
    *,
    start: str | date | None = None,
    end: str | date | None = None,
) -> ir.Table:
    """Events whose `time` falls on or after `start` and on or before `end` (ISO dates, UTC).

    `end` is inclusive of the whole day, as a person reading "to 2026-03-30" expects. Dates
    must be ``YYYY-MM-DD`` (or :class:`datetime.date`): ``03/10/2026`` means March to some
    readers and October to others, so it is refused, not guessed. An empty string means no bound.

    Example:
        >>> week = between(as_table("sample:events"), "started_at",
        ...                start="2026-03-02", end="2026-03-08")
        >>> str(week.started_at.max().execute().date())
        '2026-03-06'
    """
    first, last = _iso_day("start", start), _iso_day("end", end)
    instants = _instants(events, time)
    out = events
    if first is not None:
        out = out.filter(instants >= ibis.literal(first, type="timestamp('UTC')"))
    if last is not None:
        out = out.filter(instants < ibis.literal(last + _ONE_DAY, type="timestamp('UTC')"))
    return out


def _iso_day(name: str, value: str | date | None) -> datetime | None:
    """Midnight UTC of an ISO date (``YYYY-MM-DD`` or a `date`); None when there is no bound."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        raise TypeError(f"`{name}` must be a date, not a datetime; got {value!r}")
    if isinstance(value, date):
        day = value
    elif isinstance(value, str) and _ISO_DATE.fullmatch(value.strip()):
        try:
            day = date.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(f"`{name}` must be an ISO date (YYYY-MM-DD); got {value!r}") from None
    else:
        raise ValueError(f"`{name}` must be an ISO date (YYYY-MM-DD); got {value!r}")
    return datetime(day.year, day.month, day.day, tzinfo=UTC)
