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
from impact.estimators._units import Units, load_units
from impact.estimators.balance import SMD_THRESHOLD, balance_table
from impact.estimators.neighbours import Matches, nearest, within_group_variance
from impact.estimators.propensity import ScoreModel, effective_sample_size, fit_scores, logit
from impact.result import Diagnostic, Effect

Distance = Literal["logit", "propensity", "mahalanobis"]
Estimand = Literal["ATT", "ATE"]
MIN_MATCHED = 10
MIN_RETAINED = 0.9  # below this share of adopters matched, the estimand has drifted


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
        distance: "logit" (the log-odds propensity score, default), "propensity" or
            "mahalanobis" (on the covariates, whitened by their pooled within-group covariance).
        ratio: controls per treated unit (1:k).
        replace: whether a control may serve several treated units (required for the ATE).
        caliper: maximum distance of a match, in standard deviations of the logit score.
        common_support: drop units whose score lies outside the other group's range first.
        score_model: "logit" (statsmodels) or "gbm" (cross-fitted gradient boosting).
        score: a column of user-supplied propensity scores (then no model is fitted).
        estimand: "ATT" (effect on adopters, default) or "ATE" (on everyone).
        unit: the unit id column, used in the pairs table (ignored when absent).
        confidence: confidence level of the intervals.
        variance_neighbours: same-group neighbours used to estimate each unit's variance.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> tenure = rng.gamma(2.0, 12.0, 400)
        >>> adopted = rng.random(400) < 1 / (1 + np.exp(-(tenure - 24) / 10))
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
    caliper: float | None = None
    common_support: bool = False
    score_model: ScoreModel = "logit"
    score: str | None = None
    estimand: Estimand = "ATT"
    unit: str | None = "agent_id"
    confidence: float = 0.95
    variance_neighbours: int = 2

    def __post_init__(self) -> None:
        object.__setattr__(self, "covariates", tuple(self.covariates))
        object.__setattr__(self, "exact", tuple(self.exact))
        if self.distance not in ("logit", "propensity", "mahalanobis"):
            raise ParameterError(f"distance must be logit, propensity or mahalanobis, "
                                 f"got {self.distance!r}")
        if self.estimand not in ("ATT", "ATE"):
            raise ParameterError(f"estimand must be 'ATT' or 'ATE', got {self.estimand!r}")
        if not (isinstance(self.ratio, int) and self.ratio >= 1):
            raise ParameterError(f"ratio must be a whole number >= 1, got {self.ratio!r}")
        if self.caliper is not None and not self.caliper > 0:
            raise ParameterError(f"caliper must be positive (in SDs of the logit score), "
                                 f"got {self.caliper!r}")
        if self.estimand == "ATE" and not self.replace:
            raise ParameterError("the ATE needs matching with replacement (replace=True): "
                                 "every unit is matched in both directions")
        _inference.check_confidence(self.confidence)

    def estimate(self, units: Any) -> Effect:
        """Match, estimate the effect with its Abadie-Imbens interval, and check balance."""
        table = as_table(units)
        unit = self.unit if self.unit in table.columns else None
        u = load_units(
            table, outcome=self.outcome, treatment=self.treatment, covariates=self.covariates,
            exact=self.exact, pre_outcome=self.pre_outcome, score=self.score, unit=unit,
        )
        scores = u.score if u.score is not None else fit_scores(
            u.x, u.treated, model=self.score_model, names=u.names
        )
        keep, dropped = _common_support(scores, u.treated, self.estimand, self.common_support)
        coords = _coordinates(u, scores, self.distance, keep)
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
        dropped = pd.concat([dropped, *(_unmatched(u, m, t, p) for m, t, p in
                                        zip(matches, (treated_rows, control_rows),
                                            (control_rows, treated_rows), strict=False))],
                            ignore_index=True)
        return self._effect(u, scores, coords, keep, matches, dropped)

    def _match(self, coords: np.ndarray, u: Units, lscore: np.ndarray, targets: np.ndarray,
               pool: np.ndarray, cal: float | None) -> Matches:
        if len(targets) == 0 or len(pool) == 0:
            raise EstimationError(
                "no overlap: after common-support trimming one group is empty "
                f"({len(targets)} to match, {len(pool)} to match from). The covariates "
                "separate adopters from non-adopters; see the propensity overlap plot."
            )
        on_score = self.distance == "logit" and cal is not None
        order = np.argsort(-lscore[targets], kind="stable")  # MatchIt's "largest" first
        m = nearest(coords, u.strata, targets, pool, k=self.ratio, replace=self.replace,
                    max_distance=cal * (1 + 1e-12) if on_score else np.inf, order=order)
        if cal is not None and not on_score:
            ok = np.abs(lscore[m.target] - lscore[m.pool]) <= cal
            m = _subset(m, ok)
        return m

    def _effect(self, u: Units, scores: np.ndarray, coords: np.ndarray, keep: np.ndarray,
                matches: list[Matches], dropped: pd.DataFrame) -> Effect:
        change = u.y - u.pre
        sigma2 = within_group_variance(coords[keep], u.strata[keep], u.treated[keep],
                                       change[keep], j=self.variance_neighbours)
        sig = np.zeros(len(u.y))
        sig[keep] = sigma2
        n = len(u.y)
        w = np.zeros(n)  # total weight each unit receives as someone's match
        q = np.zeros(n)  # sum of squared match weights
        imputed = np.full(n, np.nan)  # counterpart's mean change, per matched target
        for m in matches:
            np.add.at(w, m.pool, m.weight)
            np.add.at(q, m.pool, m.weight**2)
            part = np.zeros(n)
            np.add.at(part, m.target, m.weight * change[m.pool])
            imputed[np.unique(m.target)] = part[np.unique(m.target)]
        targets = np.flatnonzero(np.isfinite(imputed))
        if self.estimand == "ATT":
            if len(targets) == 0:
                raise EstimationError("no adopter found a match; widen the caliper or "
                                      "drop exact-matching columns")
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
        n_control = int((w[~u.treated] > 0).sum()) if self.estimand == "ATT" else int(
            np.isfinite(imputed[~u.treated]).sum())
        return Effect(
            outcome=self.outcome, method=f"matching.nearest.{self.distance}",
            estimand=self.estimand, estimate=estimate, std_error=se, ci_low=low, ci_high=high,
            p_value=p, baseline=float(b.mean()), lift=lift,
            lift_ci=_inference.lift_interval(lift, lift_se, confidence=self.confidence),
            n_treated=treated_used, n_control=n_control, confidence=self.confidence,
            unit=self.unit or "",
            diagnostics=_diagnostics(balance, u, treated_used, balance_w),
            notes=self._notes(u, treated_used, w, dropped),
            tables={
                "balance": balance,
                "dropped": dropped,
                "pairs": _pairs_table(u, matches[0], scores),
                "pairs_summary": _pairs_summary(matches[0], w, u),
                "units": pd.DataFrame({"unit": u.ids, "treated": u.treated, "score": scores,
                                       "kept": keep, "weight": balance_w}),
            },
        )

    def _notes(self, u: Units, treated_used: int, w: np.ndarray, dropped: pd.DataFrame
               ) -> tuple[str, ...]:
        n_treated = int(u.treated.sum())
        design = "matched difference-in-differences (change from the pre-period)" if (
            self.pre_outcome) else "post-period comparison"
        notes = [
            f"{design}: {treated_used} of {n_treated} adopters matched to {self.ratio} "
            f"non-adopter(s) each {'with' if self.replace else 'without'} replacement"
            + (f", exactly within {list(self.exact)}" if self.exact else ""),
            *u.notes,
        ]
        if treated_used < n_treated:
            notes.append(
                f"{n_treated - treated_used} adopter(s) had no comparable non-adopter and are "
                "left out (see tables['dropped']); the estimate describes the matched adopters"
            )
        if self.score is None and self.distance != "mahalanobis":
            notes.append("standard errors treat the estimated propensity score as known "
                         "(Abadie-Imbens 2006)")
        reuse = float(w[~u.treated].max()) if (~u.treated).any() else 0.0
        if reuse >= 5:
            notes.append(f"one non-adopter stands in for up to {reuse:.0f} adopters; the "
                         "effective sample size is smaller than the unit count")
        return tuple(notes)


def _common_support(scores: np.ndarray, treated: np.ndarray, estimand: str, on: bool
                    ) -> tuple[np.ndarray, pd.DataFrame]:
    keep = np.ones(len(scores), dtype=bool)
    rows = []
    if on:
        lo_c, hi_c = scores[~treated].min(), scores[~treated].max()
        lo_t, hi_t = scores[treated].min(), scores[treated].max()
        checks = [(treated, scores < lo_c, "adopter", "score below every non-adopter's"),
                  (treated, scores > hi_c, "adopter", "score above every non-adopter's")]
        if estimand == "ATE":
            checks += [(~treated, scores < lo_t, "non-adopter", "score below every adopter's"),
                       (~treated, scores > hi_t, "non-adopter", "score above every adopter's")]
        for group, outside, who, why in checks:
            hit = group & outside
            if hit.any():
                rows.append({"group": who, "reason": f"common support: {why}",
                             "units": int(hit.sum())})
                keep &= ~hit
    return keep, pd.DataFrame(rows, columns=["group", "reason", "units"])


def _coordinates(u: Units, scores: np.ndarray, distance: str, keep: np.ndarray) -> np.ndarray:
    if distance == "logit":
        return logit(scores)[:, None]
    if distance == "propensity":
        return scores[:, None]
    # Mahalanobis: whiten with the pooled within-group covariance, then distances are Euclidean.
    kept = keep.copy()
    centred = u.x.copy()
    for flag in (True, False):
        rows = kept & (u.treated == flag)
        centred[rows] -= u.x[rows].mean(axis=0)
    cov = np.atleast_2d(np.cov(centred[kept], rowvar=False))
    try:
        chol = np.linalg.cholesky(cov)
    except np.linalg.LinAlgError as exc:
        raise EstimationError(
            f"the covariates {list(u.names)} are collinear; Mahalanobis distance needs an "
            "invertible covariance: drop a redundant covariate"
        ) from exc
    return np.linalg.solve(chol, u.x.T).T


def _subset(m: Matches, ok: np.ndarray) -> Matches:
    from impact.estimators.neighbours import _pairs

    return _pairs(m.target[ok], m.pool[ok], m.distance[ok])


def _unmatched(u: Units, m: Matches, targets: np.ndarray, pool: np.ndarray) -> pd.DataFrame:
    missing = np.setdiff1d(targets, m.target)
    if len(missing) == 0:
        return pd.DataFrame(columns=["group", "reason", "units"])
    who = "adopter" if u.treated[missing[0]] else "non-adopter"
    empty_stratum = ~np.isin(u.strata[missing], u.strata[pool])
    rows = [(int(empty_stratum.sum()), "no match in its exact stratum"),
            (int((~empty_stratum).sum()), "no match within the caliper (or all used)")]
    return pd.DataFrame([{"group": who, "reason": r, "units": c} for c, r in rows if c])


def _pairs_table(u: Units, m: Matches, scores: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({
        "treated_unit": u.ids[m.target], "control_unit": u.ids[m.pool], "weight": m.weight,
        "distance": m.distance, "treated_score": scores[m.target],
        "control_score": scores[m.pool],
    })


def _pairs_summary(m: Matches, w: np.ndarray, u: Units) -> pd.DataFrame:
    used = w[~u.treated]
    used = used[used > 0]
    return pd.DataFrame([{
        "treated_matched": int(len(np.unique(m.target))), "pairs": int(len(m.target)),
        "controls_used": int(len(used)), "max_control_reuse": float(used.max(initial=0)),
        "mean_distance": float(m.distance.mean()) if len(m.distance) else math.nan,
        "max_distance": float(m.distance.max()) if len(m.distance) else math.nan,
    }])


def _diagnostics(balance: pd.DataFrame, u: Units, treated_used: int, weights: np.ndarray
                 ) -> tuple[Diagnostic, ...]:
    worst = float(balance.smd_after.abs().max())
    ratios = balance.var_ratio_after.to_numpy()
    worst_ratio = float(np.nanmax(np.abs(np.log(ratios)))) if np.isfinite(ratios).any() else 0.0
    share = treated_used / int(u.treated.sum())
    ess = effective_sample_size(weights[~u.treated])
    worst_name = balance.covariate.iloc[int(balance.smd_after.abs().to_numpy().argmax())]
    return (
        Diagnostic("max_abs_smd_after", worst, passed=worst < SMD_THRESHOLD,
                   detail=f"largest |standardized mean difference| after matching "
                   f"({worst_name}); below {SMD_THRESHOLD} is balanced"),
        Diagnostic("max_variance_ratio", float(math.exp(worst_ratio)),
                   passed=math.exp(worst_ratio) <= 2,
                   detail="largest variance ratio (either way) after matching; within 2"),
        Diagnostic("treated_retained", share, passed=share >= MIN_RETAINED,
                   detail=f"share of adopters matched; at least {MIN_RETAINED:.0%} keeps the ATT"),
        Diagnostic("effective_controls", ess, passed=ess >= MIN_MATCHED,
                   detail="effective number of non-adopters after weighting by reuse"),
    )


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
