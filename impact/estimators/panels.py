"""Panels for difference-in-differences: built from raw events in the engine, checked, and
reshaped to the unit x period matrices the DiD estimators work on.

:func:`rollout_panel` is the front door: events + rollouts -> one row per unit x week with the
outcome means, event counts and each unit's cohort (first treated week), all aggregated in
the engine. :func:`wide` validates such a (small) panel and returns a :class:`Wide` panel.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from impact.data import Period, panel
from impact.engine import as_table
from impact.errors import EstimationError

PERIOD_DAYS = {"day": 1, "week": 7}


def rollout_panel(
    events: Any,
    rollouts: Any,
    *,
    outcomes: str | Sequence[str] = "handle_time_minutes",
    unit: str = "team_id",
    cluster: str = "team_id",
    time: str = "started_at",
    rollout_time: str = "rollout_at",
    period: Period = "week",
    cohort: str = "rollout_week",
) -> pd.DataFrame:
    """The unit x period panel of a staggered rollout, aggregated in the engine.

    One row per `unit` (and its `cluster`) and period with ``period`` (the period's first day),
    ``week`` (period number, 1 = the first period with any event), ``n_events``, the mean of
    each outcome, and `cohort`: the number of the period containing the unit's rollout date
    (the first treated period; a rollout mid-week makes that whole week treated), missing for
    units never rolled out. Units whose cluster is absent from `rollouts` are not part of the
    rollout design (e.g. a separate pilot) and are left out.

    Args:
        events: workflow events (any source :func:`impact.as_table` reads).
        rollouts: one row per `cluster` with its `rollout_time` (null = never treated).
        unit: the panel's unit: the team, or the agent (then `cluster` is its team).

    Example:
        >>> p = rollout_panel("sample:events", "sample:rollouts")
        >>> p.columns.tolist()[:4], int(p["week"].max())
        (['team_id', 'period', 'week', 'n_events'], 26)
    """
    names = [outcomes] if isinstance(outcomes, str) else list(outcomes)
    table, plan = as_table(events), as_table(rollouts)
    for column, source, label in (
        (time, table, "events"),
        (unit, table, "events"),
        (cluster, table, "events"),
        (cluster, plan, "rollouts"),
        (rollout_time, plan, "rollouts"),
        *((name, table, "events") for name in names),
    ):
        if column not in source.columns:
            raise EstimationError(
                f"the {label} table has no column {column!r}; it has {sorted(source.columns)}"
            )
    step = _period_days(period)
    per_team = plan.group_by(cluster).aggregate(n=plan.count(), first=plan[rollout_time].min())
    dupes = per_team.filter(per_team.n > 1).limit(1).execute()
    if len(dupes):
        raise EstimationError(
            f"rollouts has more than one row for {cluster} {dupes[cluster].iloc[0]!r}; "
            "a team rolls out once (keep its first rollout date)"
        )
    by = [] if unit == cluster else [cluster]
    cells = panel(table, unit=unit, time=time, outcomes=names, period=period, by=by)
    start = cells.period.min().as_scalar().epoch_days()
    starts = plan.select(
        **{
            f"_{cluster}": plan[cluster],
            "_start": plan[rollout_time].cast("timestamp").truncate(_TRUNC[period]).cast("date"),
        }
    )
    joined = cells.inner_join(starts, cells[cluster] == starts[f"_{cluster}"])
    # whole periods since the first one: period starts are aligned, so the division is exact
    index = ((joined.period.epoch_days() - start) / step).floor().cast("int64") + 1
    cohort_index = ((joined["_start"].epoch_days() - start) / step).floor().cast("int64") + 1
    # a rollout before the first period: treated throughout (period 1), never "0" (= never)
    cohort_index = ibis.cases((cohort_index < 1, 1), else_=cohort_index)
    shaped = joined.select(
        unit,
        *by,
        "period",
        week=index,
        n_events="n_events",
        **{name: joined[f"{name}_mean"] for name in names},
        **{cohort: cohort_index},
    )
    frame = shaped.order_by([unit, "week"]).execute()
    if frame.empty:
        raise EstimationError("the events table is empty: no panel to build")
    frame[cohort] = frame[cohort].astype("Float64").astype("float64")
    frame["week"] = frame["week"].astype("int64")
    frame["period"] = pd.to_datetime(frame["period"])
    if unit != cluster:
        frame = frame[[unit, cluster, *[c for c in frame.columns if c not in (unit, cluster)]]]
    return frame


_TRUNC = {"day": "D", "week": "W"}


def _period_days(period: str) -> int:
    if period not in PERIOD_DAYS:
        raise EstimationError(f"DiD panels use day or week periods (equal lengths), got {period!r}")
    return PERIOD_DAYS[period]


def cohorts_from_treatment(
    frame: pd.DataFrame, *, unit: str, time: str, treatment: str, cohort: str = "cohort"
) -> pd.DataFrame:
    """Add `cohort` (first period with `treatment` true; NaN = never) to a unit x period frame.

    Staggered DiD assumes treatment never switches off; a unit whose treatment goes from on to
    off raises :class:`EstimationError` naming it.
    """
    ordered = frame.sort_values([unit, time])
    treated = ordered[treatment].astype(bool)
    previous = treated.groupby(ordered[unit]).shift(1, fill_value=False).astype(bool)
    switched_off = ordered.loc[previous & ~treated]
    if len(switched_off):
        raise EstimationError(
            f"treatment switches off for {switched_off[unit].nunique()} {unit} value(s) (e.g. "
            f"{plain(switched_off[unit].iloc[0])!r} at {time} "
            f"{plain(switched_off[time].iloc[0])!r}); staggered DiD assumes adoption "
            "is permanent. Treat switch-offs as still treated (intention to treat) or drop them."
        )
    first = ordered.loc[treated].groupby(unit)[time].min()
    return frame.assign(**{cohort: frame[unit].map(first).astype("float64")})


@dataclass(frozen=True, slots=True)
class Wide:
    """A balanced panel as matrices: `y` is units x periods; `x` units x periods x covariates."""

    units: np.ndarray
    times: np.ndarray  # sorted period numbers
    y: np.ndarray
    cohort: np.ndarray  # first treated period per unit; inf = never treated
    weights: np.ndarray  # normalised to mean 1
    clusters: np.ndarray
    x: np.ndarray
    notes: tuple[str, ...] = field(default=())


def wide(
    data: Any,
    *,
    outcome: str,
    unit: str,
    time: str,
    cohort: str,
    covariates: Sequence[str] = (),
    weights: str | None = None,
    cluster: str | None = None,
) -> Wide:
    """Check a unit x period panel and reshape it; unbalanced units are dropped (with a note).

    Never-treated units have a missing, zero or infinite `cohort`. Units first treated in the
    first period (no pre-period) are dropped; units first treated after the last period count
    as never treated (both as in R's `did`). Each is said in `notes`.
    """
    frame = panel_frame(data, [unit, time, cohort, outcome, *covariates, weights, cluster])
    notes: list[str] = []
    dupes = frame.duplicated([unit, time])
    if dupes.any():
        raise EstimationError(
            f"{int(dupes.sum())} duplicated {unit} x {time} row(s) (e.g. "
            f"{plain(frame.loc[dupes, unit].iloc[0])!r} at {time} "
            f"{plain(frame.loc[dupes, time].iloc[0])!r}); a panel has one row per unit and "
            "period. Aggregate first (impact.rollout_panel)."
        )
    numeric = pd.to_numeric(frame[time], errors="coerce")
    if numeric.isna().any():
        raise EstimationError(
            f"{time!r} must be a period number (e.g. the `week` of impact.rollout_panel); "
            f"got {frame[time].iloc[0]!r}"
        )
    frame = frame.assign(**{time: numeric.astype("float64")})
    g = pd.to_numeric(frame[cohort], errors="coerce").astype("float64")
    g = g.where(g.notna() & (g != 0), np.inf)
    frame = frame.assign(_g=g)
    varying = frame.groupby(unit)["_g"].nunique()
    if (varying > 1).any():
        bad = plain(varying[varying > 1].index[0])
        raise EstimationError(
            f"{int((varying > 1).sum())} {unit} value(s) have more than one {cohort} (e.g. "
            f"{bad!r}); a cohort is the unit's first treated period and cannot change. A "
            "treatment that switches on and off is not a staggered adoption."
        )
    missing_y = frame[outcome].isna()
    if missing_y.any():
        notes.append(
            f"{int(missing_y.sum())} unit-period row(s) have no {outcome} value; "
            "they are treated as unobserved"
        )
        frame = frame.loc[~missing_y]
    times = np.sort(frame[time].unique())
    counts = frame.groupby(unit)[time].nunique()
    partial = counts[counts < len(times)]
    if len(partial):
        notes.append(
            f"unbalanced panel: {len(partial)} of {len(counts)} {unit} value(s) are not "
            f"observed in all {len(times)} periods (e.g. {plain(partial.index[0])!r}) and were "
            "dropped, as R's `did` does for panels; check why they are missing"
        )
        frame = frame.loc[~frame[unit].isin(partial.index)]
    if frame.empty:
        raise EstimationError(f"no {unit} is observed in every period; nothing to estimate")
    first, last = times[0], times[-1]
    early = frame.loc[frame["_g"] <= first, unit].unique()
    if len(early):
        notes.append(
            f"{len(early)} {unit} value(s) were treated from the first period on (no "
            f"pre-period, e.g. {plain(early[0])!r}) and were dropped"
        )
        frame = frame.loc[~frame[unit].isin(early)]
    late = frame["_g"].between(last, np.inf, inclusive="neither")
    if late.any():
        notes.append(
            f"{frame.loc[late, unit].nunique()} {unit} value(s) are first treated after the "
            "last period and count as never treated"
        )
        frame.loc[late, "_g"] = np.inf
    frame = frame.sort_values([unit, time])
    units = frame[unit].unique()
    n, t = len(units), len(times)
    y = frame[outcome].to_numpy(np.float64).reshape(n, t)
    first_rows = frame.groupby(unit, sort=False).head(1)
    w = first_rows[weights].to_numpy(np.float64) if weights else np.ones(n)
    if weights and (not np.isfinite(w).all() or (w < 0).any() or w.sum() <= 0):
        raise EstimationError(f"weights {weights!r} must be finite, non-negative, not all zero")
    x = (
        frame[list(covariates)].to_numpy(np.float64).reshape(n, t, len(covariates))
        if covariates
        else np.zeros((n, t, 0))
    )
    if covariates and not np.isfinite(x).all():
        raise EstimationError(f"covariates {list(covariates)} have missing values")
    clusters = first_rows[cluster].to_numpy() if cluster else units
    return Wide(
        units=units,
        times=times,
        y=y,
        cohort=first_rows["_g"].to_numpy(np.float64),
        weights=w / w.mean(),
        clusters=clusters,
        x=x,
        notes=tuple(notes),
    )


def panel_frame(data: Any, columns: Sequence[str | None]) -> pd.DataFrame:
    """The needed columns of a (small) unit x period panel as a pandas frame."""
    needed = list(dict.fromkeys(c for c in columns if c))
    if isinstance(data, pd.DataFrame):
        available = data.columns
    else:
        data = as_table(data)
        available = data.columns
    if missing := [c for c in needed if c not in available]:
        raise EstimationError(f"the panel has no column(s) {missing}; it has {list(available)}")
    if isinstance(data, pd.DataFrame):
        return data[needed].copy()
    if isinstance(data, ir.Table):
        return data.select(needed).execute()
    raise TypeError(f"expected a DataFrame or an Ibis table, got {type(data).__name__}")


def plain(value: Any) -> Any:
    """A numpy scalar as a Python one (whole floats as ints), for readable messages."""
    value = value.item() if hasattr(value, "item") else value
    return int(value) if isinstance(value, float) and value.is_integer() else value
