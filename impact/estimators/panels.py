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

    Example:
        >>> import pandas as pd
        >>> f = pd.DataFrame({"team": list("aaabbb"), "week": [1, 2, 3] * 2,
        ...                   "ai": [False, True, True, False, False, False]})
        >>> cohorts_from_treatment(f, unit="team", time="week", treatment="ai").cohort.tolist()
        [2.0, 2.0, 2.0, nan, nan, nan]
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

    Rows are placed into the units x periods matrices by their integer codes (:func:`codes`),
    so a million units x 26 periods reshape without a sort or a group-by.
    """
    columns = [unit, time, cohort, outcome, *covariates, weights, cluster]
    frame = panel_frame(data, columns, copy=False)  # read only, never written
    notes: list[str] = []
    numeric = pd.to_numeric(frame[time], errors="coerce")
    unit_codes, units = codes(frame[unit], what=unit)
    if numeric.isna().any():
        if frame.duplicated([unit, time]).any():
            _duplicates(frame, unit, time)
        raise EstimationError(
            f"{time!r} must be a period number (e.g. the `week` of impact.rollout_panel); "
            f"got {frame[time].iloc[0]!r}"
        )
    period = numeric.to_numpy(np.float64)
    time_codes, periods = codes(period, what=time)
    if cells(unit_codes, time_codes, len(units), len(periods))[0]:
        _duplicates(frame, unit, time)
    g = pd.to_numeric(frame[cohort], errors="coerce").to_numpy(np.float64, na_value=np.nan)
    g = np.where(np.isnan(g) | (g == 0), np.inf, g)
    unit_g = np.empty(len(units))
    unit_g[unit_codes] = g  # any one row's cohort per unit ...
    if (unit_g[unit_codes] != g).any():  # ... is every row's, or the cohort varies
        varying = frame.assign(_g=g).groupby(unit)["_g"].nunique()
        bad = plain(varying[varying > 1].index[0])
        raise EstimationError(
            f"{int((varying > 1).sum())} {unit} value(s) have more than one {cohort} (e.g. "
            f"{bad!r}); a cohort is the unit's first treated period and cannot change. A "
            "treatment that switches on and off is not a staggered adoption."
        )
    # `rows`: the rows still in play, None while that is all of them (the usual case, which
    # then needs no gather of tens of millions of codes)
    rows: np.ndarray | None = None
    missing_y = frame[outcome].isna().to_numpy()
    if missing_y.any():
        notes.append(
            f"{int(missing_y.sum())} unit-period row(s) have no {outcome} value; "
            "they are treated as unobserved"
        )
        rows = np.flatnonzero(~missing_y)
    check_finite(frame, outcome, unit=unit, time=time)  # a missing value is not infinite
    unit_rows = unit_codes if rows is None else unit_codes[rows]
    time_rows = time_codes if rows is None else time_codes[rows]
    seen = np.bincount(time_rows, minlength=len(periods)) > 0
    times = periods[seen]
    time_rank = np.cumsum(seen) - 1
    steps = np.diff(times)
    if len(steps) and (steps != steps.min()).any():
        missing = sorted(set(np.arange(times[0], times[-1] + 1, steps.min())) - set(times))
        notes.append(
            f"no unit is observed in {time} {', '.join(str(plain(m)) for m in missing[:5])}"
            f"{' ...' if len(missing) > 5 else ''}: those periods are skipped, so a "
            "period-on-period change across the gap spans more than one period and a cohort "
            "first treated in a missing period has no event-time-0 effect"
        )
    counts = np.bincount(unit_rows, minlength=len(units))
    partial = (counts > 0) & (counts < len(times))
    if partial.any():
        notes.append(
            f"unbalanced panel: {int(partial.sum())} of {int((counts > 0).sum())} {unit} "
            f"value(s) are not observed in all {len(times)} periods (e.g. "
            f"{plain(units[np.flatnonzero(partial)[0]])!r}) and were dropped, as R's `did` "
            "does for panels; check why they are missing"
        )
    full = counts == len(times)
    if not full.any():
        raise EstimationError(f"no {unit} is observed in every period; nothing to estimate")
    first, last = times[0], times[-1]
    early = full & (unit_g <= first)
    if early.any():
        # the first such unit in row order, as the reader's table shows them
        example = units[unit_rows[early[unit_rows]][0]]
        notes.append(
            f"{int(early.sum())} {unit} value(s) were treated from the first period on (no "
            f"pre-period, e.g. {plain(example)!r}) and were dropped"
        )
        full &= ~early
    late = full & (unit_g > last) & np.isfinite(unit_g)
    if late.any():
        notes.append(
            f"{int(late.sum())} {unit} value(s) are first treated after the "
            "last period and count as never treated"
        )
        unit_g = np.where(late, np.inf, unit_g)
    n, t = int(full.sum()), len(times)
    outcome_values = frame[outcome].to_numpy(np.float64, na_value=np.nan)
    key = unit_codes * t + time_codes if rows is None and n == len(units) else None
    if key is not None and bool((key[1:] > key[:-1]).all()):
        # every row kept, in unit-major, period-minor order: the rows are the matrix
        row_of = np.arange(n * t).reshape(n, t)
        y = outcome_values.reshape(n, t)
    else:
        in_play = full[unit_rows]
        kept = np.flatnonzero(in_play) if rows is None else rows[in_play]
        unit_rank = np.cumsum(full) - 1
        row_of = np.empty((n, t), dtype=np.int64)  # the input row of each unit x period cell
        row_of[unit_rank[unit_codes[kept]], time_rank[time_codes[kept]]] = kept
        y = outcome_values[row_of]
    first_rows = row_of[:, 0]
    w = frame[weights].to_numpy(np.float64)[first_rows] if weights else np.ones(n)
    if weights and (not np.isfinite(w).all() or (w < 0).any() or w.sum() <= 0):
        raise EstimationError(f"weights {weights!r} must be finite, non-negative, not all zero")
    x = frame[list(covariates)].to_numpy(np.float64)[row_of] if covariates else np.zeros((n, t, 0))
    if covariates and not np.isfinite(x).all():
        raise EstimationError(f"covariates {list(covariates)} have missing values")
    clusters = frame[cluster].to_numpy()[first_rows] if cluster else units[full]
    return Wide(
        units=units[full],
        times=times,
        y=y,
        cohort=unit_g[full],
        weights=w / w.mean(),
        clusters=clusters,
        x=x,
        notes=tuple(notes),
    )


def _duplicates(frame: pd.DataFrame, unit: str, time: str) -> None:
    """Raise the error for repeated unit x period rows, with the first one as an example."""
    dupes = frame.duplicated([unit, time])
    raise EstimationError(
        f"{int(dupes.sum())} duplicated {unit} x {time} row(s) (e.g. "
        f"{plain(frame.loc[dupes, unit].iloc[0])!r} at {time} "
        f"{plain(frame.loc[dupes, time].iloc[0])!r}); a panel has one row per unit and "
        "period. Aggregate first (impact.rollout_panel)."
    )


def check_finite(frame: pd.DataFrame, outcome: str, *, unit: str, time: str) -> None:
    """Raise if a (non-missing) outcome is infinite: no mean or regression survives one."""
    infinite = np.isinf(pd.to_numeric(frame[outcome], errors="coerce").astype("float64"))
    if infinite.any():
        raise EstimationError(
            f"{int(infinite.sum())} unit-period row(s) have an infinite {outcome!r} (e.g. "
            f"{plain(frame.loc[infinite, unit].iloc[0])!r} at {time} "
            f"{plain(frame.loc[infinite, time].iloc[0])!r}); no mean or regression survives "
            "one. Fix or filter those rows first."
        )


def panel_frame(data: Any, columns: Sequence[str | None], *, copy: bool = True) -> pd.DataFrame:
    """The needed columns of a (small) unit x period panel as a pandas frame.

    With ``copy=False`` a pandas input's columns are shared, not copied (a million units x 26
    periods: 0.15 s saved); the caller must then only read them.
    """
    needed = list(dict.fromkeys(c for c in columns if c))
    if isinstance(data, pd.DataFrame):
        available = data.columns
    else:
        data = as_table(data)
        available = data.columns
    if missing := [c for c in needed if c not in available]:
        raise EstimationError(f"the panel has no column(s) {missing}; it has {list(available)}")
    if isinstance(data, pd.DataFrame):
        if not copy:
            return pd.DataFrame({c: data[c] for c in needed}, copy=False)
        # Selecting columns copies their data already; the shallow copy only drops pandas'
        # link to `data`, so the caller's frame is never touched.
        return data[needed].copy(deep=False)
    if isinstance(data, ir.Table):
        return data.select(needed).execute()
    raise TypeError(f"expected a DataFrame or an Ibis table, got {type(data).__name__}")


def codes(values: Any, *, what: str = "value") -> tuple[np.ndarray, np.ndarray]:
    """Integer codes ``0..k-1`` of `values` (ranked like the sorted distinct values) and those
    distinct values, so ``levels[codes]`` gives `values` back.

    Whole numbers in a compact range (unit ids, period numbers) are coded by their offset
    from the minimum, with no hashing or sorting: on tens of millions of panel rows this is
    several times faster than ``pd.factorize``, which codes everything else. A missing value
    raises :class:`EstimationError` naming `what`.

    Example:
        >>> codes(np.array([30, 10, 30, 20]))
        (array([2, 0, 2, 1]), array([10, 20, 30]))
    """
    array = values.to_numpy() if isinstance(values, pd.Series) else np.asarray(values)
    whole = array.dtype.kind in "iu"
    floats = False
    if array.dtype.kind == "f" and len(array) and np.isfinite(array).all():
        as_int = array.astype(np.int64)
        whole = bool((as_int == array).all())
        if whole:
            array, floats = as_int, True
    if whole and len(array):
        low, high = int(array.min()), int(array.max())
        if high - low <= 4 * len(array) + 1024:
            offset = array - low if low else array.astype(np.int64, copy=False)
            present = np.zeros(high - low + 1, dtype=bool)
            present[offset] = True
            levels = np.flatnonzero(present) + low
            levels = levels.astype(np.float64) if floats else levels
            if present.all():  # no gaps: the offsets are the codes
                return offset, levels
            rank = np.cumsum(present) - 1
            return rank[offset], levels
    coded, levels = pd.factorize(array, sort=True)
    if len(coded) and coded.min() < 0:
        raise EstimationError(
            f"{int((coded < 0).sum())} panel row(s) have a missing {what}; every row of a "
            f"panel needs its {what}"
        )
    return coded.astype(np.int64, copy=False), np.asarray(levels)


def cells(unit: np.ndarray, time: np.ndarray, n_units: int, n_times: int) -> tuple[bool, bool]:
    """Whether a panel (unit and period codes) repeats a unit x period cell, and whether it is
    balanced (every unit in every period, once): one pass when the rows are in unit, period
    order (as :func:`rollout_panel` returns them), else one count over the cells; no sort."""
    n = len(unit)
    size = n_units * n_times
    key = unit * n_times + time
    if bool((key[1:] > key[:-1]).all()):
        return False, n == size
    if size <= 4 * n + (1 << 20):
        repeated = bool(np.bincount(key, minlength=size).max(initial=0) > 1)
    else:  # a sparse panel: counting every cell would not fit; sort the keys instead
        repeated = len(np.unique(key)) < n
    return repeated, (not repeated) and n == size


def plain(value: Any) -> Any:
    """A numpy scalar as a Python one (whole floats as ints), for readable messages."""
    value = value.item() if hasattr(value, "item") else value
    return int(value) if isinstance(value, float) and value.is_integer() else value
