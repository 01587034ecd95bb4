"""Trust checks for an A/B test, each returned as a :class:`~impact.result.Diagnostic`.

They say whether the comparison can be believed, not what it found: were the arms filled as
designed (sample-ratio mismatch), were they alike before the test (pre-period imbalance), are
there enough units, and does one unit drive the result (outlier influence).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from scipy import stats

from impact.estimators.adjustment import linearize
from impact.result import Diagnostic

MIN_UNITS_PER_ARM = 10
SRM_ALPHA = 0.001  # sample-ratio mismatch alarm level, as GrowthBook and Eppo use
IMBALANCE_ALPHA = 0.01  # pre-period imbalance alarm level
MAX_INFLUENCE = 0.5  # one unit carrying over half of its arm's variance is an outlier


def min_units(n_treated: int, n_control: int) -> Diagnostic:
    """Fewest units in an arm; below MIN_UNITS_PER_ARM the normal approximation is shaky."""
    fewest = min(n_treated, n_control)
    return Diagnostic(
        "min_units_per_arm",
        float(fewest),
        passed=fewest >= MIN_UNITS_PER_ARM,
        detail=f"at least {MIN_UNITS_PER_ARM} units per arm for a trustworthy test",
    )


def sample_ratio(
    table: pd.DataFrame,
    unit: str,
    treatment: str,
    control: str,
    expected: float | Mapping[str, float],
) -> Diagnostic:
    """Chi-square test of units per arm against the designed shares.

    `expected` is the treatment share (two arms) or a mapping ``{arm: share}`` for several.
    """
    counts = table.groupby("arm")[unit].nunique()
    if isinstance(expected, Mapping):
        labels = list(expected)
        shares = np.array([expected[a] for a in labels], dtype=np.float64)
        shares = shares / shares.sum()
        design = ", ".join(f"{a} {s:.0%}" for a, s in zip(labels, shares, strict=True))
    else:
        labels, shares = [treatment, control], np.array([expected, 1 - expected])
        design = f"{expected:.0%} treatment"
    observed = np.array([counts.get(a, 0) for a in labels], dtype=np.float64)
    p = float(stats.chisquare(observed, f_exp=shares * observed.sum()).pvalue)
    seen = dict(zip(labels, observed.astype(int).tolist(), strict=True))
    return Diagnostic(
        "sample_ratio_p",
        p,
        passed=p >= SRM_ALPHA,
        detail=f"arms match the designed shares ({design})"
        if p >= SRM_ALPHA
        else f"sample-ratio mismatch: {seen} units vs designed {design}; the assignment or "
        "logging is broken",
    )


def pre_period_imbalance(x_treated: pd.Series, x_control: pd.Series) -> Diagnostic | None:
    """Welch test of the pre-period outcome between arms (None when it cannot be computed)."""
    t, c = x_treated.dropna(), x_control.dropna()
    if min(len(t), len(c)) < 2 or (t.var() == 0 and c.var() == 0):
        return None
    p = float(stats.ttest_ind(t, c, equal_var=False).pvalue)
    return Diagnostic(
        "pre_period_imbalance_p",
        p,
        passed=p >= IMBALANCE_ALPHA,
        detail="arms looked alike before the test"
        if p >= IMBALANCE_ALPHA
        else "the arms already differed before the test: check the randomization; "
        "CUPED corrects for the chance part",
    )


def outlier_influence(*arms: tuple[np.ndarray, np.ndarray]) -> Diagnostic:
    """Largest share of an arm's variance that comes from a single unit.

    Each arm is a per-unit ``(num, den)`` pair; a unit's share is its squared (delta-method)
    deviation over the arm's sum of squares. One extreme agent makes it approach 1, and then
    both the estimate and its interval mostly describe that agent.
    """
    worst = 0.0
    for num, den in arms:
        values = linearize(num, den)[0]
        total = float(np.sum(values**2))
        if len(values) >= 3 and total > 0:
            worst = max(worst, float(np.max(values**2)) / total)
    return Diagnostic(
        "outlier_influence",
        worst,
        passed=worst <= MAX_INFLUENCE,
        detail="no single unit drives the result"
        if worst <= MAX_INFLUENCE
        else f"one unit makes up {worst:.0%} of its arm's variance; consider cap=0.99 and "
        "look at that unit",
    )
