"""Coarsened exact matching against a pandas stratification and statsmodels' weighted OLS."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from impact.errors import EstimationError
from impact.estimators.cem import CoarsenedExact, coarsened_exact


def data(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    tenure = rng.gamma(2.0, 12.0, n)
    region = rng.choice(["AMER", "EMEA"], n)
    adopted = rng.random(n) < 1 / (1 + np.exp(-(tenure - 24) / 15))
    pre = 20 - 0.1 * tenure + rng.normal(0, 1, n)
    post = pre - 0.5 - 2.0 * adopted + rng.normal(0, 1, n)
    return pd.DataFrame(
        {"adopted": adopted, "tenure_months": tenure, "region": region, "pre": pre, "post": post}
    )


def test_cem_agrees_with_pandas_strata_and_weighted_ols_hc0() -> None:
    units = data(1500, seed=1)
    effect = coarsened_exact(
        units, "post", pre_outcome="pre", covariates=["tenure_months"], exact=["region"], bins=8
    )
    # Independent: the same bins by pandas.cut, strata by groupby, weights by hand.
    edges = np.linspace(units.tenure_months.min(), units.tenure_months.max(), 9)
    frame = units.assign(
        bin=pd.cut(units.tenure_months, edges, labels=False, include_lowest=True, right=False)
        .fillna(7)
        .astype(int),
        d=units.post - units.pre,
    )
    counts = frame.groupby(["region", "bin"]).adopted.agg(["sum", "count"])
    counts["controls"] = counts["count"] - counts["sum"]
    ok = counts[(counts["sum"] > 0) & (counts.controls > 0)]
    frame = frame.join(ok, on=["region", "bin"], how="inner")
    w = np.where(frame.adopted, 1.0, frame["sum"] / frame.controls)
    x = sm.add_constant(frame.adopted.astype(float).to_numpy())
    fit = sm.WLS(frame.d.to_numpy(), x, weights=w).fit(cov_type="HC0")
    assert effect.estimate == pytest.approx(fit.params[1], rel=1e-10)
    assert effect.std_error == pytest.approx(fit.bse[1], rel=1e-8)
    assert effect.n_treated + effect.n_control == len(frame)
    assert effect.ci_low < -2.0 < effect.ci_high


def test_cem_reports_unmatched_strata_and_refuses_no_overlap() -> None:
    units = data(400, seed=2)
    effect = CoarsenedExact("post", covariates=("tenure_months",), bins=40).estimate(units)
    dropped = effect.tables["dropped"]
    assert dropped.units.sum() == len(units) - effect.n_treated - effect.n_control > 0
    assert effect.diagnostic("treated_retained").value == pytest.approx(
        effect.n_treated / units.adopted.sum()
    )
    separated = units.assign(tenure_months=units.adopted * 100.0)
    with pytest.raises(EstimationError, match="no stratum has both adopters and non-adopters"):
        coarsened_exact(separated, "post", covariates=["tenure_months"], bins=5)
