"""Matched cohorts: compare adopters with similar non-adopters, before and after adoption.

Where agents *chose* to use the AI, adopters differ from non-adopters (experienced agents adopt
first and are faster anyway), so a plain comparison credits the AI with their experience.
Matching pairs each adopter with the non-adopter(s) most alike on pre-period covariates (by
propensity score or Mahalanobis distance, within exact strata such as team), then compares
outcomes; with `pre_outcome` it compares the *change* from the pre- to the post-period
(a matched difference-in-differences), which also removes stable differences nobody measured.

Standard errors follow Abadie & Imbens (2006): conditional outcome variances are estimated by
matching units to others of their own group, and each control's reuse is accounted for.
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
from impact.estimators import matched_sample as sample
from impact.estimators._units import Units, load_units
from impact.estimators.adopters import adopter_units
from impact.estimators.balance import balance_table, love_plot, overlap_plot
from impact.estimators.cem import CoarsenedExact, coarsened_exact
from impact.estimators.heterogeneity import segment_effects
from impact.estimators.neighbours import Matches, nearest, within_group_variance
from impact.estimators.propensity import ScoreModel, fit_scores, logit
from impact.estimators.refute import e_value, refute
from impact.estimators.weighting import Weighting, aipw, ipw
from impact.result import Effect

# The matched-cohort design's public names, re-exported here so `impact` imports one module.
__all__ = [
    "CoarsenedExact",
    "MatchedCohort",
    "Weighting",
    "adopter_units",
    "aipw",
    "coarsened_exact",
    "e_value",
    "ipw",
    "love_plot",
    "matched_cohort",
    "overlap_plot",
    "refute",
    "segment_effects",
]

Distance = Literal["logit", "propensity", "mahalanobis", "inverse_variance"]
Estimand = Literal["ATT", "ATE"]


@dataclass(frozen=True, slots=True)
class MatchedCohort:
    """Nearest-neighbour matching of adopters to non-adopters, with MatchIt-style diagnostics.

    Args:
        outcome: the unit-level outcome column (e.g. ``post_handle_time_minutes``).
        treatment: the binary column marking adopters.
        covariates: pre-period columns to balance; text columns become indicators.
        exact: columns matched exactly (team, workflow, rollout date): matches never cross them.
        pre_outcome: the pre-period outcome; given, the estimate is a matched
            difference-in-differences on ``outcome - pre_outcome``.
        distance: "logit" (the log-odds propensity score, default), "propensity",
            "mahalanobis" (on the covariates, whitened by their pooled within-group covariance)
            or "inverse_variance" (each covariate scaled by its SD: Stata ``nnmatch``'s default).
        ratio: controls per treated unit (1:k).
        replace: whether a control may serve several treated units (required for the ATE).
        ties: with replacement, keep every control as near as the k-th match (each weighted
            1 / count), as R's Matching and Stata's ``nnmatch`` do; default: break ties by order.
        caliper: maximum distance of a match, in standard deviations of the logit score.
        common_support: drop units whose score lies outside the other group's range first.
        score_model: "logit" (statsmodels) or "gbm" (cross-fitted gradient boosting).
        score: a column of user-supplied propensity scores (then no model is fitted).
        estimand: "ATT" (effect on adopters, default) or "ATE" (on everyone).
        unit: the unit id column, used in the pairs table (ignored when absent).
        confidence: confidence level of the intervals.
        variance_neighbours: same-group neighbours used to estimate each unit's variance.
        bias_adjust: correct each match for its remaining covariate gap with a linear
            regression fitted on the matched-from group (Abadie & Imbens 2011; Stata's
            ``biasadj``). Off, the estimate is the plain matched difference (MatchIt, DoWhy).

    Example:
        >>> rng = np.random.default_rng(0)
        >>> tenure = rng.gamma(2.0, 12.0, 400)
        >>> adopted = rng.random(400) < 1 / (1 + np.exp(-(tenure - 24) / 20))
        >>> y = 20 - 0.1 * tenure - 2.0 * adopted + rng.normal(0, 1, 400)
        >>> units = pd.DataFrame({"agent_id": range(400), "adopted": adopted, "y": y,
        ...                       "tenure_months": tenure})
        >>> m = MatchedCohort("y", covariates=("tenure_months",)).estimate(units)
        >>> round(m.estimate), m.diagnostic("max_abs_smd_after").passed
        (-2, True)
    """

    outcome: str
    treatment: str = "adopted"
    covariates: tuple[str, ...] = ()
    exact: tuple[str, ...] = ()
    pre_outcome: str | None = None
    distance: Distance = "logit"
    ratio: int = 1
    replace: bool = True
    ties: bool = False
    caliper: float | None = None
    common_support: bool = False
    score_model: ScoreModel = "logit"
    score: str | None = None
    estimand: Estimand = "ATT"
    unit: str | None = "agent_id"
    confidence: float = 0.95
    variance_neighbours: int = 2
    bias_adjust: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "covariates", tuple(self.covariates))
        object.__setattr__(self, "exact", tuple(self.exact))
        if self.distance not in Distance.__args__:
            raise ParameterError(
                f"distance must be one of {list(Distance.__args__)}, got {self.distance!r}"
            )
        if self.ties and not self.replace:
            raise ParameterError("ties=True needs matching with replacement (replace=True)")
        if self.estimand not in ("ATT", "ATE"):
            raise ParameterError(f"estimand must be 'ATT' or 'ATE', got {self.estimand!r}")
        if not (isinstance(self.ratio, int) and self.ratio >= 1):
            raise ParameterError(f"ratio must be a whole number >= 1, got {self.ratio!r}")
        if self.caliper is not None and not self.caliper > 0:
            raise ParameterError(
                f"caliper must be positive (in SDs of the logit score), got {self.caliper!r}"
            )
        if self.estimand == "ATE" and not self.replace:
            raise ParameterError(
                "the ATE needs matching with replacement (replace=True): "
                "every unit is matched in both directions"
            )
        _inference.check_confidence(self.confidence)

    def estimate(self, units: Any) -> Effect:
        """Match, estimate the effect with its Abadie-Imbens interval, and check balance."""
        table = units if isinstance(units, pd.DataFrame) else as_table(units)
        unit = self.unit if self.unit in table.columns else None
        u = load_units(
            table,
            outcome=self.outcome,
            treatment=self.treatment,
            covariates=self.covariates,
            exact=self.exact,
            pre_outcome=self.pre_outcome,
            score=self.score,
            unit=unit,
        )
        scores = (
            u.score
            if u.score is not None
            else fit_scores(u.x, u.treated, model=self.score_model, names=u.names)
        )
        keep, dropped = sample.common_support(scores, u.treated, self.estimand, self.common_support)
        coords = sample.coordinates(u, scores, self.distance, keep)
        lscore = logit(scores)
        cal = None
        if self.caliper is not None:
            cal = self.caliper * float(np.std(lscore[keep], ddof=1))
        treated_rows = np.flatnonzero(keep & u.treated)
        control_rows = np.flatnonzero(keep & ~u.treated)
        to_control = self._match(coords, u, lscore, treated_rows, control_rows, cal)
        matches = [to_control]
        if self.estimand == "ATE":
            matches.append(self._match(coords, u, lscore, control_rows, treated_rows, cal))
        dropped = pd.concat(
            [
                dropped,
                *(
                    sample.unmatched(u, m, t, p)
                    for m, t, p in zip(
                        matches,
                        (treated_rows, control_rows),
                        (control_rows, treated_rows),
                        strict=False,
                    )
                ),
            ],
            ignore_index=True,
        )
        return self._effect(u, scores, coords, keep, matches, dropped)

    def _match(
        self,
        coords: np.ndarray,
        u: Units,
        lscore: np.ndarray,
        targets: np.ndarray,
        pool: np.ndarray,
        cal: float | None,
    ) -> Matches:
        if len(targets) == 0 or len(pool) == 0:
            raise EstimationError(
                "no overlap: after common-support trimming one group is empty "
                f"({len(targets)} to match, {len(pool)} to match from). The covariates "
                "separate adopters from non-adopters; see the propensity overlap plot."
            )
        on_score = self.distance == "logit" and cal is not None
        order = np.argsort(-lscore[targets], kind="stable")  # MatchIt's "largest" first
        m = nearest(
            coords,
            u.strata,
            targets,
            pool,
            k=self.ratio,
            replace=self.replace,
            max_distance=cal * (1 + 1e-12) if on_score else np.inf,
            order=order,
            ties=self.ties,
        )
        if cal is not None and not on_score:
            ok = np.abs(lscore[m.target] - lscore[m.pool]) <= cal
            m = sample.subset(m, ok)
        return m

    def _effect(
        self,
        u: Units,
        scores: np.ndarray,
        coords: np.ndarray,
        keep: np.ndarray,
        matches: list[Matches],
        dropped: pd.DataFrame,
    ) -> Effect:
        change = u.y - u.pre
        noise = change
        if self.bias_adjust:
            # The bias-adjusted estimator compares outcomes net of what the covariates predict,
            # so its conditional variance is that of the residual (given X), not of the raw
            # outcome given the score: estimate it from same-group neighbours' residuals.
            noise = change.copy()
            for flag in (True, False):
                rows = keep & (u.treated == flag)
                noise[rows] -= sample.regression(u, rows, change)[rows]
        sigma2 = within_group_variance(
            coords[keep], u.strata[keep], u.treated[keep], noise[keep], j=self.variance_neighbours
        )
        sig = np.zeros(len(u.y))
        sig[keep] = sigma2
        n = len(u.y)
        w = np.zeros(n)  # total weight each unit receives as someone's match
        q = np.zeros(n)  # sum of squared match weights
        imputed = np.full(n, np.nan)  # counterpart's mean change, per matched target
        for m in matches:
            w += np.bincount(m.pool, weights=m.weight, minlength=n)
            q += np.bincount(m.pool, weights=m.weight**2, minlength=n)
            value = change[m.pool]
            if self.bias_adjust and len(m.pool):
                fit = sample.regression(u, keep & (u.treated == u.treated[m.pool[0]]), change)
                value = value + fit[m.target] - fit[m.pool]
            part = np.bincount(m.target, weights=m.weight * value, minlength=n)
            matched = np.zeros(n, dtype=bool)
            matched[m.target] = True
            imputed[matched] = part[matched]
        targets = np.flatnonzero(np.isfinite(imputed))
        if self.estimand == "ATT":
            if len(targets) == 0:
                raise EstimationError(
                    "no adopter found a match; widen the caliper or drop exact-matching columns"
                )
            a = u.y[targets]  # adopters' observed level
            b = u.pre[targets] + imputed[targets]  # their counterfactual level
            extra_a = 0.0
            extra_b = float(((w**2 - q) * sig)[~u.treated].sum())
            balance_w = np.where(u.treated, np.isfinite(imputed), w)
        else:
            tr = u.treated[targets]
            observed, counterpart = u.y[targets], u.pre[targets] + imputed[targets]
            a = np.where(tr, observed, counterpart)
            b = np.where(tr, counterpart, observed)
            extra = (2 * w + w**2 - q) * sig
            extra_a = float(extra[u.treated].sum())
            extra_b = float(extra[~u.treated].sum())
            balance_w = np.where(np.isfinite(imputed), 1.0 + w, 0.0)
        big_n = len(targets)
        da, db = a - a.mean(), b - b.mean()
        var_a = (float(da @ da) + extra_a) / big_n**2
        var_b = (float(db @ db) + extra_b) / big_n**2
        cov = float(da @ db) / big_n**2
        estimate = float(a.mean() - b.mean())
        se = math.sqrt(max(var_a + var_b - 2 * cov, 0.0))
        low, high, p = _inference.interval(estimate, se, confidence=self.confidence)
        lift, lift_se = _inference.ratio_lift(float(a.mean()), var_a, float(b.mean()), var_b, cov)
        balance = balance_table(u.x, u.names, u.treated, balance_w, estimand=self.estimand)
        treated_used = int(np.isfinite(imputed[u.treated]).sum())
        n_control = (
            int((w[~u.treated] > 0).sum())
            if self.estimand == "ATT"
            else int(np.isfinite(imputed[~u.treated]).sum())
        )
        return Effect(
            outcome=self.outcome,
            method=f"matching.nearest.{self.distance}",
            estimand=self.estimand,
            estimate=estimate,
            std_error=se,
            ci_low=low,
            ci_high=high,
            p_value=p,
            baseline=float(b.mean()),
            lift=lift,
            lift_ci=_inference.lift_interval(lift, lift_se, confidence=self.confidence),
            n_treated=treated_used,
            n_control=n_control,
            confidence=self.confidence,
            unit=self.unit or "",
            diagnostics=sample.diagnostics(balance, u, treated_used, balance_w),
            notes=self._notes(u, treated_used, w, dropped),
            tables={
                "balance": balance,
                "dropped": dropped,
                "pairs": sample.pairs_table(u, matches[0], scores),
                "pairs_summary": sample.pairs_summary(matches[0], w, u),
                "units": pd.DataFrame(
                    {
                        "unit": u.ids,
                        "treated": u.treated,
                        "score": scores,
                        "kept": keep,
                        "weight": balance_w,
                    }
                ),
            },
        )

    def _notes(
        self, u: Units, treated_used: int, w: np.ndarray, dropped: pd.DataFrame
    ) -> tuple[str, ...]:
        n_treated = int(u.treated.sum())
        design = (
            "matched difference-in-differences (change from the pre-period)"
            if (self.pre_outcome)
            else "post-period comparison"
        )
        notes = [
            f"{design}: {treated_used} of {n_treated} adopters matched to {self.ratio} "
            f"non-adopter(s) each {'with' if self.replace else 'without'} replacement"
            + (f", exactly within {list(self.exact)}" if self.exact else ""),
            *u.notes,
        ]
        if self.bias_adjust:
            notes.append(
                "matches are bias-adjusted for remaining covariate gaps by a linear "
                "regression (Abadie-Imbens 2011)"
            )
        if treated_used < n_treated:
            notes.append(
                f"{n_treated - treated_used} adopter(s) had no comparable non-adopter and are "
                "left out (see tables['dropped']); the estimate describes the matched adopters"
            )
        if self.score is None and self.distance in ("logit", "propensity"):
            notes.append(
                "standard errors treat the estimated propensity score as known (Abadie-Imbens 2006)"
            )
        reuse = float(w[~u.treated].max()) if (~u.treated).any() else 0.0
        if reuse >= 5:
            notes.append(
                f"one non-adopter stands in for up to {reuse:.0f} adopters; the "
                "effective sample size is smaller than the unit count"
            )
        return tuple(notes)


def matched_cohort(units: Any, outcome: str, **options: Any) -> Effect:
    """Shortcut for ``MatchedCohort(outcome, **options).estimate(units)``.

    Example:
        >>> import impact
        >>> s = impact.datasets.simulate(seed=0)
        >>> units = impact.adopter_units(s.events, s.agents, s.rollouts)
        >>> m = matched_cohort(units, "post_handle_time_minutes",
        ...                    pre_outcome="pre_handle_time_minutes",
        ...                    covariates=["tenure_months", "pre_handle_time_minutes"])
        >>> m.estimate < 0
        True
    """
    return MatchedCohort(outcome, **options).estimate(units)
