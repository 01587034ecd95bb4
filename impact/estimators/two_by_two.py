"""The 2x2 difference-in-differences: treated vs comparison group, before vs after.

``outcome ~ treated + post + treated:post + covariates`` by least squares whose normal
equations are summed in the engine (X'X, X'y, then the residual moments the chosen `vcov`
needs), so it runs on a panel or straight on 100M events (repeated cross-sections) without
pulling rows into Python. `vcov` follows pyfixest: "iid", "hetero" (HC1) or "cluster" (CRV1).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import ibis.expr.types as ir
import numpy as np
import pandas as pd
from scipy import stats

from impact.engine import as_table
from impact.errors import EstimationError, ParameterError
from impact.estimators import _bootstrap, _inference
from impact.result import Diagnostic, Effect

Vcov = Literal["iid", "hetero", "cluster"]


@dataclass(frozen=True, slots=True)
class DiffInDiff:
    """Two-group, two-period DiD on a panel or on repeated cross-sections (no unit id).

    Args:
        treated: boolean (or 0/1) column: the row belongs to the treated group.
        post: boolean (or 0/1) column: the row is after the rollout.
        cluster: the column treatment was assigned by (a team); needed for ``vcov="cluster"``.
        vcov: "iid", "hetero" (HC1) or "cluster" (CRV1; the default when `cluster` is set).

    Example:
        >>> import pandas as pd
        >>> rows = pd.DataFrame({"y": [1.0, 2, 3, 5, 1, 2, 3, 4], "g": [1, 1, 1, 1, 0, 0, 0, 0],
        ...                      "p": [0, 0, 1, 1, 0, 0, 1, 1]})
        >>> DiffInDiff("y", treated="g", post="p", vcov="hetero").estimate(rows).estimate
        0.5
    """

    outcome: str = "handle_time_minutes"
    treated: str = "treated"
    post: str = "post"
    covariates: Sequence[str] = ()
    weights: str | None = None
    cluster: str | None = None
    vcov: Vcov | None = None
    confidence: float = 0.95
    n_boot: int = 999
    seed: int = 0

    def estimate(self, data: Any) -> Effect:
        """Fit the regression in the engine and return the interaction as an Effect."""
        _inference.check_confidence(self.confidence)
        vcov = self.vcov or ("cluster" if self.cluster else "hetero")
        if vcov not in Vcov.__args__:
            raise ParameterError(f"vcov must be one of {list(Vcov.__args__)}, got {vcov!r}")
        if vcov == "cluster" and not self.cluster:
            raise ParameterError("vcov='cluster' needs cluster=<column> (e.g. 'team_id')")
        table = as_table(data)
        needed = [
            self.outcome,
            self.treated,
            self.post,
            *self.covariates,
            self.weights,
            self.cluster,
        ]
        if missing := [c for c in needed if c and c not in table.columns]:
            raise EstimationError(f"no column(s) {missing}; the data have {table.columns}")
        names = ["intercept", self.treated, self.post, "did", *self.covariates]
        complete = table[self.outcome].notnull() & table[self.treated].notnull()
        complete &= table[self.post].notnull()
        for c in (*self.covariates, self.weights, self.cluster):
            if c:
                complete &= table[c].notnull()
        rows = table.filter(complete)
        d = rows[self.treated].cast("float64")
        p = rows[self.post].cast("float64")
        ones = d * 0.0 + 1.0  # a column of ones (a bare literal would not aggregate)
        regressors = [ones, d, p, d * p, *(rows[c].cast("float64") for c in self.covariates)]
        y = rows[self.outcome].cast("float64")
        w = rows[self.weights].cast("float64") if self.weights else ones
        k = len(regressors)
        pairs = {
            f"xx_{i}_{j}": (w * regressors[i] * regressors[j]).sum()
            for i in range(k)
            for j in range(i, k)
        }
        moments = (
            rows.aggregate(
                n=rows.count(),
                n_treated=d.sum(),
                **pairs,
                **{f"xy_{i}": (w * regressors[i] * y).sum() for i in range(k)},
            )
            .execute()
            .iloc[0]
        )
        n = int(moments["n"])
        xtx = np.zeros((k, k))
        for i in range(k):
            for j in range(i, k):
                xtx[i, j] = xtx[j, i] = moments[f"xx_{i}_{j}"]
        xty = np.array([moments[f"xy_{i}"] for i in range(k)], dtype=np.float64)
        cells = xtx[[0, 1, 2, 3], :][:, [0, 1, 2, 3]]
        if (
            n == 0
            or min(
                cells[1, 1] - cells[1, 3],
                cells[2, 2] - cells[2, 3],
                cells[3, 3],
                cells[0, 0] - cells[1, 1] - cells[2, 2] + cells[3, 3],
            )
            <= 0
        ):
            raise EstimationError(
                f"the 2x2 DiD needs rows in all four cells ({self.treated} x {self.post}); at "
                "least one cell is empty"
            )
        if np.linalg.matrix_rank(xtx) < k:
            raise EstimationError(
                f"the regressors {names} are collinear; drop a covariate that is constant "
                "or duplicates the groups"
            )
        xtx_inv = np.linalg.inv(xtx)
        beta = xtx_inv @ xty
        resid = y - sum(float(b) * x for b, x in zip(beta, regressors, strict=True))
        n_clusters = None
        if vcov == "iid":
            ssr = float(rows.aggregate(s=(w * resid * resid).sum()).execute().iloc[0, 0])
            cov = xtx_inv * ssr / (n - k)
        elif vcov == "hetero":
            meat_sums = (
                rows.aggregate(
                    **{
                        f"m_{i}_{j}": (w * w * resid * resid * regressors[i] * regressors[j]).sum()
                        for i in range(k)
                        for j in range(i, k)
                    }
                )
                .execute()
                .iloc[0]
            )
            meat = np.zeros((k, k))
            for i in range(k):
                for j in range(i, k):
                    meat[i, j] = meat[j, i] = meat_sums[f"m_{i}_{j}"]
            cov = xtx_inv @ meat @ xtx_inv * n / (n - k)
        else:
            scores, treated_clusters = _cluster_scores(
                rows, self.cluster, w * resid, regressors, k, d
            )
            n_clusters = scores.shape[0]
            if n_clusters < 2:
                raise EstimationError(
                    f"only one {self.cluster} value: cluster-robust errors need several "
                    "clusters (treatment was assigned to one group only)"
                )
            scale = n_clusters / (n_clusters - 1) * (n - 1) / (n - k)
            cov = xtx_inv @ scores.T @ scores @ xtx_inv * scale
        est, se = float(beta[3]), float(math.sqrt(cov[3, 3]))
        df = (n_clusters - 1) if n_clusters else (n - k)
        low, high, p = _inference.interval(est, se, confidence=self.confidence, df=df)
        notes, method, diagnostics = [], f"did.2x2+{vcov}", []
        if n_clusters is not None:
            few = _bootstrap.few_clusters(n_clusters, treated_clusters)
            diagnostics.append(
                Diagnostic(
                    "n_clusters",
                    float(n_clusters),
                    passed=not few,
                    detail=f"{treated_clusters} treated; wild bootstrap when few",
                )
            )
            if few:
                if isinstance(data, pd.DataFrame):
                    low, high, p = self._wild(data, n_clusters, treated_clusters, notes)
                    method += "+wild_bootstrap"
                else:
                    notes.append(
                        _bootstrap.few_clusters_note(
                            n_clusters,
                            treated_clusters,
                            str(self.cluster),
                            f"the interval uses a t({n_clusters - 1}) distribution (pass a small "
                            "pandas frame to get a wild cluster bootstrap instead)",
                        )
                    )
        # counterfactual mean of the treated after: the fitted cell mean without the effect
        c = xtx[3] / xtx[3, 3]
        c[3] = 0.0
        baseline = float(c @ beta)
        has_baseline = not _inference.no_baseline(baseline, est, baseline + est)
        lift = est / baseline if has_baseline else math.nan
        grad = np.zeros(k)
        if has_baseline:
            grad[3] = 1 / baseline
            grad -= est / baseline**2 * c
        lift_se = float(math.sqrt(max(grad @ cov @ grad, 0.0)))
        z = float(stats.norm.ppf(0.5 + self.confidence / 2))
        coefs = pd.DataFrame(
            {"term": names, "estimate": beta, "std_error": np.sqrt(np.clip(np.diag(cov), 0, None))}
        )
        return Effect(
            outcome=self.outcome,
            method=method,
            estimand="ATT",
            estimate=est,
            std_error=se,
            ci_low=low,
            ci_high=high,
            p_value=p,
            baseline=baseline,
            lift=lift,
            lift_ci=(lift - z * lift_se, lift + z * lift_se),
            n_treated=int(moments["n_treated"]),
            n_control=n - int(moments["n_treated"]),
            confidence=self.confidence,
            unit="rows",
            diagnostics=tuple(diagnostics),
            notes=tuple(notes),
            tables={"coefficients": coefs},
        )

    def _wild(
        self, data: pd.DataFrame, n_clusters: int, treated_clusters: int, notes: list[str]
    ) -> tuple[float, float, float]:
        cols = [self.outcome, self.treated, self.post, *self.covariates, self.cluster]
        frame = data[[c for c in dict.fromkeys([*cols, self.weights]) if c]].dropna()
        d, p = frame[self.treated].astype(float), frame[self.post].astype(float)
        x = np.column_stack(
            [np.ones(len(frame)), d, p, d * p, *(frame[c].astype(float) for c in self.covariates)]
        )
        w = np.sqrt(frame[self.weights].to_numpy(float)) if self.weights else np.ones(len(frame))
        wild = _bootstrap.wild_cluster(
            frame[self.outcome].to_numpy(float) * w,
            x * w[:, None],
            frame[self.cluster].to_numpy(),
            3,
            confidence=self.confidence,
            n_draws=self.n_boot,
            seed=self.seed,
        )
        notes.append(
            _bootstrap.few_clusters_note(
                n_clusters,
                treated_clusters,
                str(self.cluster),
                f"the p-value and interval come from a wild cluster bootstrap ({wild.kind} "
                "weights, null imposed)",
            )
        )
        return wild.ci_low, wild.ci_high, wild.p_value


def _cluster_scores(
    rows: ir.Table,
    cluster: str | None,
    weighted_resid: ir.Value,
    regressors: list,
    k: int,
    treated: ir.Value,
) -> tuple[np.ndarray, int]:
    """Per-cluster score sums (clusters x k) and the number of clusters with treated rows,
    aggregated in the engine."""
    sums = (
        rows.group_by(cluster)
        .aggregate(
            _treated=treated.max(),
            **{f"s_{i}": (weighted_resid * regressors[i]).sum() for i in range(k)},
        )
        .execute()
    )
    n_treated = int((sums["_treated"].to_numpy(np.float64) > 0).sum())
    return sums[[f"s_{i}" for i in range(k)]].to_numpy(np.float64), n_treated
