"""Covariate balance: are matched (or weighted) adopters and non-adopters alike before adoption?

The standardized mean difference (SMD) divides the difference in means by a fixed scale taken
from the *unmatched* sample (the treated SD for the ATT, the pooled SD for the ATE), as MatchIt
does, so before and after are comparable and matching cannot improve the SMD by shrinking the
denominator. |SMD| < 0.1 on every covariate is the usual bar; variance ratios near 1 (0.5-2)
say the spread matches too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from matplotlib.axes import Axes

SMD_THRESHOLD = 0.1


def _weighted_moments(x: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    total = w.sum()
    mean = (w[:, None] * x).sum(axis=0) / total
    # Reliability-weighted variance, (sum w)^2 / ((sum w)^2 - sum w^2) correction, as cobalt.
    denom = total - (w * w).sum() / total
    var = (w[:, None] * (x - mean) ** 2).sum(axis=0) / denom if denom > 0 else mean * np.nan
    return mean, var


def balance_table(
    x: np.ndarray,
    names: tuple[str, ...] | list[str],
    treated: np.ndarray,
    weights: np.ndarray,
    *,
    estimand: str = "ATT",
) -> pd.DataFrame:
    """Means, SMDs and variance ratios of each covariate before and after matching/weighting.

    `weights` are the matching or weighting weights (0 for dropped units); "before" uses equal
    weights on every unit.

    Example:
        >>> x = np.array([[1.0], [2.0], [3.0], [1.0], [2.0], [9.0]])
        >>> t = np.array([True, True, True, False, False, False])
        >>> table = balance_table(x, ["age"], t, np.array([1, 1, 1, 1, 1, 0.0]))
        >>> table[["covariate", "smd_before", "smd_after"]].round(3).to_dict("records")
        [{'covariate': 'age', 'smd_before': -2.0, 'smd_after': 0.5}]
    """
    x = np.asarray(x, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    ones = np.ones(len(x))
    mt0, vt0 = _weighted_moments(x[treated], ones[treated])
    mc0, vc0 = _weighted_moments(x[~treated], ones[~treated])
    mt1, vt1 = _weighted_moments(x[treated], w[treated])
    mc1, vc1 = _weighted_moments(x[~treated], w[~treated])
    scale = np.sqrt(vt0) if estimand == "ATT" else np.sqrt((vt0 + vc0) / 2)
    scale = np.where(scale > 0, scale, np.sqrt((vt0 + vc0) / 2))
    with np.errstate(divide="ignore", invalid="ignore"):
        return pd.DataFrame(
            {
                "covariate": list(names),
                "mean_treated_before": mt0,
                "mean_control_before": mc0,
                "smd_before": (mt0 - mc0) / scale,
                "var_ratio_before": vt0 / vc0,
                "mean_treated_after": mt1,
                "mean_control_after": mc1,
                "smd_after": (mt1 - mc1) / scale,
                "var_ratio_after": vt1 / vc1,
            }
        )


def love_plot(balance: Any, ax: Axes | None = None) -> Axes:
    """|SMD| per covariate before (hollow) and after (filled), with the 0.1 bar.

    `balance` is a matching or weighting `Effect` or its ``tables["balance"]``.

    Example:
        >>> import impact
        >>> units = impact.adopter_units("sample:events", "sample:agents", "sample:rollouts",
        ...                              outcomes="handle_time_minutes").execute()
        >>> m = impact.matched_cohort(units, "post_handle_time_minutes",
        ...                           covariates=["tenure_months", "pre_handle_time_minutes"])
        >>> impact.love_plot(m).get_xlabel()
        'absolute standardized mean difference'
        >>> impact.overlap_plot(m).get_xlabel()
        'propensity score'
    """
    import matplotlib.pyplot as plt

    table = balance.tables["balance"] if hasattr(balance, "tables") else balance
    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 0.35 * len(table) + 1.5))
    order = table.assign(_abs=table.smd_before.abs()).sort_values("_abs")
    rows = np.arange(len(order))
    ax.scatter(
        order.smd_before.abs(), rows, facecolors="none", edgecolors="tab:gray", label="before"
    )
    ax.scatter(order.smd_after.abs(), rows, color="tab:blue", label="after")
    ax.axvline(SMD_THRESHOLD, color="tab:red", linestyle="--", linewidth=0.8)
    ax.set_yticks(rows, order.covariate)
    ax.set_xlabel("absolute standardized mean difference")
    ax.legend(loc="lower right")
    ax.figure.tight_layout()
    return ax


def overlap_plot(
    scores: Any, treated: np.ndarray | None = None, ax: Axes | None = None, *, bins: int = 30
) -> Axes:
    """Histograms of the propensity score for adopters (up) and non-adopters (down).

    Pass a matching or weighting `Effect` (its ``tables["units"]`` has the scores), or the
    scores and the treated flags as arrays.

    Example:
        >>> import numpy as np
        >>> overlap_plot(np.array([0.2, 0.4, 0.5, 0.7]), np.array([False, False, True, True]),
        ...              bins=4).get_xlabel()
        'propensity score'
    """
    import matplotlib.pyplot as plt

    if hasattr(scores, "tables"):
        units = scores.tables["units"]
        scores, treated = units.score.to_numpy(), units.treated.to_numpy(dtype=bool)
    scores = np.asarray(scores, dtype=np.float64)
    treated = np.asarray(treated, dtype=bool)
    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 3.5))
    edges = np.linspace(0.0, 1.0, bins + 1)
    up, _ = np.histogram(scores[treated], edges, density=True)
    down, _ = np.histogram(scores[~treated], edges, density=True)
    width = edges[1] - edges[0]
    ax.bar(edges[:-1], up, width=width, align="edge", color="tab:blue", label="adopters")
    ax.bar(edges[:-1], -down, width=width, align="edge", color="tab:gray", label="non-adopters")
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_xlabel("propensity score")
    ax.set_ylabel("density (non-adopters below)")
    ax.legend(loc="upper left")
    ax.figure.tight_layout()
    return ax
