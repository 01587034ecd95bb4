"""Comparing two arms on per-unit pairs, with and without variance reduction.

Everything here runs on the small per-unit table (one row per randomized unit), never on
events. Three comparisons share one result shape, :class:`Comparison`:

- :func:`compare`: difference of (ratio of) means with the delta method (Deng et al. 2018), and
  CUPED when a covariate pair is given (Deng et al. 2013): ``theta`` is estimated on both arms
  pooled, each arm's mean is shifted by ``theta * (its covariate mean - the pooled one)``.
  This is the formula tea-tasting uses, so results agree with it to rounding.
- :func:`regression`: Lin's (2013) fully interacted OLS ``y ~ 1 + D + Xc + D:Xc`` on centred
  covariates with HC2 standard errors (HC2 on the treatment dummy alone *is* Welch's SE).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from impact.errors import EstimationError


@dataclass(frozen=True, slots=True)
class Comparison:
    """Treated minus control, with what the lift and the diagnostics need."""

    estimate: float
    std_error: float
    df: float | None  # None: normal reference distribution
    mean_t: float
    mean_c: float
    var_mean_t: float  # sampling variance of the (adjusted) treated mean
    var_mean_c: float
    cov_means: float = 0.0
    variance_reduction: float | None = None  # 1 - var(adjusted) / var(unadjusted)
    theta: tuple[float, ...] = ()


def linearize(num: np.ndarray, den: np.ndarray) -> tuple[np.ndarray, float]:
    """Per-unit influence values of ``mean(num) / mean(den)`` and the ratio itself.

    ``(num - r * den) / mean(den)``: their sample variance over n is the delta-method variance
    of the ratio; for ``den = 1`` they are the centred values themselves.
    """
    den_mean = float(np.mean(den))
    if den_mean == 0:
        raise EstimationError("a ratio metric's denominator sums to zero in an arm; no ratio")
    ratio = float(np.mean(num)) / den_mean
    return (num - ratio * den) / den_mean, ratio


def compare(
    treated: tuple[np.ndarray, np.ndarray],
    control: tuple[np.ndarray, np.ndarray],
    covariate_t: tuple[np.ndarray, np.ndarray] | None = None,
    covariate_c: tuple[np.ndarray, np.ndarray] | None = None,
    *,
    use_t: bool = True,
) -> Comparison:
    """Difference of ratios of means (unit-level means when ``den = 1``), CUPED-adjusted
    when covariate pairs are given; Welch-Satterthwaite degrees of freedom when `use_t`."""
    n_t, n_c = len(treated[0]), len(control[0])
    for label, n in (("treated", n_t), ("control", n_c)):
        if n < 2:
            raise EstimationError(
                f"the {label} arm has {n} unit(s); Welch's test needs at least 2 per arm"
            )
    lt, rt = linearize(*treated)
    lc, rc = linearize(*control)
    var_t, var_c = float(np.var(lt, ddof=1)), float(np.var(lc, ddof=1))
    raw_var = var_t / n_t + var_c / n_c
    mean_t, mean_c, theta, reduction = rt, rc, 0.0, None
    if covariate_t is not None and covariate_c is not None:
        xt, xrt = linearize(*covariate_t)
        xc, xrc = linearize(*covariate_c)
        pooled_y, _ = linearize(*(np.concatenate(p) for p in zip(treated, control, strict=True)))
        pooled_x, xr = linearize(
            *(np.concatenate(p) for p in zip(covariate_t, covariate_c, strict=True))
        )
        x_var = float(np.var(pooled_x, ddof=1))
        theta = float(np.cov(pooled_y, pooled_x, ddof=1)[0, 1] / x_var) if x_var > 0 else 0.0
        mean_t, mean_c = rt - theta * (xrt - xr), rc - theta * (xrc - xr)
        var_t = float(np.var(lt - theta * xt, ddof=1))
        var_c = float(np.var(lc - theta * xc, ddof=1))
    vt, vc = var_t / n_t, var_c / n_c
    se = math.sqrt(vt + vc)
    if not se > 0:
        raise EstimationError(
            "the outcome has zero variance in both arms (every unit has the same value); "
            "no test is possible. Check the outcome column."
        )
    if covariate_t is not None:
        reduction = 1 - (vt + vc) / raw_var if raw_var > 0 else 0.0
    df = (vt + vc) ** 2 / (vt**2 / (n_t - 1) + vc**2 / (n_c - 1)) if use_t else None
    return Comparison(
        estimate=mean_t - mean_c,
        std_error=se,
        df=df,
        mean_t=mean_t,
        mean_c=mean_c,
        var_mean_t=vt,
        var_mean_c=vc,
        variance_reduction=reduction,
        theta=(theta,) if covariate_t is not None else (),
    )


def residualize(y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """`y` minus its pooled linear prediction from the centred columns of `x` (CUPED's
    ``y - theta (x - mean x)`` for one or several covariates); the mean of `y` is kept."""
    centred = x - x.mean(axis=0)
    theta, *_ = np.linalg.lstsq(centred, y - y.mean(), rcond=None)
    return y - centred @ theta


def regression(
    y_t: np.ndarray, y_c: np.ndarray, x_t: np.ndarray, x_c: np.ndarray, *, use_t: bool = True
) -> Comparison:
    """Lin's interacted regression adjustment with HC2 standard errors.

    `x_t`, `x_c` are (units x covariates) arrays; they are centred on the mean of both arms, so
    the intercept is the control mean at the average covariates and the coefficient on the
    treatment dummy is the adjusted effect.
    """
    n_t, n_c = len(y_t), len(y_c)
    y = np.concatenate([y_t, y_c])
    x = np.vstack([x_t, x_c])
    x = x - x.mean(axis=0)
    d = np.concatenate([np.ones(n_t), np.zeros(n_c)])
    design = np.column_stack([np.ones_like(y), d, x, d[:, None] * x])
    if np.linalg.matrix_rank(design) < design.shape[1]:
        raise EstimationError(
            "the covariates are collinear (or constant) within an arm; drop one of them"
        )
    if len(y) <= design.shape[1] + 1:
        raise EstimationError(
            f"{len(y)} units cannot support {design.shape[1]} regression terms; use fewer "
            "covariates"
        )
    bread = np.linalg.inv(design.T @ design)
    beta = bread @ design.T @ y
    resid = y - design @ beta
    leverage = np.einsum("ij,jk,ik->i", design, bread, design)
    meat = design.T @ (design * (resid**2 / (1 - leverage))[:, None])
    vcov = bread @ meat @ bread
    se = math.sqrt(vcov[1, 1])
    if not se > 0:
        raise EstimationError("the outcome has zero variance in both arms; no test is possible")
    raw = float(np.var(y_t, ddof=1) / n_t + np.var(y_c, ddof=1) / n_c)
    return Comparison(
        estimate=float(beta[1]),
        std_error=se,
        df=float(len(y) - design.shape[1]) if use_t else None,
        mean_t=float(beta[0] + beta[1]),
        mean_c=float(beta[0]),
        var_mean_t=float(vcov[0, 0] + vcov[1, 1] + 2 * vcov[0, 1]),
        var_mean_c=float(vcov[0, 0]),
        cov_means=float(vcov[0, 0] + vcov[0, 1]),
        variance_reduction=1 - vcov[1, 1] / raw if raw > 0 else 0.0,
        theta=tuple(float(b) for b in beta[2:]),
    )


def covariate_matrix(columns: dict[str, pd.Series], notes: list[str]) -> pd.DataFrame | None:
    """Unit-level covariates as floats; a unit missing one gets the mean (and a note)."""
    if not columns:
        return None
    covs = pd.DataFrame(columns).astype("float64")
    for name, values in covs.items():
        if values.isna().all():
            raise EstimationError(f"the covariate {name!r} has no value for any unit")
        if n_missing := int(values.isna().sum()):
            notes.append(
                f"{n_missing} unit(s) have no {name} covariate value; they are "
                "set to the mean over units (no adjustment for them)"
            )
            covs[name] = values.fillna(values.mean())
    return covs


def arm_table(
    units: pd.DataFrame,
    t_rows: pd.Series,
    c_rows: pd.Series,
    treatment: str,
    control: str,
    index: int,
    comp: Comparison,
    scale: float = 1.0,
) -> pd.DataFrame:
    """Per arm: units, raw mean (sum over sum), SD of unit values, adjusted mean."""
    rows = []
    for label, mask, adjusted in ((treatment, t_rows, comp.mean_t), (control, c_rows, comp.mean_c)):
        num = units.loc[mask, f"{index}.num"].astype("float64")
        den = units.loc[mask, f"{index}.den"].astype("float64")
        rows.append(
            {
                "arm": label,
                "units": int(mask.sum()),
                "mean": num.sum() / den.sum() * scale,
                # SD of the units' own values (ratio units with a zero denominator have none).
                "sd": float(np.std((num / den)[den != 0], ddof=1)) * scale
                if int((den != 0).sum()) > 1
                else math.nan,
                "adjusted_mean": adjusted * scale,
            }
        )
    return pd.DataFrame(rows)


def power_of_two(values: pd.Series) -> float:
    """A power of two near the largest absolute value (1 for ordinary magnitudes)."""
    largest = float(np.nanmax(np.abs(values.to_numpy(np.float64)))) if len(values) else 0.0
    if not 0 < largest < math.inf or 1e-100 < largest < 1e100:
        return 1.0
    return float(2.0 ** math.floor(math.log2(largest)))
