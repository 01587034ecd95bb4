"""Coarsened exact matching (CEM): exact matching on binned covariates (Iacus, King, Porro).

Each covariate is cut into bins (Sturges' rule by default, as MatchIt's ``method = "cem"``);
units sharing every bin (and every `exact` column) form a stratum. Strata without both adopters
and non-adopters are dropped and reported; within the rest, non-adopters are weighted up to the
adopters' count, so the comparison is exact up to the coarsening. The ATT is the weighted
difference in means; its standard error is the heteroskedasticity-robust (HC0) one of the
weighted regression of the outcome on adoption, treating the weights as fixed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from impact.errors import EstimationError, ParameterError
from impact.estimators import _inference
from impact.estimators._units import load_units
from impact.estimators.balance import SMD_THRESHOLD, balance_table
from impact.estimators.propensity import effective_sample_size
from impact.result import Diagnostic, Effect


@dataclass(frozen=True, slots=True)
class CoarsenedExact:
    """Coarsened exact matching for the ATT.

    Args:
        outcome: the unit-level outcome column.
        treatment: the binary adopter column.
        covariates: columns to coarsen; indicators (0/1) and text columns are kept exact.
        exact: columns matched exactly as they are (team, rollout wave).
        bins: bins per continuous covariate (equal width); None uses Sturges' rule.
        pre_outcome: the pre-period outcome; given, the outcome is the change (matched DiD).

    Example:
        >>> rng = np.random.default_rng(0)
        >>> tenure = rng.gamma(2.0, 12.0, 2000)
        >>> adopted = rng.random(2000) < 1 / (1 + np.exp(-(tenure - 24) / 20))
        >>> y = 20 - 0.1 * tenure - 2.0 * adopted + rng.normal(0, 1, 2000)
        >>> units = pd.DataFrame({"adopted": adopted, "y": y, "tenure_months": tenure})
        >>> round(CoarsenedExact("y", covariates=("tenure_months",), bins=30).estimate(units)
        ...       .estimate)
        -2
    """

    outcome: str
    treatment: str = "adopted"
    covariates: tuple[str, ...] = ()
    exact: tuple[str, ...] = ()
    bins: int | None = None
    pre_outcome: str | None = None
    unit: str | None = "agent_id"
    confidence: float = 0.95

    def __post_init__(self) -> None:
        object.__setattr__(self, "covariates", tuple(self.covariates))
        object.__setattr__(self, "exact", tuple(self.exact))
        if self.bins is not None and not (isinstance(self.bins, int) and self.bins >= 1):
            raise ParameterError(f"bins must be a whole number >= 1, got {self.bins!r}")
        _inference.check_confidence(self.confidence)

    def estimate(self, units: Any) -> Effect:
        """Coarsen, stratify, weight and compare; report the strata that had no match."""
        columns = units.columns
        unit = self.unit if self.unit in columns else None
        u = load_units(
            units,
            outcome=self.outcome,
            treatment=self.treatment,
            covariates=self.covariates,
            exact=self.exact,
            pre_outcome=self.pre_outcome,
            unit=unit,
        )
        n = len(u.y)
        bins = self.bins or int(math.ceil(math.log2(n)) + 1)
        keys = [u.strata]
        for column in u.x.T:
            if np.unique(column).size <= 2:
                keys.append(column.astype(np.int64))
                continue
            edges = np.linspace(column.min(), column.max(), bins + 1)[1:-1]
            keys.append(np.searchsorted(edges, column, side="right"))
        _, stratum = np.unique(np.column_stack(keys), axis=0, return_inverse=True)
        stratum = stratum.ravel()
        t = u.treated
        n_t = np.bincount(stratum, weights=t.astype(float))
        n_c = np.bincount(stratum, weights=(~t).astype(float))
        matched = (n_t > 0) & (n_c > 0)
        keep = matched[stratum]
        if not (keep & t).any():
            raise EstimationError(
                f"no stratum has both adopters and non-adopters after coarsening into {bins} "
                "bins: no overlap. Use fewer bins or fewer covariates."
            )
        # ATT weights: adopters 1; non-adopters share their stratum's adopter count.
        weights = np.where(t, 1.0, n_t[stratum] / np.maximum(n_c[stratum], 1.0)) * keep
        dropped = pd.DataFrame(
            [
                {"group": g, "reason": "no match in its coarsened stratum", "units": c}
                for g, c in (
                    ("adopter", int((t & ~keep).sum())),
                    ("non-adopter", int((~t & ~keep).sum())),
                )
                if c
            ],
            columns=["group", "reason", "units"],
        )
        d = u.y - u.pre
        tk, ck = t & keep, ~t & keep
        p_t = tk.sum() / n
        wc = np.where(ck, weights, 0.0)
        treated_change = d[tk].mean()
        control_change = float(wc @ d / wc.sum())
        tau = float(treated_change - control_change)
        phi_c = wc * (d - control_change) / (wc.sum() / n)
        phi_tau = tk * (d - treated_change) / p_t - phi_c
        pre_t = u.pre[tk].mean()
        phi_base = tk * (u.pre - pre_t) / p_t + phi_c
        base = float(pre_t + control_change)
        se = math.sqrt(float(phi_tau @ phi_tau)) / n
        low, high, p = _inference.interval(tau, se, confidence=self.confidence)
        base_var = float(phi_base @ phi_base) / n**2
        cov = float(phi_tau @ phi_base) / n**2
        lift, lift_se = _inference.ratio_lift(
            base + tau, se**2 + base_var + 2 * cov, base, base_var, base_var + cov
        )
        balance = balance_table(u.x, u.names, t, weights)
        worst = float(balance.smd_after.abs().max())
        retained = float(tk.sum() / t.sum())
        ess = effective_sample_size(wc[ck])
        return Effect(
            outcome=self.outcome,
            method="matching.cem",
            estimand="ATT",
            estimate=tau,
            std_error=se,
            ci_low=low,
            ci_high=high,
            p_value=p,
            baseline=base,
            lift=lift,
            lift_ci=_inference.lift_interval(lift, lift_se, confidence=self.confidence),
            n_treated=int(tk.sum()),
            n_control=int(ck.sum()),
            confidence=self.confidence,
            unit=self.unit or "",
            diagnostics=(
                Diagnostic(
                    "max_abs_smd_after",
                    worst,
                    passed=worst < SMD_THRESHOLD,
                    detail="largest |SMD| after coarsened exact matching",
                ),
                Diagnostic(
                    "treated_retained",
                    retained,
                    passed=retained >= 0.9,
                    detail="share of adopters in a stratum with a non-adopter",
                ),
                Diagnostic(
                    "effective_controls",
                    ess,
                    passed=ess >= 10,
                    detail="Kish effective number of non-adopters under the weights",
                ),
            ),
            notes=(
                f"coarsened exact matching: {int(matched.sum())} of {len(matched)} strata "
                f"({bins} bins per continuous covariate) hold both groups",
                *u.notes,
            ),
            tables={
                "balance": balance,
                "dropped": dropped,
                "units": pd.DataFrame(
                    {"unit": u.ids, "treated": t, "stratum": stratum, "weight": weights}
                ),
            },
        )


def coarsened_exact(units: Any, outcome: str, **options: Any) -> Effect:
    """Shortcut for ``CoarsenedExact(outcome, **options).estimate(units)``.

    Example:
        >>> import impact
        >>> units = impact.adopter_units("sample:events", "sample:agents", "sample:rollouts",
        ...                              outcomes="handle_time_minutes").execute()
        >>> e = impact.coarsened_exact(units, "post_handle_time_minutes",
        ...                            pre_outcome="pre_handle_time_minutes",
        ...                            covariates=["tenure_months"])
        >>> e.method, e.ci_high < 0
        ('matching.cem', True)
    """
    return CoarsenedExact(outcome, **options).estimate(units)
