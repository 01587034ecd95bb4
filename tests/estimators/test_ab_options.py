"""Metric kinds, adjustments, guardrails, segments, sequential looks and bad input."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import impact
from impact import EstimationError, ParameterError
from impact.estimators import sequential

ASSIGNED = pd.Timestamp("2026-04-06", tz="UTC")
FIXED_NOTE = (
    "fixed-horizon test: valid for one planned look; a report re-run as data arrive should "
    "use inference='sequential'"
)


def make_events(
    seed: int = 0,
    n_units: int = 60,
    share: float = 0.3,
    effect: float = -2.0,
    arms: tuple[str, ...] = ("treatment",),
) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    labels = np.array(["control", *arms])
    arm = rng.choice(
        labels, size=n_units, p=np.r_[1 - share, np.full(len(arms), share / len(arms))]
    )
    rows = []
    for i in range(n_units):
        level = rng.lognormal(2.4, 0.3)
        n_pre, n_post = rng.integers(3, 15), rng.integers(3, 30)
        when = np.r_[-rng.uniform(1, 20, n_pre), rng.uniform(0, 27, n_post)]
        post = when >= 0
        treated = post & (arm[i] != "control")
        rows.append(
            pd.DataFrame(
                {
                    "agent_id": f"u{i:03d}",
                    "arm": arm[i],
                    "assigned_at": ASSIGNED,
                    "started_at": ASSIGNED + pd.to_timedelta(np.round(when * 86400), unit="s"),
                    "handle_time_minutes": level * rng.lognormal(0, 0.4, len(when))
                    + np.where(treated, effect, 0.0),
                    "ai_used": treated & (rng.uniform(size=len(when)) < 0.85),
                    "reopened": rng.uniform(size=len(when)) < 0.05,
                    "team_id": f"t{i % 4}",
                }
            )
        )
    out = pd.concat(rows, ignore_index=True)
    return out.astype({"started_at": "datetime64[us, UTC]", "assigned_at": "datetime64[us, UTC]"})


@pytest.fixture(scope="module")
def events() -> pd.DataFrame:
    return make_events()


@pytest.fixture(scope="module")
def post(events: pd.DataFrame) -> pd.DataFrame:
    return events[events.started_at >= events.assigned_at].reset_index(drop=True)


def test_ratio_is_sum_over_sum_per_arm(post: pd.DataFrame) -> None:
    effect = impact.ab_test(post, impact.Ratio("handle_time_minutes"))
    sums = post.groupby("arm").handle_time_minutes.agg(["sum", "size"])
    ratio = sums["sum"] / sums["size"]
    assert effect.estimate == pytest.approx(ratio["treatment"] - ratio["control"], rel=1e-12)
    assert effect.outcome == "handle_time_minutes per event"
    assert effect.tables["arms"]["mean"].tolist() == pytest.approx(
        [ratio["treatment"], ratio["control"]], rel=1e-12
    )


def test_ratio_with_a_denominator_column(post: pd.DataFrame) -> None:
    frame = post.assign(minutes_billed=post.handle_time_minutes.round() + 1)
    effect = impact.ab_test(
        frame, "handle_time_minutes", metric="ratio", denominator="minutes_billed"
    )
    sums = frame.groupby("arm")[["handle_time_minutes", "minutes_billed"]].sum()
    ratio = sums.handle_time_minutes / sums.minutes_billed
    assert effect.estimate == pytest.approx(ratio["treatment"] - ratio["control"], rel=1e-12)


def test_pre_period_date_range_equals_assignment_split(events: pd.DataFrame) -> None:
    by_assignment = impact.ab_test(events, "handle_time_minutes", pre_period="assignment")
    by_dates = impact.ab_test(
        events, "handle_time_minutes", pre_period=("2026-03-01", "2026-04-05")
    )
    assert by_dates.estimate == pytest.approx(by_assignment.estimate, rel=1e-12)
    assert by_dates.std_error == pytest.approx(by_assignment.std_error, rel=1e-12)
    assert by_assignment.diagnostic("variance_reduction").value > 0.3
    assert by_assignment.diagnostic("pre_period_imbalance_p").passed


def test_one_sided_and_margin_shift_the_null(post: pd.DataFrame) -> None:
    plain = impact.ab_test(post, "handle_time_minutes")
    shifted = impact.ab_test(post, "handle_time_minutes", alternative="less", margin=1.0)
    z = (plain.estimate - 1.0) / plain.std_error
    welch_df = _welch_df(post)
    assert shifted.p_value == pytest.approx(stats.t.cdf(z, welch_df), rel=1e-9)
    assert shifted.ci_low == -math.inf and shifted.ci_high < plain.ci_high
    assert "margin" in " ".join(shifted.notes) and plain.estimate < 0


def _welch_df(post: pd.DataFrame) -> float:
    means = post.groupby(["agent_id", "arm"]).handle_time_minutes.mean().reset_index()
    t = means.loc[means.arm == "treatment", "handle_time_minutes"]
    c = means.loc[means.arm == "control", "handle_time_minutes"]
    vt, vc = t.var() / len(t), c.var() / len(c)
    return (vt + vc) ** 2 / (vt**2 / (len(t) - 1) + vc**2 / (len(c) - 1))


def test_guardrail_is_a_non_inferiority_test(post: pd.DataFrame) -> None:
    res = impact.ab_test(post, "handle_time_minutes", guardrails={"reopened": 0.05})
    guard = res.effect("reopened")
    raw = impact.ab_test(post, "reopened")
    z = (raw.estimate - 0.05) / raw.std_error
    assert guard.p_value == pytest.approx(stats.t.cdf(z, _df_of(raw, post)), rel=1e-6)
    assert guard.p_value < 0.05  # a 5-point worsening is ruled out
    tight = impact.ab_test(
        post, "handle_time_minutes", guardrails=[impact.Guardrail("reopened", 0.0001)]
    )
    assert tight.effect("reopened").p_value > 0.05


def _df_of(effect: impact.Effect, post: pd.DataFrame) -> float:
    means = post.groupby(["agent_id", "arm"]).reopened.mean().reset_index()
    t = means.loc[means.arm == "treatment", "reopened"]
    c = means.loc[means.arm == "control", "reopened"]
    vt, vc = t.var() / len(t), c.var() / len(c)
    return (vt + vc) ** 2 / (vt**2 / (len(t) - 1) + vc**2 / (len(c) - 1))


def test_segments_reproduce_the_filtered_test(post: pd.DataFrame) -> None:
    res = impact.ab_test(post, "handle_time_minutes", by="team_id", correction="bh")
    frame = res.to_frame()
    assert set(frame.segment) == {"", "team_id=t0", "team_id=t1", "team_id=t2", "team_id=t3"}
    alone = impact.ab_test(post[post.team_id == "t2"], "handle_time_minutes")
    seg = res.effect("handle_time_minutes", segment="team_id=t2")
    assert seg.estimate == pytest.approx(alone.estimate, rel=1e-12)
    assert seg.p_value >= alone.p_value  # adjusted within the segment family
    assert res.effect("handle_time_minutes").p_value == pytest.approx(
        impact.ab_test(post, "handle_time_minutes").p_value, rel=1e-12
    )


def test_several_arms_and_multi_arm_sample_ratio() -> None:
    events = make_events(2, n_units=300, share=0.5, arms=("small", "large"))
    res = impact.ab_test(
        events, "handle_time_minutes", expected_share={"control": 0.5, "small": 0.25, "large": 0.25}
    )
    assert len(res) == 2
    counts = events.groupby("arm").agent_id.nunique()
    expected = stats.chisquare(
        counts[["control", "small", "large"]], f_exp=counts.sum() * np.array([0.5, 0.25, 0.25])
    ).pvalue
    assert res.effects[0].diagnostic("sample_ratio_p").value == pytest.approx(expected)


def test_cap_winsorizes_at_an_engine_quantile(post: pd.DataFrame) -> None:
    spiked = post.copy()
    spiked.loc[0, "handle_time_minutes"] = 5_000.0
    capped = impact.ab_test(spiked, "handle_time_minutes", cap=0.99)
    q = spiked.handle_time_minutes.quantile(0.99)
    expected = impact.ab_test(
        spiked.assign(handle_time_minutes=spiked.handle_time_minutes.clip(upper=q)),
        "handle_time_minutes",
    )
    assert capped.estimate == pytest.approx(expected.estimate, rel=1e-9)
    n_capped = int((spiked.handle_time_minutes > q).sum())
    assert f"{n_capped} event(s) above the 99% quantile" in capped.notes[0]
    raw = impact.ab_test(spiked, "handle_time_minutes")
    assert not raw.diagnostic("outlier_influence").passed
    assert capped.diagnostic("outlier_influence").value < raw.diagnostic("outlier_influence").value


def test_sequential_interval_is_wider_and_says_so(post: pd.DataFrame) -> None:
    fixed = impact.ab_test(post, "handle_time_minutes", use_t=False)
    seq = impact.ab_test(
        post, "handle_time_minutes", inference="sequential", mixture_sd=1.5, use_t=False
    )
    assert seq.method == "ab.welch+sequential"
    assert seq.ci_low < fixed.ci_low and seq.ci_high > fixed.ci_high
    assert seq.p_value > fixed.p_value
    low, high, p = sequential.confidence_sequence(
        fixed.estimate, fixed.std_error, confidence=0.95, mixture_var=1.5**2
    )
    assert (seq.ci_low, seq.ci_high, seq.p_value) == pytest.approx((low, high, p), rel=1e-12)
    assert any("always-valid" in n for n in seq.notes)
    assert FIXED_NOTE not in seq.notes and FIXED_NOTE in fixed.notes


def test_over_time_last_look_equals_the_full_test(post: pd.DataFrame) -> None:
    looks = impact.ab_over_time(post, "handle_time_minutes", metric="ratio")
    full = impact.ab_test(post, "handle_time_minutes", metric="ratio")
    assert len(looks) == 4  # four weeks of test
    assert looks.estimate.iloc[-1] == pytest.approx(full.estimate, rel=1e-12)
    assert looks.p_value.iloc[-1] == pytest.approx(full.p_value, rel=1e-12)
    ax = impact.plot_over_time(looks)
    assert len(ax.lines) >= 2


def test_cace_scales_itt_by_the_use_gap(post: pd.DataFrame) -> None:
    itt = impact.ab_test(post, "handle_time_minutes")
    cace = impact.ab_test(post, "handle_time_minutes", estimand="CACE")
    use = post.groupby(["agent_id", "arm"]).ai_used.mean().groupby("arm").mean()
    assert cace.estimand == "CACE" and cace.method == "ab.cace"
    assert cace.estimate == pytest.approx(itt.estimate / (use["treatment"] - use["control"]))
    with pytest.raises(EstimationError, match="changed the AI-use share by only"):
        impact.ab_test(post.assign(ai_used=False), "handle_time_minutes", estimand="CACE")


# -- bad input --------------------------------------------------------------------------------
def test_an_arm_with_no_units_is_named(post: pd.DataFrame) -> None:
    with pytest.raises(EstimationError, match="no unit is in the treatment arm 'large'"):
        impact.ab_test(post, "handle_time_minutes", treatment="large")


def test_a_unit_in_two_arms_is_an_error_for_every_metric_kind(post: pd.DataFrame) -> None:
    crossed = pd.concat(
        [post, post.iloc[[0]].assign(arm="treatment" if post.arm[0] == "control" else "control")]
    )
    for kind in ("mean", "ratio", "sum", "proportion"):
        with pytest.raises(EstimationError, match="appear in more than one arm"):
            impact.ab_test(crossed, "handle_time_minutes", metric=kind)


def test_nan_outcomes_and_missing_covariates_are_named(events: pd.DataFrame) -> None:
    broken = events.copy()
    broken.loc[5, "handle_time_minutes"] = np.inf
    with pytest.raises(EstimationError, match="1 event\\(s\\) have a NaN or infinite"):
        impact.ab_test(broken, "handle_time_minutes", metric="ratio")
    post = broken[broken.started_at >= broken.assigned_at].copy()
    post.loc[post.index[0], "handle_time_minutes"] = np.nan  # pandas NaN arrives as missing
    effect = impact.ab_test(post, "handle_time_minutes", metric="ratio")
    assert effect.notes[0].startswith(f"1 of {len(post)} event(s) have no handle_time_minutes")
    with pytest.raises(EstimationError, match="no column 'tenure'"):
        impact.ab_test(events, "handle_time_minutes", covariate="tenure")
    with pytest.raises(
        EstimationError, match=r"with_assignments\(\.\.\., since_assignment=False\)"
    ):
        impact.ab_test(
            events.drop(columns="assigned_at"), "handle_time_minutes", pre_period="assignment"
        )
    late = events.copy()
    first = late.agent_id.iloc[0]
    late = late[~((late.agent_id == first) & (late.started_at < late.assigned_at))]
    effect = impact.ab_test(late, "handle_time_minutes", pre_period="assignment")
    assert any("1 unit(s) have no pre covariate value" in n for n in effect.notes)


def test_zero_variance_and_small_integers(post: pd.DataFrame) -> None:
    with pytest.raises(EstimationError, match="zero variance"):
        impact.ab_test(post.assign(handle_time_minutes=3.0), "handle_time_minutes", metric="ratio")
    big = pd.concat([post] * 30, ignore_index=True)
    big["score"] = np.where(big.arm == "treatment", 120, 100).astype("int8")
    big.loc[big.index % 3 == 0, "score"] = np.int8(90)
    effect = impact.ab_test(big, "score", metric="sum")
    sums = big.assign(s=big.score.astype(float)).groupby(["agent_id", "arm"]).s.sum()
    by_arm = sums.groupby("arm").mean()
    assert effect.estimate == pytest.approx(by_arm["treatment"] - by_arm["control"], rel=1e-12)


def test_bad_options_are_parameter_errors(events: pd.DataFrame, post: pd.DataFrame) -> None:
    with pytest.raises(ParameterError, match="inference must be one of"):
        impact.ab_test(post, "handle_time_minutes", inference="bayes")
    with pytest.raises(ParameterError, match="denominator='n' needs metric='ratio'"):
        impact.ab_test(post, "handle_time_minutes", denominator="n")
    with pytest.raises(ParameterError, match="pre_period must be"):
        impact.ab_test(post, "handle_time_minutes", pre_period="before")
    with pytest.raises(ParameterError, match="cap must be a quantile"):
        impact.ab_test(post, "handle_time_minutes", cap=99)
    with pytest.raises(ParameterError, match="CACE is implemented for unit-level metrics"):
        impact.ab_test(post, "handle_time_minutes", metric="ratio", estimand="CACE")
    with pytest.raises(ParameterError, match="regression adjustment on \\['pre', 'team'\\]"):
        impact.ab_test(
            events.assign(team=events.team_id.str[1:].astype(float)),
            "handle_time_minutes",
            metric="ratio",
            pre_period=("2026-03-01", "2026-04-05"),
            covariate="team",
        )
    with pytest.raises(ParameterError, match="correction must be"):
        impact.ab_test(post, ["handle_time_minutes"], correction="sidak")
    with pytest.raises(ParameterError, match="treatment_share must lie"):
        impact.plan_ab(post, "handle_time_minutes", treatment_share=20)


def test_cuped_on_the_sample_pilot_covers_the_true_effect(sample) -> None:
    full = impact.with_assignments(
        impact.as_table(sample.events), sample.assignments, since_assignment=False
    )
    effect = impact.ab_test(
        full, "handle_time_minutes", pre_period="assignment", expected_share=0.2
    )
    truth = sample.truth.pilot_itt_handle_time
    assert effect.ci_low <= truth <= effect.ci_high
    assert effect.significant and effect.passed
    plain = impact.ab_test(
        impact.with_assignments(impact.as_table(sample.events), sample.assignments),
        "handle_time_minutes",
    )
    assert effect.std_error < 0.5 * plain.std_error


def test_pre_period_imbalance_and_small_arms_are_flagged(events: pd.DataFrame) -> None:
    skewed = events.copy()
    before = skewed.started_at < skewed.assigned_at
    skewed.loc[before & (skewed.arm == "treatment"), "handle_time_minutes"] += 15.0
    effect = impact.ab_test(skewed, "handle_time_minutes", pre_period="assignment")
    check = effect.diagnostic("pre_period_imbalance_p")
    assert not check.passed and check.value < 0.01
    assert "already differed" in check.detail
    few = events[events.agent_id.isin(events.agent_id.unique()[:25])]
    small = impact.ab_test(few, "handle_time_minutes")
    assert small.diagnostic("min_units_per_arm").value == small.n_treated < 10
    assert not small.diagnostic("min_units_per_arm").passed and not small.passed


def test_cace_with_cuped_is_the_wald_ratio_on_adjusted_outcomes(events: pd.DataFrame) -> None:
    effect = impact.ab_test(events, "handle_time_minutes", estimand="CACE", pre_period="assignment")
    assert effect.method == "ab.cace+cuped"
    after = events.started_at >= events.assigned_at
    post = (
        events[after]
        .groupby(["agent_id", "arm"])
        .agg(y=("handle_time_minutes", "mean"), d=("ai_used", "mean"))
    )
    pre = events[~after].groupby("agent_id").handle_time_minutes.mean()
    units = post.reset_index().assign(x=lambda u: u.agent_id.map(pre))
    x = units.x.fillna(units.x.mean())
    slope = np.polyfit(x, units.y, 1)[0]
    y = units.y - slope * (x - x.mean())
    t = units.arm == "treatment"
    wald = (y[t].mean() - y[~t].mean()) / (units.d[t].mean() - units.d[~t].mean())
    assert effect.estimate == pytest.approx(wald, rel=1e-9)
    plain = impact.ab_test(events[after], "handle_time_minutes", estimand="CACE")
    assert effect.std_error < plain.std_error


def test_non_finite_covariates_and_denominators_are_named(post: pd.DataFrame) -> None:
    bad = post.assign(tenure=np.where(post.index == 4, np.inf, 1.0 * post.index))
    with pytest.raises(EstimationError, match=r"1 event\(s\) have a NaN or infinite 'tenure'"):
        impact.ab_test(bad, "handle_time_minutes", covariate="tenure")
    bad = post.assign(billed=np.where(post.index == 7, np.nan, 1.0))  # pandas NaN is null
    bad["billed"] = bad.billed.astype("float64").fillna(np.inf)
    with pytest.raises(EstimationError, match=r"1 event\(s\) have a NaN or infinite 'billed'"):
        impact.ab_test(bad, "handle_time_minutes", metric="ratio", denominator="billed")
    with pytest.raises(EstimationError, match=r"60 agent_id value\(s\) have a negative sum"):
        impact.ab_test(
            post.assign(billed=-1.0), "handle_time_minutes", metric="ratio", denominator="billed"
        )


def test_a_ratio_keeps_units_whose_denominator_is_zero(post: pd.DataFrame) -> None:
    # sum over sum per arm: a unit with numerator but no denominator still adds to the top.
    first = post.agent_id.iloc[0]
    frame = post.assign(billed=np.where(post.agent_id == first, 0.0, 1.0))
    effect = impact.ab_test(frame, "handle_time_minutes", metric="ratio", denominator="billed")
    sums = frame.groupby("arm")[["handle_time_minutes", "billed"]].sum()
    ratio = sums.handle_time_minutes / sums.billed
    assert effect.estimate == pytest.approx(ratio["treatment"] - ratio["control"], rel=1e-12)
    assert effect.n_treated + effect.n_control == post.agent_id.nunique()
    assert effect.notes == (FIXED_NOTE,)  # no unit left out, and the report says which test


def test_arms_without_values_and_incomplete_designs_are_named(post: pd.DataFrame) -> None:
    empty = post.assign(
        handle_time_minutes=np.where(post.arm == "treatment", np.nan, post.handle_time_minutes)
    )
    n_treated = post.loc[post.arm == "treatment", "agent_id"].nunique()
    with pytest.raises(
        EstimationError,
        match=rf"treated arm has 0 unit\(s\) with a handle_time_minutes value \({n_treated} more",
    ):
        impact.ab_test(empty, "handle_time_minutes")
    with pytest.raises(ParameterError, match=r"expected_share .* lacks \['control'\]"):
        impact.ab_test(post, "handle_time_minutes", expected_share={"treatment": 0.3})


def test_forest_plot_draws_each_effect_at_its_lift(post: pd.DataFrame) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    res = impact.ab_test(post, ["handle_time_minutes", "reopened"])
    ax = res.plot()
    points = [line.get_xdata()[0] for line in ax.get_lines() if line.get_marker() == "o"]
    expected = [e.lift * 100 for e in reversed(res.effects)]  # first effect on top
    assert points == pytest.approx(expected, rel=1e-12)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["reopened", "handle_time_minutes"]
    assert "CI" in ax.get_xlabel()
    plt.close("all")
