"""What an A/B test measures, and the one engine scan that reduces events to per-unit sums.

A metric kind says how a unit's events become the numbers the test compares:

- :class:`Mean`: the average per unit, then the average over units (every agent counts once).
- :class:`Proportion`: the same for a boolean column (share of a unit's items), z-test.
- :class:`Ratio`: ``sum(numerator) / sum(denominator)`` over all events of an arm (handle time
  per *ticket* when *agents* were randomized). Units are the independent draws, so the standard
  error is the delta method on per-unit sums, i.e. clustered on the randomization unit.
- :class:`Sum`: the total per unit (tickets resolved per agent over the test window).

Every kind is written as a per-unit pair ``(num, den)``: a unit-level metric has ``den = 1``, a
ratio has the unit's sums. The comparison maths (Welch, delta method, CUPED) then treats all four
alike, following Deng, Knoblich & Lu (2018).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import ibis
import ibis.expr.operations as ops
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from impact.errors import EstimationError, ParameterError

MetricKind = Literal["mean", "proportion", "ratio", "sum"]
PrePeriod = Literal["assignment"] | tuple[str, str] | None


@dataclass(frozen=True, slots=True)
class Mean:
    """Mean of `column` per unit, averaged over units (booleans become shares).

    Example:
        >>> import impact
        >>> pilot = impact.with_assignments("sample:events", "sample:assignments")
        >>> impact.ab_test(pilot, impact.Mean("csat")).method
        'ab.welch'
    """

    column: str
    name: str = ""
    kind: MetricKind = "mean"

    @property
    def label(self) -> str:
        return self.name or self.column


@dataclass(frozen=True, slots=True)
class Proportion:
    """Share of a unit's events where the boolean `column` is true, averaged over units.

    Example:
        >>> import impact
        >>> pilot = impact.with_assignments("sample:events", "sample:assignments")
        >>> impact.ab_test(pilot, impact.Proportion("resolved")).method
        'ab.ztest'
    """

    column: str
    name: str = ""
    kind: MetricKind = "proportion"

    @property
    def label(self) -> str:
        return self.name or self.column


@dataclass(frozen=True, slots=True)
class Ratio:
    """``sum(numerator) / sum(denominator)`` per arm; `denominator=None` counts the events
    that have a `numerator` value (handle time *per ticket*).

    Example:
        >>> import impact
        >>> pilot = impact.with_assignments("sample:events", "sample:assignments")
        >>> impact.ab_test(pilot, impact.Ratio("handle_time_minutes")).method
        'ab.ratio'
    """

    numerator: str
    denominator: str | None = None
    name: str = ""
    kind: MetricKind = "ratio"

    @property
    def column(self) -> str:
        return self.numerator

    @property
    def label(self) -> str:
        if self.name:
            return self.name
        per = self.denominator or "event"
        return f"{self.numerator} per {per}"


@dataclass(frozen=True, slots=True)
class Sum:
    """Total of `column` per unit over the test window (e.g. tickets resolved per agent).

    Example:
        >>> import impact
        >>> pilot = impact.with_assignments("sample:events", "sample:assignments")
        >>> impact.ab_test(pilot, impact.Sum("resolved")).method
        'ab.sum'
    """

    column: str
    name: str = ""
    kind: MetricKind = "sum"

    @property
    def label(self) -> str:
        return self.name or f"{self.column} per unit"


Metric = Mean | Proportion | Ratio | Sum


def resolve(
    outcome: str | Metric, kind: MetricKind = "mean", denominator: str | None = None
) -> Metric:
    """A metric object from an outcome name and a kind (objects pass through unchanged)."""
    if isinstance(outcome, Mean | Proportion | Ratio | Sum):
        return outcome
    if not isinstance(outcome, str):
        raise TypeError(f"outcome must be a column name or a metric, got {type(outcome).__name__}")
    if denominator is not None and kind != "ratio":
        raise ParameterError(f"denominator={denominator!r} needs metric='ratio', got {kind!r}")
    match kind:
        case "mean":
            return Mean(outcome)
        case "proportion":
            return Proportion(outcome)
        case "ratio":
            return Ratio(outcome, denominator)
        case "sum":
            return Sum(outcome)
    raise ParameterError(f"metric must be one of mean, proportion, ratio, sum; got {kind!r}")


def _columns(metric: Metric) -> list[str]:
    if isinstance(metric, Ratio) and metric.denominator:
        return [metric.numerator, metric.denominator]
    return [metric.column]


def unit_table(
    events: ir.Table,
    metrics: Sequence[Metric],
    *,
    unit: str,
    arm: str,
    time: str = "started_at",
    pre_period: PrePeriod = None,
    covariates: Sequence[str] = (),
    exposure: str | None = None,
    cap: float | None = None,
    by: Sequence[str] = (),
    period: Literal["day", "week", "month"] | None = None,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """One engine scan: per unit (and `by`, and `period` if given) the sums every metric needs.

    Returns the per-unit frame (columns ``unit, arm, *by, [period]``, then ``<i>.num``,
    ``<i>.den``, ``<i>.xnum``, ``<i>.xden`` per metric index ``i``, ``n_events``, one column per
    covariate and ``exposure`` when asked) and facts for notes (cap values, capped counts,
    missing values). Only that small frame leaves the engine.
    """
    needed = {unit, arm, *by, *covariates, *(c for m in metrics for c in _columns(m))}
    if exposure:
        needed.add(exposure)
    if pre_period is not None or period is not None:
        needed.add(time)
    if pre_period == "assignment":
        needed.add("assigned_at")
    if missing := sorted(needed - set(events.columns)):
        hint = (
            " (keep the pre-period with with_assignments(..., since_assignment=False))"
            if "assigned_at" in missing
            else ""
        )
        names = ", ".join(repr(m) for m in missing)
        raise EstimationError(
            f"no column {names} in the events{hint}; they have {sorted(events.columns)}"
        )
    _check_numeric(
        events,
        sorted(
            {
                *(c for m in metrics for c in _columns(m)),
                *covariates,
                *([exposure] if exposure else []),
            }
        ),
    )
    if period is not None:
        trunc = {"day": "D", "week": "W", "month": "M"}[period]
        events = events.mutate(period=events[time].truncate(trunc).cast("date"))
    post, pre = _windows(events, time, pre_period)
    keys = [unit, arm, *by, *(["period"] if period is not None else [])]
    if post is not None:
        # One plain GROUP BY with the window as a key is much faster than filtered aggregates.
        events = events.mutate(_window=ibis.cases((post, 1), (pre, 0), else_=None))
        events = events.filter(events._window.notnull())
        post = events._window == 1
    facts: dict[str, Any] = {"caps": {}}
    values = {}
    for i, metric in enumerate(metrics):
        value = events[metric.column].cast("float64")
        if cap is not None:
            if not 0.5 < cap < 1:
                raise ParameterError(f"cap must be a quantile between 0.5 and 1, got {cap!r}")
            upper = _quantile(events, value, post, cap)
            facts["caps"][i] = upper
            value = ibis.least(value, upper) if upper is not None else value
        values[i] = value
    aggs: dict[str, ir.Value] = {"n_events": events.count()}
    for i, metric in enumerate(metrics):
        aggs[f"{i}.sum"] = values[i].sum()
        aggs[f"{i}.cnt"] = values[i].count()
        if isinstance(metric, Ratio) and metric.denominator:
            aggs[f"{i}.dsum"] = events[metric.denominator].cast("float64").sum()
            aggs[f"{i}.dcnt"] = events[metric.denominator].cast("float64").count()
        if cap is not None and facts["caps"][i] is not None:
            raw = events[metric.column].cast("float64")
            aggs[f"{i}.capped"] = (raw > facts["caps"][i]).cast("int64").sum()
    for name in [*covariates, *([exposure] if exposure else [])]:
        aggs[f"cov.{name}.sum"] = events[name].cast("float64").sum()
        aggs[f"cov.{name}.cnt"] = events[name].cast("float64").count()
    frame = events.group_by([*keys, *(["_window"] if pre is not None else [])])
    frame = frame.aggregate(**aggs).execute()
    _check_finite(events, frame, metrics, [*covariates, *([exposure] if exposure else [])])
    if pre is not None:
        frame = _split_windows(frame, keys)
    frame = _unit_covariates(frame, covariates, exposure)
    return _finish(frame, metrics, unit=unit, arm=arm, pre=pre is not None, facts=facts)


def _check_numeric(events: ir.Table, columns: Sequence[str]) -> None:
    """Numbers and booleans pass; text must parse as numbers everywhere; anything else fails."""
    schema = events.schema()
    text = [c for c in columns if schema[c].is_string()]
    for column in columns:
        dtype = schema[column]
        if not (dtype.is_numeric() or dtype.is_boolean() or dtype.is_string()):
            raise EstimationError(
                f"{column!r} is {dtype} (not numeric): a metric or covariate needs numbers or "
                "booleans; convert it first"
            )
    if not text:
        return
    # One query: the row count and, per text column, how many values do not parse.
    aggs: dict[str, ir.Value] = {"rows": events.count()}
    for i, column in enumerate(text):
        bad = events[column].notnull() & events[column].try_cast("float64").isnull()
        aggs[f"bad{i}"] = bad.cast("int64").sum()
        aggs[f"example{i}"] = events[column].arbitrary(where=bad)
    found = events.aggregate(**aggs).execute().iloc[0]
    if int(found["rows"]) == 0:
        raise EstimationError("the events are empty: no unit to compare")
    for i, column in enumerate(text):
        if n_bad := int(found[f"bad{i}"] or 0):
            raise EstimationError(
                f"{column!r} is text with {n_bad} value(s) that are not numbers (e.g. "
                f"{found[f'example{i}']!r}): not numeric. Parse or map it first (e.g. 'yes'/'no' "
                "to True/False, decimal commas to points)"
            )


def _check_finite(
    events: ir.Table, frame: pd.DataFrame, metrics: Sequence[Metric], others: Sequence[str] = ()
) -> None:
    """A NaN or infinite value makes its unit's sum non-finite; then count the bad events.

    Checked for every column that enters a sum: each metric's numerator and denominator,
    the covariates and the exposure flag (an infinite covariate would otherwise surface as a
    misleading "zero variance" error after NaN arithmetic).
    """
    # column -> (its per-group sum, its per-group count of non-null values); a NULL-only group
    # sums to NULL (NaN here) with a zero count, a NaN or inf value gives a non-finite sum.
    sums: dict[str, tuple[str, str]] = {}
    for i, metric in enumerate(metrics):
        sums.setdefault(metric.column, (f"{i}.sum", f"{i}.cnt"))
        if isinstance(metric, Ratio) and metric.denominator:
            sums.setdefault(metric.denominator, (f"{i}.dsum", f"{i}.dcnt"))
    for name in others:
        sums.setdefault(name, (f"cov.{name}.sum", f"cov.{name}.cnt"))
    for column, (total, count) in sums.items():
        values = frame[total].astype("float64")
        if (~np.isfinite(values) & (frame[count] > 0)).any():
            value = events[column].cast("float64")
            bad = int(events.filter(value.isnan() | value.isinf()).count().execute())
            raise EstimationError(
                f"{bad} event(s) have a NaN or infinite {column!r}; validate the events "
                "against their contract (impact.validate) or filter them first"
            )


def _split_windows(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Test-window sums as the columns, pre-window sums as ``<name>.pre``; one row per unit."""
    post = frame.loc[frame["_window"] == 1].drop(columns="_window")
    pre = frame.loc[frame["_window"] == 0].drop(columns="_window")
    merged = post.merge(pre, on=keys, how="outer", suffixes=("", ".pre"))
    sums = [c for c in merged.columns if c not in keys]
    merged[sums] = merged[sums].astype("float64").fillna(0.0)
    return merged


def _unit_covariates(
    frame: pd.DataFrame, covariates: Sequence[str], exposure: str | None
) -> pd.DataFrame:
    """Covariates average over all the unit's events; the exposure share over the test's."""
    out = frame.copy()
    with np.errstate(invalid="ignore", divide="ignore"):
        for name in covariates:
            total, count = out[f"cov.{name}.sum"], out[f"cov.{name}.cnt"]
            if f"cov.{name}.sum.pre" in out:
                total, count = (
                    total + out[f"cov.{name}.sum.pre"],
                    count + out[f"cov.{name}.cnt.pre"],
                )
            out[f"cov.{name}"] = (total / count.where(count > 0)).astype("float64")
        if exposure:
            count = out[f"cov.{exposure}.cnt"]
            out["exposure"] = (out[f"cov.{exposure}.sum"] / count.where(count > 0)).astype(
                "float64"
            )
    return out.drop(columns=[c for c in out.columns if c.startswith("cov.") and c.count(".") > 1])


def _windows(
    events: ir.Table, time: str, pre_period: PrePeriod
) -> tuple[ir.BooleanValue | None, ir.BooleanValue | None]:
    if pre_period is None:
        return None, None
    if pre_period == "assignment":
        return events[time] >= events.assigned_at, events[time] < events.assigned_at
    if isinstance(pre_period, tuple | list) and len(pre_period) == 2:
        start, end = (ibis.timestamp(f"{d}T00:00:00+00:00") for d in pre_period)
        end = end + ibis.interval(days=1)  # the end date is inclusive of the whole day
        return events[time] >= end, (events[time] >= start) & (events[time] < end)
    raise ParameterError(
        f"pre_period must be None, 'assignment' or a (start, end) pair of ISO dates; "
        f"got {pre_period!r}"
    )


def _quantile(
    events: ir.Table, value: ir.FloatingValue, post: ir.BooleanValue | None, q: float
) -> float | None:
    scope = events if post is None else events.filter(post)
    if not scope.get_backend().has_operation(ops.Quantile):
        return order_statistic(scope.select(_v=value), "_v", q)
    result = scope.aggregate(q=value.quantile(q)).execute()["q"].iloc[0]
    return None if pd.isna(result) else float(result)


def order_statistic(table: ir.Table, column: str, q: float) -> float | None:
    """The exact `q` quantile of `column` (linear interpolation, as DuckDB's ``quantile_cont``)
    from a count and the two order statistics around it: for engines without an exact
    quantile aggregate (BigQuery, Trino). None when the column has no value.
    """
    values = table.select(v=table[column]).filter(ibis._.v.notnull())
    n = int(values.count().execute())
    if n == 0:
        return None
    position = (n - 1) * q
    below = math.floor(position)
    ranked = values.mutate(rank=ibis.row_number().over(order_by="v"))
    pair = ranked.filter(ranked["rank"].isin([below, min(below + 1, n - 1)]))
    found = pair.aggregate(lo=pair.v.min(), hi=pair.v.max()).execute().iloc[0]
    lo, hi = float(found["lo"]), float(found["hi"])
    return lo + (position - below) * (hi - lo)


def _finish(
    frame: pd.DataFrame,
    metrics: Sequence[Metric],
    *,
    unit: str,
    arm: str,
    pre: bool,
    facts: dict[str, Any],
) -> tuple[pd.DataFrame, dict[str, Any]]:
    if frame.empty:
        raise EstimationError("the events are empty: no unit to compare")
    if frame[unit].isna().any():
        raise EstimationError(
            f"{int(frame[unit].isna().sum())} group(s) of events have no "
            f"{unit!r}; every event needs its unit"
        )
    frame = frame.rename(columns={arm: "arm"})
    if frame["arm"].isna().any():
        example = frame.loc[frame["arm"].isna(), unit].iloc[0]
        raise EstimationError(
            f"{int(frame['arm'].isna().sum())} {unit} value(s) have no arm "
            f"(e.g. {example!r}); join the assignments first"
        )
    frame["arm"] = frame["arm"].astype(str)
    facts["missing"], facts["capped"] = {}, {}
    out = frame.drop(columns=[c for c in frame.columns if c[:1].isdigit() or c.endswith(".pre")])
    for i, metric in enumerate(metrics):
        total = frame[f"{i}.sum"].astype("float64").fillna(0.0).to_numpy()
        count = frame[f"{i}.cnt"].astype("float64").to_numpy()
        facts["missing"][i] = int(frame["n_events"].sum() - count.sum())
        facts["capped"][i] = int(frame.get(f"{i}.capped", pd.Series([0])).sum())
        dsum = frame.get(f"{i}.dsum")
        num, den = pair(metric, total, count, dsum)
        out[f"{i}.num"], out[f"{i}.den"] = num, den
        # The raw sums too, so per-period tables can be accumulated (impact.ab_over_time).
        out[f"{i}.total"], out[f"{i}.count"] = total, count
        if dsum is not None:
            out[f"{i}.dtotal"] = dsum.astype("float64").fillna(0.0).to_numpy()
        if pre:
            ptotal = frame[f"{i}.sum.pre"].astype("float64").fillna(0.0).to_numpy()
            pcount = frame[f"{i}.cnt.pre"].astype("float64").to_numpy()
            out[f"{i}.xnum"], out[f"{i}.xden"] = pair(
                metric, ptotal, pcount, frame.get(f"{i}.dsum.pre")
            )
    return out, facts


def usable(table: pd.DataFrame, index: int) -> pd.Series:
    """Units that have at least one value of metric `index` (the others are left out).

    A ratio's unit with a zero denominator but a numerator value still counts: the ratio is
    sum over sum per arm, and dropping it would change the numerator sum.
    """
    return table[f"{index}.num"].notna() & (table[f"{index}.count"] > 0)


def check_denominators(table: pd.DataFrame, metric: Metric, index: int, unit: str) -> None:
    """A ratio's denominator is a count, a duration or an exposure: never negative per unit."""
    if not (isinstance(metric, Ratio) and metric.denominator):
        return
    negative = table[f"{index}.den"] < 0
    if n_bad := int(negative.sum()):
        raise EstimationError(
            f"{n_bad} {unit} value(s) have a negative sum of the ratio denominator "
            f"{metric.denominator!r} (e.g. {table.loc[negative, unit].iloc[0]!r}); a denominator "
            "counts or measures exposure and cannot be negative. Fix or filter those events."
        )


def pair(
    metric: Metric, total: np.ndarray, count: np.ndarray, dsum: Any
) -> tuple[np.ndarray, np.ndarray]:
    """Per-unit (num, den): unit mean over 1, unit sum over 1, or the ratio's two sums."""
    with np.errstate(invalid="ignore", divide="ignore"):
        if isinstance(metric, Mean | Proportion):
            return np.where(count > 0, total / count, np.nan), np.ones_like(total)
    if isinstance(metric, Sum):
        return total, np.ones_like(total)
    if metric.denominator:
        return total, pd.Series(dsum).astype("float64").fillna(0.0).to_numpy()
    return total, count
