"""Plots a person would rather look at than read. Each returns the matplotlib Axes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from impact.forest import forest

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from impact.result import Effect
    from impact.value.montecarlo import Payback


def payback_distribution(value: Payback, months: int = 12, ax: Axes | None = None) -> Axes:
    """Share of simulated futures that have paid back by each month, with P(payback <= months).

    Example:
        >>> from impact.result import Effect
        >>> import impact
        >>> e = Effect(outcome="handle_time_minutes", method="ab.welch", estimand="ATE",
        ...            estimate=-2.2, std_error=0.4, ci_low=-3.0, ci_high=-1.4, p_value=1e-6,
        ...            baseline=12.0, lift=-0.18, lift_ci=(-0.24, -0.12), n_treated=40,
        ...            n_control=160)
        >>> reg = impact.value.Register.from_yaml("assumptions/ai_assist.yaml")
        >>> ax = payback_distribution(impact.value.payback(e, costs=reg, draws=1_000))
        >>> ax.get_ylabel()
        'simulated futures paid back (%)'
    """
    import matplotlib.pyplot as plt
    import numpy as np

    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4))
    horizon = value.horizon
    month = value.draws["payback_month"].to_numpy()
    grid = np.arange(0, horizon + 1)
    share = np.array([(month <= m).mean() * 100 for m in grid])
    ax.step(grid, share, where="post", color="tab:blue", label="paid back by this month")
    p = value.probability(months) * 100
    ax.axvline(months, color="tab:green", linestyle="--")
    ax.plot([months], [p], "o", color="tab:green", label=f"within {months} months: {p:.0f}%")
    never = value.p_never * 100
    ax.axhspan(
        100 - never,
        100,
        color="tab:red",
        alpha=0.12,
        label=f"never within {horizon} months: {never:.0f}%",
    )
    ax.set_xlim(0, horizon)
    ax.set_ylim(0, 100)
    ax.set_xlabel("months after go-live")
    ax.set_ylabel("simulated futures paid back (%)")
    ax.set_title(f"When does it pay back? P(payback <= {months} months) = {p:.0f}%")
    ax.legend(loc="lower right", fontsize="small")
    ax.figure.tight_layout()
    return ax


def counterfactual(effect: Effect, ax: Axes | None = None) -> Axes:
    """The DiD counterfactual plot with a reader's labels: mean outcome per week, with and
    without the AI, for the teams that rolled it out."""
    from impact.estimators.did_plots import counterfactual_plot
    from impact.reports.summary import label

    ax = counterfactual_plot(effect, ax=ax)
    ax.set_xlabel("week of the data (1 = first week)")
    ax.set_ylabel(f"mean {label(effect.outcome)}\nper team and week")
    ax.set_title("Rolled-out teams: observed with the AI vs. estimated without it")
    ax.figure.tight_layout()
    return ax


__all__ = ["counterfactual", "forest", "payback_distribution"]
