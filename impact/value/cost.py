"""Cost per outcome, decomposed: handling labour, compute, human review, error correction and
allocated overhead, for AI-assisted work as observed and as it would have been without the AI.

The events are summed per segment inside the engine (one small row per segment and AI use);
pricing happens in Python with the register. The counterfactual ("without the AI") removes the
AI's own costs (compute, review, overhead) and undoes the estimated effects: a handle-time
effect of -2 minutes per ticket puts 2 minutes of labour back on every AI-assisted ticket.
"""

from __future__ import annotations

import html
import math
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
from impact.value.case import as_effects, check_type
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

    `table` has one row per segment x scenario: ``tickets, outcomes``, then for each component
    and the total a ``<name>_usd`` point figure with its ``<name>_low_usd`` /
    ``<name>_high_usd`` interval, and ``per_outcome_usd`` with its interval. Intervals are
    Monte Carlo quantiles over the labour rate, the run costs that make the overhead, the
    volume and adoption they are spread over, and the effects' sampling distributions.
    """

    with_ai: Value
    without_ai: Value
    incremental: Value
    table: pd.DataFrame = field(repr=False)
    outcome: str = "resolved"
    notes: tuple[str, ...] = ()
    register_label: str = ""
    _sums: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    _draws: Mapping[str, np.ndarray] = field(default_factory=dict, repr=False)
    _point: Mapping[str, np.ndarray] = field(default_factory=dict, repr=False)
    confidence: float = 0.95

    def components(self, segment: Mapping[str, Any] | None = None) -> pd.DataFrame:
        """Per-outcome cost by component (rows: scenarios), over the segments selected by
        `segment` (e.g. ``{"ai_model": "large"}``; all by default).

        Columns ``<component>_usd`` with ``<component>_low_usd`` / ``<component>_high_usd``.
        """
        rows = self._sums
        for key, val in (segment or {}).items():
            if key not in rows.columns:
                raise KeyError(f"no segment column {key!r}; the breakdown is by {self._by}")
            rows = rows.loc[rows[key] == val]
        if rows.empty:
            raise KeyError(f"no tickets in segment {dict(segment or {})}")
        ai_rows, other = rows.loc[rows["_ai"]], rows.loc[~rows["_ai"]]
        point = _scenarios(_total(ai_rows), _total(other), self._point)
        sims = _scenarios(_total(ai_rows), _total(other), self._draws)
        alpha = (1 - self.confidence) / 2
        out = []
        for scenario in SCENARIOS:
            if scenario == SCENARIOS[2] and other.empty:
                continue
            row: dict[str, Any] = {"scenario": scenario}
            for c in COMPONENTS:
                per = point[scenario][c] / point[scenario]["outcomes"]
                sim = sims[scenario][c] / sims[scenario]["outcomes"]
                low, high = _quantiles(sim, alpha)
                row |= {f"{c}_usd": float(per[0]), f"{c}_low_usd": low, f"{c}_high_usd": high}
            out.append(row)
        return pd.DataFrame(out).set_index("scenario")

    @property
    def _by(self) -> list[str]:
        return [c for c in self._sums.columns if c not in (*_SUMS, "tickets", "outcomes", "_ai")]

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
        if self.register_label:
            rows.append(("assumptions", self.register_label))
        body = "".join(
            f"<tr><th style='text-align:left'>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>"
            for k, v in rows
        )
        parts = self.components()
        level = f"{self.confidence:.0%}"
        shown = pd.DataFrame(
            {
                c: [
                    str(Value(r[f"{c}_usd"], r[f"{c}_low_usd"], r[f"{c}_high_usd"], "usd")).replace(
                        f"({level} interval ", "("
                    )
                    for _, r in parts.iterrows()
                ]
                for c in COMPONENTS
            },
            index=parts.index,
        )
        notes = "".join(f"<li>{html.escape(n)}</li>" for n in self.notes)
        return (
            f"<div class='impact-cost'><table>{body}</table>"
            f"<p>per outcome by component, with its {level} interval:</p>{shown.to_html()}"
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
    draws: int = 10_000,
    seed: int = 0,
) -> CostPerOutcome:
    """Cost per `outcome` (a boolean per ticket, e.g. resolved) of AI-assisted work.

    Overhead is the register's run costs per month spread over the AI-assisted tickets of a
    month at full adoption (``tickets_per_month x adoption_max``). Intervals come from `draws`
    seeded Monte Carlo draws of the labour rate, those overhead inputs and the effects.

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
    from impact.value.montecarlo import check_simulation, effect_draws

    check_simulation(draws, seed, confidence)
    check_type(costs).require(
        ["labour_usd_per_hour", "tickets_per_month", "adoption_max"], purpose="cost per outcome"
    )
    effects = as_effects(effect) if effect is not None else ()
    for e in effects:
        if e.outcome not in _UNDOABLE:
            raise ParameterError(
                f"cost per outcome can undo effects on {sorted(_UNDOABLE)}, not {e.outcome!r}"
            )
    sums = _segment_sums(as_table(events), by=list(by), outcome=outcome, ai=ai)
    sums = sums.rename(columns={ai: "_ai"})
    ai_rows, other = sums.loc[sums["_ai"]], sums.loc[~sums["_ai"]]
    if ai_rows.empty or ai_rows["tickets"].sum() == 0:
        raise EstimationError(f"no AI-assisted tickets ({ai} is never true): nothing to cost")
    if ai_rows["outcomes"].sum() <= 0:
        raise EstimationError(
            f"no AI-assisted ticket has {outcome!r} true: cost per outcome is undefined"
        )

    run = costs.by_category("run")
    tickets, adoption = costs["tickets_per_month"], costs["adoption_max"]
    point: dict[str, np.ndarray] = {
        "labour": np.array([costs["labour_usd_per_hour"].value]),
        "overhead": np.array([sum(a.value for a in run) / (tickets.value * adoption.value)]),
    }
    point |= {e.outcome: np.array([e.estimate]) for e in effects}
    # Fixed order of draws, so one seed always gives the same figures.
    rng = np.random.default_rng(seed)
    sim: dict[str, np.ndarray] = {"labour": costs["labour_usd_per_hour"].sample(rng, draws)}
    run_usd = sum((a.sample(rng, draws) for a in run), np.zeros(draws))
    fleet = tickets.sample(rng, draws) * np.clip(adoption.sample(rng, draws), 0.0, 1.0)
    sim["overhead"] = run_usd / fleet
    sim |= {e.outcome: effect_draws(e, rng, draws) for e in effects}

    alpha = (1 - confidence) / 2
    frames = []
    for _, row in sums.iterrows():
        mine = row.to_frame().T
        ai_part, other_part = (mine, mine.iloc[:0]) if row["_ai"] else (mine.iloc[:0], mine)
        at_point = _scenarios(_total(ai_part), _total(other_part), point)
        drawn = _scenarios(_total(ai_part), _total(other_part), sim)
        scenarios = SCENARIOS[:2] if row["_ai"] else SCENARIOS[2:]
        for scenario in scenarios:
            out = {k: row[k] for k in by} | {"scenario": scenario}
            out |= {
                "tickets": int(row["tickets"]),
                "outcomes": float(at_point[scenario]["outcomes"][0]),
            }
            for name in (*COMPONENTS, "total", "per_outcome"):
                value, sample = at_point[scenario][name], drawn[scenario][name]
                low, high = _quantiles(sample, alpha)
                out |= {f"{name}_usd": float(value[0]), f"{name}_low_usd": low}
                out[f"{name}_high_usd"] = high
            frames.append(out)
    table = pd.DataFrame(frames)
    order = {s: i for i, s in enumerate(SCENARIOS)}
    table = table.sort_values(
        [*by, "scenario"], key=lambda c: c.map(order) if c.name == "scenario" else c, kind="stable"
    ).reset_index(drop=True)

    totals_point = _scenarios(_total(ai_rows), _total(other), point)
    totals_sim = _scenarios(_total(ai_rows), _total(other), sim)

    def headline(scenario: str, label: str) -> Value:
        pt = totals_point[scenario]["per_outcome"][0]
        low, high = _quantiles(totals_sim[scenario]["per_outcome"], alpha)
        return Value(pt, low, high, "usd", confidence, label)

    notes = [
        f"{confidence:.0%} intervals: {draws:,} Monte Carlo draws (seed {seed}) of the labour "
        "rate, the run costs, volume and adoption behind the overhead, and each effect"
    ]
    per_outcome = "resolved" in {e.outcome for e in effects} and outcome == "resolved"
    n_ai = float(ai_rows["tickets"].sum())

    def increment(parts: Mapping[str, Mapping[str, np.ndarray]]) -> np.ndarray:
        c1, c0 = parts[SCENARIOS[0]]["total"], parts[SCENARIOS[1]]["total"]
        if not per_outcome:
            return (c1 - c0) / n_ai
        gained = parts[SCENARIOS[0]]["outcomes"] - parts[SCENARIOS[1]]["outcomes"]
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(gained != 0, (c1 - c0) / np.where(gained != 0, gained, 1.0), np.inf)

    if per_outcome:
        label = "incremental cost per incremental outcome"
        gained = totals_sim[SCENARIOS[0]]["outcomes"] - totals_sim[SCENARIOS[1]]["outcomes"]
        if (share := float(np.mean(gained <= 0))) > alpha:
            notes.append(
                f"in {share:.0%} of draws the AI adds no {outcome} outcome, so the cost per "
                "incremental outcome is unbounded: read its interval with care"
            )
    else:
        label = "incremental cost per AI-assisted ticket"
        notes.append(
            f"no effect on {outcome} given: the AI changes the cost of each ticket, "
            "not the number of outcomes, so the increment is per ticket"
        )
    low, high = _quantiles(increment(totals_sim), alpha)
    incremental = Value(float(increment(totals_point)[0]), low, high, "usd", confidence, label)
    if effects:
        notes.append(
            "effects are applied per AI-assisted ticket: pass the effect of using the "
            "AI on a ticket (an intention-to-treat effect understates it)"
        )
    return CostPerOutcome(
        with_ai=headline(SCENARIOS[0], f"cost per {outcome} outcome with AI"),
        without_ai=headline(SCENARIOS[1], f"cost per {outcome} outcome without AI"),
        incremental=incremental,
        table=table,
        outcome=outcome,
        notes=tuple(notes),
        register_label=costs.label,
        _sums=sums,
        _draws=sim,
        _point=point,
        confidence=confidence,
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


def _total(rows: pd.DataFrame) -> dict[str, float]:
    """The summed columns of some segment rows (the model is linear in them)."""
    return {k: float(rows[k].astype("float64").sum()) for k in ("tickets", "outcomes", *_SUMS)}


def _scenarios(
    ai: Mapping[str, float], other: Mapping[str, float], params: Mapping[str, np.ndarray]
) -> dict[str, dict[str, np.ndarray]]:
    """Component totals, outcomes, total and per-outcome cost of each scenario, per draw.

    `ai` and `other` are summed AI-assisted and not-assisted tickets; `params` holds arrays
    (one entry per draw) of the labour rate, the overhead per AI ticket and each effect.
    """
    per_minute = params["labour"] / 60
    zero = np.zeros_like(per_minute)

    def shift(outcome: str, rows: Mapping[str, float]) -> np.ndarray:
        return params[outcome] * rows["tickets"] if outcome in params else zero

    out = {
        SCENARIOS[0]: {
            "handling": ai["handle_minutes"] * per_minute,
            "compute": ai["compute_usd"] + zero,
            "review": ai["review_minutes"] * per_minute,
            "correction": ai["correction_minutes"] * per_minute,
            "overhead": ai["tickets"] * params["overhead"],
            "outcomes": ai["outcomes"] + zero,
        },
        # The same tickets without the AI: its costs gone, the measured effects undone.
        SCENARIOS[1]: {
            "handling": (ai["handle_minutes"] - shift("handle_time_minutes", ai)) * per_minute,
            "compute": zero,
            "review": zero,
            "correction": (ai["correction_minutes"] - shift("correction_minutes", ai)) * per_minute,
            "overhead": zero,
            "outcomes": ai["outcomes"] - shift("resolved", ai),
        },
        SCENARIOS[2]: {
            "handling": other["handle_minutes"] * per_minute,
            "compute": other["compute_usd"] + zero,
            "review": other["review_minutes"] * per_minute,
            "correction": other["correction_minutes"] * per_minute,
            "overhead": zero,
            "outcomes": other["outcomes"] + zero,
        },
    }
    for parts in out.values():
        parts["total"] = sum((parts[c] for c in COMPONENTS), zero)
        with np.errstate(divide="ignore", invalid="ignore"):
            parts["per_outcome"] = parts["total"] / parts["outcomes"]
    return out


def _quantiles(sample: np.ndarray, alpha: float) -> tuple[float, float]:
    """The (alpha, 1 - alpha) quantiles; NaN when a draw is undefined (no outcome at all)."""
    if np.isnan(sample).any():
        return math.nan, math.nan
    low, high = np.quantile(sample, [alpha, 1 - alpha], method="inverted_cdf")
    return float(low), float(high)
