"""Staggered DiD behaviour: the panel built in the engine, the Effect's tables, diagnostics,
placebo checks, and a clear error or note for each kind of bad input."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest

import impact
from impact.errors import EstimationError, ParameterError
from impact.estimators.did import StaggeredDiD
from impact.estimators.imputation import Imputation
from impact.estimators.panels import cohorts_from_treatment, rollout_panel
from impact.estimators.placebo import placebo_in_space, placebo_in_time
from impact.estimators.twfe import TwoWayFixedEffects
from impact.estimators.two_by_two import DiffInDiff

SMALL = {"outcome": "y", "unit": "unit", "time": "time", "cohort": "cohort"}


@pytest.fixture(scope="module")
def panel(sample) -> pd.DataFrame:
    return rollout_panel(sample.events, sample.rollouts)


@pytest.fixture(scope="module")
def effect(panel: pd.DataFrame) -> impact.Effect:
    return StaggeredDiD().estimate(panel)


def make_panel(
    seed: int = 0,
    n: int = 60,
    periods: int = 8,
    cohorts: tuple[float, ...] = (4, 6),
    never_share: float = 0.3,
    slope: float = -0.5,
) -> tuple[pd.DataFrame, float]:
    """A balanced panel with effects growing by `slope` per period since adoption; the truth
    is the simple ATT (mean effect over treated unit-periods)."""
    rng = np.random.default_rng(seed)
    g = np.where(rng.random(n) < never_share, np.inf, rng.choice(cohorts, n))
    t = np.arange(1, periods + 1)
    e = t[None, :] - g[:, None]
    post = e >= 0
    effect = np.zeros_like(e)
    effect[post] = slope * (e[post] + 1)
    y = (
        10
        + rng.normal(0, 1, n)[:, None]
        + rng.normal(0, 1, periods)[None, :]
        + effect
        + rng.normal(0, 1, (n, periods))
    )
    frame = pd.DataFrame(
        {
            "unit": np.repeat(np.arange(n), periods),
            "time": np.tile(t, n),
            "y": y.ravel(),
            "cohort": np.repeat(g, periods),
        }
    )
    return frame, float(effect[post].mean())


# -- the panel ---------------------------------------------------------------------------------
def test_rollout_panel_matches_pandas_groupby(sample, panel) -> None:
    events = sample.events
    rolled = events.loc[events.team_id.isin(sample.rollouts.team_id)]
    week = rolled.started_at.dt.tz_convert("UTC").dt.tz_localize(None).dt.to_period("W-SUN")
    expected = rolled.groupby(["team_id", week.dt.start_time]).handle_time_minutes.agg(
        ["mean", "size"]
    )
    assert len(panel) == len(expected) == 14 * 26
    got = panel.set_index(["team_id", "period"]).sort_index()
    np.testing.assert_allclose(got.handle_time_minutes, expected["mean"].sort_index())
    np.testing.assert_array_equal(got.n_events, expected["size"].sort_index())
    cohorts = panel.groupby("team_id").rollout_week.first()
    start = pd.Timestamp(sample.truth.start).tz_localize(None)
    for team, rollout_at in sample.rollouts.itertuples(index=False):
        if pd.isna(rollout_at):
            assert np.isnan(cohorts[team])
        else:
            assert cohorts[team] == (pd.Timestamp(rollout_at) - start).days // 7 + 1
    assert sorted(cohorts.dropna().unique()) == [w + 1 for w in sample.truth.rollout_weeks]


def test_rollout_panel_by_agent_keeps_the_team(sample) -> None:
    agents = rollout_panel(sample.events, sample.rollouts, unit="agent_id")
    assert {"agent_id", "team_id"} <= set(agents.columns)
    assert agents.groupby("agent_id").team_id.nunique().max() == 1
    effect = impact.did(sample.events, rollouts=sample.rollouts, unit="agent_id")
    assert effect.unit == "agent_id"
    assert effect.diagnostic("n_clusters").value == 14  # clustered by team, not agent


def test_rollout_panel_rejects_a_team_rolled_out_twice(sample) -> None:
    twice = pd.concat([sample.rollouts, sample.rollouts.iloc[:1]])
    with pytest.raises(EstimationError, match="more than one row for team_id"):
        rollout_panel(sample.events, twice)


# -- the Effect ----------------------------------------------------------------------------------
def test_effect_tables_and_headline(effect: impact.Effect) -> None:
    assert set(effect.tables) == {
        "att_gt",
        "event_study",
        "group",
        "calendar",
        "aggregations",
        "counterfactual",
    }
    simple = effect.tables["aggregations"].set_index("aggregation").loc["simple"]
    assert effect.estimate == pytest.approx(simple.att)
    assert effect.ci_low < effect.estimate < effect.ci_high
    assert effect.n_treated == 9 and effect.n_control == 5
    cf = effect.tables["counterfactual"]
    np.testing.assert_allclose(cf.observed - cf.counterfactual, cf.effect)
    assert (cf.counterfactual_low < cf.counterfactual).all()
    es = effect.tables["event_study"]
    assert ((es.band_high - es.band_low) >= (es.ci_high - es.ci_low) - 1e-12).all()
    post = effect.tables["att_gt"].query("post")
    # the simple aggregation weights cells by cohort size
    assert effect.estimate == pytest.approx(np.average(post.att, weights=post.n_treated))
    observed = np.average(post.observed, weights=post.n_treated)
    assert effect.baseline == pytest.approx(observed - effect.estimate)
    assert effect.lift == pytest.approx(effect.estimate / effect.baseline)


def test_sample_effect_covers_the_truth(sample, effect: impact.Effect) -> None:
    assert effect.ci_low < sample.truth.did_att_overall < effect.ci_high
    assert effect.estimate < 0


def test_counterfactual_series_covers_the_true_no_ai_outcome(sample, effect) -> None:
    """The counterfactual ("without the AI") mean of the rolled-out teams per week, against the
    sample's truth: the teams' mean no-AI handle time from both potential outcomes."""
    gt = sample.truth.did_att_gt
    weighted = gt.assign(total=gt.baseline * gt.n_teams).groupby("week")[["total", "n_teams"]]
    truth = weighted.sum().eval("total / n_teams")
    truth.index = truth.index + 1  # truth weeks count from 0, the panel's from 1
    cf = effect.tables["counterfactual"].set_index("time").join(truth.rename("truth"))
    assert len(cf) == 16 and cf.truth.notna().all()
    inside = (cf.counterfactual_low <= cf.truth) & (cf.truth <= cf.counterfactual_high)
    assert inside.mean() >= 0.8, cf  # measured: 15 of 16 weeks
    assert (cf.observed < cf.truth).mean() >= 0.9  # the AI cut handle time in (nearly) every week


def test_few_clusters_use_the_bootstrap_and_say_so(effect: impact.Effect) -> None:
    assert effect.method.endswith("+bootstrap")
    assert any("only 14 clusters" in note for note in effect.notes)
    assert not effect.diagnostic("n_clusters").passed


def test_analytic_and_bootstrap_agree_on_a_large_panel() -> None:
    frame, _ = make_panel(n=400)
    analytic = StaggeredDiD(**SMALL, inference="analytic").estimate(frame)
    boot = StaggeredDiD(**SMALL, inference="bootstrap", n_boot=1999).estimate(frame)
    assert boot.estimate == analytic.estimate
    assert boot.std_error == pytest.approx(analytic.std_error, rel=0.1)


def test_pre_trend_flags_a_diverging_cohort() -> None:
    frame, _ = make_panel(n=300, slope=0.0)
    clean = StaggeredDiD(**SMALL, inference="analytic").estimate(frame)
    assert clean.diagnostic("pre_trend_p").passed
    trend = frame.assign(y=frame.y + np.where(np.isfinite(frame.cohort), 0.4 * frame.time, 0.0))
    bad = StaggeredDiD(**SMALL, inference="analytic").estimate(trend)
    assert bad.diagnostic("pre_trend_p").value < 1e-6
    assert any("parallel-trends" in note for note in bad.notes)


def test_anticipation_moves_the_base_period() -> None:
    frame, _ = make_panel()
    effect = StaggeredDiD(**SMALL, anticipation=1, inference="analytic").estimate(frame)
    post = effect.tables["att_gt"].query("post")
    assert (post.base_time == post.cohort - 2).all()


def test_covariates_and_weights_run() -> None:
    frame, truth = make_panel(n=300)
    rng = np.random.default_rng(3)
    frame = frame.assign(
        size=np.repeat(rng.uniform(1, 3, 300), 8), x=np.repeat(rng.normal(size=300), 8)
    )
    for adjustment in ("regression", "doubly_robust"):
        effect = StaggeredDiD(
            **SMALL, covariates=["x"], adjustment=adjustment, weights="size", inference="analytic"
        ).estimate(frame)
        assert effect.method == f"did.callaway_santanna+{adjustment}"
        assert effect.ci_low < truth < effect.ci_high


def test_twfe_and_imputation_via_did(panel: pd.DataFrame) -> None:
    twfe = impact.did(panel, method="twfe")
    imputation = impact.did(panel, method="imputation")
    assert twfe.method == "did.twfe+wild_bootstrap"
    assert imputation.method == "did.imputation"
    assert twfe.ci_low < twfe.estimate < twfe.ci_high
    with pytest.raises(ParameterError, match="method must be"):
        impact.did(panel, method="synthetic_control")


def test_twfe_reports_negative_weights_when_all_adopt() -> None:
    frame, _ = make_panel(n=200, cohorts=(2, 5), never_share=0.0, periods=10)
    twfe = TwoWayFixedEffects(**SMALL, bootstrap=False).estimate(frame)
    share = twfe.diagnostic("twfe_negative_weight_share")
    assert share.value > 0 and not share.passed
    assert any("negative weight" in note for note in twfe.notes)


def test_twfe_is_the_cell_weighted_sum_of_effects_with_negative_weights() -> None:
    """de Chaisemartin-D'Haultfoeuille decomposition, checked exactly: with no noise and cell
    effects tau_it, TWFE's coefficient is sum(cell_weights * tau); early adopters' late cells
    get negative weights, and the warning says so."""
    from impact.estimators.twfe import cell_weights

    rng = np.random.default_rng(8)
    n, periods = 40, 10
    g = np.repeat([3.0, 6.0, 8.0, np.inf], n // 4)
    t = np.arange(1, periods + 1)
    e = t[None, :] - g[:, None]
    tau = np.where(e >= 0, 1.0 + 0.8 * e + rng.normal(0, 0.3, e.shape), 0.0)
    y = rng.normal(0, 1, (n, 1)) + rng.normal(0, 1, (1, periods)) + tau
    frame = pd.DataFrame(
        {
            "unit": np.repeat(np.arange(n), periods),
            "time": np.tile(t, n),
            "y": y.ravel(),
            "cohort": np.repeat(g, periods),
        }
    )
    twfe = TwoWayFixedEffects(**SMALL, bootstrap=False).estimate(frame)
    d = (frame.time >= frame.cohort).to_numpy(float)
    weights = cell_weights(d, frame.unit.to_numpy(), frame.time.to_numpy() - 1, np.ones(len(frame)))
    assert weights.sum() == pytest.approx(1.0)
    assert twfe.estimate == pytest.approx(float(weights @ tau.ravel()), rel=1e-9)
    negative = weights[d == 1] < 0
    assert twfe.diagnostic("twfe_negative_weight_share").value == pytest.approx(negative.mean())
    assert negative.any()
    # the negatively weighted cells are the early cohort's late periods
    early_late = (frame.cohort.to_numpy() == 3) & (frame.time.to_numpy() >= 8)
    assert (weights[early_late] < 0).all()
    # the effects grow, so TWFE lands below the true average effect of the treated cells
    assert twfe.estimate < tau[e >= 0].mean() - 0.5


def test_few_treated_clusters_switch_to_the_bootstrap_with_a_plain_warning() -> None:
    """60 clusters but only 6 treated: cluster-robust normal theory is unreliable, so every
    estimator bootstraps (or says it cannot) and tells the reader in plain words."""
    frame, _ = make_panel(n=60, cohorts=(4, 6), never_share=0.0)
    frame = frame.assign(cohort=np.where(frame.unit < 6, frame.cohort, np.inf))
    effect = StaggeredDiD(**SMALL).estimate(frame)
    assert effect.method.endswith("+bootstrap")
    assert not effect.diagnostic("n_clusters").passed
    note = next(n for n in effect.notes if "6 of them with the AI" in n)
    assert "too narrow" in note and "indicative" in note
    twfe = TwoWayFixedEffects(**SMALL).estimate(frame)
    assert twfe.method == "did.twfe+wild_bootstrap"
    assert any("6 of them with the AI" in n for n in twfe.notes)
    imputation = Imputation(**SMALL).estimate(frame)
    assert any("6 of them with the AI" in n for n in imputation.notes)
    assert not imputation.diagnostic("n_clusters").passed
    rows = frame.loc[frame.time.isin([3, 8])].assign(treated=frame.unit < 6, post=frame.time == 8)
    two = DiffInDiff("y", cluster="unit").estimate(rows)
    assert two.method == "did.2x2+cluster+wild_bootstrap"
    assert any("6 of them with the AI" in n for n in two.notes)
    # with many treated clusters, normal theory is kept
    many, _ = make_panel(n=400)
    assert StaggeredDiD(**SMALL).estimate(many).method == "did.callaway_santanna"


def test_a_period_nobody_is_observed_in_is_reported() -> None:
    frame, _ = make_panel(cohorts=(4, 6))
    gap = frame.loc[frame.time != 4]  # week 4 missing for everyone: cohort 4's first week
    effect = StaggeredDiD(**SMALL, inference="analytic").estimate(gap)
    assert any("no unit is observed in time 4" in note for note in effect.notes)
    att_gt = effect.tables["att_gt"]
    assert not ((att_gt.cohort == 4) & (att_gt.event_time == 0)).any()


def test_plots_return_axes(effect: impact.Effect, panel: pd.DataFrame) -> None:
    ax = impact.event_study_plot(effect)
    assert ax.get_xlabel() == "periods since rollout"
    assert len(impact.counterfactual_plot(effect).lines) == 2
    impact.event_study_plot(Imputation().estimate(panel))  # no band: still plots
    with pytest.raises(EstimationError, match="no 'counterfactual' table"):
        impact.counterfactual_plot(Imputation().estimate(panel))


def test_placebo_in_time_is_null_and_in_space_ranks_the_real_effect() -> None:
    frame, _ = make_panel(n=200, cohorts=(6, 8), periods=10, slope=-1.0)
    spec = StaggeredDiD(**SMALL, inference="analytic")
    fake = placebo_in_time(frame, spec)
    assert fake.method.endswith("+placebo_time")
    assert abs(fake.estimate) < 3 * fake.std_error  # one draw: a null within noise
    ranked = placebo_in_space(frame, spec, n_draws=40)
    assert ranked.p_value == pytest.approx(1 / 41)
    assert len(ranked.tables["placebo"]) == 40


# -- bad input -----------------------------------------------------------------------------------
def test_treatment_that_switches_off_is_an_error() -> None:
    frame = pd.DataFrame(
        {"unit": ["a"] * 4 + ["b"] * 4, "time": [1, 2, 3, 4] * 2, "on": [0, 1, 0, 1, 0, 0, 1, 1]}
    )
    with pytest.raises(EstimationError, match=r"switches off for 1 unit.*'a' at time 3"):
        cohorts_from_treatment(frame, unit="unit", time="time", treatment="on")
    ok = cohorts_from_treatment(frame.iloc[4:], unit="unit", time="time", treatment="on")
    assert ok.cohort.tolist() == [3.0] * 4


def test_a_cohort_that_changes_within_a_unit_is_an_error() -> None:
    frame, _ = make_panel()
    frame.loc[frame.index[1], "cohort"] = 99
    with pytest.raises(EstimationError, match="more than one cohort"):
        StaggeredDiD(**SMALL).estimate(frame)


def test_no_comparison_group() -> None:
    frame, _ = make_panel(never_share=0.0)
    with pytest.raises(EstimationError, match="every unit is treated eventually"):
        StaggeredDiD(**SMALL, control_group="never_treated").estimate(frame)
    coerced = StaggeredDiD(**SMALL, inference="analytic").estimate(frame)
    assert any("last cohort" in note for note in coerced.notes)
    assert coerced.tables["att_gt"].cohort.unique().tolist() == [4.0]
    one_wave = frame.assign(cohort=4.0)
    with pytest.raises(EstimationError, match="no comparison group"):
        StaggeredDiD(**SMALL).estimate(one_wave)


def test_one_cluster_is_an_error() -> None:
    frame, _ = make_panel()
    with pytest.raises(EstimationError, match="only 1 cluster"):
        StaggeredDiD(**SMALL, cluster="team").estimate(frame.assign(team="T1"))
    with pytest.raises(EstimationError, match="only one cluster"):
        TwoWayFixedEffects(**SMALL, cluster="team").estimate(frame.assign(team="T1"))
    rows = pd.DataFrame(
        {"y": [1.0, 2, 3, 4], "treated": [1, 1, 0, 0], "post": [0, 1, 0, 1], "team": "T1"}
    )
    with pytest.raises(EstimationError, match="only one team value"):
        DiffInDiff("y", cluster="team").estimate(rows)


def test_periods_without_treated_or_untreated_units() -> None:
    rows = pd.DataFrame({"y": [1.0, 2, 3, 4], "treated": [1, 0, 0, 0], "post": [0, 1, 0, 1]})
    with pytest.raises(EstimationError, match="all four cells"):
        DiffInDiff("y", vcov="hetero").estimate(rows)
    frame, _ = make_panel(never_share=0.0, cohorts=(3,))
    with pytest.raises(EstimationError, match="every unit is treated"):
        Imputation(**SMALL).estimate(frame)


def test_duplicated_unit_periods_are_an_error() -> None:
    frame, _ = make_panel()
    doubled = pd.concat([frame, frame.iloc[[5]]])
    message = r"1 duplicated unit x time row\(s\) \(e.g. 0 at time 6\)"
    with pytest.raises(EstimationError, match=message):
        StaggeredDiD(**SMALL).estimate(doubled)
    with pytest.raises(EstimationError, match="duplicated"):
        TwoWayFixedEffects(**SMALL).estimate(doubled)
    with pytest.raises(EstimationError, match="duplicated"):
        Imputation(**SMALL).estimate(doubled)


def test_unbalanced_units_are_dropped_with_a_note() -> None:
    frame, _ = make_panel()
    holes = frame.drop(index=frame.index[[3, 20]])
    effect = StaggeredDiD(**SMALL, inference="analytic").estimate(holes)
    assert any("unbalanced panel: 2 of 60" in note for note in effect.notes)
    assert effect.n_treated + effect.n_control == 58


def test_bad_options_are_parameter_errors() -> None:
    frame, _ = make_panel()
    for options in (
        {"control_group": "everyone"},
        {"inference": "magic"},
        {"anticipation": -1},
        {"n_boot": 5},
    ):
        with pytest.raises(ParameterError):
            StaggeredDiD(**SMALL, **options).estimate(frame)
    with pytest.raises(ParameterError, match="needs cluster"):
        DiffInDiff("y", vcov="cluster").estimate(frame.assign(treated=1, post=1))
    with pytest.raises(EstimationError, match="no column"):
        StaggeredDiD(**{**SMALL, "outcome": "missing"}).estimate(frame)


def test_two_by_two_in_the_engine_and_with_few_clusters() -> None:
    rng = np.random.default_rng(4)
    n = 2000
    rows = pd.DataFrame({"team": rng.integers(0, 10, n), "post": rng.random(n) < 0.5})
    rows["treated"] = rows.team < 4
    rows["y"] = 5 + rows.team + rows.post - 2.0 * (rows.treated & rows.post) + rng.normal(0, 1, n)
    spec = DiffInDiff("y", cluster="team")
    in_memory = spec.estimate(rows)  # pandas: wild cluster bootstrap
    in_engine = spec.estimate(impact.as_table(rows))  # Ibis: sums only, t(G - 1)
    assert in_memory.estimate == pytest.approx(in_engine.estimate)
    assert in_memory.std_error == pytest.approx(in_engine.std_error)
    assert in_memory.method == "did.2x2+cluster+wild_bootstrap"
    assert in_engine.method == "did.2x2+cluster"
    assert any("t(9)" in note for note in in_engine.notes)
    assert any("webb weights" in note for note in in_memory.notes)
    assert in_memory.ci_low < -2.0 < in_memory.ci_high
    assert in_memory.p_value < 0.05


def test_rollout_before_the_window_counts_as_treated_throughout(sample) -> None:
    early = sample.rollouts.copy()
    team = early.loc[early.rollout_at.notna(), "team_id"].iloc[0]
    early.loc[early.team_id == team, "rollout_at"] = pd.Timestamp("2025-12-01").date()
    panel = rollout_panel(sample.events, early)
    assert panel.loc[panel.team_id == team, "rollout_week"].unique().tolist() == [1.0]
    effect = StaggeredDiD(inference="analytic").estimate(panel)
    assert any(
        f"treated from the first period on (no pre-period, e.g. '{team}')" in note
        for note in effect.notes
    )


def test_an_outcome_that_is_zero_without_the_ai_has_no_lift(sample) -> None:
    # The share of AI-assisted tickets is 0 before rollout: its counterfactual mean is 0 up to
    # rounding, so a relative lift is undefined (NaN), not -8.7e15; and the all-zero pre-period
    # must not make the bootstrap's pre-trend test cry wolf.
    shares = rollout_panel(sample.events, sample.rollouts, outcomes="ai_used")
    for design in (StaggeredDiD(outcome="ai_used"), Imputation(outcome="ai_used")):
        effect = design.estimate(shares)
        assert 0.3 < effect.estimate < 0.7, design
        assert effect.baseline == pytest.approx(0.0, abs=1e-12)
        assert np.isnan(effect.lift) and all(np.isnan(effect.lift_ci))
        assert all(d.name != "pre_trend_p" or d.passed for d in effect.diagnostics)


def test_fixed_effects_paths_equal_a_dummy_regression(monkeypatch: pytest.MonkeyPatch) -> None:
    """The within transformation (the closed form on a balanced panel, the direct solve on an
    unbalanced or weighted one, sweeps when both dimensions have many levels) is the residual
    of weighted least squares on unit and period dummies."""
    from impact.estimators import twfe

    rng = np.random.default_rng(3)
    n, periods = 60, 8
    unit, time = np.repeat(np.arange(n), periods), np.tile(np.arange(periods), n)
    keep = rng.random(n * periods) > 0.2
    cases = {
        "balanced": (unit, time, None),
        "balanced, unit weights": (unit, time, np.repeat(rng.uniform(1, 3, n), periods)),
        "balanced, cell weights": (unit, time, rng.uniform(0.5, 2, n * periods)),
        "unbalanced": (unit[keep], time[keep], None),
        "unbalanced, shuffled": (unit[keep][::-1], time[keep][::-1], None),
    }
    for name, (u, t, w) in cases.items():
        y = rng.normal(size=len(u))
        weights = np.ones(len(u)) if w is None else w
        dummies = np.column_stack([u[:, None] == np.arange(n), t[:, None] == np.arange(periods)])
        root = np.sqrt(weights)
        coef = np.linalg.lstsq(dummies * root[:, None], y * root, rcond=None)[0]
        expected = y - dummies @ coef
        for max_levels in (twfe.MAX_SOLVED_LEVELS, 0):  # 0: alternating projections
            monkeypatch.setattr(twfe, "MAX_SOLVED_LEVELS", max_levels)
            got = twfe.FixedEffects(u, t, w).demean(y)
            np.testing.assert_allclose(got, expected, atol=1e-8, err_msg=name)
    assert twfe.FixedEffects(unit, time).closed_form
    assert not twfe.FixedEffects(unit[keep], time[keep]).closed_form


def test_the_analytic_uniform_band_is_the_sup_t_quantile() -> None:
    """With influence-function errors the band's critical value is simulated from the
    estimates' covariance: independent estimates give the Sidak-style normal quantile, perfectly
    correlated ones the pointwise 1.96."""
    from scipy import stats

    from impact.estimators import _bootstrap

    rng = np.random.default_rng(4)
    n = 20_000
    independent = rng.normal(size=(n, 5))
    crit = _bootstrap.sup_t(independent, n, confidence=0.95, n_draws=20_000, seed=1)
    assert crit == pytest.approx(stats.norm.ppf((1 + 0.95 ** (1 / 5)) / 2), rel=0.03)  # 2.57
    same = np.repeat(rng.normal(size=(n, 1)), 4, axis=1)
    crit = _bootstrap.sup_t(same, n, confidence=0.95, n_draws=20_000, seed=1)
    assert crit == pytest.approx(stats.norm.ppf(0.975), rel=0.03)
    assert np.isnan(_bootstrap.sup_t(np.zeros((n, 2)), n, confidence=0.95))


@pytest.mark.parametrize("design", ["twfe", "imputation"])
def test_the_lift_interval_counts_the_baseline_uncertainty(design: str) -> None:
    """Treated units whose levels vary a lot make the counterfactual mean (observed minus
    effect) uncertain, though the unit effects absorb the levels from the effect itself. The
    delta-method lift interval must match a pairs cluster bootstrap of the lift; dividing the
    effect's SE by the baseline (ignoring the baseline's error) is far too small here."""
    rng = np.random.default_rng(8)
    n_units, periods = 120, 8
    level = rng.normal(20, 8, n_units).clip(2)
    cohort = np.where(rng.random(n_units) < 0.5, 5, np.nan)
    unit, week = np.repeat(np.arange(n_units), periods), np.tile(np.arange(1, periods + 1), n_units)
    treated = week >= np.repeat(cohort, periods)
    y = np.repeat(level, periods) + 0.1 * week - 2.0 * treated + rng.normal(0, 0.3, len(unit))
    panel = pd.DataFrame(
        {"team_id": unit, "week": week, "rollout_week": np.repeat(cohort, periods), "y": y}
    )
    estimator = (
        TwoWayFixedEffects(outcome="y", bootstrap=False)
        if design == "twfe"
        else Imputation(outcome="y")
    )
    effect = estimator.estimate(panel)
    rows = np.arange(len(panel)).reshape(n_units, periods)
    boot = []
    for _ in range(200):
        pick = rng.integers(0, n_units, n_units)
        sample = panel.iloc[rows[pick].ravel()].assign(
            team_id=np.repeat(np.arange(n_units), periods)
        )
        boot.append(estimator.estimate(sample).lift)
    half = (effect.lift_ci[1] - effect.lift_ci[0]) / 2
    crit = half / np.std(boot)  # the half-width in bootstrap SDs: 2.10 here (normal: 1.96)
    assert 1.75 < crit < 2.25, crit
    naive = effect.std_error / abs(effect.baseline)
    assert naive < 0.6 * np.std(boot), (naive, np.std(boot))
