"""Shared inference maths: intervals, p-values, the delta-method lift.

Everything here works on small summaries (means, variances, counts), never on event rows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

from impact.errors import EstimationError
from impact.result import Alternative


@dataclass(frozen=True, slots=True)
class ArmStats:
    """Sufficient statistics of one arm's unit-level values."""

    n: int
    mean: float
    var: float  # sample variance (ddof=1)

    @classmethod
    def from_sums(cls, n: int, total: float, total_sq: float) -> ArmStats:
        """From a count, a sum and a sum of squares, as the engine returns them.

        The variance is computed with a shift-free formula that is exact enough for unit-level
        means; callers needing more should centre first.
        """
        if n < 1:
            raise EstimationError("an arm has no units")
        mean = total / n
        var = (total_sq - n * mean * mean) / (n - 1) if n > 1 else math.nan
        return cls(n=int(n), mean=float(mean), var=max(float(var), 0.0) if n > 1 else math.nan)


def check_confidence(confidence: float) -> float:
    """Return `confidence` if it lies strictly between 0 and 1, else raise ValueError."""
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie strictly between 0 and 1, got {confidence!r}")
    return float(confidence)


def check_alternative(alternative: str) -> Alternative:
    if alternative not in ("two-sided", "greater", "less"):
        raise ValueError(
            f"alternative must be 'two-sided', 'greater' or 'less', got {alternative!r}"
        )
    return alternative  # type: ignore[return-value]


def interval(
    estimate: float,
    std_error: float,
    *,
    confidence: float,
    alternative: Alternative = "two-sided",
    df: float | None = None,
    null: float = 0.0,
) -> tuple[float, float, float]:
    """Confidence bounds and p-value for a (t or normal) test of ``estimate == null``.

    `df=None` uses the normal distribution. One-sided alternatives give one-sided intervals
    (an infinite bound on the other side), matching scipy's `ttest_ind`.
    """
    dist = stats.norm if df is None else stats.t(df)
    if not std_error > 0:
        raise EstimationError(
            "the standard error is zero: the outcome has no variation within arms, so no "
            "interval can be formed. Check the outcome column."
        )
    stat = (estimate - null) / std_error
    alpha = 1 - confidence
    if alternative == "two-sided":
        q = dist.ppf(1 - alpha / 2)
        p = 2 * dist.sf(abs(stat))
        return estimate - q * std_error, estimate + q * std_error, float(min(p, 1.0))
    q = dist.ppf(1 - alpha)
    if alternative == "greater":
        return estimate - q * std_error, math.inf, float(dist.sf(stat))
    return -math.inf, estimate + q * std_error, float(dist.cdf(stat))


def welch(treated: ArmStats, control: ArmStats) -> tuple[float, float, float]:
    """Difference in means, its standard error and the Welch-Satterthwaite degrees of freedom."""
    for label, arm in (("treated", treated), ("control", control)):
        if arm.n < 2:
            raise EstimationError(
                f"the {label} arm has {arm.n} unit(s); Welch's test needs at least 2 per arm"
            )
    vt, vc = treated.var / treated.n, control.var / control.n
    se = math.sqrt(vt + vc)
    if not se > 0:
        raise EstimationError(
            "the outcome has zero variance in both arms (every unit has the same value); "
            "no test is possible. Check the outcome column."
        )
    df = (vt + vc) ** 2 / (vt**2 / (treated.n - 1) + vc**2 / (control.n - 1))
    return treated.mean - control.mean, se, df


def ratio_lift(
    mean_t: float, var_mean_t: float, mean_c: float, var_mean_c: float, cov: float = 0.0
) -> tuple[float, float]:
    """Relative lift ``mean_t / mean_c - 1`` and its delta-method standard error.

    `var_mean_*` are the sampling variances of the two means (not of the values);
    `cov` their covariance (zero for independent arms).
    """
    if mean_c == 0:
        return math.nan, math.nan
    lift = mean_t / mean_c - 1
    grad_t, grad_c = 1 / mean_c, -mean_t / mean_c**2
    var = grad_t**2 * var_mean_t + grad_c**2 * var_mean_c + 2 * grad_t * grad_c * cov
    return lift, math.sqrt(max(var, 0.0))


def no_baseline(baseline: float, *scale: float) -> bool:
    """True when `baseline` is zero up to rounding, next to the magnitudes in `scale`.

    A counterfactual mean computed as observed minus effect is 1e-17, not 0, for an outcome
    that is zero without the AI (the share of AI-assisted items); a lift relative to it is
    meaningless, so estimators report it as NaN rather than as -8.7e15.

    Example:
        >>> no_baseline(1e-17, 0.6, 0.6), no_baseline(0.1, 0.6)
        (True, False)
    """
    size = max((abs(x) for x in scale if math.isfinite(x)), default=0.0)
    return not math.isfinite(baseline) or abs(baseline) <= 1e-9 * max(size, abs(baseline))


def lift_influence(
    effect: float, observed: float, effect_inf: np.ndarray, observed_inf: np.ndarray
) -> tuple[float, np.ndarray]:
    """The lift ``effect / (observed - effect)`` of the treated over their counterfactual
    mean, and its influence function by the delta method.

    `effect_inf` and `observed_inf` are the influence functions (per unit or per cluster) of
    the effect and of the treated's observed mean; the counterfactual baseline is their
    difference, so its uncertainty enters the lift's. NaN (zero influence) when the baseline
    is zero up to rounding (:func:`no_baseline`).

    Example:
        >>> lift, inf = lift_influence(-2.0, 8.0, np.array([0.1, -0.1]), np.array([0.0, 0.0]))
        >>> round(lift, 3), np.round(inf, 4).tolist()
        (-0.2, [0.008, -0.008])
    """
    baseline = observed - effect
    if no_baseline(baseline, effect, observed):
        return math.nan, np.zeros_like(effect_inf)
    grad_effect, grad_observed = observed / baseline**2, -effect / baseline**2
    return float(effect / baseline), grad_effect * effect_inf + grad_observed * observed_inf


def lift_interval(
    lift: float, lift_se: float, *, confidence: float, alternative: Alternative = "two-sided"
) -> tuple[float, float]:
    """Normal interval for a relative lift (nan when the baseline is zero)."""
    if not (math.isfinite(lift) and math.isfinite(lift_se)) or lift_se == 0:
        return (math.nan, math.nan) if not math.isfinite(lift) else (lift, lift)
    low, high, _ = interval(lift, lift_se, confidence=confidence, alternative=alternative)
    return low, high


def as_float_array(values: object) -> np.ndarray:
    """Values as float64, so small integer dtypes never overflow when squared or summed."""
    return np.asarray(values, dtype=np.float64)
