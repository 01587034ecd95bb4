"""The adopter table: one row per agent of a rolled-out team, built inside the engine.

After a team's rollout every agent *may* use the AI; those who did are the adopters. Matching
needs, per agent, whether they adopted, their outcome before and after the rollout, and the
pre-period covariates that drive adoption (outcome level and trend, volume, tenure). All of it
is aggregated by the engine (Ibis on DuckDB); only the per-agent table comes back.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import ibis.expr.types as ir

from impact.data import numeric
from impact.engine import as_table
from impact.errors import EstimationError


def adopter_units(
    events: Any,
    agents: Any,
    rollouts: Any,
    *,
    outcomes: str | Sequence[str] = "handle_time_minutes",
    unit: str = "agent_id",
    team: str = "team_id",
    time: str = "started_at",
    exposure: str = "ai_used",
    rollout: str = "rollout_at",
    min_ai_share: float = 0.0,
) -> ir.Table:
    """One row per agent in a rolled-out team: adoption, pre/post outcomes and covariates.

    An agent *adopted* when more than `min_ai_share` of their post-rollout items used the AI.
    For each outcome ``y`` the table has ``pre_y`` and ``post_y`` (means over items before and
    from the team's rollout date) and ``pre_trend_y`` (the pre-period slope per week); plus
    ``pre_items``, ``post_items``, ``pre_weekly_volume``, ``ai_share_post``, and every column
    of `agents` (tenure, region...). Teams never rolled out (null `rollout`) are left out:
    their agents could not adopt.

    Example:
        >>> from impact.datasets import simulate
        >>> s = simulate(n_agents=60, n_teams=6, n_weeks=12, seed=1)
        >>> units = adopter_units(s.events, s.agents, s.rollouts).execute()
        >>> {"adopted", "pre_handle_time_minutes", "tenure_months"} <= set(units.columns)
        True
    """
    ev, people, starts = as_table(events), as_table(agents), as_table(rollouts)
    names = [outcomes] if isinstance(outcomes, str) else list(outcomes)
    for table, label, needed in (
        (ev, "events", [unit, team, time, exposure, *names]),
        (people, "agents", [unit]),
        (starts, "rollouts", [team, rollout]),
    ):
        if missing := [c for c in needed if c not in table.columns]:
            raise EstimationError(
                f"no column(s) {missing} in the {label}; they have {sorted(table.columns)}"
            )
    starts = starts.filter(starts[rollout].notnull()).select(
        **{team: starts[team], "_rollout": starts[rollout].cast("date")}
    )
    ev = ev.inner_join(starts, team)
    day = ev[time].date()
    ev = ev.mutate(
        _post=day >= ev._rollout,
        # Weeks relative to the rollout: the pre-period trend's clock.
        _week=day.delta(ev._rollout, unit="day").cast("float64") / 7.0,
        _ai=ev[exposure].cast("float64"),
    )
    pre, post = ~ev._post, ev._post
    metrics: dict[str, ir.Value] = {
        "rollout_at": ev._rollout.max(),
        "pre_items": pre.cast("int64").sum(),
        "post_items": post.cast("int64").sum(),
        "_pre_weeks_distinct": ev._week.floor().nunique(where=pre),
        "ai_share_post": ev._ai.mean(where=post),
    }
    t = ev._week
    for name in names:
        y = numeric(ev, name)
        metrics[f"pre_{name}"] = y.mean(where=pre)
        metrics[f"post_{name}"] = y.mean(where=post)
        # Slope of y on weeks over the pre-period from sums (n, St, Sy, Stt, Sty).
        metrics[f"_n_{name}"] = y.count(where=pre).cast("float64")
        metrics[f"_st_{name}"] = t.sum(where=pre & y.notnull())
        metrics[f"_sy_{name}"] = y.sum(where=pre)
        metrics[f"_stt_{name}"] = (t * t).sum(where=pre & y.notnull())
        metrics[f"_sty_{name}"] = (t * y).sum(where=pre)
    per = ev.group_by(unit).aggregate(**metrics)
    trends = {}
    for name in names:
        n, st, sy = per[f"_n_{name}"], per[f"_st_{name}"], per[f"_sy_{name}"]
        denom = n * per[f"_stt_{name}"] - st * st
        trends[f"pre_trend_{name}"] = (n * per[f"_sty_{name}"] - st * sy) / denom.nullif(0.0)
    per = per.mutate(
        adopted=per.ai_share_post.fill_null(0.0) > min_ai_share,
        pre_weekly_volume=per.pre_items.cast("float64")
        / per._pre_weeks_distinct.cast("float64").nullif(0.0),
        **trends,
    )
    keep = [c for c in per.columns if not c.startswith("_")]
    people = people.drop(*[c for c in people.columns if c in keep and c != unit])
    return per.select(*keep).inner_join(people, unit).order_by(unit)
