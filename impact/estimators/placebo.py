"""Placebo checks for staggered DiD: a fake rollout date, and fake treated units.

* In time: pretend every team rolled out `shift` periods earlier and look only at data from
  before any real rollout. A clear "effect" there means the comparison is not like-for-like.
* In space: hand the real cohorts to randomly chosen units many times (randomization
  inference). The real estimate should stand out from these placebo estimates; the share of
  placebo estimates at least as large is a p-value that needs no large-sample theory, which
  matters with a handful of teams.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pandas as pd

from impact.errors import EstimationError, ParameterError
from impact.estimators.aggregation import aggregate
from impact.estimators.did import StaggeredDiD
from impact.estimators.panels import Wide, panel_frame, wide
from impact.estimators.staggered import group_time
from impact.result import Effect


def placebo_in_time(panel: Any, estimator: StaggeredDiD, *, shift: int | None = None) -> Effect:
    """The estimator on a fake rollout `shift` periods early, using only pre-rollout periods.

    `shift` defaults to half the number of periods before the first real rollout. The result
    should be a null effect; its `method` ends in ``+placebo_time``.

    Example:
        >>> import impact
        >>> panel = impact.rollout_panel("sample:events", "sample:rollouts")
        >>> placebo_in_time(panel, StaggeredDiD()).method
        'did.callaway_santanna+bootstrap+placebo_time'
    """
    frame = panel_frame(panel, _columns(estimator))
    g = pd.to_numeric(frame[estimator.cohort], errors="coerce")
    g = g.where(g.notna() & (g != 0))
    first_rollout = g.min()
    times = frame[estimator.time].astype("float64")
    before = times < first_rollout - estimator.anticipation
    n_before = int(times[before].nunique())
    shift = shift if shift is not None else n_before // 2
    if shift < 1 or n_before - shift < 1:
        raise EstimationError(
            f"{n_before} period(s) precede the first rollout: too few for a placebo in time "
            f"with shift={shift}"
        )
    fake = frame.loc[before].assign(**{estimator.cohort: g[before] - shift})
    effect = estimator.estimate(fake)
    return effect.with_(
        method=effect.method + "+placebo_time",
        notes=(
            f"placebo in time: rollouts moved {shift} period(s) earlier, data before the first "
            "real rollout only; a clear effect here casts doubt on the real estimate",
            *effect.notes,
        ),
    )


def placebo_in_space(
    panel: Any, estimator: StaggeredDiD, *, n_draws: int = 200, seed: int = 0
) -> Effect:
    """The real estimate with a randomization-inference p-value from reshuffled cohorts.

    Each draw gives the real cohorts (the same number of units per rollout wave) to randomly
    chosen units and re-estimates the simple ATT. The p-value is the share of draws at least as
    far from zero as the real estimate; ``tables["placebo"]`` holds the draws.

    Example:
        >>> import impact
        >>> panel = impact.rollout_panel("sample:events", "sample:rollouts")
        >>> e = placebo_in_space(panel, StaggeredDiD(), n_draws=50)
        >>> len(e.tables["placebo"])
        50
    """
    if n_draws < 20:
        raise ParameterError(f"n_draws must be at least 20, got {n_draws}")
    real = estimator.estimate(panel)
    data = wide(
        panel,
        outcome=estimator.outcome,
        unit=estimator.unit,
        time=estimator.time,
        cohort=estimator.cohort,
        covariates=tuple(estimator.covariates),
        weights=estimator.weights,
        cluster=estimator.cluster,
    )
    rng = np.random.default_rng(seed)
    adjustment = estimator.adjustment if estimator.covariates else "none"
    draws = []
    for _ in range(n_draws):
        shuffled = dataclasses.replace(data, cohort=rng.permutation(data.cohort))
        draws.append(_simple_att(shuffled, estimator, adjustment))
    placebo = np.array(draws)
    valid = placebo[np.isfinite(placebo)]
    p = float((np.sum(np.abs(valid) >= abs(real.estimate)) + 1) / (len(valid) + 1))
    return real.with_(
        method=real.method + "+permutation",
        p_value=p,
        notes=(
            f"placebo in space: the real estimate is compared with {len(valid)} estimates on "
            f"randomly reassigned cohorts; p = {p:.3g} is the share at least as large",
            *real.notes,
        ),
        tables={**real.tables, "placebo": pd.DataFrame({"att": placebo})},
    )


def _simple_att(data: Wide, estimator: StaggeredDiD, adjustment: str) -> float:
    try:
        cells = group_time(
            data,
            control_group=estimator.control_group,
            anticipation=estimator.anticipation,
            adjustment=adjustment,
        )
    except EstimationError:
        return float("nan")
    return aggregate("simple", cells.table, cells.influence, data.cohort, data.weights).overall


def _columns(estimator: StaggeredDiD) -> list[str | None]:
    return [
        estimator.unit,
        estimator.time,
        estimator.cohort,
        estimator.outcome,
        *estimator.covariates,
        estimator.weights,
        estimator.cluster,
    ]
