"""The imputation DiD of Borusyak, Jaravel and Spiess (2024), in Gardner's two-stage form.

Stage 1 fits unit and period effects on untreated unit-periods only (never treated, not yet
treated); stage 2 imputes each treated unit-period's no-AI outcome from them and averages the
gaps, overall and by time since adoption. Robust to effects that vary across cohorts and over
time, like Callaway-Sant'Anna, but it uses every pre-period, so it is more precise when parallel
trends hold in all of them. Standard errors are Gardner's GMM cluster-robust errors, as R's
`did2s` and pyfixest's `did2s` compute them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from impact.errors import EstimationError
from impact.estimators import _bootstrap, _inference
from impact.estimators.panels import check_finite, panel_frame
from impact.result import Diagnostic, Effect

MAX_LEVELS = 5_000  # dense GMM variance above this would need sparse algebra
MAX_SWEEPS = 10_000


@dataclass(frozen=True, slots=True)
class Imputation:
    """Imputation (did2s) estimator of the ATT and the event study.

    Example:
        >>> import impact
        >>> panel = impact.rollout_panel("sample:events", "sample:rollouts")
        >>> effect = Imputation().estimate(panel)
        >>> effect.method, "event_study" in effect.tables
        ('did.imputation', True)
    """

    outcome: str = "handle_time_minutes"
    unit: str = "team_id"
    time: str = "week"
    cohort: str = "rollout_week"
    cluster: str | None = None
    weights: str | None = None
    anticipation: int = 0
    confidence: float = 0.95

    def estimate(self, panel: Any) -> Effect:
        _inference.check_confidence(self.confidence)
        cluster = self.cluster or self.unit
        frame = panel_frame(
            panel, [self.unit, self.time, self.cohort, self.outcome, cluster, self.weights]
        )
        frame = frame.loc[frame[self.outcome].notna()].reset_index(drop=True)
        check_finite(frame, self.outcome, unit=self.unit, time=self.time)
        if frame.duplicated([self.unit, self.time]).any():
            raise EstimationError(
                f"duplicated {self.unit} x {self.time} rows; aggregate first (rollout_panel)"
            )
        g = frame[self.cohort].astype("float64")
        g = g.where(g.notna() & (g != 0), np.inf).to_numpy()
        t = frame[self.time].astype("float64").to_numpy()
        treated = t >= g - self.anticipation
        event = np.where(treated, t - g, np.nan)
        unit_codes, units = frame[self.unit].factorize()
        time_codes, periods = frame[self.time].factorize()
        self._check(treated, unit_codes, time_codes, units, periods)
        w = frame[self.weights].to_numpy(np.float64) if self.weights else np.ones(len(frame))
        y = frame[self.outcome].to_numpy(np.float64)
        alpha, lam = _two_way_fit(y, unit_codes, time_codes, w, ~treated)
        first_u = y - alpha[unit_codes] - lam[time_codes]  # tau_it on treated rows
        # second stage: overall ATT, then one dummy per event time
        d_all = treated.astype(float)[:, None]
        labels = np.unique(event[treated])
        d_event = np.column_stack([(event == e).astype(float) for e in labels])
        overall = _second_stage(first_u, d_all, w, unit_codes, time_codes, treated, frame[cluster])
        dynamic = _second_stage(
            first_u, d_event, w, unit_codes, time_codes, treated, frame[cluster]
        )
        est, se = float(overall[0][0]), float(overall[1][0])
        n_clusters = int(frame[cluster].nunique())
        low, high, p = _inference.interval(est, se, confidence=self.confidence, df=n_clusters - 1)
        z = float(stats.t.ppf(0.5 + self.confidence / 2, n_clusters - 1))
        event_study = pd.DataFrame(
            {
                "event_time": labels,
                "att": dynamic[0],
                "std_error": dynamic[1],
                "ci_low": dynamic[0] - z * dynamic[1],
                "ci_high": dynamic[0] + z * dynamic[1],
                "n_obs": d_event.sum(axis=0).astype(int),
            }
        )
        observed = float(np.average(y[treated], weights=w[treated]))
        baseline = observed - est  # the imputed no-AI mean of the treated unit-periods
        # the lift's error counts the baseline's too (delta method on per-cluster influence)
        cluster_codes = frame[cluster].factorize()[0]
        observed_inf = (
            np.bincount(
                cluster_codes[treated],
                weights=w[treated] * (y[treated] - observed),
                minlength=n_clusters,
            )
            / w[treated].sum()
        )
        lift, lift_inf = _inference.lift_influence(est, observed, overall[2][:, 0], observed_inf)
        lift_se = math.sqrt(float(lift_inf @ lift_inf)) if math.isfinite(lift) else math.nan
        notes = []
        treated_clusters = int(frame.loc[treated, cluster].nunique())
        few = _bootstrap.few_clusters(n_clusters, treated_clusters)
        if few:
            notes.append(
                _bootstrap.few_clusters_note(
                    n_clusters,
                    treated_clusters,
                    cluster,
                    f"the imputation interval uses a t({n_clusters - 1}) distribution, which is "
                    "still optimistic (this estimator has no bootstrap; compare with the "
                    "Callaway-Sant'Anna estimate, which has one)",
                )
            )
        return Effect(
            outcome=self.outcome,
            method="did.imputation",
            estimand="ATT",
            estimate=est,
            std_error=se,
            ci_low=low,
            ci_high=high,
            p_value=p,
            baseline=baseline,
            lift=lift,
            lift_ci=(lift - z * lift_se, lift + z * lift_se),
            n_treated=int(pd.Series(unit_codes[treated]).nunique()),
            n_control=int(len(units) - pd.Series(unit_codes[treated]).nunique()),
            confidence=self.confidence,
            unit=self.unit,
            diagnostics=(
                Diagnostic(
                    "n_clusters",
                    float(n_clusters),
                    passed=not few,
                    detail=f"{treated_clusters} treated",
                ),
            ),
            notes=tuple(notes),
            tables={"event_study": event_study},
        )

    def _check(
        self,
        treated: np.ndarray,
        unit_codes: np.ndarray,
        time_codes: np.ndarray,
        units: pd.Index,
        periods: pd.Index,
    ) -> None:
        if not treated.any():
            raise EstimationError("no unit-period is treated: nothing to impute")
        untreated_periods = np.bincount(time_codes[~treated], minlength=len(periods))
        if (untreated_periods == 0).any():
            bad = periods[np.flatnonzero(untreated_periods == 0)[0]]
            raise EstimationError(
                f"in {self.time} {bad!r} every unit is treated: there is no untreated unit to "
                "impute that period's no-AI outcome from. Restrict the window to periods with "
                "a never- or not-yet-treated unit."
            )
        untreated_units = np.bincount(unit_codes[~treated], minlength=len(units))
        if (untreated_units == 0).any():
            bad = units[np.flatnonzero(untreated_units == 0)[0]]
            raise EstimationError(
                f"{self.unit} {bad!r} is treated in every period it is observed: its own level "
                "cannot be estimated. Drop it or extend the window back."
            )
        if len(units) + len(periods) > MAX_LEVELS:
            raise EstimationError(
                f"{len(units)} units + {len(periods)} periods exceed {MAX_LEVELS} fixed-effect "
                "levels for the imputation variance; aggregate to teams or use StaggeredDiD"
            )


def _two_way_fit(
    y: np.ndarray, unit: np.ndarray, time: np.ndarray, w: np.ndarray, rows: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Unit and period effects fitted on `rows` by alternating (Gauss-Seidel) updates."""
    n_units, n_times = unit.max() + 1, time.max() + 1
    alpha, lam = np.zeros(n_units), np.zeros(n_times)
    wu = np.bincount(unit[rows], weights=w[rows], minlength=n_units)
    wt = np.bincount(time[rows], weights=w[rows], minlength=n_times)
    for _ in range(MAX_SWEEPS):
        alpha_new = (
            np.bincount(unit[rows], weights=w[rows] * (y - lam[time])[rows], minlength=n_units) / wu
        )
        lam_new = (
            np.bincount(
                time[rows], weights=w[rows] * (y - alpha_new[unit])[rows], minlength=n_times
            )
            / wt
        )
        change = max(np.max(np.abs(alpha_new - alpha)), np.max(np.abs(lam_new - lam)))
        alpha, lam = alpha_new, lam_new
        if change < 1e-12 * (1 + np.max(np.abs(y))):
            return alpha, lam
    raise EstimationError("the imputation first stage did not converge; check the panel")


def _second_stage(
    first_u: np.ndarray,
    x2: np.ndarray,
    w: np.ndarray,
    unit: np.ndarray,
    time: np.ndarray,
    treated: np.ndarray,
    clusters: pd.Series,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Second-stage coefficients, Gardner's GMM cluster-robust standard errors, and each
    cluster's influence on the coefficients (clusters x coefficients; in the order of
    ``clusters.factorize()``), whose cross-product is their covariance."""
    sw = np.sqrt(w)
    x2w = x2 * sw[:, None]
    uw = first_u * sw
    x2x2 = x2w.T @ x2w
    beta = np.linalg.solve(x2x2, x2w.T @ uw)
    second_u = uw - x2w @ beta
    x1 = (
        np.column_stack([np.eye(unit.max() + 1)[unit], np.eye(time.max() + 1)[time][:, 1:]])
        * sw[:, None]
    )
    x10 = x1 * (~treated)[:, None]
    v = np.linalg.lstsq(x10.T @ x10, x1.T @ x2w, rcond=None)[0].T  # X2'X1 (X10'X10)^-1
    codes = clusters.factorize()[0]
    scores = np.zeros((codes.max() + 1, x2.shape[1]))
    first_part = np.zeros((codes.max() + 1, x1.shape[1]))
    np.add.at(scores, codes, x2w * second_u[:, None])
    np.add.at(first_part, codes, x10 * (uw * ~treated)[:, None])
    w_g = scores - first_part @ v.T
    influence = w_g @ np.linalg.inv(x2x2)
    vcov = influence.T @ influence
    return beta, np.sqrt(np.clip(np.diag(vcov), 0, None)), influence
