"""The effect per unit of AI use: put designs that reach different shares of work on one scale.

A randomized pilot measures the effect of *offering* the AI (treated agents use it on ~85% of
their tickets), a team rollout the effect on whole teams (only adopters use it), a matched
cohort the effect on adopters (who use it on ~90% of theirs). Divided by how much each design
moved the share of work done with the AI (its "first stage", estimated by the same design on the
AI-use column), all three estimate the same thing: the effect of using the AI on a ticket. This
is the Wald (instrumental-variable) ratio; for the A/B pilot it equals the CACE.
"""

from __future__ import annotations

import math

from scipy import optimize, stats

from impact.errors import EstimationError
from impact.estimators._inference import check_confidence
from impact.result import Diagnostic, Effect

#: Below this change in the AI-use share, the ratio divides by almost nothing and is unstable.
MIN_FIRST_STAGE = 0.05


def per_use(effect: Effect, uptake: Effect) -> Effect:
    """`effect` divided by `uptake`, the same design's effect on the share of AI-assisted work.

    The ratio's standard error is the delta method treating the two estimates as independent:
    ``se = sqrt(se_effect**2 + ratio**2 * se_uptake**2) / |uptake|``. The first stage is
    usually measured very precisely (every ticket records whether the AI was used), so the
    second term and the ignored covariance are small; the ratio's interval uses the same
    critical value as `effect`'s (e.g. a t distribution for few clusters). The relative lift is
    ``lift / uptake``, its interval by the same delta method from `effect`'s lift interval, so
    the baseline's own uncertainty is carried over.

    Example:
        >>> e = Effect(outcome="handle_time_minutes", method="did.cs", estimand="ATT",
        ...            estimate=-0.7, std_error=0.3, ci_low=-1.29, ci_high=-0.11,
        ...            p_value=0.02, baseline=14.7, lift=-0.048, lift_ci=(-0.088, -0.008),
        ...            n_treated=9, n_control=5)
        >>> d = Effect(outcome="ai_used", method="did.cs", estimand="ATT", estimate=0.5,
        ...            std_error=0.05, ci_low=0.4, ci_high=0.6, p_value=1e-9, baseline=0.0,
        ...            lift=float("nan"), lift_ci=(float("nan"), float("nan")),
        ...            n_treated=9, n_control=5)
        >>> u = per_use(e, d)
        >>> round(u.estimate, 3), round(u.lift, 3), u.estimand
        (-1.4, -0.096, 'ATT per use')
    """
    share = uptake.estimate
    if not (math.isfinite(share) and abs(share) >= MIN_FIRST_STAGE):
        raise EstimationError(
            f"{uptake.method}: the design changed the share of work done with the AI by only "
            f"{share:+.3f} ({uptake.outcome}); the per-use effect would divide by ~0. Report "
            "the effect as it is instead."
        )
    check_confidence(effect.confidence)
    crit = _critical_value(effect)
    ratio = effect.estimate / share
    se = math.hypot(effect.std_error, ratio * uptake.std_error) / abs(share)
    if not (math.isfinite(se) and se > 0):
        raise EstimationError(f"{effect.method}: no finite standard error for the per-use ratio")
    lift, lift_ci = _lift(effect, uptake, crit)
    first = Diagnostic(
        "first_stage",
        share,
        passed=uptake.significant and abs(share) >= MIN_FIRST_STAGE,
        detail=(
            f"the design changed the share of work done with the AI by {share:+.3f} "
            f"(SE {uptake.std_error:.3g})"
        ),
    )
    return effect.with_(
        method=f"{effect.method}/per_use",
        estimand=f"{effect.estimand} per use",
        estimate=ratio,
        std_error=se,
        ci_low=ratio - crit * se,
        ci_high=ratio + crit * se,
        p_value=_p_value(ratio / se, effect, crit),
        lift=lift,
        lift_ci=lift_ci,
        diagnostics=(*effect.diagnostics, first),
        notes=(
            *effect.notes,
            f"per AI use: the effect divided by the change in {uptake.outcome} ({share:.3f}); "
            "the standard error is the delta method treating the two as independent",
        ),
        tables={},
    )


def _critical_value(effect: Effect) -> float:
    """The critical value behind `effect`'s interval (normal, or t with few clusters)."""
    width = effect.ci_high - effect.ci_low
    if math.isfinite(width) and effect.std_error > 0:
        return width / (2 * effect.std_error)
    return float(stats.norm.ppf(0.5 + effect.confidence / 2))


def _p_value(z: float, effect: Effect, crit: float) -> float:
    """Two-sided p-value on the distribution `effect`'s interval used (t when crit > z)."""
    normal = float(stats.norm.ppf(0.5 + effect.confidence / 2))
    if crit <= normal * (1 + 1e-9):
        return float(2 * stats.norm.sf(abs(z)))
    # The t distribution whose quantile is `crit`: recover its degrees of freedom.
    target = 0.5 + effect.confidence / 2
    df = optimize.brentq(lambda v: stats.t.ppf(target, v) - crit, 0.5, 1e7)
    return float(2 * stats.t.sf(abs(z), df))


def _lift(effect: Effect, uptake: Effect, crit: float) -> tuple[float, tuple[float, float]]:
    low, high = effect.lift_ci
    if not all(math.isfinite(x) for x in (effect.lift, low, high)):
        return math.nan, (math.nan, math.nan)
    share = uptake.estimate
    lift = effect.lift / share
    lift_se = (high - low) / (2 * crit)
    se = math.hypot(lift_se, lift * uptake.std_error) / abs(share)
    return lift, (lift - crit * se, lift + crit * se)


__all__ = ["MIN_FIRST_STAGE", "per_use"]
