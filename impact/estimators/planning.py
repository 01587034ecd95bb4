"""Plan a pilot from pre-period data: power, sample size and minimum detectable effect.

The per-unit variance of the metric is measured on events from before the pilot (same metric
kind, same unit, over a window as long as the planned test), then the normal-approximation power
of the two-sample test gives whichever of (units, effect, power) is not fixed. The formula is the
one `statsmodels.stats.power.NormalIndPower` solves, both tails included.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import ibis
import numpy as np
import pandas as pd
from scipy import optimize, stats

from impact.engine import as_table
from impact.errors import EstimationError, ParameterError
from impact.estimators import _inference, sequential
from impact.estimators.adjustment import linearize
from impact.estimators.metrics import Metric, MetricKind, check_denominators, unit_table
from impact.estimators.metrics import resolve as resolve_metric
from impact.estimators.metrics import usable as has_value
from impact.result import Alternative


@dataclass(frozen=True, slots=True)
class Plan:
    """A pilot design: with `n_units` units, `treatment_share` treated, the test at level
    `alpha` detects an effect of `mde` (relative: `mde_relative`) with probability `power`."""

    metric: str
    baseline: float
    sd: float  # per-unit standard deviation (delta-method linearized for ratios)
    n_units: int
    treatment_share: float
    alpha: float
    power: float
    mde: float
    mde_relative: float
    alternative: Alternative
    variance_reduction: float
    mixture_sd: float  # prior SD tuned to this design, for inference="sequential"

    def to_frame(self) -> pd.DataFrame:
        """One row with every field."""
        return pd.DataFrame([asdict(self)])

    def _repr_html_(self) -> str:
        return self.to_frame().to_html(index=False, float_format="%.4g")


def power(
    effect: float,
    sd: float,
    n_treated: float,
    n_control: float,
    *,
    alpha: float,
    alternative: Alternative = "two-sided",
) -> float:
    """Probability that the normal test at level `alpha` detects a true `effect`.

    Example:
        >>> round(power(1.0, 2.0, 64, 64, alpha=0.05), 3)
        0.807
    """
    se = sd * math.sqrt(1 / n_treated + 1 / n_control)
    z = effect / se
    if alternative == "two-sided":
        crit = stats.norm.isf(alpha / 2)
        return float(stats.norm.sf(crit - z) + stats.norm.cdf(-crit - z))
    crit = stats.norm.isf(alpha)
    return float(stats.norm.sf(crit - z) if alternative == "greater" else stats.norm.cdf(-crit - z))


def plan_ab(
    events: Any,
    outcome: str | Metric,
    *,
    unit: str = "agent_id",
    metric: MetricKind = "mean",
    denominator: str | None = None,
    treatment_share: float = 0.5,
    n_units: int | None = None,
    mde: float | None = None,
    relative: bool = False,
    target_power: float = 0.8,
    alpha: float = 0.05,
    alternative: Alternative = "two-sided",
    variance_reduction: float = 0.0,
) -> Plan:
    """Size a pilot on pre-period `events`.

    Give `mde` (absolute, or relative to the baseline with ``relative=True``) to get the units
    needed for `target_power`; otherwise get the minimum detectable effect with `n_units` units
    (default: as many units as the pre-period data has). `variance_reduction` (e.g. the value of
    a previous CUPED run's diagnostic) shrinks the variance accordingly.

    Example:
        >>> import impact
        >>> pre = impact.between(impact.as_table("sample:events"), "started_at",
        ...                      start="2026-03-02", end="2026-04-26")
        >>> p = plan_ab(pre, "handle_time_minutes", treatment_share=0.2)
        >>> 0 < p.mde_relative < 0.5, p.n_units
        (True, 200)
    """
    _inference.check_alternative(alternative)
    if not 0 < treatment_share < 1:
        raise ParameterError(f"treatment_share must lie in (0, 1), got {treatment_share!r}")
    if not 0 <= variance_reduction < 1:
        raise ParameterError(f"variance_reduction must lie in [0, 1), got {variance_reduction!r}")
    for name, value in (("alpha", alpha), ("target_power", target_power)):
        if not 0 < value < 1:
            raise ParameterError(f"{name} must lie in (0, 1), got {value!r}")
    chosen = resolve_metric(outcome, metric, denominator)
    table = as_table(events)
    table = table.mutate(_impact_all=ibis.literal("all"))
    units, _ = unit_table(table, [chosen], unit=unit, arm="_impact_all")
    check_denominators(units, chosen, 0, unit)
    usable = units.loc[has_value(units, 0)]
    if len(usable) < 2:
        raise EstimationError(
            f"the pre-period has {len(usable)} unit(s) with {chosen.column}; "
            "planning needs at least 2"
        )
    values, baseline = linearize(
        usable["0.num"].to_numpy(np.float64), usable["0.den"].to_numpy(np.float64)
    )
    sd = float(np.std(values, ddof=1)) * math.sqrt(1 - variance_reduction)
    if not sd > 0:
        raise EstimationError(f"{chosen.column} does not vary between units; nothing to plan")
    share = treatment_share

    def power_at(effect: float, n: float) -> float:
        return power(effect, sd, n * share, n * (1 - share), alpha=alpha, alternative=alternative)

    sign = -1.0 if alternative == "less" else 1.0
    if mde is not None:
        effect = mde * baseline if relative else mde
        if effect == 0 or (sign * effect < 0 and alternative != "two-sided"):
            raise ParameterError(f"mde {mde!r} cannot be detected by a {alternative} test")
        n = optimize.brentq(lambda n: power_at(effect, n) - target_power, 4.0, 1e9, xtol=1e-9)
        n_total = math.ceil(n)
    else:
        n_total = int(n_units if n_units is not None else len(usable))
        if n_total < 4:
            raise ParameterError(f"n_units must be at least 4, got {n_total}")
        upper = 40 * sd * math.sqrt(1 / (n_total * share) + 1 / (n_total * (1 - share)))
        effect = sign * optimize.brentq(
            lambda e: power_at(sign * e, n_total) - target_power,
            1e-12 * upper,
            upper,
            xtol=1e-12 * upper,
        )
    se = sd * math.sqrt(1 / (n_total * share) + 1 / (n_total * (1 - share)))
    return Plan(
        metric=chosen.label,
        baseline=baseline,
        sd=sd,
        n_units=n_total,
        treatment_share=share,
        alpha=alpha,
        power=power_at(effect, n_total),
        mde=float(effect),
        mde_relative=float(effect / baseline) if baseline else math.nan,
        alternative=alternative,
        variance_reduction=variance_reduction,
        mixture_sd=math.sqrt(sequential.tuned_mixture_var(se**2, alpha)),
    )
