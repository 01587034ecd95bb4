"""The effect as the test went on: one cumulative estimate per period, and its plot.

The events are reduced per unit x period in one engine scan; each look accumulates the periods
up to it (in Python, on that small table) and reruns the same comparison. With
``inference="sequential"`` and a fixed `mixture_sd`, every interval in the table is valid
however often it was looked at.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from impact.engine import as_table
from impact.errors import EstimationError
from impact.estimators.ab import ABTest
from impact.estimators.metrics import Metric, pair, usable

if TYPE_CHECKING:
    from matplotlib.axes import Axes


def ab_over_time(
    events: Any,
    outcome: str | Metric,
    *,
    period: Literal["day", "week", "month"] = "week",
    **options: Any,
) -> pd.DataFrame:
    """Cumulative effect at the end of each `period`: one row per look.

    Columns: ``period`` (the look's period start), ``estimate, ci_low, ci_high, p_value, lift,
    lift_ci_low, lift_ci_high, n_treated, n_control, method``. Options are :class:`ABTest`'s.

    Example:
        >>> import impact
        >>> pilot = impact.with_assignments(impact.as_table("sample:events"),
        ...                                 "sample:assignments")
        >>> looks = ab_over_time(pilot, "handle_time_minutes", inference="sequential",
        ...                      mixture_sd=2.0)
        >>> len(looks), bool((looks.ci_low <= looks.estimate).all())
        (18, True)
    """
    test = ABTest(outcome, **options)
    test.check()
    table = as_table(events)
    metric = test.resolved
    per_period, _ = test.unit_table(table, [metric], period=period)
    static = None
    if test.pre_period is not None or test.covariates:
        static, _ = test.unit_table(table, [metric])
    treatment = test.treatment_label(per_period)
    per_period = per_period.sort_values("period")
    keys = [test.unit, "arm"]
    rows = []
    periods = sorted(per_period["period"].unique())
    sums = ["0.total", "0.count", "n_events"] + (["0.dtotal"] if "0.dtotal" in per_period else [])
    for look in periods:
        upto = per_period.loc[per_period["period"] <= look]
        cum = upto.groupby(keys, as_index=False)[sums].sum()
        total, count = cum["0.total"].to_numpy(np.float64), cum["0.count"].to_numpy(np.float64)
        dsum = cum.get("0.dtotal")
        cum["0.num"], cum["0.den"] = pair(metric, total, count, dsum)
        if static is not None:
            extra = [c for c in static.columns if c.startswith(("0.x", "cov."))]
            cum = cum.merge(static[keys + extra], on=keys, how="left")
        facts = {"missing": {0: 0}, "caps": {}, "capped": {}}
        counts = cum.loc[usable(cum, 0)].groupby("arm").size()
        if counts.get(treatment, 0) < 2 or counts.get(test.control, 0) < 2:
            continue
        try:
            effect = test.from_units(cum, facts, 0, treatment)
        except EstimationError:
            continue  # too little data at this look (e.g. zero variance on day one)
        rows.append(
            {
                "period": look,
                "estimate": effect.estimate,
                "ci_low": effect.ci_low,
                "ci_high": effect.ci_high,
                "p_value": effect.p_value,
                "lift": effect.lift,
                "lift_ci_low": effect.lift_ci[0],
                "lift_ci_high": effect.lift_ci[1],
                "n_treated": effect.n_treated,
                "n_control": effect.n_control,
                "method": effect.method,
            }
        )
    return pd.DataFrame(rows)


def plot_over_time(looks: pd.DataFrame, ax: Axes | None = None, *, relative: bool = True) -> Axes:
    """The cumulative estimate and its interval at each look, with the no-effect line.

    Example:
        >>> import impact
        >>> pilot = impact.with_assignments("sample:events", "sample:assignments")
        >>> looks = impact.ab_over_time(pilot, "handle_time_minutes")
        >>> impact.plot_over_time(looks).get_ylabel()
        'lift (%)'
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3.5))
    scale = 100.0 if relative else 1.0
    point = looks["lift" if relative else "estimate"] * scale
    low = looks["lift_ci_low" if relative else "ci_low"] * scale
    high = looks["lift_ci_high" if relative else "ci_high"] * scale
    x = pd.to_datetime(looks["period"])
    ax.fill_between(x, low.clip(lower=point.min() - 10 * scale), high, alpha=0.25, label="interval")
    ax.plot(x, point, marker="o", label="cumulative estimate")
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_ylabel("lift (%)" if relative else "effect")
    ax.set_xlabel("look (period start)")
    ax.legend(loc="best")
    return ax
