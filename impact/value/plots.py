"""Value plots for finance: cumulative net benefit, cost per outcome, tornado. Each returns Axes.

Every axis label carries its unit.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from impact.value.cost import CostPerOutcome
    from impact.value.montecarlo import Payback
    from impact.value.sensitivity import Sensitivity

_COLOURS = {
    "handling": "tab:blue",
    "compute": "tab:purple",
    "review": "tab:orange",
    "correction": "tab:red",
    "overhead": "tab:gray",
}


def _axes(ax: Axes | None, size: tuple[float, float]) -> Axes:
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, ax = plt.subplots(figsize=size)
    return ax


def cumulative(value: Payback, ax: Axes | None = None) -> Axes:
    """Cumulative net position by month: point line, simulated band, payback month marked."""
    ax = _axes(ax, (8, 4.5))
    band = value.band
    level = f"{value.npv.confidence:.0%}"
    thousands = 1_000.0
    ax.fill_between(
        band.month,
        band.low_usd / thousands,
        band.high_usd / thousands,
        color="tab:blue",
        alpha=0.2,
        label=f"{level} band of simulated futures",
    )
    ax.plot(band.month, band.point_usd / thousands, color="tab:blue", label="point assumptions")
    ax.axhline(0, color="black", linewidth=0.8)
    month = value.payback_months.point
    if math.isfinite(month):
        ax.axvline(
            month,
            color="tab:green",
            linestyle="--",
            label=f"payback: month {month:.0f} ({value.break_even_month()})",
        )
    else:
        ax.text(
            0.02,
            0.95,
            f"no payback within {value.horizon} months",
            color="tab:red",
            transform=ax.transAxes,
            va="top",
        )
    ax.set_xlabel("months since go-live (month 0 = build)")
    ax.set_ylabel("cumulative net benefit (thousand USD)")
    ax.set_title(f"P(payback <= 12 months) = {value.probability(12):.2f}")
    ax.legend(loc="lower right")
    ax.figure.tight_layout()
    return ax


def cost_stack(cost: CostPerOutcome, ax: Axes | None = None) -> Axes:
    """Cost per outcome with vs without the AI, stacked by component, with its interval."""
    from impact.value.cost import COMPONENTS

    ax = _axes(ax, (7, 4.5))
    parts = cost.components()
    bottom = np.zeros(len(parts))
    labels = [s.replace(" (counterfactual)", "\n(counterfactual)") for s in parts.index]
    for component in COMPONENTS:
        heights = parts[f"{component}_usd"].to_numpy()
        ax.bar(labels, heights, bottom=bottom, color=_COLOURS[component], label=component)
        bottom += heights
    ranges = [cost.with_ai, cost.without_ai]
    for i, v in enumerate(ranges[: len(parts)]):
        ax.errorbar(
            i, v.point, yerr=[[v.point - v.low], [v.high - v.point]], color="black", capsize=5
        )
    ax.set_ylabel(f"cost per {cost.outcome} outcome (USD)")
    ax.set_title("cost per outcome by component")
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.figure.tight_layout()
    return ax


def tornado(sens: Sensitivity, ax: Axes | None = None, *, top: int = 10) -> Axes:
    """NPV when each input moves to its low and high end, largest swing on top."""
    rows = sens.table.head(top).iloc[::-1]
    ax = _axes(ax, (8, 0.45 * len(rows) + 1.5))
    base = sens.base_npv_usd / 1_000
    y = np.arange(len(rows))
    low = rows.npv_low_usd.to_numpy() / 1_000
    high = rows.npv_high_usd.to_numpy() / 1_000
    ax.barh(y, low - base, left=base, color="tab:red", label="input at its low end")
    ax.barh(y, high - base, left=base, color="tab:blue", label="input at its high end")
    ax.axvline(base, color="black", linewidth=0.8)
    ax.axvline(0, color="gray", linestyle=":", linewidth=0.8)
    ax.set_yticks(y, [f"{n} [{u}]" for n, u in zip(rows["name"], rows["unit"], strict=True)])
    ax.set_xlabel("NPV (thousand USD)")
    ax.set_title("sensitivity of NPV to each assumption (others at point values)")
    ax.legend(loc="lower right")
    ax.figure.tight_layout()
    return ax
