"""Seeded synthetic support-workflow data: an AI rollout whose true effects are known.

The simulated world has teams of agents handling tickets over `n_weeks` weeks. Part of the teams
run a **randomized pilot** (agents randomized to a treatment arm that may use the AI), the rest a
**staggered rollout** (teams switched on in three waves, some never; within a switched-on team,
agents *choose* to adopt, and experienced agents, who are faster anyway, adopt more). The AI's
benefit grows with weeks of access (a learning curve), and treated agents use it on most but not
all tickets.

Every ticket is drawn with common random numbers, so both potential outcomes (without and with
the AI) are known per ticket; :class:`Truth` holds the in-sample effects computed from them, the
yardstick the estimators are calibrated against. Everything is vectorised numpy: the default
~100k events take a fraction of a second, and :func:`write_events_parquet` streams tens of
millions of rows in agent batches.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

WORKFLOWS = ("billing", "technical", "account", "returns")
REGIONS = ("AMER", "EMEA", "APAC")
AI_MODELS = ("small", "large")
EXPERIMENT_ID = "pilot-2026"
BAD_ROW_KINDS = (
    "duplicate_event_id",
    "negative_duration",
    "null_agent_id",
    "handle_time_out_of_range",
    "csat_out_of_range",
    "unknown_workflow",
    "negative_cost",
)

# The world's constants. Per-workflow arrays follow WORKFLOWS, per-weekday arrays Monday..Friday.
_WORKFLOW_SHARE = np.array([0.35, 0.25, 0.25, 0.15])
_WORKFLOW_LOG_EFFECT = np.array([0.0, 0.35, -0.10, -0.20])
_WEEKDAY_VOLUME = np.array([1.25, 1.05, 1.0, 0.95, 0.75])  # sums to 5: Mondays are busiest
_WEEKDAY_LOG_EFFECT = np.array([0.08, 0.02, 0.0, -0.02, -0.04])  # ... and slowest
# Centred so the overall median handle time stays near 12 minutes.
_LOG_MEDIAN = (
    math.log(12.0)
    - _WORKFLOW_SHARE @ _WORKFLOW_LOG_EFFECT
    - _WEEKDAY_VOLUME @ _WEEKDAY_LOG_EFFECT / 5
)
_LOG_SIGMA = 0.6
_TENURE_LOG_SLOPE = -0.18  # log handle time per log-month of tenure: experience makes faster
_UTC_OFFSET_HOURS = np.array([-5, 1, 8])  # per REGIONS; 09:00-17:00 local stays one UTC day
_RESOLVED = np.array([0.83, 0.72, 0.82, 0.86])  # ~0.80 overall
_ESCALATED = np.array([0.08, 0.16, 0.09, 0.07])  # ~0.10 overall
_REOPENED = 0.05
_AI_RESOLVED, _AI_ESCALATED, _AI_REOPENED, _AI_CSAT = 0.03, -0.02, 0.005, 0.04
_CSAT_ANSWERED = 0.35
_CSAT_CUTS = np.cumsum([0.06, 0.07, 0.12, 0.30])  # P(csat <= 1..4); P(5) = 0.45
_PILOT_USE, _ROLLOUT_USE = 0.85, 0.90  # share of tickets with the AI once an agent has it
_LARGE_MODEL_SHARE = 0.3
_COST_MEDIAN_USD = np.array([0.03, 0.12])  # per AI_MODELS
_WAVES_OF_26 = (10, 14, 18)  # rollout weeks in a 26-week window; scaled with n_weeks
_US_PER_DAY = 86_400 * 1_000_000

_TIMESTAMP = pa.timestamp("us", tz="UTC")
_EVENTS_SCHEMA = pa.schema(
    [
        ("event_id", pa.string()),
        ("agent_id", pa.string()),
        ("team_id", pa.string()),
        ("workflow", pa.string()),
        ("region", pa.string()),
        ("started_at", _TIMESTAMP),
        ("ended_at", _TIMESTAMP),
        ("ai_used", pa.bool_()),
        ("ai_model", pa.string()),
        ("handle_time_minutes", pa.float64()),
        ("resolved", pa.bool_()),
        ("escalated", pa.bool_()),
        ("reopened", pa.bool_()),
        ("csat", pa.int64()),
        ("compute_cost_usd", pa.float64()),
        ("review_minutes", pa.float64()),
        ("correction_minutes", pa.float64()),
    ]
)
_PANDAS_TYPES: dict[pa.DataType, Any] = {
    pa.string(): pd.StringDtype(),
    pa.int64(): pd.Int64Dtype(),
    pa.date32(): pd.ArrowDtype(pa.date32()),
}


def _frames_equal(left: object, right: object) -> bool:
    if isinstance(left, pd.DataFrame) or isinstance(right, pd.DataFrame):
        return isinstance(left, pd.DataFrame) and left.equals(right)
    return left == right or (left != left and right != right)  # NaN equals NaN here


@dataclass(frozen=True, slots=True, eq=False)
class Truth:
    """The true effects in one simulated sample, computed from both potential outcomes.

    "No-AI" values are what each ticket would have had without the AI (the same random draws),
    so every effect below is exact for this sample, not an expectation. Handle-time effects are
    in minutes; a negative value means faster.

    Attributes:
        effect: long-run relative effect of AI use on one ticket's handle time (-0.2 = 20% less).
        ramp_weeks: learning-curve time constant; see :meth:`ramp`.
        start: Monday 00:00 UTC that opens week 0.
        n_weeks: weeks simulated.
        pilot_start: when pilot agents were randomized and the treatment arm got the AI.
        pilot_week: `pilot_start` as a week index.
        rollout_weeks: week index of each rollout wave (the DiD cohorts), ascending.
        pilot_adoption: share of the treatment arm's post-start tickets that used the AI.
        pilot_itt_handle_time: mean over treatment-arm agents of (observed minus no-AI) mean
            handle time over their post-start tickets: the in-sample ITT.
        pilot_baseline_handle_time: mean over treatment-arm agents of their no-AI mean handle
            time over post-start tickets (the ITT's counterfactual).
        pilot_itt_lift: `pilot_itt_handle_time / pilot_baseline_handle_time`.
        pilot_itt_resolved: the same ITT for the resolved rate (a share, not points).
        pilot_itt_escalated: the same ITT for the escalated rate.
        pilot_itt_reopened: the same ITT for the reopened rate (positive: a guardrail worsens).
        pilot_itt_csat: the same ITT for mean csat over answered surveys.
        rollout_adoption: share of agents in rolled-out teams who chose to adopt.
        adopter_att_handle_time: mean over adopters of (observed minus no-AI) mean handle time
            over their tickets from rollout on.
        adopter_att_lift: `adopter_att_handle_time` over the adopters' mean no-AI mean.
        did_att_overall: mean of `did_att_gt.att` weighted by teams per cohort (the "simple"
            aggregation of group-time effects).
        did_att_gt: one row per rollout cohort and week from rollout on: `cohort` and `week`
            (week indices), `event_time` (week - cohort), `n_teams`, `att` (mean over the
            cohort's teams of the team-week mean handle time minus its no-AI mean) and
            `baseline` (mean over those teams of the team-week no-AI mean).
        did_att_dynamic: `did_att_gt` by `event_time`, averaged over cohorts with `n_teams` as
            weights: columns `event_time`, `n_cohorts`, `n_teams`, `att`, `baseline`.

    Example:
        >>> truth = simulate(n_agents=60, n_teams=6, n_weeks=12, seed=3).truth
        >>> truth.pilot_week, round(truth.ramp(0), 3)
        (4, 0.221)
        >>> -0.2 < truth.pilot_itt_lift < 0
        True
    """

    effect: float
    ramp_weeks: float
    start: pd.Timestamp
    n_weeks: int
    pilot_start: pd.Timestamp
    pilot_week: int
    rollout_weeks: tuple[int, ...]
    pilot_adoption: float
    pilot_itt_handle_time: float
    pilot_baseline_handle_time: float
    pilot_itt_lift: float
    pilot_itt_resolved: float
    pilot_itt_escalated: float
    pilot_itt_reopened: float
    pilot_itt_csat: float
    rollout_adoption: float
    adopter_att_handle_time: float
    adopter_att_lift: float
    did_att_overall: float
    did_att_gt: pd.DataFrame = field(repr=False)
    did_att_dynamic: pd.DataFrame = field(repr=False)

    def ramp(self, weeks_since_access: float) -> float:
        """Share of the long-run effect reached in whole week `weeks_since_access` (0 = first)."""
        return 1.0 - math.exp(-(weeks_since_access + 1) / self.ramp_weeks)

    def to_dict(self) -> dict[str, float | int | str]:
        """The scalar fields, JSON-ready (timestamps as ISO 8601 strings)."""
        out: dict[str, float | int | str] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, pd.Timestamp):
                out[f.name] = value.isoformat()
            elif isinstance(value, int | float):
                out[f.name] = value
        return out

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Truth):
            return NotImplemented
        return all(
            _frames_equal(getattr(self, f.name), getattr(other, f.name)) for f in fields(self)
        )


@dataclass(frozen=True, slots=True, eq=False)
class SampleData:
    """One simulated sample: the four input tables of the data model and the truth behind them.

    Example:
        >>> data = simulate(n_agents=40, n_teams=4, n_weeks=12, seed=1)
        >>> data.agents["design"].value_counts().to_dict()
        {'rollout': 30, 'pilot': 10}
    """

    events: pd.DataFrame
    assignments: pd.DataFrame
    rollouts: pd.DataFrame
    agents: pd.DataFrame
    truth: Truth

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SampleData):
            return NotImplemented
        return all(
            _frames_equal(getattr(self, f.name), getattr(other, f.name)) for f in fields(self)
        )

    def __repr__(self) -> str:
        return (
            f"SampleData(events={len(self.events):,} rows, agents={len(self.agents)}, "
            f"assignments={len(self.assignments)}, rollouts={len(self.rollouts)}, "
            f"truth={self.truth!r})"
        )


@dataclass(frozen=True, slots=True)
class _World:
    """Parameters shared by every batch of agents."""

    n_weeks: int
    tickets_per_agent_week: float
    start: pd.Timestamp
    pilot_share: float
    treatment_share: float
    effect: float
    ramp_weeks: float

    @property
    def pilot_week(self) -> int:
        return min(max(round(self.n_weeks * 0.3), 1), self.n_weeks - 1)

    @property
    def wave_weeks(self) -> tuple[int, ...]:
        waves = (round(self.n_weeks * w / 26) for w in _WAVES_OF_26)
        return tuple(sorted({min(max(w, 1), self.n_weeks - 1) for w in waves}))


def _make_world(
    *,
    n_weeks: int = 26,
    tickets_per_agent_week: float = 20.0,
    start: str = "2026-03-02",
    pilot_share: float = 0.3,
    treatment_share: float = 0.2,
    effect: float = -0.20,
    ramp_weeks: float = 4.0,
) -> _World:
    monday = pd.Timestamp(start)
    monday = monday.tz_localize("UTC") if monday.tzinfo is None else monday.tz_convert("UTC")
    if monday.weekday() != 0 or monday != monday.normalize():
        raise ValueError(f"start must be a Monday at midnight UTC, got {start!r}")
    if n_weeks < 4:
        raise ValueError(f"n_weeks must be at least 4 (pre-period, pilot, waves), got {n_weeks}")
    if not tickets_per_agent_week > 0:
        raise ValueError(f"tickets_per_agent_week must be positive, got {tickets_per_agent_week}")
    for name, share in (("pilot_share", pilot_share), ("treatment_share", treatment_share)):
        if not 0.0 <= share <= 1.0:
            raise ValueError(f"{name} must be between 0 and 1, got {share}")
    if not effect > -1.0:
        raise ValueError(f"effect is relative and must exceed -1 (-100%), got {effect}")
    if not ramp_weeks > 0:
        raise ValueError(f"ramp_weeks must be positive, got {ramp_weeks}")
    return _World(
        n_weeks=n_weeks,
        tickets_per_agent_week=float(tickets_per_agent_week),
        start=monday.as_unit("us"),
        pilot_share=pilot_share,
        treatment_share=treatment_share,
        effect=float(effect),
        ramp_weeks=float(ramp_weeks),
    )


def _week_log_effect(n_weeks: int, rng: np.random.Generator) -> np.ndarray:
    # Common to all teams: a slow improvement, a quarterly cycle and noise. This is why a
    # naive before/after comparison is biased and a control group is needed.
    week = np.arange(n_weeks)
    return -0.004 * week + 0.03 * np.sin(2 * np.pi * week / 13) + rng.normal(0, 0.02, n_weeks)


def _to_seconds(minutes: np.ndarray) -> np.ndarray:
    # Systems log whole seconds; this also makes ended_at - started_at equal the handle time.
    return np.rint(minutes * 60.0) / 60.0


def _csat(u: np.ndarray, resolved: np.ndarray, lift: np.ndarray | float) -> np.ndarray:
    # Monotone in the shared uniform `u`: unresolved tickets score lower, AI slightly higher.
    q = u * np.where(resolved, 1.0, 0.55) + lift
    return (np.searchsorted(_CSAT_CUTS, q, side="right") + 1).astype(np.int8)


@dataclass(frozen=True, slots=True)
class _Block:
    """Whole teams of agents and their tickets, as arrays (team and agent ids are 0-based)."""

    team_of_agent: np.ndarray
    region_of_team: np.ndarray
    tenure_months: np.ndarray
    pilot_team: np.ndarray  # bool per team
    treated: np.ndarray  # bool per agent: pilot treatment arm
    cohort_of_team: np.ndarray  # rollout week per team, -1 for never and for pilot teams
    adopter: np.ndarray  # bool per agent: chose the AI after its team's rollout
    access_week: np.ndarray  # week the agent got the AI, -1 = never
    events: Mapping[str, np.ndarray]  # one entry per ticket, sorted by start time


#: The per-ticket outcomes without the AI, which only the truth uses.
_WITHOUT_AI = ("handle0", "resolved0", "escalated0", "reopened0", "csat0")


def _simulate_block(
    world: _World,
    n_agents: int,
    n_teams: int,
    week_log_effect: np.ndarray,
    rng: np.random.Generator,
    *,
    counterfactuals: bool = True,
) -> _Block:
    """Simulate `n_agents` agents in `n_teams` teams; their tickets sorted by start time.

    Without `counterfactuals`, the outcomes without the AI (``handle0``, ``resolved0``, ...)
    are left out of the events (nothing but the truth needs them).
    """
    n_weeks = world.n_weeks
    team_of_agent = (np.arange(n_agents) * n_teams) // n_agents
    region_of_team = rng.permutation(np.arange(n_teams) % len(REGIONS))
    tenure = np.clip(rng.lognormal(math.log(22.0), 0.8, n_agents), 1.0, 240.0).round(1)
    log_tenure = np.log(tenure) - math.log(24.0)
    agent_log_effect = (
        rng.normal(0, 0.12, n_teams)[team_of_agent]
        + rng.normal(0, 0.15, n_agents)
        + _TENURE_LOG_SLOPE * log_tenure
    )

    pilot_team = np.arange(n_teams) < round(world.pilot_share * n_teams)
    pilot_agents = np.flatnonzero(pilot_team[team_of_agent])
    treated = np.zeros(n_agents, dtype=bool)
    treated[rng.permutation(pilot_agents)[: round(world.treatment_share * pilot_agents.size)]] = (
        True
    )
    rollout_teams = rng.permutation(np.flatnonzero(~pilot_team))
    n_never = round(rollout_teams.size / 3)
    cohort_of_team = np.full(n_teams, -1)
    waves = np.array_split(rollout_teams[n_never:], len(world.wave_weeks))
    for week, teams in zip(world.wave_weeks, waves, strict=True):
        cohort_of_team[teams] = week
    cohort = cohort_of_team[team_of_agent]
    # Self-selection: experienced agents (faster anyway) are likelier to adopt.
    p_adopt = 1.0 / (1.0 + np.exp(-(0.2 + 1.5 * log_tenure)))
    adopter = (cohort >= 0) & (rng.random(n_agents) < p_adopt)
    access_week = np.where(treated, world.pilot_week, np.where(adopter, cohort, -1))
    use_rate = np.where(treated, _PILOT_USE, _ROLLOUT_USE)

    counts = rng.poisson(
        world.tickets_per_agent_week * _WEEKDAY_VOLUME / 5, size=(n_agents, n_weeks, 5)
    ).ravel()
    cell = np.repeat(np.arange(counts.size), counts)
    agent, week, weekday = cell // (n_weeks * 5), (cell // 5) % n_weeks, cell % 5
    n = cell.size
    team = team_of_agent[agent]
    region = region_of_team[team]
    workflow = rng.choice(len(WORKFLOWS), size=n, p=_WORKFLOW_SHARE)
    local_second = rng.integers(9 * 3600, 17 * 3600, n)
    started_us = (
        world.start.value // 1000
        + (week * 7 + weekday) * _US_PER_DAY
        + (local_second - _UTC_OFFSET_HOURS[region] * 3600) * 1_000_000
    )

    log_h0 = (
        _LOG_MEDIAN
        + agent_log_effect[agent]
        + _WEEKDAY_LOG_EFFECT[weekday]
        + _WORKFLOW_LOG_EFFECT[workflow]
        + week_log_effect[week]
        + rng.normal(0.0, _LOG_SIGMA, n)
    )
    handle0 = _to_seconds(np.clip(np.exp(log_h0), 0.5, 1440.0))
    agent_access = access_week[agent]
    has_access = (agent_access >= 0) & (week >= agent_access)
    ramp = np.zeros(n)
    ramp[has_access] = 1.0 - np.exp(
        -(week[has_access] - agent_access[has_access] + 1) / world.ramp_weeks
    )
    ai_used = has_access & (rng.random(n) < use_rate[agent])
    ramp_used = np.where(ai_used, ramp, 0.0)
    handle1 = _to_seconds(np.clip(handle0 * (1.0 + world.effect * ramp), 0.5, 1440.0))
    handle = np.where(ai_used, handle1, handle0)

    # Common random numbers: one uniform per ticket and outcome, two thresholds.
    u_resolved, u_escalated, u_reopened, u_answered, u_csat = rng.random((5, n))
    p_resolved, p_escalated = _RESOLVED[workflow], _ESCALATED[workflow]
    resolved0 = u_resolved < p_resolved
    resolved = u_resolved < p_resolved + _AI_RESOLVED * ramp_used
    escalated0 = u_escalated < p_escalated
    escalated = u_escalated < p_escalated + _AI_ESCALATED * ramp_used
    reopened0 = u_reopened < _REOPENED
    reopened = u_reopened < _REOPENED + _AI_REOPENED * ramp_used
    answered = u_answered < _CSAT_ANSWERED
    csat0 = np.where(answered, _csat(u_csat, resolved0, 0.0), 0)  # 0 = survey not answered
    csat = np.where(answered, _csat(u_csat, resolved, _AI_CSAT * ramp_used), 0)

    n_ai = int(ai_used.sum())
    large = rng.random(n_ai) < _LARGE_MODEL_SHARE
    model = np.full(n, -1, dtype=np.int8)
    model[ai_used] = large
    cost = np.zeros(n)
    cost[ai_used] = _COST_MEDIAN_USD[large.astype(int)] * np.exp(rng.normal(0.0, 0.5, n_ai))
    review = np.zeros(n)
    review[ai_used] = rng.gamma(2.0, 0.5, n_ai)  # mean 1 minute
    correction = np.zeros(n)
    correction[reopened] = rng.gamma(1.5, 10.0, int(reopened.sum()))  # mean 15 minutes

    order = np.argsort(started_us, kind="stable")  # ties stay in agent order
    events = {
        "agent": agent,
        "team": team,
        "week": week,
        "workflow": workflow,
        "region": region,
        "started_us": started_us,
        "ended_us": started_us + np.rint(handle * 60.0).astype(np.int64) * 1_000_000,
        "ai_used": ai_used,
        "model": model,
        "handle": handle,
        "resolved": resolved,
        "escalated": escalated,
        "reopened": reopened,
        "csat": csat,
        "cost": cost,
        "review": review,
        "correction": correction,
        "handle0": handle0,
        "resolved0": resolved0,
        "escalated0": escalated0,
        "reopened0": reopened0,
        "csat0": csat0,
    }
    if not counterfactuals:
        events = {name: values for name, values in events.items() if name not in _WITHOUT_AI}
    return _Block(
        team_of_agent=team_of_agent,
        region_of_team=region_of_team,
        tenure_months=tenure,
        pilot_team=pilot_team,
        treated=treated,
        cohort_of_team=cohort_of_team,
        adopter=adopter,
        access_week=access_week,
        events={name: values[order] for name, values in events.items()},
    )


def _labels(prefix: str, offset: int, count: int, width: int) -> pa.Array:
    return pa.array([f"{prefix}{i:0{width}d}" for i in range(offset + 1, offset + count + 1)])


def _events_table(
    block: _Block, *, agent_offset: int, team_offset: int, id_offset: int, widths: tuple[int, ...]
) -> pa.Table:
    """The block's events in the workflow_events schema; `widths` are (event, agent, team)."""
    ev = block.events
    n = ev["agent"].size
    event_width, agent_width, team_width = widths
    numbers = pc.cast(pa.array(np.arange(id_offset + 1, id_offset + n + 1)), pa.string())
    event_id = pc.binary_join_element_wise("E", pc.utf8_lpad(numbers, event_width, "0"), "")
    agents = _labels("A", agent_offset, block.team_of_agent.size, agent_width)
    teams = _labels("T", team_offset, block.region_of_team.size, team_width)
    columns = [
        event_id,
        agents.take(ev["agent"]),
        teams.take(ev["team"]),
        pa.array(WORKFLOWS).take(ev["workflow"]),
        pa.array(REGIONS).take(ev["region"]),
        pa.array(ev["started_us"]).cast(_TIMESTAMP),
        pa.array(ev["ended_us"]).cast(_TIMESTAMP),
        pa.array(ev["ai_used"]),
        pa.array(AI_MODELS).take(pa.array(ev["model"], mask=ev["model"] < 0)),
        pa.array(ev["handle"]),
        pa.array(ev["resolved"]),
        pa.array(ev["escalated"]),
        pa.array(ev["reopened"]),
        pa.array(ev["csat"].astype(np.int64), mask=ev["csat"] == 0),
        pa.array(ev["cost"]),
        pa.array(ev["review"]),
        pa.array(ev["correction"]),
    ]
    return pa.Table.from_arrays(columns, schema=_EVENTS_SCHEMA)


def _to_pandas(table: pa.Table) -> pd.DataFrame:
    return table.to_pandas(types_mapper=_PANDAS_TYPES.get)


def _mean(values: np.ndarray) -> float:
    values = values[~np.isnan(values)]
    return float(values.mean()) if values.size else math.nan


def _unit_means(unit: np.ndarray, mask: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    counts = np.bincount(unit[mask], minlength=n)
    sums = np.bincount(unit[mask], weights=values[mask].astype(float), minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        return sums / counts  # NaN for units without tickets


def _effect_per_unit(
    ev: Mapping[str, np.ndarray], mask: np.ndarray, outcome: str, n_agents: int
) -> tuple[np.ndarray, np.ndarray]:
    observed = _unit_means(ev["agent"], mask, ev[outcome], n_agents)
    no_ai = _unit_means(ev["agent"], mask, ev[outcome + "0"], n_agents)
    return observed - no_ai, no_ai


def _did_truth(world: _World, block: _Block) -> tuple[pd.DataFrame, pd.DataFrame]:
    ev, n_weeks = block.events, world.n_weeks
    n_teams = block.region_of_team.size
    team_week = ev["team"] * n_weeks + ev["week"]
    everything = np.ones(team_week.size, dtype=bool)
    observed = _unit_means(team_week, everything, ev["handle"], n_teams * n_weeks)
    no_ai = _unit_means(team_week, everything, ev["handle0"], n_teams * n_weeks)
    observed, no_ai = observed.reshape(n_teams, n_weeks), no_ai.reshape(n_teams, n_weeks)
    parts = []
    for cohort in sorted(set(block.cohort_of_team[block.cohort_of_team >= 0].tolist())):
        teams = np.flatnonzero(block.cohort_of_team == cohort)
        weeks = np.arange(cohort, n_weeks)
        parts.append(
            pd.DataFrame(
                {
                    "cohort": cohort,
                    "week": weeks,
                    "event_time": weeks - cohort,
                    "n_teams": teams.size,
                    "att": (observed - no_ai)[teams][:, weeks].mean(axis=0),
                    "baseline": no_ai[teams][:, weeks].mean(axis=0),
                }
            )
        )
    columns = ["cohort", "week", "event_time", "n_teams", "att", "baseline"]
    gt = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)
    gt = gt.astype({c: "int64" for c in columns[:4]} | {"att": "float64", "baseline": "float64"})
    weighted = gt.assign(att=gt["att"] * gt["n_teams"], baseline=gt["baseline"] * gt["n_teams"])
    dynamic = weighted.groupby("event_time", as_index=False).agg(
        n_cohorts=("cohort", "size"),
        n_teams=("n_teams", "sum"),
        att=("att", "sum"),
        baseline=("baseline", "sum"),
    )
    dynamic["att"] /= dynamic["n_teams"]
    dynamic["baseline"] /= dynamic["n_teams"]
    return gt, dynamic.astype({"n_cohorts": "int64", "n_teams": "int64"})


def _truth(world: _World, block: _Block) -> Truth:
    ev = block.events
    n_agents = block.team_of_agent.size
    agent, week = ev["agent"], ev["week"]
    pilot_post = block.treated[agent] & (week >= world.pilot_week)
    treated = block.treated
    itt, baseline = _effect_per_unit(ev, pilot_post, "handle", n_agents)
    answered = ev["csat"] > 0
    rate_itt = {
        outcome: _mean(_effect_per_unit(ev, pilot_post & keep, outcome, n_agents)[0][treated])
        for outcome, keep in (
            ("resolved", True),
            ("escalated", True),
            ("reopened", True),
            ("csat", answered),
        )
    }
    adopter_post = block.adopter[agent] & (week >= block.access_week[agent])
    att, adopter_baseline = _effect_per_unit(ev, adopter_post, "handle", n_agents)
    rolled_out = block.cohort_of_team[block.team_of_agent] >= 0
    gt, dynamic = _did_truth(world, block)
    pilot_itt, pilot_baseline = _mean(itt[treated]), _mean(baseline[treated])
    adopter_att = _mean(att[block.adopter])
    n_teams_total = gt["n_teams"].sum()
    return Truth(
        effect=world.effect,
        ramp_weeks=world.ramp_weeks,
        start=world.start,
        n_weeks=world.n_weeks,
        pilot_start=world.start + pd.Timedelta(weeks=world.pilot_week),
        pilot_week=world.pilot_week,
        rollout_weeks=tuple(int(g) for g in gt["cohort"].unique()),
        pilot_adoption=_mean(ev["ai_used"][pilot_post].astype(float)),
        pilot_itt_handle_time=pilot_itt,
        pilot_baseline_handle_time=pilot_baseline,
        pilot_itt_lift=pilot_itt / pilot_baseline,
        pilot_itt_resolved=rate_itt["resolved"],
        pilot_itt_escalated=rate_itt["escalated"],
        pilot_itt_reopened=rate_itt["reopened"],
        pilot_itt_csat=rate_itt["csat"],
        rollout_adoption=_mean(block.adopter[rolled_out].astype(float)),
        adopter_att_handle_time=adopter_att,
        adopter_att_lift=adopter_att / _mean(adopter_baseline[block.adopter]),
        did_att_overall=(
            float((gt["att"] * gt["n_teams"]).sum() / n_teams_total) if n_teams_total else math.nan
        ),
        did_att_gt=gt,
        did_att_dynamic=dynamic,
    )


def _id_widths(n_events: int, n_agents: int, n_teams: int) -> tuple[int, int, int]:
    return max(8, len(str(n_events))), max(4, len(str(n_agents))), max(2, len(str(n_teams)))


def simulate(
    *,
    n_agents: int = 200,
    n_teams: int = 20,
    n_weeks: int = 26,
    tickets_per_agent_week: float = 20.0,
    start: str = "2026-03-02",
    pilot_share: float = 0.3,
    treatment_share: float = 0.2,
    effect: float = -0.20,
    ramp_weeks: float = 4.0,
    seed: int = 0,
) -> SampleData:
    """Simulate a support team's AI rollout: a randomized pilot plus a staggered team rollout.

    Args:
        n_agents: agents, spread evenly over `n_teams` teams (each team in one region).
        n_weeks: weeks from `start` (a Monday); the pilot starts at week ``round(0.3 * n_weeks)``
            and rollout waves at weeks ~10, ~14 and ~18 of 26 (scaled with `n_weeks`).
        tickets_per_agent_week: mean tickets per agent and week (Poisson; busier Mondays).
        pilot_share: share of teams (the first ones) in the randomized pilot; the rest roll out.
        treatment_share: share of pilot agents randomized to the treatment arm (exact, rounded).
        effect: long-run relative effect of AI use on a ticket's handle time.
        ramp_weeks: learning curve: in week ``w`` of access the effect is
            ``effect * (1 - exp(-(w + 1) / ramp_weeks))``.
        seed: the same seed gives identical data.

    Returns:
        The events, assignments, rollouts and agents tables of ``docs/data-model.md`` and the
        :class:`Truth` computed from both potential outcomes of every ticket.

    Example:
        >>> data = simulate(n_agents=40, n_teams=4, n_weeks=12, seed=1)
        >>> len(data.agents), data.truth.pilot_week, bool(data.events["event_id"].is_unique)
        (40, 4, True)
        >>> data.assignments["arm"].value_counts().to_dict()
        {'control': 8, 'treatment': 2}
    """
    world = _make_world(
        n_weeks=n_weeks,
        tickets_per_agent_week=tickets_per_agent_week,
        start=start,
        pilot_share=pilot_share,
        treatment_share=treatment_share,
        effect=effect,
        ramp_weeks=ramp_weeks,
    )
    if not 1 <= n_teams <= n_agents:
        raise ValueError(f"need 1 <= n_teams <= n_agents, got {n_teams} teams, {n_agents} agents")
    world_seed, block_seed = np.random.SeedSequence(seed).spawn(2)
    week_effect = _week_log_effect(n_weeks, np.random.default_rng(world_seed))
    block = _simulate_block(
        world, n_agents, n_teams, week_effect, np.random.default_rng(block_seed)
    )
    widths = _id_widths(block.events["agent"].size, n_agents, n_teams)
    events = _to_pandas(
        _events_table(block, agent_offset=0, team_offset=0, id_offset=0, widths=widths)
    )

    agent_ids = np.asarray(_labels("A", 0, n_agents, widths[1]).to_pylist(), dtype=object)
    team_ids = np.asarray(_labels("T", 0, n_teams, widths[2]).to_pylist(), dtype=object)
    pilot_agent = block.pilot_team[block.team_of_agent]
    agents = pd.DataFrame(
        {
            "agent_id": agent_ids,
            "team_id": team_ids[block.team_of_agent],
            "region": np.asarray(REGIONS)[block.region_of_team[block.team_of_agent]],
            "tenure_months": block.tenure_months,
            "design": np.where(pilot_agent, "pilot", "rollout"),
        }
    ).astype({c: "string" for c in ("agent_id", "team_id", "region", "design")})
    pilot_start = world.start + pd.Timedelta(weeks=world.pilot_week)
    assignments = pd.DataFrame(
        {
            "experiment_id": EXPERIMENT_ID,
            "agent_id": agent_ids[pilot_agent],
            "arm": np.where(block.treated[pilot_agent], "treatment", "control"),
            "assigned_at": pd.Series(pilot_start, index=range(int(pilot_agent.sum()))),
        }
    ).astype({"experiment_id": "string", "agent_id": "string", "arm": "string"})
    rollout_team = np.flatnonzero(~block.pilot_team)
    cohort = block.cohort_of_team[rollout_team]
    rollout_days = (world.start.value // _US_PER_DAY // 1000 + 7 * cohort).astype(np.int32)
    rollouts = _to_pandas(
        pa.table(
            {
                "team_id": pa.array(team_ids[rollout_team].tolist(), pa.string()),
                "rollout_at": pa.array(rollout_days, mask=cohort < 0).cast(pa.date32()),
            }
        )
    )
    return SampleData(
        events=events,
        assignments=assignments.astype({"assigned_at": "datetime64[us, UTC]"}),
        rollouts=rollouts,
        agents=agents,
        truth=_truth(world, block),
    )


def inject_bad_rows(
    events: pd.DataFrame, *, n_per_kind: int = 5, seed: int = 0
) -> tuple[pd.DataFrame, dict[str, int]]:
    """Return a copy of `events` with `n_per_kind` broken rows of each kind in BAD_ROW_KINDS.

    Each broken row has exactly one defect, and no original row is broken twice:
    ``duplicate_event_id`` appends an exact copy of a row; ``negative_duration`` flips the
    handle time negative and moves ended_at before started_at; ``null_agent_id``;
    ``handle_time_out_of_range`` (over 1440 minutes, ended_at kept consistent);
    ``csat_out_of_range`` (csat = 9); ``unknown_workflow``; ``negative_cost`` (on a row that
    used the AI where possible, so it breaks no other cost rule). Dtypes are kept; agent_id
    becomes the nullable ``string`` dtype if it was not.

    Returns:
        The broken copy (a fresh 0..n index) and the number of rows of each kind.

    Example:
        >>> events = simulate(n_agents=20, n_teams=2, n_weeks=6).events
        >>> broken, counts = inject_bad_rows(events, n_per_kind=2)
        >>> len(broken) - len(events), counts["csat_out_of_range"], int((broken.csat == 9).sum())
        (2, 2, 2)
    """
    n_broken = n_per_kind * (len(BAD_ROW_KINDS) - 1)
    if n_per_kind < 0 or n_broken + n_per_kind > len(events):
        raise ValueError(
            f"cannot break {n_per_kind} rows of each of {len(BAD_ROW_KINDS)} kinds in "
            f"{len(events)} events: pass a smaller n_per_kind"
        )
    rng = np.random.default_rng(seed)
    out = events.reset_index(drop=True)
    dtypes = out.dtypes.to_dict()
    if not isinstance(dtypes["agent_id"], pd.StringDtype):
        dtypes["agent_id"] = pd.StringDtype()
    out = out.astype({"agent_id": dtypes["agent_id"]})  # a copy: the caller's frame is untouched

    order = rng.permutation(len(out))
    ai_first = np.concatenate([order[out["ai_used"].to_numpy()[order]], order])
    negative_cost = pd.unique(ai_first)[:n_per_kind]
    rest = order[~np.isin(order, negative_cost)][:n_broken]
    picks = dict(zip(BAD_ROW_KINDS[:-1], rest.reshape(-1, n_per_kind), strict=True))
    picks["negative_cost"] = negative_cost

    def shift(rows: np.ndarray, minutes: np.ndarray) -> pd.Series:
        started = out.loc[rows, "started_at"]
        return started + pd.to_timedelta(np.rint(minutes * 60e6).astype(np.int64), unit="us")

    rows = picks["negative_duration"]
    handle = -out.loc[rows, "handle_time_minutes"].abs().clip(lower=1.0).to_numpy()
    out.loc[rows, "handle_time_minutes"] = handle
    out.loc[rows, "ended_at"] = shift(rows, handle)
    out.loc[picks["null_agent_id"], "agent_id"] = pd.NA
    rows = picks["handle_time_out_of_range"]
    handle = _to_seconds(rng.uniform(1500.0, 5000.0, rows.size))
    out.loc[rows, "handle_time_minutes"] = handle
    out.loc[rows, "ended_at"] = shift(rows, handle)
    out.loc[picks["csat_out_of_range"], "csat"] = 9
    out.loc[picks["unknown_workflow"], "workflow"] = "unknown"
    rows = picks["negative_cost"]
    out.loc[rows, "compute_cost_usd"] = -out.loc[rows, "compute_cost_usd"].abs() - 0.01
    duplicates = out.loc[np.sort(picks["duplicate_event_id"])]
    out = pd.concat([out, duplicates], ignore_index=True).astype(dtypes)
    return out, dict.fromkeys(BAD_ROW_KINDS, n_per_kind)


def _write_frame(frame: pd.DataFrame, path: Path, schema: pa.Schema | None = None) -> Path:
    pq.write_table(pa.Table.from_pandas(frame, schema=schema, preserve_index=False), path)
    return path


def write_sample(out_dir: str | Path, *, seed: int = 0, **simulate_kwargs: Any) -> dict[str, Path]:
    """Simulate a sample and write its four tables as Parquet plus ``truth.json`` (scalars).

    Args:
        out_dir: folder to write into (created if missing; files of the same names replaced).
        seed: passed to :func:`simulate`, as are `simulate_kwargs`.

    Returns:
        Paths by name: ``events``, ``assignments``, ``rollouts``, ``agents``, ``truth``.

    Example:
        >>> import tempfile
        >>> paths = write_sample(tempfile.mkdtemp(), n_agents=20, n_teams=2, n_weeks=6)
        >>> sorted(paths)
        ['agents', 'assignments', 'events', 'rollouts', 'truth']
    """
    data = simulate(seed=seed, **simulate_kwargs)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "events": _write_frame(data.events, out / "events.parquet", _EVENTS_SCHEMA),
        "assignments": _write_frame(data.assignments, out / "assignments.parquet"),
        "rollouts": _write_frame(data.rollouts, out / "rollouts.parquet"),
        "agents": _write_frame(data.agents, out / "agents.parquet"),
        "truth": out / "truth.json",
    }
    paths["truth"].write_text(json.dumps(data.truth.to_dict(), indent=2) + "\n")
    return paths


class _PartWriter:
    """Appends tables to ``part-00000.parquet``, ``part-00001.parquet``, ... of at most
    `rows_per_file` rows each; an empty dataset still gets one (empty) file."""

    def __init__(self, folder: Path, rows_per_file: int) -> None:
        self.folder, self.rows_per_file = folder, rows_per_file
        self.writer: pq.ParquetWriter | None = None
        self.n_files = self.in_file = 0

    def write(self, table: pa.Table) -> None:
        offset = 0
        while offset < table.num_rows or self.n_files == 0:
            if self.writer is None:
                path = self.folder / f"part-{self.n_files:05d}.parquet"
                self.writer = pq.ParquetWriter(path, _EVENTS_SCHEMA)
                self.n_files, self.in_file = self.n_files + 1, 0
            take = min(table.num_rows - offset, self.rows_per_file - self.in_file)
            self.writer.write_table(table.slice(offset, take))
            offset, self.in_file = offset + take, self.in_file + take
            if self.in_file == self.rows_per_file:
                self.close()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


def write_events_parquet(
    out_dir: str | Path,
    *,
    n_events: int,
    seed: int = 0,
    rows_per_file: int = 2_000_000,
    agents_per_team: int = 10,
    batch_agents: int = 2_000,
    **kw: Any,
) -> Path:
    """Stream exactly `n_events` simulated events into Parquet files, one agent batch at a time.

    Each batch of `batch_agents` agents (whole teams of `agents_per_team`) is simulated like
    :func:`simulate` with the same world (`kw`: any of its other options) and written at once,
    so memory stays flat (peak RSS ~0.8 GB with the defaults) however many events are asked for.
    The last batch is cut to hit `n_events` exactly. No truth is kept.

    Args:
        out_dir: the dataset folder; receives ``part-00000.parquet``, ``part-00001.parquet``,
            ... of at most `rows_per_file` rows each (stale ``part-*.parquet`` are removed).

    Returns:
        `out_dir`, readable as one table (e.g. ``impact.engine.as_table(out_dir)``).

    Example:
        >>> import tempfile, pyarrow.dataset as ds
        >>> folder = write_events_parquet(tempfile.mkdtemp(), n_events=5_000, batch_agents=20)
        >>> ds.dataset(folder).count_rows()
        5000
    """
    if n_events < 0 or rows_per_file < 1:
        raise ValueError(
            f"need n_events >= 0 and rows_per_file >= 1, got {n_events}, {rows_per_file}"
        )
    if not 1 <= agents_per_team <= batch_agents:
        raise ValueError(f"need 1 <= agents_per_team <= batch_agents, got {agents_per_team}")
    world = _make_world(**kw)
    per_agent = world.tickets_per_agent_week * world.n_weeks
    # Small requests get a small batch rather than a full one cut short.
    needed_agents = math.ceil(1.1 * n_events / per_agent) + agents_per_team
    teams_per_batch = max(1, min(batch_agents, needed_agents) // agents_per_team)
    batch_agents = teams_per_batch * agents_per_team
    per_batch = batch_agents * per_agent
    max_batches = math.ceil(1.5 * n_events / per_batch) + 1  # only sizes the id labels
    widths = _id_widths(n_events, max_batches * batch_agents, max_batches * teams_per_batch)

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob("part-*.parquet"):
        stale.unlink()
    world_seed, batch_seeds = np.random.SeedSequence(seed).spawn(2)
    week_effect = _week_log_effect(world.n_weeks, np.random.default_rng(world_seed))
    files = _PartWriter(out, rows_per_file)
    # Writing a batch (Parquet encoding and compression, which release the GIL) overlaps with
    # simulating the next one on another core; at most one batch waits to be written.
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending: Future[None] | None = None
        written = batch = 0
        while written < n_events or batch == 0:
            rng = np.random.default_rng(batch_seeds.spawn(1)[0])
            block = _simulate_block(
                world, batch_agents, teams_per_batch, week_effect, rng, counterfactuals=False
            )
            table = _events_table(
                block,
                agent_offset=batch * batch_agents,
                team_offset=batch * teams_per_batch,
                id_offset=written,
                widths=widths,
            ).slice(0, n_events - written)
            del block
            batch += 1
            written += table.num_rows
            if pending is not None:
                pending.result()  # re-raises a failed write here
            pending = pool.submit(files.write, table)
        if pending is not None:
            pending.result()
    files.close()
    return out
