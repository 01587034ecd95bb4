"""The foundation A/B estimator: Welch on unit means, checked against scipy on the same data."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from impact import ABTest, EstimationError, ab_test


def make_events(
    seed: int = 0, n_units: int = 60, share: float = 0.25, effect: float = -2.0
) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    units = [f"u{i:03d}" for i in range(n_units)]
    arms = np.where(rng.permutation(n_units) < round(n_units * share), "treatment", "control")
    per_unit = rng.integers(3, 30, size=n_units)
    rows = []
    for unit, arm, n in zip(units, arms, per_unit, strict=True):
        level = rng.normal(12, 3)
        y = level + rng.lognormal(0, 0.6, size=n) + (effect if arm == "treatment" else 0.0)
        rows.append(pd.DataFrame({"agent_id": unit, "arm": arm, "handle_time_minutes": y}))
    return pd.concat(rows, ignore_index=True)


def scipy_welch(events: pd.DataFrame, outcome: str = "handle_time_minutes"):
    means = events.groupby(["agent_id", "arm"], as_index=False)[outcome].mean()
    t = means.loc[means.arm == "treatment", outcome]
    c = means.loc[means.arm == "control", outcome]
    return t, c, stats.ttest_ind(t, c, equal_var=False)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_welch_matches_scipy_on_unit_means(seed: int) -> None:
    events = make_events(seed)
    t, c, expected = scipy_welch(events)
    effect = ab_test(events, "handle_time_minutes")
    assert effect.estimate == pytest.approx(t.mean() - c.mean(), rel=1e-12)
    assert effect.p_value == pytest.approx(expected.pvalue, rel=1e-9)
    assert effect.estimate / effect.std_error == pytest.approx(expected.statistic, rel=1e-9)
    low, high = expected.confidence_interval(0.95)
    assert (effect.ci_low, effect.ci_high) == pytest.approx((low, high), rel=1e-9)
    assert effect.baseline == pytest.approx(c.mean(), rel=1e-12)
    assert effect.lift == pytest.approx(t.mean() / c.mean() - 1, rel=1e-12)
    assert (effect.n_treated, effect.n_control) == (len(t), len(c))


@pytest.mark.parametrize("alternative", ["less", "greater"])
def test_one_sided_matches_scipy(alternative: str) -> None:
    events = make_events(3)
    t, c, _ = scipy_welch(events)
    expected = stats.ttest_ind(t, c, equal_var=False, alternative=alternative)
    effect = ab_test(events, "handle_time_minutes", alternative=alternative)
    assert effect.p_value == pytest.approx(expected.pvalue, rel=1e-9)
    low, high = expected.confidence_interval(0.95)
    assert (effect.ci_low, effect.ci_high) == pytest.approx((low, high), rel=1e-9)


def test_lift_interval_uses_the_delta_method() -> None:
    events = make_events(4)
    t, c, _ = scipy_welch(events)
    effect = ab_test(events, "handle_time_minutes")
    vt, vc = t.var(ddof=1) / len(t), c.var(ddof=1) / len(c)
    ratio = t.mean() / c.mean()
    se = math.sqrt(vt / c.mean() ** 2 + ratio**2 * vc / c.mean() ** 2)
    z = stats.norm.ppf(0.975)
    assert effect.lift_ci == pytest.approx((ratio - 1 - z * se, ratio - 1 + z * se), rel=1e-9)
    # Not the naive interval that ignores the baseline's own uncertainty.
    naive = (effect.ci_low / effect.baseline, effect.ci_high / effect.baseline)
    assert effect.lift_ci != pytest.approx(naive, rel=1e-3)


def test_events_are_averaged_per_unit_not_pooled() -> None:
    events = make_events(5)
    pooled = stats.ttest_ind(
        events.loc[events.arm == "treatment", "handle_time_minutes"],
        events.loc[events.arm == "control", "handle_time_minutes"],
        equal_var=False,
    )
    effect = ab_test(events, "handle_time_minutes")
    assert effect.p_value != pytest.approx(pooled.pvalue, rel=1e-3)
    assert effect.n_treated + effect.n_control == events.agent_id.nunique()


def test_boolean_outcomes_become_proportions() -> None:
    events = make_events(6).assign(resolved=lambda d: d.handle_time_minutes > 13)
    t, c, expected = scipy_welch(events.assign(r=events.resolved.astype(float)), "r")
    effect = ab_test(events, "resolved")
    assert effect.estimate == pytest.approx(t.mean() - c.mean(), rel=1e-12)
    assert effect.p_value == pytest.approx(expected.pvalue, rel=1e-9)


def test_small_integer_outcomes_do_not_overflow() -> None:
    events = make_events(7)
    events = pd.concat([events] * 20, ignore_index=True)
    events["score"] = np.where(events.arm == "treatment", 120, 100).astype("int8")
    events.loc[events.index % 7 == 0, "score"] = np.int8(90)
    t, c, _ = scipy_welch(events.assign(s=events.score.astype(float)), "s")
    effect = ab_test(events, "score")
    assert effect.estimate == pytest.approx(t.mean() - c.mean(), rel=1e-12)
    assert effect.baseline > 90


def test_sample_ratio_mismatch_is_flagged() -> None:
    events = make_events(8, n_units=400, share=0.5)
    effect = ab_test(events, "handle_time_minutes", expected_share=0.2)
    srm = effect.diagnostic("sample_ratio_p")
    assert not srm.passed and srm.value < 1e-10
    fine = ab_test(events, "handle_time_minutes", expected_share=0.5).diagnostic("sample_ratio_p")
    assert fine.passed and fine.value == pytest.approx(1.0)


def test_unit_in_two_arms_is_an_error() -> None:
    events = make_events(9)
    crossed = events.iloc[[0]].assign(
        arm="treatment" if events.arm.iloc[0] == "control" else "control"
    )
    with pytest.raises(EstimationError, match=r"1 agent_id value\(s\) appear in more than one"):
        ab_test(pd.concat([events, crossed]), "handle_time_minutes")


def test_missing_arm_and_column_and_nan_are_named() -> None:
    events = make_events(10)
    with pytest.raises(EstimationError, match="no unit is in the control arm 'ctrl'"):
        ab_test(events, "handle_time_minutes", control="ctrl")
    with pytest.raises(EstimationError, match="no column 'csat'"):
        ab_test(events, "csat")
    only_control = events[events.arm == "control"]
    with pytest.raises(EstimationError, match=r"expected one treatment arm .* found \[\]"):
        ab_test(only_control, "handle_time_minutes")
    broken = events.copy()
    broken.loc[3, "handle_time_minutes"] = np.inf
    with pytest.raises(EstimationError, match="1 event\\(s\\) have a NaN or infinite"):
        ab_test(broken, "handle_time_minutes")


def test_zero_variance_and_tiny_arms_are_errors() -> None:
    flat = make_events(11).assign(handle_time_minutes=5.0)
    with pytest.raises(EstimationError, match="zero variance"):
        ab_test(flat, "handle_time_minutes")
    tiny = make_events(12)
    keep = tiny.agent_id.isin(tiny.loc[tiny.arm == "treatment", "agent_id"].unique()[:1])
    with pytest.raises(EstimationError, match="treated arm has 1 unit"):
        ab_test(tiny[keep | (tiny.arm == "control")], "handle_time_minutes")


def test_units_without_any_outcome_are_left_out_with_a_note() -> None:
    events = make_events(13).assign(csat=lambda d: d.handle_time_minutes.round() % 5 + 1.0)
    first = events.agent_id.iloc[0]
    events.loc[events.agent_id == first, "csat"] = np.nan
    effect = ab_test(events, "csat")
    assert effect.n_treated + effect.n_control == events.agent_id.nunique() - 1
    n_missing = int((events.agent_id == first).sum())
    assert effect.notes == (
        f"{n_missing} of {len(events)} event(s) have no csat value (null or NaN) and are left out "
        "of the unit means",
        "1 unit(s) have no csat value on any event and are left out",
        "fixed-horizon test: valid for one planned look; a report re-run as data arrive should "
        "use inference='sequential'",
    )


def test_bad_options_raise_value_errors() -> None:
    with pytest.raises(ValueError, match="confidence must lie strictly between 0 and 1"):
        ABTest("y", confidence=95).estimate(make_events())
    with pytest.raises(ValueError, match="alternative must be"):
        ABTest("y", alternative="bigger").estimate(make_events())  # type: ignore[arg-type]


def test_estimator_is_frozen_and_leaves_input_alone() -> None:
    events = make_events(14)
    before = events.copy()
    test = ABTest("handle_time_minutes")
    with pytest.raises(AttributeError):
        test.outcome = "other"  # type: ignore[misc]
    test.estimate(events)
    pd.testing.assert_frame_equal(events, before)
