"""Load workflow data and reduce it inside the engine.

`load` reads any source, maps the user's column names to the contract's, validates it and
returns the valid rows as an Ibis table. The aggregation helpers turn events into the small
tables estimators need (per unit, per unit x period) without pulling events into Python.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import ibis
import ibis.expr.types as ir

from impact import contracts
from impact.engine import as_table

if TYPE_CHECKING:
    from ibis.backends import BaseBackend

log = logging.getLogger(__name__)

Period = Literal["day", "week", "month"]
_TRUNCATE = {"day": "D", "week": "W", "month": "M"}


def load(
    source: Any,
    *,
    contract: str | Path | None = None,
    columns: Mapping[str, str] | None = None,
    table: str | None = None,
    backend: BaseBackend | None = None,
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

    Example:
        >>> from impact.datasets import simulate
        >>> events = load(simulate(n_agents=20, n_weeks=4).events, contract="workflow_events")
        >>> events.count().execute() > 0
        True
    """
    raw = as_table(source, table=table, backend=backend)
    if contract is None:
        return raw.rename({new: old for new, old in (columns or {}).items()}) if columns else raw
    check = contracts.validate(raw, contract, columns=columns)
    if check.rows_quarantined:
        log.warning(
            "%s: %d of %d row(s) quarantined (%s)",
            check.contract,
            check.rows_quarantined,
            check.rows_checked,
            "; ".join(f"{r.rule}: {r.n_failed}" for r in check.summary.itertuples() if r.n_failed),
        )
    return check.valid


def numeric(table: ir.Table, column: str) -> ir.FloatingValue:
    """`column` as float64, so booleans become proportions and small ints cannot overflow."""
    if column not in table.columns:
        raise KeyError(f"no column {column!r}; the table has {sorted(table.columns)}")
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
    metrics: dict[str, ir.Value] = {"n_events": events.count()}
    for name in outcomes:
        value = numeric(events, name)
        metrics[f"{name}_sum"] = value.sum()
        metrics[f"{name}_mean"] = value.mean()
        metrics[f"{name}_n"] = value.count()
    return events.group_by([unit, *by]).aggregate(**metrics)


def period_of(events: ir.Table, time: str, period: Period = "week") -> ir.Value:
    """The start of the `period` containing each event's `time` (weeks start on Monday)."""
    return events[time].truncate(_TRUNCATE[period]).cast("date")


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
    events: ir.Table,
    assignments: Any,
    *,
    unit: str = "agent_id",
    experiment: str | None = None,
    time: str = "started_at",
    since_assignment: bool = True,
) -> ir.Table:
    """Events of assigned units, with their `arm`; by default only events after assignment.

    `assignments` has one row per (experiment, unit): ``experiment_id, <unit>, arm,
    assigned_at``. Events before a unit's assignment belong to the pre-period, not to the test.
    """
    assigned = as_table(assignments)
    if experiment is not None:
        assigned = assigned.filter(assigned.experiment_id == experiment)
    assigned = assigned.select(unit, "arm", "assigned_at")
    joined = events.inner_join(assigned, unit)
    if since_assignment:
        joined = joined.filter(joined[time] >= joined.assigned_at)
    return joined


def between(
    events: ir.Table, time: str, *, start: str | None = None, end: str | None = None
) -> ir.Table:
    """Events whose `time` falls on or after `start` and on or before `end` (ISO dates, UTC).

    `end` is inclusive of the whole day, as a person reading "to 2026-03-30" expects.
    """
    out = events
    if start:
        out = out.filter(out[time] >= ibis.timestamp(f"{start}T00:00:00+00:00"))
    if end:
        out = out.filter(
            out[time] < ibis.timestamp(f"{end}T00:00:00+00:00") + ibis.interval(days=1)
        )
    return out
