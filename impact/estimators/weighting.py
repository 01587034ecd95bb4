"""Weighting instead of matching: inverse probability weights (IPW) and doubly robust AIPW.

IPW reweights non-adopters so that, on the covariates, they look like the adopters (ATT: weight
``e / (1 - e)``) or like everyone (ATE: ``1 / e`` and ``1 / (1 - e)``); normalized (Hajek)
weights sum to one within each group. AIPW adds an outcome regression and stays consistent when
either the propensity model or the outcome model is right.

Standard errors: for IPW with the logistic score, an M-estimation sandwich that stacks the
score equations with the weighted means, so the uncertainty of the estimated propensity score
is included (Lunceford & Davidian 2004); otherwise influence functions, or the bootstrap.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from impact.engine import as_table
from impact.errors import EstimationError, ParameterError
from impact.estimators import _inference
from impact.estimators._units import Units, load_units
from impact.estimators.balance import SMD_THRESHOLD, balance_table
from impact.estimators.propensity import (
    ScoreModel,
    effective_sample_size,
    fit_scores,
    logit_coefficients,
    logit_design,
)
from impact.result import Diagnostic, Effect

Estimand = Literal["ATT", "ATE"]
StdError = Literal["sandwich", "bootstrap"]
MIN_EFFECTIVE = 10


@dataclass(frozen=True, slots=True)
class Weighting:
    """Inverse probability weighting (``doubly_robust=False``) or AIPW (``True``).

    Args:
        outcome: the unit-level outcome column.
        treatment: the binary adopter column.
        covariates: pre-period columns for the propensity (and, for AIPW, outcome) model.
        pre_outcome: the pre-period outcome; given, the outcome is the change (weighted DiD).
        estimand: "ATT" (default) or "ATE".
        doubly_robust: add a linear outcome regression per group (AIPW).
        normalize: Hajek (self-normalized) weights; False gives Horvitz-Thompson weights.
        trim: drop units whose propensity score lies outside ``(low, high)``, e.g.
            ``(0.05, 0.95)``; the dropped units are reported and the estimand narrows. The
            score model is then refitted on the units kept.
        score_model: "logit" or "gbm"; score: a column of user-supplied scores.
        std_error: "sandwich" (influence functions) or "bootstrap" (resample units, refit).
        n_boot: bootstrap replicates; seed: their random seed.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> tenure = rng.gamma(2.0, 12.0, 400)
        >>> adopted = rng.random(400) < 1 / (1 + np.exp(-(tenure - 24) / 20))
        >>> y = 20 - 0.1 * tenure - 2.0 * adopted + rng.normal(0, 1, 400)
        >>> units = pd.DataFrame({"adopted": adopted, "y": y, "tenure_months": tenure})
        >>> round(Weighting("y", covariates=("tenure_months",)).estimate(units).estimate)
        -2
    """

    outcome: str
    treatment: str = "adopted"
    covariates: tuple[str, ...] = ()
    pre_outcome: str | None = None
    estimand: Estimand = "ATT"
    doubly_robust: bool = False
    normalize: bool = True
    trim: tuple[float, float] | None = None
    score_model: ScoreModel = "logit"
    score: str | None = None
    std_error: StdError = "sandwich"
    n_boot: int = 200
    seed: int = 0
    unit: str | None = "agent_id"
    confidence: float = 0.95

    def __post_init__(self) -> None:
        object.__setattr__(self, "covariates", tuple(self.covariates))
        if self.estimand not in ("ATT", "ATE"):
            raise ParameterError(f"estimand must be 'ATT' or 'ATE', got {self.estimand!r}")
        if self.std_error not in ("sandwich", "bootstrap"):
            raise ParameterError(
                f"std_error must be 'sandwich' or 'bootstrap', got {self.std_error!r}"
            )
        if self.trim is not None and not 0 <= self.trim[0] < self.trim[1] <= 1:
            raise ParameterError(
                f"trim must be (low, high) with 0 <= low < high <= 1, got {self.trim!r}"
            )
        _inference.check_confidence(self.confidence)

    def estimate(self, units: Any) -> Effect:
        """Fit the propensity model, weight, estimate with its interval, check balance."""
        table = units if isinstance(units, pd.DataFrame) else as_table(units)
        unit = self.unit if self.unit in table.columns else None
        u = load_units(
            table,
            outcome=self.outcome,
            treatment=self.treatment,
            covariates=self.covariates,
            pre_outcome=self.pre_outcome,
            score=self.score,
            unit=unit,
        )
        scores = (
            u.score
            if u.score is not None
            else fit_scores(u.x, u.treated, model=self.score_model, names=u.names)
        )
        keep = np.ones(len(scores), dtype=bool)
        dropped = pd.DataFrame(columns=["group", "reason", "units"])
        if self.trim is not None:
            low, high = self.trim
            keep = (scores > low) & (scores < high)
            dropped = pd.DataFrame(
                [
                    {
                        "group": "adopter" if flag else "non-adopter",
                        "reason": f"propensity score outside ({low:g}, {high:g})",
                        "units": int((~keep & (u.treated == flag)).sum()),
                    }
                    for flag in (True, False)
                    if (~keep & (u.treated == flag)).any()
                ],
                columns=["group", "reason", "units"],
            )
            u = _subset(u, keep)
            scores = scores[keep]
            if u.treated.all() or not u.treated.any():
                raise EstimationError(
                    f"trimming to scores in {self.trim} leaves only one "
                    "group; no overlap. Loosen the bounds."
                )
            if self.score is None:
                # Refit on the units kept, so the weights, the estimate and its sandwich (which
                # stacks the score equations of the fitted model) all describe one model.
                scores = fit_scores(u.x, u.treated, model=self.score_model, names=u.names)
        refit = self.score is None and self.score_model == "logit"
        tau, base, phi_tau, phi_base = self._point(u, scores, refit)
        n = len(u.y)
        if self.std_error == "bootstrap":
            se, base_var, cov = self._bootstrap(u)
        else:
            se = math.sqrt(float(phi_tau @ phi_tau)) / n
            base_var = float(phi_base @ phi_base) / n**2
            cov = float(phi_tau @ phi_base) / n**2
        low, high, p = _inference.interval(tau, se, confidence=self.confidence)
        # lift = tau / baseline, written as a ratio of (baseline + tau) to baseline.
        lift, lift_se = _inference.ratio_lift(
            base + tau, se**2 + base_var + 2 * cov, base, base_var, base_var + cov
        )
        weights = _weights(scores, u.treated, self.estimand)
        balance = balance_table(u.x, u.names, u.treated, weights, estimand=self.estimand)
        method = "weighting." + ("aipw" if self.doubly_robust else "ipw")
        return Effect(
            outcome=self.outcome,
            method=method,
            estimand=self.estimand,
            estimate=tau,
            std_error=se,
            ci_low=low,
            ci_high=high,
            p_value=p,
            baseline=base,
            lift=lift,
            lift_ci=_inference.lift_interval(lift, lift_se, confidence=self.confidence),
            n_treated=int(u.treated.sum()),
            n_control=int((~u.treated).sum()),
            confidence=self.confidence,
            unit=self.unit or "",
            diagnostics=_diagnostics(balance, weights, u.treated, scores),
            notes=self._notes(u, dropped, refit),
            tables={
                "balance": balance,
                "dropped": dropped,
                "units": pd.DataFrame(
                    {"unit": u.ids, "treated": u.treated, "score": scores, "weight": weights}
                ),
            },
        )

    # -- the estimators ------------------------------------------------------------------
    def _point(
        self, u: Units, scores: np.ndarray, refit: bool
    ) -> tuple[float, float, np.ndarray, np.ndarray]:
        """Effect, baseline, and their influence functions (one value per unit)."""
        if self.doubly_robust:
            return _aipw(u, scores, self.estimand, self.normalize)
        return _ipw_sandwich(u, scores, self.estimand, self.normalize, refit)

    def _bootstrap(self, u: Units) -> tuple[float, float, float]:
        rng = np.random.default_rng(self.seed)
        draws = []
        for _ in range(self.n_boot):
            rows = rng.integers(0, len(u.y), len(u.y))
            sample = _subset(u, rows)
            if sample.treated.all() or not sample.treated.any():
                continue
            try:
                ps = (
                    sample.score
                    if sample.score is not None
                    else fit_scores(
                        sample.x, sample.treated, model=self.score_model, seed=self.seed
                    )
                )
                tau, base, _, _ = self._point(sample, ps, refit=False)
            except EstimationError:
                continue  # a resample with separation: skip it, as R's boot would NA it
            draws.append((tau, base))
        if len(draws) < 0.9 * self.n_boot:
            raise EstimationError(
                f"only {len(draws)} of {self.n_boot} bootstrap resamples "
                "could be estimated; the sample is too small or separated"
            )
        arr = np.asarray(draws)
        c = np.cov(arr, rowvar=False)
        return math.sqrt(c[0, 0]), float(c[1, 1]), float(c[0, 1])

    def _notes(self, u: Units, dropped: pd.DataFrame, refit: bool) -> tuple[str, ...]:
        kind = (
            "doubly robust (AIPW)"
            if self.doubly_robust
            else ("normalized" if self.normalize else "Horvitz-Thompson")
        )
        notes = [f"{kind} inverse probability weights for the {self.estimand}", *u.notes]
        if len(dropped):
            notes.append(
                f"{int(dropped.units.sum())} unit(s) trimmed by propensity score "
                "(see tables['dropped']); the estimate describes the units left"
            )
        if self.std_error == "sandwich" and not refit and not self.doubly_robust:
            notes.append("standard errors treat the propensity score as known")
        return tuple(notes)


def _subset(u: Units, rows: np.ndarray) -> Units:
    return Units(
        u.ids[rows],
        u.treated[rows],
        u.y[rows],
        u.pre[rows],
        u.x[rows],
        u.names,
        u.strata[rows],
        u.strata_labels,
        None if u.score is None else u.score[rows],
        u.notes,
    )


def _weights(e: np.ndarray, t: np.ndarray, estimand: str) -> np.ndarray:
    if estimand == "ATT":
        return np.where(t, 1.0, e / (1 - e))
    return np.where(t, 1 / e, 1 / (1 - e))


def _ipw_sandwich(
    u: Units, e: np.ndarray, estimand: str, normalize: bool, refit: bool
) -> tuple[float, float, np.ndarray, np.ndarray]:
    """IPW by stacked estimating equations; their sandwich gives the influence functions."""
    z = logit_design(u.x)
    t = u.treated.astype(np.float64)
    d = u.y - u.pre
    beta = logit_coefficients(u.x, u.treated) if refit else None
    target = t if estimand == "ATT" else np.ones_like(t)

    def psi(theta: np.ndarray) -> np.ndarray:
        ps = 1 / (1 + np.exp(-(z @ theta[:-3]))) if refit else e
        mu1, mu0, mu_pre = theta[-3:]
        if estimand == "ATT":
            a1, a0 = t, (1 - t) * ps / (1 - ps)
        else:
            a1, a0 = t / ps, (1 - t) / (1 - ps)
        if normalize:
            cols = [a1 * (d - mu1), a0 * (d - mu0)]
        else:
            scale = t if estimand == "ATT" else np.ones_like(t)
            cols = [a1 * d - scale * mu1, a0 * d - scale * mu0]
        cols.append(target * (u.pre - mu_pre))
        score_eq = [(t - ps)[:, None] * z] if refit else []
        return np.column_stack([*score_eq, *cols])

    ps = e
    a1, a0 = (t, (1 - t) * ps / (1 - ps)) if estimand == "ATT" else (t / ps, (1 - t) / (1 - ps))
    if normalize:
        mu1, mu0 = (a1 @ d) / a1.sum(), (a0 @ d) / a0.sum()
    else:
        scale = t.sum() if estimand == "ATT" else len(t)
        mu1, mu0 = (a1 @ d) / scale, (a0 @ d) / scale
    mu_pre = (target @ u.pre) / target.sum()
    theta = np.r_[beta if refit else [], mu1, mu0, mu_pre]
    values = psi(theta)
    jac = _jacobian(lambda th: psi(th).mean(axis=0), theta)
    # The pre-period mean is a constant without `pre_outcome`: keep its row invertible.
    if not np.any(u.pre):
        jac[-1, -1] = -1.0
    influence = -np.linalg.solve(jac, values.T).T  # one row per unit
    phi_tau = influence[:, -3] - influence[:, -2]
    phi_base = influence[:, -1] + influence[:, -2]
    return float(mu1 - mu0), float(mu_pre + mu0), phi_tau, phi_base


def _jacobian(f: Any, theta: np.ndarray) -> np.ndarray:
    base = f(theta)
    jac = np.empty((len(base), len(theta)))
    for k in range(len(theta)):
        step = 1e-6 * max(1.0, abs(theta[k]))
        up, down = theta.copy(), theta.copy()
        up[k] += step
        down[k] -= step
        jac[:, k] = (f(up) - f(down)) / (2 * step)
    return jac


def _aipw(
    u: Units, e: np.ndarray, estimand: str, normalize: bool
) -> tuple[float, float, np.ndarray, np.ndarray]:
    """Doubly robust estimate with linear outcome models; influence functions ignore the
    nuisance fits (first-order valid when both models are right)."""
    z = logit_design(u.x)
    t = u.treated
    d = u.y - u.pre
    m0 = z @ np.linalg.lstsq(z[~t], d[~t], rcond=None)[0]
    tf = t.astype(np.float64)
    if estimand == "ATT":
        p = tf.mean()
        odds = (1 - tf) * e / (1 - e)
        resid = d - m0
        control_part = (odds @ resid) / (odds.sum() if normalize else tf.sum())
        treated_part = (tf @ resid) / tf.sum()
        tau = treated_part - control_part
        phi_control = (
            odds * (resid - control_part) / odds.mean()
            if normalize
            else (odds * resid - tf * control_part) / p
        )
        phi_tau = tf * (resid - treated_part) / p - phi_control
        # Baseline: the adopters' observed mean level minus the effect.
        level = (tf @ u.y) / tf.sum()
        phi_base = tf * (u.y - level) / p - phi_tau
        return float(tau), float(level - tau), phi_tau, phi_base
    m1 = z @ np.linalg.lstsq(z[t], d[t], rcond=None)[0]
    w1, w0 = tf / e, (1 - tf) / (1 - e)
    if normalize:
        w1, w0 = w1 / w1.mean(), w0 / w0.mean()
    psi1 = m1 + w1 * (d - m1)
    psi0 = m0 + w0 * (d - m0)
    tau = float(psi1.mean() - psi0.mean())
    base = float(u.pre.mean() + psi0.mean())
    phi_tau = psi1 - psi0 - tau
    phi_base = u.pre + psi0 - base
    return tau, base, phi_tau, phi_base


def _diagnostics(
    balance: pd.DataFrame, weights: np.ndarray, t: np.ndarray, scores: np.ndarray
) -> tuple[Diagnostic, ...]:
    worst = float(balance.smd_after.abs().max())
    ess = effective_sample_size(weights[~t])
    extreme = float(np.mean((scores < 0.01) | (scores > 0.99)))
    return (
        Diagnostic(
            "max_abs_smd_after",
            worst,
            passed=worst < SMD_THRESHOLD,
            detail=f"largest |standardized mean difference| after weighting; below "
            f"{SMD_THRESHOLD} is balanced",
        ),
        Diagnostic(
            "effective_controls",
            ess,
            passed=ess >= MIN_EFFECTIVE,
            detail="Kish effective number of non-adopters under the weights",
        ),
        Diagnostic(
            "extreme_scores",
            extreme,
            passed=extreme < 0.01,
            detail="share of units with a score below 0.01 or above 0.99; high means "
            "weak overlap and unstable weights (consider trim=(0.05, 0.95))",
        ),
    )


def ipw(units: Any, outcome: str, **options: Any) -> Effect:
    """Shortcut for ``Weighting(outcome, **options).estimate(units)``.

    Example:
        >>> import impact
        >>> units = impact.adopter_units("sample:events", "sample:agents", "sample:rollouts",
        ...                              outcomes="handle_time_minutes").execute()
        >>> e = impact.ipw(units, "post_handle_time_minutes",
        ...                pre_outcome="pre_handle_time_minutes", covariates=["tenure_months"])
        >>> e.method, e.estimand, e.ci_high < 0
        ('weighting.ipw', 'ATT', True)
    """
    return Weighting(outcome, **options).estimate(units)


def aipw(units: Any, outcome: str, **options: Any) -> Effect:
    """Shortcut for ``Weighting(outcome, doubly_robust=True, **options).estimate(units)``.

    Example:
        >>> import impact
        >>> units = impact.adopter_units("sample:events", "sample:agents", "sample:rollouts",
        ...                              outcomes="handle_time_minutes").execute()
        >>> e = impact.aipw(units, "post_handle_time_minutes",
        ...                 pre_outcome="pre_handle_time_minutes", covariates=["tenure_months"])
        >>> e.method, e.ci_high < 0
        ('weighting.aipw', True)
    """
    return Weighting(outcome, doubly_robust=True, **options).estimate(units)
