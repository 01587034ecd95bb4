"""Refutation and sensitivity: would the matched estimate survive tests it should survive?

Three refuters in the manner of DoWhy's (placebo treatment, random common cause, data
subset), run with *our* estimator so they test the estimate actually reported (exact strata,
matched DiD and all); and the E-value (VanderWeele & Ding 2017) for confounding nobody
measured. Refutation re-estimates many times, so it is a separate, slower call.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import pandas as pd

from impact.engine import as_table
from impact.errors import EstimationError
from impact.result import Effect


def refute(
    estimator: Any, units: Any, *, n_simulations: int = 50, subset: float = 0.8, seed: int = 0
) -> pd.DataFrame:
    """Run placebo-treatment, random-common-cause and data-subset refutations.

    `estimator` is a configured :class:`~impact.estimators.matching.MatchedCohort` or
    :class:`~impact.estimators.weighting.Weighting`. Returns one row per refuter: the original
    estimate, the mean and SD of the refuted estimates, whether it passed, and what that means.

    Example:
        >>> from impact.estimators.matching import MatchedCohort
        >>> rng = np.random.default_rng(0)
        >>> x = rng.normal(size=300)
        >>> t = rng.random(300) < 1 / (1 + np.exp(-x))
        >>> units = pd.DataFrame({"adopted": t, "x": x, "y": x - 2.0 * t + rng.normal(size=300)})
        >>> table = refute(MatchedCohort("y", covariates=("x",)), units, n_simulations=20)
        >>> table.passed.tolist()
        [True, True, True]
    """
    frame = units.copy() if isinstance(units, pd.DataFrame) else as_table(units).execute()
    original = estimator.estimate(frame)
    rng = np.random.default_rng(seed)
    treatment = estimator.treatment
    exact = list(getattr(estimator, "exact", ()))
    rows = []

    placebo = []
    for _ in range(n_simulations):
        shuffled = frame.copy()
        if exact:  # permute within exact strata, so every stratum keeps its adopters
            shuffled[treatment] = shuffled.groupby(exact)[treatment].transform(
                lambda s: s.sample(frac=1.0, random_state=int(rng.integers(1 << 31))).to_numpy()
            )
        else:
            shuffled[treatment] = rng.permutation(shuffled[treatment].to_numpy())
        placebo.append(_try(estimator, shuffled))
    placebo_arr = np.asarray([p for p in placebo if p is not None])
    p_value = (1 + np.sum(np.abs(placebo_arr) >= abs(original.estimate))) / (1 + len(placebo_arr))
    rows.append(
        _row(
            "placebo treatment",
            original,
            placebo_arr,
            passed=bool(p_value < 0.05),
            meaning=(
                f"with adoption shuffled at random the effect vanishes (mean "
                f"{_mean(placebo_arr):+.3g}); the real estimate beats "
                f"{1 - p_value:.0%} of shuffles"
            ),
            p_value=float(p_value),
        )
    )

    random_cause = []
    with_random = dataclasses.replace(estimator, covariates=(*estimator.covariates, "_random"))
    for _ in range(n_simulations):
        random_cause.append(_try(with_random, frame.assign(_random=rng.normal(size=len(frame)))))
    rows.append(
        _stability_row("random common cause", original, random_cause, "adding a random covariate")
    )

    subsets = []
    size = round(subset * len(frame))
    for _ in range(n_simulations):
        pick = rng.choice(len(frame), size=size, replace=False)
        subsets.append(_try(estimator, frame.iloc[np.sort(pick)]))
    rows.append(
        _stability_row(
            "data subset", original, subsets, f"re-estimating on random {subset:.0%} subsets"
        )
    )
    return pd.DataFrame(rows)


def _try(estimator: Any, frame: pd.DataFrame) -> float | None:
    try:
        return float(estimator.estimate(frame).estimate)
    except EstimationError:
        return None  # e.g. a subset with no overlap: it counts as a failed replicate


def _mean(values: np.ndarray) -> float:
    return float(values.mean()) if len(values) else math.nan


def _row(
    name: str, original: Effect, values: np.ndarray, *, passed: bool, meaning: str, p_value: float
) -> dict[str, object]:
    return {
        "refuter": name,
        "original": original.estimate,
        "refuted_mean": _mean(values),
        "refuted_sd": float(values.std(ddof=1)) if len(values) > 1 else math.nan,
        "n": len(values),
        "p_value": p_value,
        "passed": passed,
        "meaning": meaning,
    }


def _stability_row(
    name: str, original: Effect, values: list[float | None], what: str
) -> dict[str, object]:
    arr = np.asarray([v for v in values if v is not None])
    shift = abs(_mean(arr) - original.estimate)
    passed = bool(len(arr) >= 0.9 * len(values) and shift < original.std_error)
    z = shift / original.std_error if original.std_error > 0 else math.inf
    return _row(
        name,
        original,
        arr,
        passed=passed,
        p_value=float(math.erfc(z / math.sqrt(2))),
        meaning=(
            f"{what} moves the estimate by {shift:.3g} on average, "
            f"{'within' if passed else 'beyond'} one standard error "
            f"({original.std_error:.3g})"
        ),
    )


def e_value(effect: Effect, outcome_sd: float) -> dict[str, object]:
    """E-value for an effect on a continuous outcome (VanderWeele & Ding 2017).

    The standardized difference ``d = estimate / outcome_sd`` is mapped to an approximate risk
    ratio ``RR = exp(0.91 d)``; the E-value ``RR + sqrt(RR (RR - 1))`` (with RR >= 1) is the
    strength, on the risk-ratio scale, that an unmeasured confounder would need with *both*
    adoption and the outcome to explain the estimate away. The second value does the same for
    the confidence bound nearest zero (1 when the interval already includes zero).

    Example:
        >>> e = Effect(outcome="y", method="m", estimand="ATT", estimate=-2.0, std_error=0.5,
        ...            ci_low=-3.0, ci_high=-1.0, p_value=0.001, baseline=10.0, lift=-0.2,
        ...            lift_ci=(-0.3, -0.1), n_treated=50, n_control=50)
        >>> round(e_value(e, outcome_sd=4.0)["e_value"], 2)
        2.53
    """
    if not outcome_sd > 0:
        raise EstimationError("outcome_sd must be positive to standardize the effect")

    def evalue(diff: float) -> float:
        rr = math.exp(0.91 * abs(diff) / outcome_sd)
        return rr + math.sqrt(rr * (rr - 1.0))

    point = evalue(effect.estimate)
    crosses = effect.ci_low <= 0 <= effect.ci_high
    nearest = min(abs(effect.ci_low), abs(effect.ci_high))
    bound = 1.0 if crosses else evalue(nearest)
    words = (
        f"To explain away the estimate, an unmeasured confounder would have to make adoption "
        f"and the outcome each about {point:.2f} times as likely (risk-ratio scale), over and "
        f"above the matched covariates; to make the interval include zero, {bound:.2f} times."
        + (" The interval already includes zero." if crosses else "")
    )
    return {"e_value": point, "e_value_ci": bound, "meaning": words}
