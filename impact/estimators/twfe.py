"""Two-way fixed effects DiD (unit and period effects), kept for comparison.

With staggered adoption and effects that grow over time, TWFE compares late adopters with
early adopters and can even get the sign wrong (Goodman-Bacon 2021; de Chaisemartin and
D'Haultfoeuille 2020). The estimator reports the share of treated cells that TWFE weights
negatively, so a reader sees when not to trust it. Fixed effects are partialled out by the
weighted within transformation (:class:`FixedEffects`: a closed form on balanced panels, a
small direct solve on any other), never by dummy regressions or iterating to a tolerance:
a million units x 26 periods take under two seconds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from impact.errors import EstimationError
from impact.estimators import _bootstrap, _inference
from impact.estimators.panels import cells, check_finite, codes, panel_frame
from impact.result import Diagnostic, Effect

TOLERANCE = 1e-10
MAX_SWEEPS = 10_000
#: The within transformation solves for the effects of the dimension with fewer levels
#: directly (a dense levels x levels system) up to this many levels; beyond, it sweeps.
MAX_SOLVED_LEVELS = 2_000


class FixedEffects:
    """The unit and period effects of a panel, set up once to remove them from any column.

    Removing them (the weighted within transformation, the residual of a column on unit and
    period dummies) takes, by the panel's shape:

    * balanced, weights constant within a unit: the closed form ``y - y_i. - y_.t + y_..``
      (weighted period means), on the unit x period matrix;
    * any other panel: the normal equations of the effects of the dimension with fewer levels
      (periods, usually) after the other is swept out, solved directly: a small dense system
      built with one matrix product, so no iteration and no convergence tolerance;
    * more than :data:`MAX_SOLVED_LEVELS` levels on both sides: alternating projections
      (Gauss-Seidel sweeps) to convergence.

    Every count and sum is a ``np.bincount``, never ``np.add.at`` (an order of magnitude
    slower). `unit`, `time` are integer codes ``0..k-1``.

    Example:
        >>> fe = FixedEffects(np.array([0, 0, 1, 1]), np.array([0, 1, 0, 1]), np.ones(4))
        >>> fe.demean(np.array([[1.0], [2.0], [3.0], [5.0]]))[:, 0].tolist()
        [0.25, -0.25, -0.25, 0.25]
    """

    def __init__(
        self,
        unit: np.ndarray,
        time: np.ndarray,
        weights: np.ndarray | None = None,
        *,
        balanced: bool | None = None,
    ) -> None:
        self.unit = np.asarray(unit, dtype=np.int64)
        self.time = np.asarray(time, dtype=np.int64)
        self.n = len(self.unit)
        self.n_units = int(self.unit.max()) + 1 if self.n else 0
        self.n_times = int(self.time.max()) + 1 if self.n else 0
        if weights is not None and (np.asarray(weights) == 1.0).all():
            weights = None
        self.weights = None if weights is None else np.asarray(weights, dtype=np.float64)
        key = self.unit * self.n_times + self.time
        if balanced is None:
            balanced = self.n == self.n_units * self.n_times and (
                np.bincount(key, minlength=self.n).max(initial=0) <= 1
            )
        # Rows in unit-major, period-minor order are the matrix itself; otherwise each
        # row's place in the unit x period matrix.
        self._place: np.ndarray | None = None
        self._unit_w: np.ndarray | None = None
        self.closed_form = False
        if balanced:
            # balanced: `key` is a permutation of 0..n-1, in order when it only increases
            in_order = not self.n or bool((key[1:] > key[:-1]).all())
            self._place = None if in_order else key
            if self.weights is None:
                self.closed_form = True
            else:
                w = self._matrix(self.weights)
                self.closed_form = bool((w == w[:, :1]).all())
                self._unit_w = w[:, 0]
        self._solver: tuple[np.ndarray, ...] | None = None

    def demean(self, values: np.ndarray) -> np.ndarray:
        """`values` (rows x columns) minus their unit and period effects (weighted)."""
        values = np.asarray(values, dtype=np.float64)
        if values.ndim == 1:
            if self.closed_form:
                return self._closed_form(values)
            return self.demean(values[:, None])[:, 0]
        if self.closed_form:
            return np.column_stack(
                [self._closed_form(values[:, j]) for j in range(values.shape[1])]
            )
        if min(self.n_units, self.n_times) <= MAX_SOLVED_LEVELS:
            return self._solved(values)
        return self._swept(values)

    def _matrix(self, column: np.ndarray) -> np.ndarray:
        """A balanced panel's column as its units x periods matrix."""
        if self._place is None:
            return column.reshape(self.n_units, self.n_times)
        out = np.empty(self.n)
        out[self._place] = column
        return out.reshape(self.n_units, self.n_times)

    def _closed_form(self, column: np.ndarray) -> np.ndarray:
        y = self._matrix(column)
        resid = y - y.mean(axis=1, keepdims=True)  # the weights are constant within a unit
        w = self._unit_w
        resid -= resid.mean(axis=0) if w is None else (w @ resid) / w.sum()
        flat = resid.ravel()
        return flat if self._place is None else flat[self._place]

    def _sums(self, level: np.ndarray, column: np.ndarray, size: int) -> np.ndarray:
        weights = column if self.weights is None else column * self.weights
        return np.bincount(level, weights=weights, minlength=size)

    def _totals(self, level: np.ndarray, size: int) -> np.ndarray:
        """Each level's total weight."""
        return np.bincount(level, weights=self.weights, minlength=size).astype(np.float64)

    def _solved(self, values: np.ndarray) -> np.ndarray:
        """Sweep out the larger dimension's effects, solve for the smaller one's directly.

        With `a` the dimension swept out (e.g. units) and `b` the one solved for (periods),
        the effects of `b` solve ``(diag(W_b) - C' diag(1 / W_a) C) g = C'-side sums of the
        `a`-demeaned column``, where ``C[a, b]`` is the weight of cell (a, b). The system has
        one redundant direction (a constant moves between the two sets of effects), so it is
        solved by least squares; the residual does not depend on that choice.
        """
        if self._solver is None:
            self._solver = self._setup_solver()
        big, small, inv_big, inverse = self._solver
        n_big, n_small = len(inv_big), len(inverse)
        out = np.empty_like(values)
        for j in range(values.shape[1]):
            column = values[:, j]
            resid = column - (self._sums(big, column, n_big) * inv_big)[big]
            effects = inverse @ self._sums(small, resid, n_small)
            spread = effects[small]
            out[:, j] = resid - spread + (self._sums(big, spread, n_big) * inv_big)[big]
        return out

    def _setup_solver(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        big, small = (self.unit, self.time)[:: 1 if self.n_units >= self.n_times else -1]
        n_big, n_small = max(self.n_units, self.n_times), min(self.n_units, self.n_times)
        w_big, w_small = self._totals(big, n_big), self._totals(small, n_small)
        inv_big = np.divide(1.0, w_big, out=np.zeros(n_big), where=w_big > 0)
        if n_big * n_small <= 4 * self.n + (1 << 20):
            cell = np.bincount(
                big * n_small + small, weights=self.weights, minlength=n_big * n_small
            )
            cell = cell.reshape(n_big, n_small).astype(np.float64)
            cross = (cell * inv_big[:, None]).T @ cell
        else:  # a sparse panel: the same product on a sparse matrix
            from scipy import sparse

            weights = np.ones(self.n) if self.weights is None else self.weights
            cell = sparse.csr_matrix((weights, (big, small)), shape=(n_big, n_small))
            cross = (cell.T @ sparse.diags(inv_big) @ cell).toarray()
        inverse = np.linalg.pinv(np.diag(w_small) - cross, rcond=1e-12, hermitian=True)
        return big, small, inv_big, inverse

    def _swept(self, values: np.ndarray) -> np.ndarray:
        """Alternating projections to convergence (both dimensions with many levels)."""
        out = values.copy()
        sides = []
        for level, size in ((self.unit, self.n_units), (self.time, self.n_times)):
            totals = self._totals(level, size)
            sides.append((level, np.divide(1.0, totals, out=np.zeros(size), where=totals > 0)))
        for _ in range(MAX_SWEEPS):
            change = 0.0
            for level, inverse in sides:
                for j in range(out.shape[1]):
                    step = (self._sums(level, out[:, j], len(inverse)) * inverse)[level]
                    out[:, j] -= step
                    change = max(change, float(np.max(np.abs(step), initial=0.0)))
            if change < TOLERANCE * (1 + float(np.max(np.abs(out), initial=0.0))):
                return out
        raise EstimationError("the fixed-effects demeaning did not converge; check the panel")


def demean(
    values: np.ndarray, unit: np.ndarray, time: np.ndarray, weights: np.ndarray
) -> np.ndarray:
    """Remove unit and period means (weighted): the two-way within transformation.

    `values` is rows x columns; `unit`, `time` are integer codes. See :class:`FixedEffects`
    (set one up to transform several columns of the same panel).
    """
    return FixedEffects(unit, time, weights).demean(values)


@dataclass(frozen=True, slots=True)
class TwoWayFixedEffects:
    """``outcome ~ treated | unit + period`` with cluster-robust (CRV1) errors.

    `treated` is 1 from each unit's cohort on (a unit's cohort: first treated period; missing,
    0 or inf = never). With fewer than 30 clusters, or fewer than 10 treated ones, the p-value
    and interval come from a wild cluster restricted bootstrap (Webb weights below 12 clusters).

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
        columns = [self.unit, self.time, self.cohort, self.outcome, cluster, self.weights]
        frame = panel_frame(panel, columns, copy=False)  # read only
        observed = frame[self.outcome].notna().to_numpy()
        if not observed.all():
            frame = frame.loc[observed]
        y = frame[self.outcome].to_numpy(np.float64)
        if np.isinf(y).any():
            check_finite(frame, self.outcome, unit=self.unit, time=self.time)
        unit_codes, units = codes(frame[self.unit], what=self.unit)
        time_codes, _ = codes(frame[self.time], what=self.time)
        n_units, n_times = len(units), int(time_codes.max()) + 1 if len(frame) else 0
        repeated, balanced = cells(unit_codes, time_codes, n_units, n_times)
        if repeated:
            raise EstimationError(
                f"duplicated {self.unit} x {self.time} rows; a panel has one row per unit and "
                "period (aggregate first with impact.rollout_panel)"
            )
        g = frame[self.cohort].to_numpy(np.float64, na_value=np.nan)
        g = np.where(np.isnan(g) | (g == 0), np.inf, g)
        t = frame[self.time].to_numpy(np.float64)
        d = (t >= g).astype(np.float64)
        if d.min() == d.max():
            raise EstimationError("the treatment indicator does not vary: no DiD is possible")
        cluster_codes = (
            unit_codes if cluster == self.unit else codes(frame[cluster], what=cluster)[0]
        )
        w = frame[self.weights].to_numpy(np.float64) if self.weights else None
        effects = FixedEffects(unit_codes, time_codes, w, balanced=balanced)
        y_tilde, d_tilde = effects.demean(y), effects.demean(d)
        # the weighted regression is OLS on rows scaled by sqrt(w)
        sw = None if w is None else np.sqrt(w)
        y_t, d_t = (y_tilde, d_tilde) if sw is None else (y_tilde * sw, d_tilde * sw)
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
            int(fe.max()) + 1
            for fe in (unit_codes, time_codes)
            if not (fe is cluster_codes or _nested(fe, cluster_codes))
        )
        scale = n_clusters / (n_clusters - 1) * (n - 1) / (n - k)
        se = math.sqrt(scale * float(scores @ scores)) / dd
        treated_clusters = int(np.count_nonzero(np.bincount(cluster_codes, weights=d)))
        few = _bootstrap.few_clusters(n_clusters, treated_clusters)
        use_boot = self.bootstrap if self.bootstrap is not None else few
        notes, method = [], "did.twfe"
        df = n_clusters - 1
        low, high, p = _inference.interval(beta, se, confidence=self.confidence, df=df)
        if use_boot:
            root = np.ones(n) if sw is None else sw
            wild = _bootstrap.wild_cluster(
                y_t,
                d_t[:, None],
                cluster_codes,
                0,
                confidence=self.confidence,
                n_draws=self.n_boot,
                seed=self.seed,
                partial_out=lambda v: effects.demean(v / root[:, None]) * root[:, None],
            )
            low, high, p = wild.ci_low, wild.ci_high, wild.p_value
            method = "did.twfe+wild_bootstrap"
            notes.append(
                _bootstrap.few_clusters_note(
                    n_clusters,
                    treated_clusters,
                    cluster,
                    f"the p-value and interval come from a wild cluster bootstrap ({wild.kind} "
                    "weights, null imposed)",
                )
            )
        treated_cells = d == 1
        share, negative_sum = _negative_weights(treated_cells, d_tilde, w)
        diagnostics = [
            Diagnostic(
                "n_clusters",
                float(n_clusters),
                passed=not few,
                detail=f"{treated_clusters} treated; wild bootstrap when few",
            ),
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
        treated_units = int(np.count_nonzero(np.bincount(unit_codes, weights=d)))
        treated_y = y[treated_cells]
        mean_treated = (
            treated_y.mean() if w is None else np.average(treated_y, weights=w[treated_cells])
        )
        baseline = float(mean_treated) - beta
        # the lift's error counts the baseline's too: per-cluster influence of the coefficient
        # and of the treated's observed mean, combined by the delta method
        w_treated = np.ones(len(treated_y)) if w is None else w[treated_cells]
        observed_inf = (
            np.bincount(
                cluster_codes[treated_cells],
                weights=w_treated * (treated_y - mean_treated),
                minlength=n_clusters,
            )
            / w_treated.sum()
        )
        lift, lift_inf = _inference.lift_influence(
            beta, float(mean_treated), scores / dd, observed_inf
        )
        lift_se = math.sqrt(scale * float(lift_inf @ lift_inf)) if math.isfinite(lift) else math.nan
        z = float(stats.norm.ppf(0.5 + self.confidence / 2))
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
            n_control=int(n_units - treated_units),
            confidence=self.confidence,
            unit=self.unit,
            diagnostics=tuple(diagnostics),
            notes=tuple(notes),
        )


def cell_weights(
    d: np.ndarray, unit: np.ndarray, time: np.ndarray, weights: np.ndarray
) -> np.ndarray:
    """The weight TWFE puts on each treated row's own effect (zero on untreated rows).

    de Chaisemartin and D'Haultfoeuille (2020): with ``y = unit + period + effect * d``, the
    TWFE coefficient is ``sum(cell_weights * effect)``; each weight is proportional to the
    residual of the treatment on the two sets of fixed effects, so it is negative for treated
    cells whose residual is (typically early adopters in late periods). The weights sum to one.
    """
    resid = demean(d[:, None], unit, time, weights)[:, 0]
    cell_w = np.where(d == 1, weights * resid, 0.0)
    return cell_w / cell_w.sum()


def negative_weights(
    d: np.ndarray, unit: np.ndarray, time: np.ndarray, weights: np.ndarray
) -> tuple[float, float]:
    """Share of treated cells with a negative TWFE weight, and the sum of those weights."""
    resid = demean(d[:, None], unit, time, weights)[:, 0]
    return _negative_weights(d == 1, resid, weights)


def _negative_weights(
    treated: np.ndarray, resid: np.ndarray, weights: np.ndarray | None
) -> tuple[float, float]:
    """:func:`negative_weights` from the treatment's residual on the fixed effects."""
    cell_w = resid[treated] if weights is None else (weights * resid)[treated]
    cell_w = cell_w / cell_w.sum()
    negative = cell_w < -1e-12
    return float(negative.mean()), float(cell_w[negative].sum())


def _nested(effect: np.ndarray, cluster: np.ndarray) -> bool:
    """Whether every level of a fixed effect (codes) lies within one cluster (codes)."""
    levels = int(effect.max()) + 1
    if levels < int(cluster.max()) + 1:
        return False  # nested levels would each bring their cluster: at least as many levels
    first = np.empty(levels, dtype=cluster.dtype)
    first[effect] = cluster  # any one row's cluster per level ...
    return bool((first[effect] == cluster).all())  # ... is every row's
