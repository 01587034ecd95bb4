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
from scipy import stats

from impact.estimators import _bootstrap
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
# Options crossed with the comparison groups and adjustments above: anticipation, unit weights
# and an unbalanced panel (R's `did`, and moderndid, balance a panel by dropping the units
# not observed in every period, as impact does).
VARIANTS = {
    "plain": {},
    "anticipation": {"anticipation": 1},
    "weights": {"weights": "w"},
    "unbalanced": {"unbalanced": True},
}
AGG_KINDS = ("simple", "dynamic", "group", "calendar")
# every case plainly; each variant with the unconditional and the doubly robust not-yet-treated
# estimator (and anticipation also with never-treated comparisons)
CONFIGURATIONS = [
    *((case, "plain") for case in CASES),
    *((CASES[i], variant) for variant in ("weights", "unbalanced") for i in (3, 5)),
    *((CASES[i], "anticipation") for i in (0, 2, 3, 5)),
]


@pytest.fixture(scope="module")
def mpdta_variants(mpdta) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    counties = mpdta.countyreal.unique()
    weight = pd.Series(rng.uniform(0.5, 2.0, len(counties)), index=counties)
    return mpdta.assign(w=mpdta.countyreal.map(weight))


def _check_against_moderndid(md, data, control, md_control, adjustment, md_method, formula, **opt):
    covariates = ("lpop",) if formula else ()
    anticipation = opt.get("anticipation", 0)
    weights = opt.get("weights")
    panel = wide(
        data,
        outcome="lemp",
        unit="countyreal",
        time="year",
        cohort="first.treat",
        covariates=covariates,
        weights=weights,
    )
    cells = group_time(
        panel, control_group=control, anticipation=anticipation, adjustment=adjustment
    )
    n = len(panel.units)
    md_options = dict(
        control_group=md_control,
        est_method=md_method,
        xformla=formula,
        anticipation=anticipation,
        weightsname=weights,
    )
    reference, _ = _moderndid(md, data, None, **md_options)
    if weights:
        reference = _restore_weights(reference, data, weights)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        by_kind = {kind: md.aggte(reference, type=kind, boot=False) for kind in AGG_KINDS}
    np.testing.assert_allclose(cells.table["cohort"], reference.groups)
    np.testing.assert_allclose(cells.table["time"], reference.times)
    np.testing.assert_allclose(cells.table["att"], reference.att_gt, rtol=POINT_RTOL, atol=1e-12)
    se = np.sqrt((cells.influence**2).sum(axis=0)) / n
    np.testing.assert_allclose(se, reference.se_gt, rtol=SE_RTOL)
    for kind, agg_ref in by_kind.items():
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
    return panel


def _restore_weights(reference, data: pd.DataFrame, weights: str):
    """moderndid 0.2 loses the sampling weights between `att_gt` and `aggte` (its result's
    `weights_ind` is None, so `aggte` weights cohorts by head count), while R's `did` weights
    the cohort shares by them (`pg <- mean(weights.ind * (G == g))`). Hand them back, in the
    unit order of its result (cohort, never-treated last, then id), so `aggte` follows R."""
    units = data.drop_duplicates("countyreal").assign(
        _g=lambda d: d["first.treat"].replace(0, np.inf)
    )
    units = units.sort_values(["_g", "countyreal"])
    assert (units["_g"].to_numpy() == np.asarray(reference.G)).all()
    return reference._replace(weights_ind=units[weights].to_numpy())


@pytest.mark.parametrize(
    ("case", "variant"), CONFIGURATIONS, ids=[f"{c[0]}-{c[2]}-{v}" for c, v in CONFIGURATIONS]
)
def test_callaway_santanna_matches_moderndid(md, mpdta_variants, case, variant) -> None:
    """Every ATT(g, t), its SE and every aggregation (overall, by label, SEs) for
    {never, not yet treated} x {unconditional, regression, doubly robust}, and with
    anticipation, unit weights and an unbalanced panel, against moderndid."""
    control, md_control, adjustment, md_method, formula = case
    options = dict(VARIANTS[variant])
    data = mpdta_variants
    if options.pop("unbalanced", False):
        data = data.drop(index=data.sample(40, random_state=1).index)
    panel = _check_against_moderndid(
        md, data, control, md_control, adjustment, md_method, formula, **options
    )
    if variant == "unbalanced":
        assert len(panel.units) < data.countyreal.nunique()  # the test really dropped units


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


BOOT_DRAWS = 5000
# Tolerances for two independent bootstraps of 5,000 draws each: the IQR-based SE of one has a
# relative Monte Carlo SD of about 1.7%, so two differ by about 2.3% (SD); the sup-t quantile
# slightly less. 7% and 5% are three SDs.
BOOT_SE_RTOL = 0.07
BOOT_CRIT_RTOL = 0.05


def test_multiplier_bootstrap_matches_moderndid_with_the_same_weights(md, mpdta) -> None:
    """The multiplier bootstrap (SEs and the uniform-band critical value) of every ATT(g, t)
    and of every aggregation, against moderndid's. moderndid draws Mammen weights (impact's
    default is Rademacher, as R's `did`): with skewed influence functions the two bootstraps
    differ by ~5% on mpdta, so the comparison uses Mammen weights on both sides."""
    panel = wide(mpdta, outcome="lemp", unit="countyreal", time="year", cohort="first.treat")
    cells = group_time(panel, control_group="never_treated")
    reference, _ = _moderndid(md, mpdta, None, control_group="nevertreated", est_method="reg")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        boot_gt = md.att_gt(
            mpdta,
            yname="lemp",
            tname="year",
            idname="countyreal",
            gname="first.treat",
            est_method="reg",
            boot=True,
            biters=BOOT_DRAWS,
            random_state=1,
        )
        boot_agg = {
            kind: md.aggte(reference, type=kind, boot=True, biters=BOOT_DRAWS, random_state=2)
            for kind in ("dynamic", "group", "calendar")
        }
    ours = _bootstrap.multiplier(
        cells.influence,
        panel.units,
        cells.table["att"].to_numpy(),
        confidence=0.95,
        n_draws=BOOT_DRAWS,
        kind="mammen",
        seed=3,
    )
    np.testing.assert_allclose(ours.std_error, boot_gt.se_gt, rtol=BOOT_SE_RTOL)
    assert ours.band == pytest.approx(boot_gt.critical_value, rel=BOOT_CRIT_RTOL)
    for kind, ref in boot_agg.items():
        agg = aggregate(kind, cells.table, cells.influence, panel.cohort, panel.weights)
        mine = _bootstrap.multiplier(
            agg.influence,
            panel.units,
            agg.estimates,
            confidence=0.95,
            n_draws=BOOT_DRAWS,
            kind="mammen",
            seed=4,
        )
        np.testing.assert_allclose(mine.std_error, ref.se_by_event, rtol=BOOT_SE_RTOL)
        assert mine.band == pytest.approx(ref.critical_values[0], rel=BOOT_CRIT_RTOL), kind


def test_estimator_bootstrap_close_to_analytic(mpdta) -> None:
    """The estimator's own (Rademacher) bootstrap: SEs within 12% of the influence-function
    ones (2,000 draws, 500 units; the IQR-based bootstrap SE differs from the analytic one by
    up to 9% on mpdta's skewed influence functions, 3% of it Monte Carlo error), the band wider
    than pointwise and like moderndid's."""
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
    for table in ("att_gt", "event_study", "group", "calendar", "aggregations"):
        ratio = boot.tables[table].std_error / analytic.tables[table].std_error
        assert ratio.between(0.88, 1.12).all(), (table, ratio.tolist())
    es = boot.tables["event_study"]
    band = (es.band_high - es.att) / es.std_error
    # moderndid (Mammen weights, 5,000 draws): 2.60-2.63 on this event study
    assert 2.4 < band.iloc[0] < 2.8


def test_pre_trend_wald_test_matches_moderndid_influence_functions(md, mpdta) -> None:
    """The joint pre-trend test: Wald statistic of the pre-period event-study coefficients with
    the covariance of moderndid's own influence functions (500 clusters: the chi-squared form)."""
    effect = StaggeredDiD(
        outcome="lemp",
        unit="countyreal",
        time="year",
        cohort="first.treat",
        control_group="never_treated",
        inference="analytic",
    ).estimate(mpdta)
    reference, _ = _moderndid(md, mpdta, None, control_group="nevertreated", est_method="reg")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dynamic = md.aggte(reference, type="dynamic", boot=False)
    pre = np.asarray(dynamic.event_times) < 0
    psi = np.asarray(dynamic.influence_func)[:, pre]
    # scale the influence functions so their diagonal reproduces moderndid's SEs
    vcov = psi.T @ psi
    scale = np.asarray(dynamic.se_by_event)[pre] ** 2 / np.diag(vcov)
    assert np.allclose(scale, scale[0])
    theta = np.asarray(dynamic.att_by_event)[pre]
    wald = float(theta @ np.linalg.solve(vcov * scale[0], theta))
    expected = stats.chi2.sf(wald, pre.sum())
    check = effect.diagnostic("pre_trend_p")
    assert check.value == pytest.approx(expected, rel=1e-6)
    assert f"chi2({pre.sum()})" in check.detail


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


def _panel_two_by_two(seed: int = 2, n_units: int = 300) -> pd.DataFrame:
    """A two-period panel (unit id, both periods observed), treatment assigned by team."""
    rng = np.random.default_rng(seed)
    units = pd.DataFrame({"unit": np.arange(n_units), "team": rng.integers(0, 35, n_units)})
    units["treated"] = units.team < 12
    units["size"] = rng.uniform(1, 4, n_units)
    units["level"] = rng.normal(0, 2, n_units)
    frame = units.merge(pd.DataFrame({"post": [False, True]}), how="cross")
    frame["x"] = rng.normal(size=len(frame))
    frame["y"] = (
        frame.level
        + 0.8 * frame.post
        - 1.2 * (frame.treated & frame.post)
        + 0.3 * frame.x
        + rng.normal(0, 1, len(frame)) * (1 + frame.treated)
    )
    return frame


@pytest.mark.parametrize(
    ("vcov", "cluster"), [("iid", None), ("hetero", None), ("cluster", "unit"), ("cluster", "team")]
)
def test_two_by_two_on_a_panel_matches_statsmodels(vcov, cluster) -> None:
    frame = _panel_two_by_two()
    d, p = frame.treated.astype(float), frame.post.astype(float)
    x = np.column_stack([np.ones(len(frame)), d, p, d * p, frame.x])
    fit: dict = {"iid": {}, "hetero": {"cov_type": "HC1"}}.get(vcov, {})
    if vcov == "cluster":
        fit = {"cov_type": "cluster", "cov_kwds": {"groups": frame[cluster]}, "use_t": True}
    ref = sm.WLS(frame.y, x, weights=frame["size"]).fit(**fit)
    ours = DiffInDiff("y", covariates=["x"], weights="size", vcov=vcov, cluster=cluster).estimate(
        frame
    )
    assert ours.estimate == pytest.approx(ref.params.iloc[3], rel=POINT_RTOL)
    assert ours.std_error == pytest.approx(ref.bse.iloc[3], rel=SE_RTOL)
    if vcov == "cluster":
        # t(G - 1) reference distribution, as statsmodels' cluster p-values use
        assert ours.p_value == pytest.approx(ref.pvalues.iloc[3], rel=1e-6)


@pytest.fixture(scope="module")
def wildboottest():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from wildboottest.wildboottest import wildboottest

    return wildboottest


WILD_DRAWS = 4999
# p-values of two independent bootstraps with 4,999 draws each: a Monte Carlo SD of at most
# 0.007 apart at p = 0.5 (0.004 near p = 0.05); 0.02 is three SDs at worst.
WILD_P_ATOL = 0.02


def _few_cluster_rows(seed: int = 4, n: int = 1500, teams: int = 14) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = pd.DataFrame({"team": rng.integers(0, teams, n), "post": rng.random(n) < 0.5})
    rows["treated"] = rows.team < 6
    shock, drift = rng.normal(0, 1, teams), rng.normal(0, 0.5, teams)
    rows["y"] = (
        5
        + shock[rows.team]
        + rows.post * (1 + drift[rows.team])
        - 0.4 * (rows.treated & rows.post)
        + rng.normal(0, 1, n)
    )
    return rows


def test_two_by_two_wild_cluster_bootstrap_matches_wildboottest(wildboottest) -> None:
    """Few clusters (14 teams, 6 treated): the wild cluster restricted bootstrap p-value
    against the `wildboottest` package (WCR with Rademacher weights, as impact uses at 14)."""
    rows = _few_cluster_rows()
    ours = DiffInDiff("y", cluster="team", n_boot=WILD_DRAWS).estimate(rows)
    assert ours.method == "did.2x2+cluster+wild_bootstrap"
    d, p = rows.treated.astype(float), rows.post.astype(float)
    x = pd.DataFrame({"const": 1.0, "treated": d, "post": p, "did": d * p})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = wildboottest(
            sm.OLS(rows.y, x),
            B=WILD_DRAWS,
            cluster=rows.team,
            param="did",
            seed=1,
            show=False,
            parallel=False,
        )
    t_ours = ours.estimate / ours.std_error
    assert t_ours == pytest.approx(float(ref["statistic"].iloc[0]), rel=1e-8)
    assert 0.005 < ours.p_value < 0.5  # an informative p-value, not one pinned at 0 or 1
    assert ours.p_value == pytest.approx(float(ref["p-value"].iloc[0]), abs=WILD_P_ATOL)


def test_twfe_wild_cluster_bootstrap_matches_wildboottest(wildboottest, rollout) -> None:
    """TWFE on the sample's 14 teams: the bootstrap partials the fixed effects out of each
    draw; `wildboottest` gets them as dummies. Same WCR p-value up to Monte Carlo error."""
    ours = TwoWayFixedEffects(n_boot=WILD_DRAWS).estimate(rollout)
    assert ours.method == "did.twfe+wild_bootstrap"
    dummies = pd.get_dummies(rollout[["team_id", "week"]].astype(str), drop_first=True)
    x = pd.concat(
        [pd.Series(1.0, index=rollout.index, name="const"), rollout.treat.astype(float), dummies],
        axis=1,
    ).astype(float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = wildboottest(
            sm.OLS(rollout.handle_time_minutes, x),
            B=WILD_DRAWS,
            cluster=rollout.team_id.factorize()[0],
            param="treat",
            seed=1,
            show=False,
            parallel=False,
        )
    assert ours.p_value == pytest.approx(float(ref["p-value"].iloc[0]), abs=WILD_P_ATOL)
