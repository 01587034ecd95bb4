"""Plots of a DiD Effect's tables: the event study and the counterfactual series.

Each takes an :class:`~impact.result.Effect` from :mod:`impact.estimators.did` (or the
imputation estimator) and returns the matplotlib Axes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from impact.errors import EstimationError

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from impact.result import Effect


def event_study_plot(effect: Effect, ax: Axes | None = None, *, band: bool = True) -> Axes:
    """Effect by period relative to the rollout, with pointwise intervals and (when the effect
    has them) the uniform band; pre-rollout points test parallel trends.

    Example:
        >>> import impact
        >>> ax = impact.event_study_plot(impact.did("sample:events", rollouts="sample:rollouts"))
        >>> ax.get_xlabel()
        'periods since rollout'
    """
    import matplotlib.pyplot as plt

    table = _table(effect, "event_study")
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4))
    e = table["event_time"].to_numpy(float)
    pre = e < 0
    if band and {"band_low", "band_high"} <= set(table.columns):
        ax.fill_between(
            e,
            table["band_low"],
            table["band_high"],
            color="tab:blue",
            alpha=0.12,
            step="mid",
            label="uniform band",
        )
    for mask, colour, label in (
        (pre, "tab:gray", "before rollout"),
        (~pre, "tab:blue", "after rollout"),
    ):
        if mask.any():
            rows = table.loc[mask]
            ax.errorbar(
                e[mask],
                rows["att"],
                yerr=[rows["att"] - rows["ci_low"], rows["ci_high"] - rows["att"]],
                fmt="o",
                color=colour,
                capsize=3,
                label=label,
            )
    ax.axhline(0, color="black", linewidth=0.8)
    ax.axvline(-0.5, color="black", linewidth=0.8, linestyle="--")
    ax.set_xlabel("periods since rollout")
    ax.set_ylabel(f"effect on {effect.outcome}")
    ax.set_title(f"Event study ({effect.method}, {effect.confidence:.0%} intervals)")
    ax.legend(loc="best", fontsize="small")
    ax.figure.tight_layout()
    return ax


def counterfactual_plot(effect: Effect, ax: Axes | None = None) -> Axes:
    """Observed mean outcome of the rolled-out units per period, and what it would have been
    without the AI (the counterfactual) with its interval.

    Example:
        >>> import impact
        >>> e = impact.did("sample:events", rollouts="sample:rollouts")
        >>> len(impact.counterfactual_plot(e).lines)
        2
    """
    import matplotlib.pyplot as plt

    table = _table(effect, "counterfactual")
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4))
    t = table["time"].to_numpy(float)
    ax.fill_between(
        t,
        table["counterfactual_low"],
        table["counterfactual_high"],
        color="tab:orange",
        alpha=0.2,
        label="counterfactual interval",
    )
    ax.plot(t, table["observed"], "o-", color="tab:blue", label="observed (with AI)")
    ax.plot(
        t, table["counterfactual"], "s--", color="tab:orange", label="counterfactual (without AI)"
    )
    ax.set_xlabel("period")
    ax.set_ylabel(f"mean {effect.outcome} of rolled-out units")
    ax.set_title("What would have happened without the AI")
    ax.legend(loc="best", fontsize="small")
    ax.set_xticks(np.unique(t)[:: max(1, len(t) // 12)])
    ax.figure.tight_layout()
    return ax


def _table(effect: Effect, name: str):  # -> pd.DataFrame
    if name not in effect.tables:
        raise EstimationError(
            f"this Effect ({effect.method}) has no {name!r} table; it has {sorted(effect.tables)}"
            ". Use impact.did(...) (Callaway-Sant'Anna) for event studies and counterfactuals."
        )
    return effect.tables[name]
