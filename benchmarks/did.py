"""DiD on 100k and 1M units x 26 periods: impact against pyfixest and moderndid.

* Two-way fixed effects with clustered errors: ``impact.TwoWayFixedEffects`` against
  pyfixest's ``feols("y ~ treat | unit + period", vcov={"CRV1": "unit"})``, on the balanced
  panel (target: at least 10x faster, identical estimate and CRV1 standard error) and on an
  unbalanced one, as panels built from event logs are (15% of the unit-periods missing at
  random; target: no slower than pyfixest).
* Callaway-Sant'Anna ATT(g, t) (unconditional, never-treated comparison, influence-function
  errors): ``impact.StaggeredDiD``, which also computes all four aggregations with their
  errors, the uniform bands, the pre-trend test and the counterfactual, against moderndid's
  ``att_gt`` followed by ``aggte(type="dynamic")``; target: at least 10x faster, every
  ATT(g, t), its standard error and the event study identical.

Every side runs in its own process on the same simulated panel (a pandas frame, built in
each process before the clock starts). Ratio = ours / theirs. Run ``python -m benchmarks did``.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

import benchmarks as bench

SIZES = (100_000, 1_000_000)
N_PERIODS = 26
COHORTS = (10, 14, 18)
MISSING_SHARE = 0.15
TWFE_MAX_RATIO = 0.1
UNBALANCED_MAX_RATIO = 1.0
CS_MAX_RATIO = 0.1
WARMUP_UNITS = 2_000  # a first, untimed call on a small panel: imports and numba's JIT
SPEC = {"outcome": "y", "unit": "unit", "time": "period", "cohort": "cohort"}


def panel(n_units: int, *, unbalanced: bool = False, seed: int = 0) -> pd.DataFrame:
    """A unit x period panel with staggered adoption and effects that grow after adoption.

    Unbalanced: 15% of the unit-periods are missing at random (rows stay in unit, period
    order, as :func:`impact.rollout_panel` returns them).
    """
    rng = np.random.default_rng(seed)
    cohort = np.where(rng.random(n_units) < 0.3, 0, rng.choice(COHORTS, n_units))
    t = np.arange(1, N_PERIODS + 1)
    g = np.where(cohort == 0, np.inf, cohort).astype(float)
    e = t[None, :] - g[:, None]
    post = e >= 0
    effect = np.zeros_like(e)
    effect[post] = -0.1 * (e[post] + 1)
    y = (
        10
        + rng.normal(0, 1, (n_units, 1))
        + rng.normal(0, 1, (1, N_PERIODS))
        + effect
        + rng.normal(0, 1, (n_units, N_PERIODS))
    )
    frame = pd.DataFrame(
        {
            "unit": np.repeat(np.arange(n_units), N_PERIODS),
            "period": np.tile(t, n_units),
            "y": y.ravel(),
            "cohort": np.repeat(cohort, N_PERIODS),
            "treat": post.ravel().astype(float),
        }
    )
    if unbalanced:
        frame = frame.loc[rng.random(len(frame)) >= MISSING_SHARE].reset_index(drop=True)
    return frame


# Each of these runs in a fresh process (benchmarks.isolated): the panel is built first, then
# only the estimator call is timed.
_PANELS: dict[tuple[int, bool], pd.DataFrame] = {}


def _panel(n_units: int, unbalanced: bool) -> pd.DataFrame:
    key = (n_units, unbalanced)
    if key not in _PANELS:
        _PANELS[key] = panel(n_units, unbalanced=unbalanced)
    return _PANELS[key]


def prepare(n_units: int, unbalanced: bool = False) -> None:
    """Build the panel outside the timed call (the child times ``call`` only)."""
    _panel(n_units, unbalanced)


def twfe_ours(n_units: int, unbalanced: bool) -> dict[str, float]:
    from impact.estimators.twfe import TwoWayFixedEffects

    frame = _panel(n_units, unbalanced)
    effect = TwoWayFixedEffects(**SPEC, bootstrap=False).estimate(frame)
    return {"estimate": effect.estimate, "std_error": effect.std_error, "rows": len(frame)}


def twfe_pyfixest(n_units: int, unbalanced: bool) -> dict[str, float]:
    import pyfixest

    frame = _panel(n_units, unbalanced)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = pyfixest.feols("y ~ treat | unit + period", data=frame, vcov={"CRV1": "unit"})
    return {"estimate": float(fit.coef().iloc[0]), "std_error": float(fit.se().iloc[0])}


def cs_ours(n_units: int) -> dict[str, list[float]]:
    from impact.estimators.did import StaggeredDiD

    effect = StaggeredDiD(**SPEC, control_group="never_treated", inference="analytic").estimate(
        _panel(n_units, False)
    )
    gt, es = effect.tables["att_gt"], effect.tables["event_study"]
    return {
        "att": gt["att"].tolist(),
        "se": gt["std_error"].tolist(),
        "event_att": es["att"].tolist(),
        "event_se": es["std_error"].tolist(),
    }


def cs_moderndid(n_units: int) -> dict[str, list[float]]:
    import moderndid

    frame = _panel(n_units, False)
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
        dynamic = moderndid.aggte(result, type="dynamic", boot=False)
    return {
        "att": np.asarray(result.att_gt, dtype=float).tolist(),
        "se": np.asarray(result.se_gt, dtype=float).tolist(),
        "event_att": np.asarray(dynamic.att_by_event, dtype=float).tolist(),
        "event_se": np.asarray(dynamic.se_by_event, dtype=float).tolist(),
    }


def _max_rel(a: list[float], b: list[float]) -> float:
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if x.shape != y.shape:
        return float("inf")
    return float(np.max(np.abs(x - y) / np.maximum(np.abs(y), 1e-12)))


def _pair(ours: str, theirs: str, n_units: int, **kwargs: Any) -> tuple[bench.Isolated, ...]:
    """Both sides in fresh processes, theirs first; twice at 100k units, once at 1M."""
    rounds = 2 if n_units <= 100_000 else 1
    return bench.versus(
        f"benchmarks.did:{ours}",
        f"benchmarks.did:{theirs}",
        rounds=rounds,
        prepare="benchmarks.did:prepare",
        warmup={"n_units": WARMUP_UNITS, **kwargs},
        n_units=n_units,
        **kwargs,
    )


def twfe_rows(n_units: int) -> list[dict[str, Any]]:
    rows = []
    for unbalanced in (False, True):
        mine, ref = _pair("twfe_ours", "twfe_pyfixest", n_units, unbalanced=unbalanced)
        rel = {k: abs(mine.value[k] - ref.value[k]) / abs(ref.value[k]) for k in ref.value}
        rows.append(
            bench.row(
                f"did: TWFE, {n_units:,} units x {N_PERIODS} periods, "
                + ("unbalanced (15% of unit-periods missing)" if unbalanced else "balanced"),
                n_events=int(mine.value["rows"]),
                ours_s=mine.seconds,
                baseline="pyfixest.feols('y ~ treat | unit + period', vcov CRV1 by unit)",
                baseline_s=ref.seconds,
                target="no slower than pyfixest" if unbalanced else ">= 10x faster (ratio <= 0.1)",
                max_ratio=UNBALANCED_MAX_RATIO if unbalanced else TWFE_MAX_RATIO,
                agree=max(rel.values()) < 1e-6,
                agreement="coefficient and CRV1 SE equal to "
                + ", ".join(f"{k} {v:.1e}" for k, v in rel.items())
                + " (relative)",
                peak_rss_mib=mine.peak_rss_mib,
                notes=f"rows are unit-periods of the panel, not events; pyfixest peak RSS "
                f"{ref.peak_rss_mib:,.0f} MiB",
            )
        )
    return rows


def cs_row(n_units: int) -> dict[str, Any]:
    mine, ref = _pair("cs_ours", "cs_moderndid", n_units)
    diffs = {k: _max_rel(mine.value[k], ref.value[k]) for k in ref.value}
    return bench.row(
        f"did: Callaway-Sant'Anna, {n_units:,} units x {N_PERIODS} periods",
        n_events=n_units * N_PERIODS,
        ours_s=mine.seconds,
        baseline="moderndid att_gt + aggte(dynamic), analytic errors",
        baseline_s=ref.seconds,
        target=">= 10x faster (ratio <= 0.1)",
        max_ratio=CS_MAX_RATIO,
        agree=diffs["att"] < 1e-6
        and diffs["event_att"] < 1e-6
        and diffs["se"] < 1e-4
        and diffs["event_se"] < 1e-4,
        agreement=f"{len(mine.value['att'])} ATT(g,t) and {len(mine.value['event_att'])} event "
        "times; largest relative difference: "
        + ", ".join(f"{k} {v:.1e}" for k, v in diffs.items()),
        peak_rss_mib=mine.peak_rss_mib,
        notes="impact also computes the simple, group and calendar aggregations, uniform "
        f"bands, the pre-trend test and the counterfactual; moderndid peak RSS "
        f"{ref.peak_rss_mib:,.0f} MiB",
    )


def run() -> list[dict[str, Any]]:
    """100k units; 1M too unless ``BENCH_FULL=0``."""
    rows = []
    for n_units in SIZES if bench.full() else SIZES[:1]:
        rows += [*twfe_rows(n_units), cs_row(n_units)]
    return rows


if __name__ == "__main__":
    print(pd.DataFrame(run()).to_string(index=False))
