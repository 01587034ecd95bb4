"""Cost per outcome, decomposed: handling labour, compute, human review, error correction and
allocated overhead, for AI-assisted work as observed and as it would have been without the AI.

The events are summed per segment inside the engine (one small row per segment and AI use);
pricing happens in Python with the register. The counterfactual ("without the AI") removes the
AI's own costs (compute, review, overhead) and undoes the estimated effects: a handle-time
effect of -2 minutes per ticket puts 2 minutes of labour back on every AI-assisted ticket.
"""

from __future__ import annotations

import html
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.datatypes as dt
import numpy as np
import pandas as pd

from impact.data import numeric
from impact.engine import as_table
from impact.errors import EstimationError, ParameterError
from impact.result import Effect
from impact.value.case import as_effects
from impact.value.money import Value
from impact.value.register import Register

if TYPE_CHECKING:
    from matplotlib.axes import Axes

COMPONENTS = ("handling", "compute", "review", "correction", "overhead")
SCENARIOS = ("with AI", "without AI (counterfactual)", "not AI-assisted")
_SUMS = {
    "handle_minutes": "handle_time_minutes",
    "compute_usd": "compute_cost_usd",
    "review_minutes": "review_minutes",
    "correction_minutes": "correction_minutes",
}
#: Effects the counterfactual can undo: outcome -> the summed column it changes.
_UNDOABLE = {
    "handle_time_minutes": "handle_minutes",
    "correction_minutes": "correction_minutes",
    "resolved": "outcomes",
}
NONE_LABEL = "(none)"


@dataclass(frozen=True, eq=False)
class CostPerOutcome:
    """Cost per outcome with and without the AI, by component and segment.

    `table` has one row per segment x scenario: ``tickets, outcomes``, one ``<component>_usd``
    total per component, ``total_usd``, ``per_outcome_usd`` and its ``per_outcome_low_usd`` /
    ``per_outcome_high_usd`` (over the labour-rate and overhead ranges and the effects' CIs).
    """

    with_ai: Value
    without_ai: Value
    incremental: Value
    table: pd.DataFrame = field(repr=False)
    outcome: str = "resolved"
    notes: tuple[str, ...] = ()

    def components(self, segment: Mapping[str, Any] | None = None) -> pd.DataFrame:
        """Per-outcome cost by component (rows: scenarios), summed over segments."""
        rows = self.table
        for key, val in (segment or {}).items():
            rows = rows.loc[rows[key] == val]
        sums = rows.groupby("scenario", sort=False)[
            ["outcomes", *(f"{c}_usd" for c in COMPONENTS)]
        ].sum()
        per = sums[[f"{c}_usd" for c in COMPONENTS]].div(sums["outcomes"], axis=0)
        return per.rename(columns=lambda c: c.removesuffix("_usd")).reindex(
            [s for s in SCENARIOS if s in per.index]
        )

    def plot(self, ax: Axes | None = None) -> Axes:
        """Stacked bars: cost per outcome with vs without the AI, by component."""
        from impact.value.plots import cost_stack

        return cost_stack(self, ax=ax)

    def _repr_html_(self) -> str:
        rows = [
            (f"cost per {self.outcome} outcome, with AI", str(self.with_ai)),
            ("... without AI (counterfactual)", str(self.without_ai)),
            ("incremental", str(self.incremental)),
        ]
        body = "".join(
            f"<tr><th style='text-align:left'>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>"
            for k, v in rows
        )
        notes = "".join(f"<li>{html.escape(n)}</li>" for n in self.notes)
        parts = self.components().round(3).to_html()
        return (
            f"<div class='impact-cost'><table>{body}</table>{parts}"
            + (f"<ul>{notes}</ul>" if notes else "")
            + "</div>"
        )


def cost_per_outcome(
    events: Any,
    *,
    costs: Register,
    effect: Effect | Sequence[Effect] | None = None,
    by: Sequence[str] = (),
    outcome: str = "resolved",
    ai: str = "ai_used",
    confidence: float = 0.95,
) -> CostPerOutcome:
    """Cost per `outcome` (a boolean per ticket, e.g. resolved) of AI-assisted work.

    Overhead is the register's run costs per month spread over the AI-assisted tickets of a
    month at full adoption (``tickets_per_month x adoption_max``).

    Example:
        >>> import pandas as pd
        >>> ev = pd.DataFrame({"ai_used": [True, True, False], "resolved": [True, True, True],
        ...     "handle_time_minutes": [6.0, 6.0, 9.0], "compute_cost_usd": [0.1, 0.1, 0.0],
        ...     "review_minutes": [1.0, 1.0, 0.0], "correction_minutes": [0.0, 0.0, 0.0]})
        >>> reg = Register.from_yaml("assumptions/ai_assist.yaml")
        >>> c = cost_per_outcome(ev, costs=reg)
        >>> round(c.with_ai.point, 2), c.with_ai.unit
        (4.75, 'usd')
    """
    costs.require(
        ["labour_usd_per_hour", "tickets_per_month", "adoption_max"], purpose="cost per outcome"
    )
    effects = as_effects(effect) if effect is not None else ()
    for e in effects:
        if e.outcome not in _UNDOABLE:
            raise ParameterError(
                f"cost per outcome can undo effects on {sorted(_UNDOABLE)}, not {e.outcome!r}"
            )
    sums = _segment_sums(as_table(events), by=list(by), outcome=outcome, ai=ai)
    ai_rows = sums.loc[sums[ai]].reset_index(drop=True)
    other = sums.loc[~sums[ai]].reset_index(drop=True)
    if ai_rows.empty or ai_rows["tickets"].sum() == 0:
        raise EstimationError(f"no AI-assisted tickets ({ai} is never true): nothing to cost")

    def priced(labour: float, overhead: float, shifts: Mapping[str, float]) -> list[pd.DataFrame]:
        return [
            _price(ai_rows, labour, overhead),
            _price(_undo(ai_rows, shifts), labour, 0.0, ai_free=True),
            _price(other, labour, 0.0),
        ]

    labour = costs["labour_usd_per_hour"]
    run = costs.by_category("run")
    fleet = costs["tickets_per_month"].value * costs["adoption_max"].value
    rate = {lvl: sum(getattr(a, lvl) for a in run) / fleet for lvl in ("value", "low", "high")}
    point = priced(labour.value, rate["value"], {e.outcome: e.estimate for e in effects})
    corners = [
        priced(lab, ovh, dict(zip([e.outcome for e in effects], ends, strict=True)))
        for lab, ovh, *ends in itertools.product(
            (labour.low, labour.high),
            (rate["low"], rate["high"]),
            *[(e.ci_low, e.ci_high) for e in effects],
        )
    ]
    frames = []
    for i, scenario in enumerate(SCENARIOS):
        frame = point[i].assign(scenario=scenario)
        ratio = np.column_stack([c[i]["per_outcome_usd"].to_numpy() for c in corners])
        frame["per_outcome_low_usd"] = ratio.min(axis=1)
        frame["per_outcome_high_usd"] = ratio.max(axis=1)
        frames.append(frame)
    table = pd.concat(frames, ignore_index=True).drop(columns=[ai])
    table = table[[*by, "scenario", *[c for c in table.columns if c not in (*by, "scenario")]]]

    def total(parts: list[pd.DataFrame], i: int) -> tuple[float, float]:
        return float(parts[i]["total_usd"].sum()), float(parts[i]["outcomes"].sum())

    def headline(i: int, label: str) -> Value:
        values = [np.divide(*total(p, i)) for p in [point, *corners]]
        return Value(values[0], min(values), max(values), "usd", confidence, label)

    notes = [
        "ranges cover the labour rate, overhead and each effect's confidence interval "
        "(a conservative box, not a joint interval)"
    ]
    if "resolved" in {e.outcome for e in effects} and outcome == "resolved":
        label, per = "incremental cost per incremental outcome", "outcome"
    else:
        label, per = "incremental cost per AI-assisted ticket", "ticket"
        notes.append(
            f"no effect on {outcome} given: the AI changes the cost of each ticket, "
            "not the number of outcomes, so the increment is per ticket"
        )
    increments = []
    for parts in [point, *corners]:
        (c1, o1), (c0, o0) = total(parts, 0), total(parts, 1)
        n = float(ai_rows["tickets"].sum())
        increments.append(
            (c1 - c0) / (o1 - o0)
            if per == "outcome" and o1 != o0
            else (c1 - c0) / n
            if per == "ticket"
            else np.inf
        )
    incremental = Value(increments[0], min(increments), max(increments), "usd", confidence, label)
    if effects:
        notes.append(
            "effects are applied per AI-assisted ticket: pass the effect of using the "
            "AI on a ticket (an intention-to-treat effect understates it)"
        )
    return CostPerOutcome(
        with_ai=headline(0, f"cost per {outcome} outcome with AI"),
        without_ai=headline(1, f"cost per {outcome} outcome without AI"),
        incremental=incremental,
        table=table,
        outcome=outcome,
        notes=tuple(notes),
    )


def _segment_sums(events: Any, *, by: list[str], outcome: str, ai: str) -> pd.DataFrame:
    needed = [ai, outcome, *_SUMS.values(), *by]
    if missing := [c for c in needed if c not in events.columns]:
        raise EstimationError(
            f"cost per outcome needs column(s) {missing}; the events have {sorted(events.columns)}"
        )
    keys = {}
    for name in by:
        column = events[name]
        keys[name] = (
            column.fill_null(NONE_LABEL)
            if column.type().is_string()
            else column.cast(dt.string).fill_null(NONE_LABEL)
        )
    events = events.mutate(**keys, **{ai: events[ai].fill_null(False)})
    metrics = {"tickets": events.count(), "outcomes": numeric(events, outcome).sum()}
    metrics |= {key: numeric(events, col).sum() for key, col in _SUMS.items()}
    metrics["n_bad"] = (
        ibis.or_(
            *[
                numeric(events, c).isnull() | numeric(events, c).isnan() | (numeric(events, c) < 0)
                for c in _SUMS.values()
            ]
        )
        .cast("int64")
        .sum()
    )
    frame = events.group_by([*by, ai]).aggregate(**metrics).execute()
    if frame.empty:
        raise EstimationError("the events are empty: no cost to compute")
    if bad := int(frame["n_bad"].sum()):
        raise EstimationError(
            f"{bad} event(s) have a negative, null or NaN cost column ({list(_SUMS.values())}); "
            "validate the events (impact.validate(..., contract='workflow_events')) first"
        )
    frame[ai] = frame[ai].astype(bool)
    return frame.drop(columns="n_bad").sort_values([*by, ai]).reset_index(drop=True)


def _undo(rows: pd.DataFrame, shifts: Mapping[str, float]) -> pd.DataFrame:
    out = rows.copy()
    for outcome, per_ticket in shifts.items():
        column = _UNDOABLE[outcome]
        out[column] = out[column] - per_ticket * out["tickets"]
    return out


def _price(
    rows: pd.DataFrame,
    labour_usd_per_hour: float,
    overhead_usd_per_ticket: float,
    *,
    ai_free: bool = False,
) -> pd.DataFrame:
    per_minute = labour_usd_per_hour / 60
    out = rows[[c for c in rows.columns if c not in _SUMS]].copy()
    out["handling_usd"] = rows["handle_minutes"] * per_minute
    out["compute_usd"] = 0.0 if ai_free else rows["compute_usd"]
    out["review_usd"] = 0.0 if ai_free else rows["review_minutes"] * per_minute
    out["correction_usd"] = rows["correction_minutes"] * per_minute
    out["overhead_usd"] = 0.0 if ai_free else rows["tickets"] * overhead_usd_per_ticket
    out["total_usd"] = out[[f"{c}_usd" for c in COMPONENTS]].sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["per_outcome_usd"] = out["total_usd"] / out["outcomes"]
    return out
