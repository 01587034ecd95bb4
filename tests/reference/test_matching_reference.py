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
import statsmodels.api as sm

from impact.estimators.matching import matched_cohort
from impact.estimators.propensity import fit_scores
from impact.estimators.refute import refute
from impact.estimators.weighting import Weighting, aipw, ipw

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


# -- published results on data that PyPI packages ship -------------------------------------------
@pytest.fixture(scope="module")
def lalonde() -> pd.DataFrame:
    """Lalonde's NSW experiment (185 trained, 260 controls; earnings in $1,000s), the data of
    Abadie, Drukker, Herr and Imbens (2004), as shipped with `causalinference`."""
    package = Path(__import__("importlib").util.find_spec("causalinference").origin).parent
    frame = pd.read_csv(package / "utils" / "lalonde_data.txt", sep="\t")
    return frame.assign(**{c: frame[c] * 1000.0 for c in ("re74", "re75", "re78")})


@pytest.mark.parametrize(
    ("covariates", "published"),
    [(["age"], 1785.191), (["age", "educ", "re74", "re75"], 1714.407)],
)
def test_lalonde_matching_reproduces_abadie_imbens(lalonde, covariates, published) -> None:
    """Imbens' published Stata log for `match re78 t age` and `match re78 t age educ re74
    re75` (lalonde_exper, 3 Feb 2004): the SATE with one match, ties kept, the inverse-variance
    metric and no bias adjustment. Printed to 3 decimals."""
    m = matched_cohort(
        lalonde,
        "re78",
        treatment="t",
        covariates=covariates,
        distance="inverse_variance",
        ties=True,
        bias_adjust=False,
        estimand="ATE",
        unit=None,
    )
    assert m.estimate == pytest.approx(published, abs=5e-4)
    # without ties (broken by order) the integer-valued age gives a different number
    broken = matched_cohort(
        lalonde,
        "re78",
        treatment="t",
        covariates=covariates,
        distance="inverse_variance",
        bias_adjust=False,
        estimand="ATE",
        unit=None,
    )
    if covariates == ["age"]:
        assert abs(broken.estimate - published) > 1.0


@pytest.mark.parametrize("ratio", [1, 3])
def test_lalonde_matching_agrees_with_causalinference(lalonde, ratio) -> None:
    """ATE and ATT with 1 and 3 matches (ties kept, inverse-variance metric) against
    `causalinference`'s Abadie-Imbens matching estimator on the same data."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from causalinference import CausalModel

        covariates = ["age", "educ", "black", "hisp", "married", "nodegree", "re74", "re75"]
        model = CausalModel(
            lalonde.re78.to_numpy(), lalonde.t.to_numpy(), lalonde[covariates].to_numpy(float)
        )
        model.est_via_matching(weights="inv", matches=ratio, bias_adj=False)
        expected = model.estimates["matching"]
    for estimand in ("ATE", "ATT"):
        mine = matched_cohort(
            lalonde,
            "re78",
            treatment="t",
            covariates=covariates,
            distance="inverse_variance",
            ratio=ratio,
            ties=True,
            bias_adjust=False,
            estimand=estimand,
            unit=None,
        )
        assert mine.estimate == pytest.approx(expected[estimand.lower()], rel=1e-10)


NHEFS_COVARIATES = [
    "sex", "race", "age", "age2", "education", "smokeintensity", "smokeintensity2",
    "smokeyrs", "smokeyrs2", "exercise", "active", "wt71", "wt712",
]  # fmt: skip


@pytest.fixture(scope="module")
def nhefs() -> pd.DataFrame:
    """NHEFS (Hernán & Robins, Causal Inference: What If), the 1,566 people with a 1982
    weight, as shipped with `causaldata`; the book's confounders with their squares."""
    import causaldata

    frame = causaldata.nhefs_complete.load_pandas().data
    return frame.assign(
        age2=frame.age**2,
        smokeintensity2=frame.smokeintensity**2,
        smokeyrs2=frame.smokeyrs**2,
        wt712=frame.wt71**2,
        **{c: frame[c].astype(int).astype(str) for c in ("education", "exercise", "active")},
    )


def test_nhefs_ip_weighting_reproduces_what_if_program_12_2(nhefs) -> None:
    """What If, Program 12.2: the IP-weighted effect of quitting smoking on weight gain,
    3.4 kg (95% CI 2.4 to 4.5; 3.440535 in the book's code), with the robust SE of the
    weighted regression, which treats the weights as known. impact's default sandwich accounts
    for the estimated score and is narrower, as the book says the robust one is conservative."""
    effect = ipw(
        nhefs,
        "wt82_71",
        treatment="qsmk",
        covariates=NHEFS_COVARIATES,
        estimand="ATE",
        unit="seqn",
    )
    assert effect.estimate == pytest.approx(3.440535, abs=1e-6)
    # known weights: the same scores passed in, the SE is the weighted regression's HC0
    units = nhefs.assign(propensity_score=effect.tables["units"].score.to_numpy())
    known = ipw(
        units,
        "wt82_71",
        treatment="qsmk",
        covariates=NHEFS_COVARIATES,
        estimand="ATE",
        score="propensity_score",
        unit="seqn",
    )
    q = units.qsmk.to_numpy() == 1
    e = units.propensity_score.to_numpy()
    weights = np.where(q, 1 / e, 1 / (1 - e))
    x = np.column_stack([np.ones(len(units)), q.astype(float)])
    wls = sm.WLS(units.wt82_71.to_numpy(), x, weights=weights).fit(cov_type="HC0")
    assert known.estimate == pytest.approx(wls.params[1], rel=1e-10)
    assert known.std_error == pytest.approx(wls.bse[1], rel=1e-8)
    assert (round(known.ci_low, 1), round(known.ci_high, 1)) == (2.4, 4.5)
    assert effect.std_error < known.std_error
    dowhy = _dowhy(
        PropensityScoreWeightingEstimator,
        units,
        "ate",
        NHEFS_COVARIATES,
        outcome="wt82_71",
        treatment="qsmk",
        min_ps_score=0.0,
        max_ps_score=1.0,
    )
    assert dowhy == pytest.approx(effect.estimate, abs=1e-8)


# -- doubly robust and trimming against hand formulas on statsmodels fits -----------------------
def test_aipw_matches_the_textbook_formulas_on_statsmodels_fits(data: pd.DataFrame) -> None:
    x = sm.add_constant(data[COVARIATES].to_numpy())
    t = data.t.to_numpy() == 1
    y = data.y.to_numpy()
    e = sm.Logit(t.astype(float), x).fit(disp=0).predict(x)
    m1 = x @ sm.OLS(y[t], x[t]).fit().params
    m0 = x @ sm.OLS(y[~t], x[~t]).fit().params
    psi = m1 - m0 + t * (y - m1) / e - (1 - t) * (y - m0) / (1 - e)
    ate = aipw(data, "y", treatment="t", covariates=COVARIATES, estimand="ATE", normalize=False)
    assert ate.estimate == pytest.approx(psi.mean(), rel=1e-10)
    assert ate.std_error == pytest.approx(psi.std() / np.sqrt(len(y)), rel=1e-8)
    # ATT (Hajek form): adopters' mean residual minus the odds-weighted controls' residual
    odds = e / (1 - e)
    r = y - m0
    expected_att = r[t].mean() - np.average(r[~t], weights=odds[~t])
    att = aipw(data, "y", treatment="t", covariates=COVARIATES)
    assert att.estimate == pytest.approx(expected_att, rel=1e-10)


def test_trimming_is_the_estimate_on_the_units_kept(data: pd.DataFrame) -> None:
    """`trim=(a, b)` drops units whose score is outside (a, b) and refits the score on the
    rest: the same number, SE included, as weighting those units from scratch."""
    full = ipw(data, "y", treatment="t", covariates=COVARIATES)
    score = full.tables["units"].score.to_numpy()
    kept = data.loc[(score > 0.2) & (score < 0.8)]
    trimmed = ipw(data, "y", treatment="t", covariates=COVARIATES, trim=(0.2, 0.8))
    direct = ipw(kept, "y", treatment="t", covariates=COVARIATES)
    assert trimmed.tables["dropped"].units.sum() == len(data) - len(kept) > 0
    assert trimmed.estimate == pytest.approx(direct.estimate, rel=1e-12)
    assert trimmed.std_error == pytest.approx(direct.std_error, rel=1e-10)


def test_refuters_reach_dowhys_conclusions(data: pd.DataFrame) -> None:
    """impact.refute re-runs impact's estimator; DoWhy's own refuters (placebo treatment by
    permutation, random common cause, 80% data subsets) on its weighting estimator of the same
    ATT must tell the same story: the placebo effect vanishes, the others stay within one SE."""
    from dowhy.causal_estimator import estimate_effect
    from dowhy.causal_refuters.data_subset_refuter import refute_data_subset
    from dowhy.causal_refuters.placebo_treatment_refuter import (
        PlaceboType,
        refute_placebo_treatment,
    )
    from dowhy.causal_refuters.random_common_cause import refute_random_common_cause

    frame = data.drop(columns="propensity_score")  # both sides fit their own score each time
    estimand = dowhy_estimand.IdentifiedEstimand(
        None,
        treatment_variable=["t"],
        outcome_variable=["y"],
        estimand_type="nonparametric-ate",
        estimands={"backdoor": {"estimand": "E[y|do(t)]"}},
        backdoor_variables={"backdoor": COVARIATES},
        default_backdoor_id="backdoor",
    )
    theirs = PropensityScoreWeightingEstimator(
        estimand, min_ps_score=0.0, max_ps_score=1.0, weighting_scheme="ips_weight"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        estimate = estimate_effect(
            frame.copy(), ["t"], ["y"], "backdoor", theirs, target_units="att", method_params={}
        )
        runs = {
            "placebo treatment": refute_placebo_treatment(
                frame.copy(),
                estimand,
                estimate,
                treatment_names=["t"],
                placebo_type=PlaceboType.PERMUTE,
                num_simulations=40,
                random_state=1,
            ),
            "random common cause": refute_random_common_cause(
                frame.copy(), estimand, estimate, num_simulations=40, random_state=1
            ),
            "data subset": refute_data_subset(
                frame.copy(),
                estimand,
                estimate,
                subset_fraction=0.8,
                num_simulations=40,
                random_state=1,
            ),
        }
    mine = Weighting("y", treatment="t", covariates=tuple(COVARIATES))
    table = refute(mine, frame, n_simulations=40).set_index("refuter")
    se = mine.estimate(frame).std_error
    assert table.original.iloc[0] == pytest.approx(estimate.value, abs=0.25 * se)  # score fits
    assert table.passed.all()
    for name, theirs_run in runs.items():
        ours, dowhy_new = table.loc[name, "refuted_mean"], float(theirs_run.new_effect)
        if name == "placebo treatment":  # the effect vanishes on both sides
            assert abs(ours) < 0.5 * se and abs(dowhy_new) < 0.5 * se, (ours, dowhy_new)
        else:  # and stays within one SE of the original on both
            assert abs(ours - table.original.iloc[0]) < se, (name, ours)
            assert abs(dowhy_new - estimate.value) < se, (name, dowhy_new)
        assert abs(ours - dowhy_new) < se, (name, ours, dowhy_new)
