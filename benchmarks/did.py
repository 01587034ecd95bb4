"""DiD benchmarks: impact vs the reference implementations on a 100k-unit x 26-period panel.

* two-way fixed effects with clustered errors: ``impact.TwoWayFixedEffects`` vs pyfixest's
  ``feols("y ~ treat | unit + period", vcov={"CRV1": "unit"})``;
* Callaway-Sant'Anna ATT(g, t) (unconditional, never-treated comparison, analytic errors):
  ``impact.StaggeredDiD`` (which also computes all four aggregations, the bootstrap bands
  and the counterfactual) vs moderndid's ``att_gt`` followed by ``aggte(type="dynamic")``.

Results are ratios (impact seconds / reference seconds; below 1 means impact is faster) and
the largest absolute difference in the estimates. Run ``python -m benchmarks did``.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

N_UNITS = 100_000
N_PERIODS = 26
COHORTS = (10, 14, 18)


def panel(n_units: int = N_UNITS, n_periods: int = N_PERIODS, seed: int = 0) -> pd.DataFrame:
    """A balanced panel with staggered adoption and effects that grow after adoption."""
    rng = np.random.default_rng(seed)
    cohort = np.where(rng.random(n_units) < 0.3, 0, rng.choice(COHORTS, n_units))
    t = np.arange(1, n_periods + 1)
    g = np.where(cohort == 0, np.inf, cohort).astype(float)
    e = t[None, :] - g[:, None]
    post = e >= 0
    effect = np.zeros_like(e)
    effect[post] = -0.1 * (e[post] + 1)
    y = (
        10
        + rng.normal(0, 1, (n_units, 1))
        + rng.normal(0, 1, (1, n_periods))
        + effect
        + rng.normal(0, 1, (n_units, n_periods))
    )
    return pd.DataFrame(
        {
            "unit": np.repeat(np.arange(n_units), n_periods),
            "period": np.tile(t, n_units),
            "y": y.ravel(),
            "cohort": np.repeat(cohort, n_periods),
            "treat": post.ravel().astype(float),
        }
    )


def _timed(work: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = work()
    return time.perf_counter() - start, result


def run(n_units: int = N_UNITS) -> list[dict]:
    """Time impact against pyfixest (TWFE) and moderndid (Callaway-Sant'Anna)."""
    import moderndid
    import pyfixest

    import benchmarks as bench
    from impact.estimators.did import StaggeredDiD
    from impact.estimators.twfe import TwoWayFixedEffects

    frame = panel(n_units)
    rows = []
    spec = {"outcome": "y", "unit": "unit", "time": "period", "cohort": "cohort"}
    ours_s, ours = _timed(lambda: TwoWayFixedEffects(**spec, bootstrap=False).estimate(frame))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref_s, ref = _timed(
            lambda: pyfixest.feols("y ~ treat | unit + period", data=frame, vcov={"CRV1": "unit"})
        )
    diff = abs(ours.estimate - float(ref.coef().iloc[0]))
    rows.append(
        bench.row(
            f"did: TWFE, {n_units:,} units x {N_PERIODS} periods",
            n_events=len(frame),
            ours_s=ours_s,
            baseline="pyfixest.feols CRV1",
            baseline_s=ref_s,
            target="<= 1x pyfixest",
            max_ratio=1.0,
            agree=diff < 1e-9,
            agreement=f"|coef diff| = {diff:.2g}",
            notes="rows are unit-periods of the panel, not events",
        )
    )
    cs = StaggeredDiD(**spec, control_group="never_treated", inference="analytic", n_boot=199)
    ours_s, ours = _timed(lambda: cs.estimate(frame))

    def reference() -> Any:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = moderndid.att_gt(
                frame,
                yname="y",
                tname="period",
                idname="unit",
                gname="cohort",
                est_method="reg",
                control_group="nevertreated",
                boot=False,
            )
            return result, moderndid.aggte(result, type="dynamic", boot=False)

    ref_s, (ref, _) = _timed(reference)
    diff = float(np.max(np.abs(ours.tables["att_gt"]["att"] - ref.att_gt)))
    rows.append(
        bench.row(
            f"did: Callaway-Sant'Anna, {n_units:,} units x {N_PERIODS} periods",
            n_events=len(frame),
            ours_s=ours_s,
            baseline="moderndid att_gt + aggte(dynamic)",
            baseline_s=ref_s,
            target="<= 1x moderndid",
            max_ratio=1.0,
            agree=diff < 1e-9,
            agreement=f"max |ATT(g,t) diff| = {diff:.2g}",
            notes="impact also computes 4 aggregations, bootstrap bands, counterfactual",
        )
    )
    return rows


if __name__ == "__main__":
    print(pd.DataFrame(run()).to_string(index=False))
