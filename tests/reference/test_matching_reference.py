"""Matching and weighting against DoWhy's propensity-score estimators and real NSW data.

DoWhy 0.12's graph identification calls a networkx function removed in networkx 3.4, so the
estimators are driven directly with a hand-built backdoor estimand (the same thing
`CausalModel.identify_effect` would produce for these common causes). Both sides use the same
propensity scores (DoWhy reads them from the ``propensity_score`` column), so the comparison
isolates the matching and weighting arithmetic; the score models are compared separately.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from impact.estimators.matching import matched_cohort
from impact.estimators.propensity import fit_scores
from impact.estimators.weighting import ipw

with warnings.catch_warnings():
    # dowhy's sources carry invalid escape sequences (a warning when first compiled).
    warnings.simplefilter("ignore", SyntaxWarning)
    warnings.simplefilter("ignore", DeprecationWarning)
    dowhy_estimand = pytest.importorskip("dowhy.causal_identifier")
    from dowhy.causal_estimators.propensity_score_matching_estimator import (
        PropensityScoreMatchingEstimator,
    )
    from dowhy.causal_estimators.propensity_score_weighting_estimator import (
        PropensityScoreWeightingEstimator,
    )

pytestmark = pytest.mark.reference
COVARIATES = ["x1", "x2", "x3"]


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    rng = np.random.default_rng(42)
    n = 1500
    x1, x2, x3 = rng.normal(size=n), rng.gamma(2.0, 1.0, n), rng.random(n) < 0.4
    t = rng.random(n) < 1 / (1 + np.exp(-(0.6 * x1 - 0.4 * x2 + 0.5 * x3 + 0.3)))
    y = x1 + 0.5 * x2 + 0.8 * x3 + (1.5 + 0.3 * x1) * t + rng.normal(size=n)
    frame = pd.DataFrame({"t": t.astype(int), "y": y, "x1": x1, "x2": x2, "x3": x3.astype(float)})
    frame["propensity_score"] = fit_scores(frame[COVARIATES].to_numpy(), t)
    return frame


def _dowhy(
    cls: type,
    frame: pd.DataFrame,
    target: str,
    covariates: list[str],
    outcome: str = "y",
    treatment: str = "t",
    **init: object,
) -> float:
    estimand = dowhy_estimand.IdentifiedEstimand(
        None,
        treatment_variable=[treatment],
        outcome_variable=[outcome],
        estimand_type="nonparametric-ate",
        backdoor_variables={"backdoor": covariates},
        default_backdoor_id="backdoor",
    )
    estimator = cls(estimand, **init)
    copy = frame.copy()
    estimator.fit(copy)
    return float(estimator.estimate_effect(copy, target_units=target).value)


@pytest.mark.parametrize("estimand", ["ATT", "ATE"])
def test_nearest_neighbour_matching_agrees_with_dowhy(data: pd.DataFrame, estimand: str) -> None:
    expected = _dowhy(PropensityScoreMatchingEstimator, data, estimand.lower(), COVARIATES)
    mine = matched_cohort(
        data,
        "y",
        treatment="t",
        covariates=COVARIATES,
        score="propensity_score",
        distance="propensity",
        estimand=estimand,
        bias_adjust=False,
    )
    assert mine.estimate == pytest.approx(expected, abs=1e-10)


@pytest.mark.parametrize("estimand", ["ATT", "ATE"])
def test_normalized_weighting_agrees_with_dowhy(data: pd.DataFrame, estimand: str) -> None:
    # DoWhy clips scores to [0.05, 0.95] by default; open the bounds to compare the weights.
    expected = _dowhy(
        PropensityScoreWeightingEstimator,
        data,
        estimand.lower(),
        COVARIATES,
        min_ps_score=0.0,
        max_ps_score=1.0,
        weighting_scheme="ips_weight",
    )
    mine = ipw(
        data, "y", treatment="t", covariates=COVARIATES, score="propensity_score", estimand=estimand
    )
    assert mine.estimate == pytest.approx(expected, abs=1e-10)


def test_logit_scores_agree_with_unpenalized_scikit_learn(data: pd.DataFrame) -> None:
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=np.inf, tol=1e-10, max_iter=10_000)
    model.fit(data[COVARIATES], data.t)
    expected = model.predict_proba(data[COVARIATES])[:, 1]
    assert np.abs(data.propensity_score - expected).max() < 1e-5


def test_weighting_sandwich_se_agrees_with_the_bootstrap(data: pd.DataFrame) -> None:
    sandwich = ipw(data, "y", treatment="t", covariates=COVARIATES)
    boot = ipw(
        data, "y", treatment="t", covariates=COVARIATES, std_error="bootstrap", n_boot=300, seed=1
    )
    assert sandwich.estimate == pytest.approx(boot.estimate)
    assert boot.std_error == pytest.approx(sandwich.std_error, rel=0.15)


NSW = Path(__import__("importlib").util.find_spec("moderndid").origin).parent / (
    "core/datasets/nsw_long.pkl.gz"
)


@pytest.fixture(scope="module")
def nsw() -> pd.DataFrame:
    """Dehejia-Wahba's NSW experimental controls vs the CPS comparison group (as shipped with
    moderndid for Sant'Anna & Zhao 2020): nobody here was trained, so the true effect is 0."""
    if not NSW.exists():
        pytest.skip("moderndid's NSW data is not installed")
    long = pd.read_pickle(NSW)
    wide = long.pivot_table(index="id", columns="year", values="re").rename(
        columns={1975: "re75", 1978: "re78"}
    )
    people = long.drop_duplicates("id").set_index("id")
    frame = people[
        ["experimental", "age", "educ", "black", "married", "nodegree", "hisp", "re74"]
    ].join(wide)
    return frame.reset_index().astype({"experimental": int})


def test_nsw_placebo_weighting_agrees_with_dowhy_and_matching_removes_most_bias(
    nsw: pd.DataFrame,
) -> None:
    covariates = ["age", "educ", "black", "married", "nodegree", "hisp", "re74", "re75"]
    frame = nsw.assign(
        propensity_score=fit_scores(
            nsw[covariates].to_numpy(np.float64), nsw.experimental.to_numpy() == 1
        )
    )
    expected = _dowhy(
        PropensityScoreWeightingEstimator,
        frame,
        "att",
        covariates,
        outcome="re78",
        treatment="experimental",
        min_ps_score=0.0,
        max_ps_score=1.0,
    )
    weighted = ipw(
        frame,
        "re78",
        treatment="experimental",
        covariates=covariates,
        score="propensity_score",
        unit="id",
    )
    assert weighted.estimate == pytest.approx(expected, abs=1e-6)
    # Many CPS workers share identical covariates, hence identical scores: tied neighbours
    # are broken differently here and in DoWhy's ball tree, so matching agrees only roughly.
    dowhy_matched = _dowhy(
        PropensityScoreMatchingEstimator,
        frame,
        "att",
        covariates,
        outcome="re78",
        treatment="experimental",
    )
    matched = matched_cohort(
        frame,
        "re78",
        treatment="experimental",
        covariates=covariates,
        score="propensity_score",
        distance="propensity",
        unit="id",
        bias_adjust=False,
    )
    naive = frame.groupby("experimental").re78.mean()
    naive_bias = naive[1] - naive[0]  # about -10,000 dollars: CPS workers earn far more
    assert naive_bias < -8000
    assert abs(matched.estimate - dowhy_matched) < 0.02 * abs(naive_bias)
    # Matched DiD on 1975 -> 1978 earnings: the placebo effect is small next to the naive bias.
    did = matched_cohort(
        frame,
        "re78",
        pre_outcome="re75",
        treatment="experimental",
        covariates=covariates,
        unit="id",
    )
    assert abs(did.estimate) < 0.15 * abs(naive_bias)
    assert did.std_error > 0
