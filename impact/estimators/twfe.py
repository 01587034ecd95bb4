"""Two-way fixed effects DiD (unit and period effects), kept for comparison.

With staggered adoption and effects that grow over time, TWFE compares late adopters with
early adopters and can even get the sign wrong (Goodman-Bacon 2021; de Chaisemartin and
D'Haultfoeuille 2020). The estimator reports the share of treated cells that TWFE weights
negatively, so a reader sees when not to trust it. Fixed effects are partialled out by
alternating projections (weighted within-transformation), not dummy regressions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from impact.errors import EstimationError
from impact.estimators import _bootstrap, _inference
from impact.estimators.did import MIN_CLUSTERS
from impact.estimators.panels import panel_frame
from impact.result import Diagnostic, Effect

TOLERANCE = 1e-10
MAX_SWEEPS = 10_000


def demean(
    values: np.ndarray, unit: np.ndarray, time: np.ndarray, weights: np.ndarray
) -> np.ndarray:
    """Remove unit and period means (weighted) by alternating projections.

    `values` is rows x columns; `unit`, `time` are integer codes. On a balanced panel one sweep
    is exact (the closed form y - y_i. - y_.t + y_..); otherwise sweeps repeat to convergence.
    """
    out = values.astype(np.float64).copy()
    w_unit = np.bincount(unit, weights=weights)
    w_time = np.bincount(time, weights=weights)
    for _ in range(MAX_SWEEPS):
        before = out.copy()
        for codes, totals in ((unit, w_unit), (time, w_time)):
            sums = np.zeros((totals.size, out.shape[1]))
            np.add.at(sums, codes, out * weights[:, None])
            out -= (sums / totals[:, None])[codes]
        if np.max(np.abs(out - before)) < TOLERANCE * (1 + np.max(np.abs(out))):
            return out
    raise EstimationError("the fixed-effects demeaning did not converge; check the panel")


@dataclass(frozen=True, slots=True)
class TwoWayFixedEffects:
    """``outcome ~ treated | unit + period`` with cluster-robust (CRV1) errors.

    `treated` is 1 from each unit's cohort on (a unit's cohort: first treated period; missing,
    0 or inf = never). With fewer than 30 clusters the p-value and interval come from a wild
    cluster restricted bootstrap (Webb weights below 12 clusters).

    Example:
        >>> import impact
        >>> panel = impact.rollout_panel("sample:events", "sample:rollouts")
        >>> TwoWayFixedEffects().estimate(panel).method
        'did.twfe+wild_bootstrap'
    """

    outcome: str = "handle_time_minutes"
    unit: str = "team_id"
    time: str = "week"
    cohort: str = "rollout_week"
    cluster: str | None = None
    weights: str | None = None
    confidence: float = 0.95
    n_boot: int = 999
    seed: int = 0
    bootstrap: bool | None = None  # None: when clusters < 30

    def estimate(self, panel: Any) -> Effect:
        _inference.check_confidence(self.confidence)
        cluster = self.cluster or self.unit
        frame = panel_frame(
            panel, [self.unit, self.time, self.cohort, self.outcome, cluster, self.weights]
        )
        frame = frame.loc[frame[self.outcome].notna()]
        if frame.duplicated([self.unit, self.time]).any():
            raise EstimationError(
                f"duplicated {self.unit} x {self.time} rows; a panel has one row per unit and "
                "period (aggregate first with impact.rollout_panel)"
            )
        g = frame[self.cohort].astype("float64")
        g = g.where(g.notna() & (g != 0), np.inf)
        t = frame[self.time].astype("float64")
        d = (t >= g).to_numpy(np.float64)
        if d.min() == d.max():
            raise EstimationError("the treatment indicator does not vary: no DiD is possible")
        unit_codes = frame[self.unit].factorize()[0]
        time_codes = frame[self.time].factorize()[0]
        cluster_codes = frame[cluster].factorize()[0]
        w = frame[self.weights].to_numpy(np.float64) if self.weights else np.ones(len(frame))
        y = frame[self.outcome].to_numpy(np.float64)
        tilde = demean(np.column_stack([y, d]), unit_codes, time_codes, w)
        sw = np.sqrt(w)
        y_t, d_t = tilde[:, 0] * sw, tilde[:, 1] * sw
        dd = float(d_t @ d_t)
        if dd < 1e-12:
            raise EstimationError("treatment is collinear with the unit and period effects")
        beta = float(d_t @ y_t / dd)
        resid = y_t - d_t * beta
        n_clusters = int(cluster_codes.max() + 1)
        if n_clusters < 2:
            raise EstimationError(
                f"only one cluster ({cluster}): a cluster-robust standard error needs several"
            )
        scores = np.bincount(cluster_codes, weights=d_t * resid)
        n = len(y)
        # pyfixest's (fixest's) "nonnested" count: fixed effects nested in the clusters are not
        # counted; the others count all their levels
        k = 1 + sum(
            int(codes.max()) + 1
            for codes, name in ((unit_codes, self.unit), (time_codes, self.time))
            if frame.groupby(name)[cluster].nunique().max() > 1
        )
        scale = n_clusters / (n_clusters - 1) * (n - 1) / (n - k)
        se = math.sqrt(scale * float(scores @ scores)) / dd
        use_boot = self.bootstrap if self.bootstrap is not None else n_clusters < MIN_CLUSTERS
        notes, method = [], "did.twfe"
        df = n_clusters - 1
        low, high, p = _inference.interval(beta, se, confidence=self.confidence, df=df)
        if use_boot:
            wild = _bootstrap.wild_cluster(
                tilde[:, 0] * sw,
                d_t[:, None],
                cluster_codes,
                0,
                confidence=self.confidence,
                n_draws=self.n_boot,
                seed=self.seed,
                partial_out=lambda v: (
                    demean(v[:, None] / sw[:, None], unit_codes, time_codes, w)[:, 0] * sw
                ),
            )
            low, high, p = wild.ci_low, wild.ci_high, wild.p_value
            method = "did.twfe+wild_bootstrap"
            notes.append(
                f"only {n_clusters} clusters: the p-value and interval come from a wild cluster "
                f"bootstrap ({wild.kind} weights, null imposed), not from normal theory"
            )
        share, negative_sum = negative_weights(d, unit_codes, time_codes, w)
        diagnostics = [
            Diagnostic("n_clusters", float(n_clusters), passed=n_clusters >= MIN_CLUSTERS),
            Diagnostic(
                "twfe_negative_weight_share",
                share,
                passed=share == 0,
                detail=f"share of treated cells weighted negatively (sum {negative_sum:.3g})",
            ),
        ]
        if share > 0:
            notes.append(
                f"TWFE gives {share:.0%} of the treated team-weeks a negative weight: it partly "
                "uses early adopters as controls for late ones, so with effects that grow over "
                "time it is biased (possibly in sign). Prefer the Callaway-Sant'Anna estimate."
            )
        treated_units = frame.loc[d == 1, self.unit].nunique()
        treated_cells = d == 1
        baseline = float(np.average(y[treated_cells], weights=w[treated_cells])) - beta
        lift = beta / baseline if baseline else math.nan
        z = float(stats.norm.ppf(0.5 + self.confidence / 2))
        lift_se = se / abs(baseline) if baseline else math.nan
        return Effect(
            outcome=self.outcome,
            method=method,
            estimand="ATT",
            estimate=beta,
            std_error=se,
            ci_low=low,
            ci_high=high,
            p_value=p,
            baseline=baseline,
            lift=lift,
            lift_ci=(lift - z * lift_se, lift + z * lift_se),
            n_treated=int(treated_units),
            n_control=int(frame[self.unit].nunique() - treated_units),
            confidence=self.confidence,
            unit=self.unit,
            diagnostics=tuple(diagnostics),
            notes=tuple(notes),
        )


def negative_weights(
    d: np.ndarray, unit: np.ndarray, time: np.ndarray, weights: np.ndarray
) -> tuple[float, float]:
    """Share of treated cells with a negative TWFE weight, and the sum of those weights.

    de Chaisemartin and D'Haultfoeuille (2020): TWFE's coefficient is a weighted sum of the
    cell effects with weights proportional to the residual of the treatment on the two sets of
    fixed effects; treated cells with a negative residual get a negative weight.
    """
    resid = demean(d[:, None], unit, time, weights)[:, 0]
    treated = d == 1
    cell_w = weights[treated] * resid[treated]
    cell_w = cell_w / cell_w.sum()
    negative = cell_w < -1e-12
    return float(negative.mean()), float(cell_w[negative].sum())
