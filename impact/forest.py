"""The forest plot: effects with their intervals, one row each (`Effect.plot()` draws one).

It sits at the bottom layer beside :mod:`impact.result`, so results can plot themselves
without importing the report layer.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from impact.result import Effect


def forest(
    effects: Sequence[Effect],
    ax: Axes | None = None,
    *,
    relative: bool = True,
    labels: Sequence[str] | None = None,
) -> Axes:
    """One row per effect: the point estimate and its interval, with the no-effect line.

    `relative=True` plots the lift in percent (comparable across metrics); otherwise the
    absolute change in each outcome's own units. `labels` name the rows (default: outcomes).
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 0.6 * len(effects) + 1.4))
    names = []
    for row, effect in enumerate(reversed(effects)):
        if relative:
            point, (low, high) = effect.lift * 100, (x * 100 for x in effect.lift_ci)
        else:
            point, low, high = effect.estimate, effect.ci_low, effect.ci_high
        low = low if math.isfinite(low) else point
        high = high if math.isfinite(high) else point
        colour = "tab:blue" if effect.significant else "tab:gray"
        ax.errorbar(
            point, row, xerr=[[point - low], [high - point]], fmt="o", color=colour, capsize=4
        )
        names.append(effect.outcome)
    if labels is not None:
        names = list(reversed(list(labels)))
    ax.axvline(0, color="black", linewidth=0.8, linestyle="--")
    ax.set_yticks(range(len(names)), names)
    level = f"{effects[0].confidence:.0%}" if effects else ""
    ax.set_xlabel(
        f"relative change vs control (%), {level} CI"
        if relative
        else f"change in outcome units, {level} CI"
    )
    ax.set_ylim(-0.7, len(names) - 0.3)
    ax.figure.tight_layout()
    return ax
