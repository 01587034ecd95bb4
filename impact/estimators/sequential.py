"""Always-valid inference: a normal-mixture confidence sequence (Robbins; Howard et al. 2021).

A fixed-horizon test is valid only if you look once. Looking every week and stopping at the first
"significant" week inflates the false-positive rate well past alpha. The mixture sequential
probability ratio test (mSPRT, Johari et al. 2017) stays valid however often you look: mix the
likelihood ratio of ``N(theta, V)`` over a normal prior ``N(0, tau^2)`` on the effect; the mixture
is a martingale under the null, so by Ville's inequality it exceeds ``1 / alpha`` with probability
at most alpha *ever*. Inverting it gives a confidence sequence:

    |estimate - theta| <= sqrt(V (V + tau^2) / tau^2 * (2 log(1/alpha) + log((V + tau^2) / V)))

the asymptotic form GrowthBook uses (its tuning parameter ``N*`` corresponds to
``tau^2 = V* (-2 log alpha + log(1 - 2 log alpha))`` with ``V*`` the variance at ``N*``).
"""

from __future__ import annotations

import math

from impact.errors import EstimationError, ParameterError
from impact.result import Alternative


def tuned_mixture_var(variance_at_horizon: float, alpha: float) -> float:
    """The mixture variance ``tau^2`` that makes the sequence tightest at `variance_at_horizon`.

    Example:
        >>> round(tuned_mixture_var(1.0, 0.05), 3)
        7.936
    """
    return variance_at_horizon * (-2 * math.log(alpha) + math.log(1 - 2 * math.log(alpha)))


def confidence_sequence(
    estimate: float,
    std_error: float,
    *,
    confidence: float,
    mixture_var: float,
    alternative: Alternative = "two-sided",
    null: float = 0.0,
) -> tuple[float, float, float]:
    """Bounds valid at every look and the always-valid p-value (``min(1, 1 / mixture LR)``).

    One-sided alternatives keep the two-sided boundary on their side (conservative) and report
    p = 1 when the estimate points the other way.

    Example:
        >>> low, high, p = confidence_sequence(2.0, 0.5, confidence=0.95, mixture_var=1.0)
        >>> round(low, 3), round(high, 3), round(p, 4)
        (0.459, 3.541, 0.0037)
    """
    if not std_error > 0:
        raise EstimationError("the standard error is zero: no interval can be formed")
    if not mixture_var > 0:
        raise ParameterError(f"the mixture variance must be positive, got {mixture_var!r}")
    alpha = 1 - confidence
    v, tau2 = std_error**2, mixture_var
    half = math.sqrt(v * (v + tau2) / tau2 * (2 * math.log(1 / alpha) + math.log((v + tau2) / v)))
    gap = estimate - null
    log_lr = 0.5 * math.log(v / (v + tau2)) + tau2 * gap**2 / (2 * v * (v + tau2))
    p = float(min(1.0, math.exp(-log_lr)))
    if alternative == "two-sided":
        return estimate - half, estimate + half, p
    if alternative == "greater":
        return estimate - half, math.inf, p if gap > 0 else 1.0
    return -math.inf, estimate + half, p if gap < 0 else 1.0
