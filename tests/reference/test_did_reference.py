"""The DiD estimators against independent implementations on the same data.

* Callaway-Sant'Anna: `moderndid` (a Python port of R's `did`) on the `mpdta` minimum-wage
  panel it ships, for every ATT(g, t), every aggregation, both comparison groups and the
  unconditional, outcome-regression and doubly robust versions; plus the numbers published in
  R `did`'s vignette for the same data.
* Two-way fixed effects and the imputation estimator: pyfixest's `feols` and `did2s`.
* 2x2: statsmodels OLS/WLS with iid, HC1 and cluster-robust errors.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from impact.estimators.aggregation import aggregate
from impact.estimators.did import StaggeredDiD
from impact.estimators.imputation import Imputation
from impact.estimators.panels import wide
from impact.estimators.staggered import group_time
from impact.estimators.twfe import TwoWayFixedEffects
from impact.estimators.two_by_two import DiffInDiff

pytestmark = pytest.mark.reference

POINT_RTOL = 1e-6
SE_RTOL = 1e-4


@pytest.fixture(scope="module")
def md():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import moderndid

    return moderndid


@pytest.fixture(scope="module")
def mpdta(md) -> pd.DataFrame:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return md.load_mpdta().to_pandas()


def _moderndid(md, data: pd.DataFrame, kind: str, **options):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = md.att_gt(
            data,
            yname="lemp",
            tname="year",
            idname="countyreal",
            gname="first.treat",
            boot=False,
            **options,
        )
        return result, (md.aggte(result, type=kind, boot=False) if kind else None)


CASES = [
    ("never_treated", "nevertreated", "none", "reg", None),
    ("never_treated", "nevertreated", "regression", "reg", "~lpop"),
    ("never_treated", "nevertreated", "doubly_robust", "dr", "~lpop"),
    ("not_yet_treated", "notyettreated", "none", "reg", None),
    ("not_yet_treated", "notyettreated", "regression", "reg", "~lpop"),
    ("not_yet_treated", "notyettreated", "doubly_robust", "dr", "~lpop"),
]


@pytest.mark.parametrize(("control", "md_control", "adjustment", "md_method", "formula"), CASES)
def test_callaway_santanna_matches_moderndid(
    md, mpdta, control, md_control, adjustment, md_method, formula
) -> None:
    covariates = ("lpop",) if formula else ()
    panel = wide(
        mpdta,
        outcome="lemp",
        unit="countyreal",
        time="year",
        cohort="first.treat",
        covariates=covariates,
    )
    cells = group_time(panel, control_group=control, adjustment=adjustment)
    n = len(panel.units)
    reference, _ = _moderndid(
        md, mpdta, None, control_group=md_control, est_method=md_method, xformla=formula
    )
    np.testing.assert_allclose(cells.table["cohort"], reference.groups)
    np.testing.assert_allclose(cells.table["time"], reference.times)
    np.testing.assert_allclose(cells.table["att"], reference.att_gt, rtol=POINT_RTOL, atol=1e-12)
    se = np.sqrt((cells.influence**2).sum(axis=0)) / n
    np.testing.assert_allclose(se, reference.se_gt, rtol=SE_RTOL)
    for kind in ("simple", "dynamic", "group", "calendar"):
        _, agg_ref = _moderndid(
            md, mpdta, kind, control_group=md_control, est_method=md_method, xformla=formula
        )
        ours = aggregate(kind, cells.table, cells.influence, panel.cohort, panel.weights)
        assert ours.overall == pytest.approx(agg_ref.overall_att, rel=POINT_RTOL, abs=1e-12)
        overall_se = np.sqrt((ours.overall_influence**2).sum()) / n
        assert overall_se == pytest.approx(agg_ref.overall_se, rel=SE_RTOL)
        if kind != "simple":
            np.testing.assert_allclose(ours.labels, agg_ref.event_times)
            np.testing.assert_allclose(
                ours.estimates, agg_ref.att_by_event, rtol=POINT_RTOL, atol=1e-12
            )
            se_by = np.sqrt((ours.influence**2).sum(axis=0)) / n
            np.testing.assert_allclose(se_by, agg_ref.se_by_event, rtol=SE_RTOL)


# R `did` vignette ("Getting started"): att_gt(yname="lemp", tname="year", idname="countyreal",
# gname="first.treat", xformla=~1, data=mpdta), never-treated comparison, 4 decimals.
PUBLISHED_ATT_GT = [
    (2004, 2004, -0.0105, 0.0233),
    (2004, 2005, -0.0704, 0.0310),
    (2004, 2006, -0.1373, 0.0364),
    (2004, 2007, -0.1008, 0.0344),
    (2006, 2004, 0.0065, 0.0233),
    (2006, 2005, -0.0028, 0.0196),
    (2006, 2006, -0.0046, 0.0178),
    (2006, 2007, -0.0412, 0.0202),
    (2007, 2004, 0.0305, 0.0150),
    (2007, 2005, -0.0027, 0.0164),
    (2007, 2006, -0.0311, 0.0179),
    (2007, 2007, -0.0261, 0.0167),
]
PUBLISHED_DYNAMIC = {
    -3: 0.0305,
    -2: -0.0006,
    -1: -0.0245,
    0: -0.0199,
    1: -0.0510,
    2: -0.1373,
    3: -0.1008,
}


def test_mpdta_published_vignette_numbers(mpdta) -> None:
    effect = StaggeredDiD(
        outcome="lemp",
        unit="countyreal",
        time="year",
        cohort="first.treat",
        control_group="never_treated",
        inference="analytic",
    ).estimate(mpdta)
    att_gt = effect.tables["att_gt"]
    for g, t, att, se in PUBLISHED_ATT_GT:
        row = att_gt.loc[(att_gt.cohort == g) & (att_gt.time == t)].iloc[0]
        assert row.att == pytest.approx(att, abs=5e-5)
        assert row.std_error == pytest.approx(se, abs=5e-5)
    dynamic = effect.tables["event_study"].set_index("event_time")["att"]
    for e, att in PUBLISHED_DYNAMIC.items():
        assert dynamic[e] == pytest.approx(att, abs=5e-5)
    assert effect.tables["aggregations"].set_index("aggregation").att["dynamic"] == (
        pytest.approx(-0.0772, abs=5e-5)
    )
    assert effect.n_treated == 191 and effect.n_control == 309


def test_multiplier_bootstrap_se_close_to_analytic_and_moderndid(md, mpdta) -> None:
    """Bootstrap SEs are random: within 10% of the analytic ones (2,000 draws, 500 units)."""
    spec = dict(
        outcome="lemp",
        unit="countyreal",
        time="year",
        cohort="first.treat",
        control_group="never_treated",
        n_boot=2000,
    )
    analytic = StaggeredDiD(inference="analytic", **spec).estimate(mpdta)
    boot = StaggeredDiD(inference="bootstrap", **spec).estimate(mpdta)
    ratio = boot.tables["att_gt"].std_error / analytic.tables["att_gt"].std_error
    assert ratio.between(0.9, 1.1).all(), ratio.tolist()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = md.att_gt(
            mpdta,
            yname="lemp",
            tname="year",
            idname="countyreal",
            gname="first.treat",
            est_method="reg",
            boot=True,
            biters=2000,
            random_state=1,
        )
    np.testing.assert_allclose(boot.tables["att_gt"].std_error, ref.se_gt, rtol=0.1)
    # uniform band critical value: wider than pointwise, as moderndid's
    band = (boot.tables["event_study"].band_high - boot.tables["event_study"].att) / (
        boot.tables["event_study"].std_error
    )
    assert 1.96 < band.iloc[0] < 3.5


@pytest.fixture(scope="module")
def rollout(sample) -> pd.DataFrame:
    from impact.estimators.panels import rollout_panel

    panel = rollout_panel(sample.events, sample.rollouts)
    return panel.assign(
        treat=panel.week >= panel.rollout_week.fillna(np.inf),
        tickets=panel.n_events.astype(float),
    )


@pytest.fixture(scope="module")
def pf():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pyfixest

    return pyfixest


def _feols(pf, formula: str, data: pd.DataFrame, **options):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pf.feols(formula, data=data, **options)


@pytest.mark.parametrize("weights", [None, "tickets"])
@pytest.mark.parametrize("drop", [0, 7])
def test_twfe_matches_pyfixest(pf, rollout, weights, drop) -> None:
    panel = rollout.sample(frac=1, random_state=1).iloc[drop:] if drop else rollout
    ours = TwoWayFixedEffects(weights=weights, bootstrap=False).estimate(panel)
    ref = _feols(
        pf,
        "handle_time_minutes ~ treat | team_id + week",
        panel,
        vcov={"CRV1": "team_id"},
        weights=weights,
    )
    assert ours.estimate == pytest.approx(ref.coef().iloc[0], rel=POINT_RTOL)
    assert ours.std_error == pytest.approx(ref.se().iloc[0], rel=SE_RTOL)
    assert ours.p_value == pytest.approx(ref.pvalue().iloc[0], rel=1e-4)


def test_twfe_non_nested_clusters_match_pyfixest(pf, rollout) -> None:
    panel = rollout.assign(block=rollout.week % 5)
    ours = TwoWayFixedEffects(cluster="block", bootstrap=False).estimate(panel)
    ref = _feols(pf, "handle_time_minutes ~ treat | team_id + week", panel, vcov={"CRV1": "block"})
    assert ours.std_error == pytest.approx(ref.se().iloc[0], rel=SE_RTOL)


def test_imputation_matches_pyfixest_did2s(pf, rollout) -> None:
    panel = rollout.assign(
        rel=np.where(rollout.treat, rollout.week - rollout.rollout_week, -1000).astype(int)
    )
    ours = Imputation().estimate(panel)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        static = pf.did2s(
            panel,
            yname="handle_time_minutes",
            first_stage="~ 0 | team_id + week",
            second_stage="~ 0 + treat",
            treatment="treat",
            cluster="team_id",
        )
        dynamic = pf.did2s(
            panel,
            yname="handle_time_minutes",
            first_stage="~ 0 | team_id + week",
            second_stage="~ 0 + i(rel, ref=-1000)",
            treatment="treat",
            cluster="team_id",
        )
    assert ours.estimate == pytest.approx(static.coef().iloc[0], rel=POINT_RTOL)
    assert ours.std_error == pytest.approx(static.se().iloc[0], rel=SE_RTOL)
    es = ours.tables["event_study"]
    np.testing.assert_allclose(es.att, dynamic.coef().to_numpy(), rtol=POINT_RTOL)
    np.testing.assert_allclose(es.std_error, dynamic.se().to_numpy(), rtol=SE_RTOL)


def _cross_sections(seed: int = 1, n: int = 3000) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"team": rng.integers(0, 40, n)})
    frame["treated"] = frame.team < 15
    frame["post"] = rng.random(n) < 0.5
    frame["x"] = rng.normal(size=n)
    frame["w"] = rng.uniform(0.5, 2, n)
    frame["y"] = (
        10
        + frame.team * 0.1
        + 2 * frame.treated
        + frame.post
        - 1.5 * frame.treated * frame.post
        + 0.5 * frame.x
        + rng.standard_t(4, n)
    )
    return frame


@pytest.mark.parametrize("weights", [None, "w"])
@pytest.mark.parametrize(
    ("vcov", "fit"),
    [("iid", {}), ("hetero", {"cov_type": "HC1"}), ("cluster", {"cov_type": "cluster"})],
)
def test_two_by_two_matches_statsmodels(vcov, fit, weights) -> None:
    frame = _cross_sections()
    x = np.column_stack(
        [np.ones(len(frame)), frame.treated, frame.post, frame.treated * frame.post, frame.x]
    ).astype(float)
    if vcov == "cluster":
        fit = {**fit, "cov_kwds": {"groups": frame.team}}
    model = sm.WLS(frame.y, x, weights=frame.w) if weights else sm.OLS(frame.y, x)
    ref = model.fit(**fit)
    ours = DiffInDiff(
        "y",
        covariates=["x"],
        weights=weights,
        vcov=vcov,
        cluster="team" if vcov == "cluster" else None,
    ).estimate(frame)
    assert ours.estimate == pytest.approx(ref.params.iloc[3], rel=POINT_RTOL)
    assert ours.std_error == pytest.approx(ref.bse.iloc[3], rel=SE_RTOL)
    coefs = ours.tables["coefficients"]
    np.testing.assert_allclose(coefs.estimate, ref.params, rtol=POINT_RTOL)
    np.testing.assert_allclose(coefs.std_error, ref.bse, rtol=SE_RTOL)


@pytest.mark.parametrize(
    ("adjustment", "md_method"), [("regression", "reg"), ("doubly_robust", "dr")]
)
def test_time_varying_covariates_are_read_at_the_base_period(md, mpdta, adjustment, md_method):
    data = mpdta.assign(xv=mpdta.lpop + np.random.default_rng(0).normal(0, 0.3, len(mpdta)))
    panel = wide(
        data,
        outcome="lemp",
        unit="countyreal",
        time="year",
        cohort="first.treat",
        covariates=("xv",),
    )
    cells = group_time(panel, control_group="not_yet_treated", adjustment=adjustment)
    reference, _ = _moderndid(
        md, data, None, control_group="notyettreated", est_method=md_method, xformla="~xv"
    )
    np.testing.assert_allclose(cells.table["att"], reference.att_gt, rtol=POINT_RTOL, atol=1e-12)
    se = np.sqrt((cells.influence**2).sum(axis=0)) / len(panel.units)
    np.testing.assert_allclose(se, reference.se_gt, rtol=SE_RTOL)
