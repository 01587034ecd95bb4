"""Drift: the per-period effect, the degradation alert, its false-alarm rate and its power."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import impact
from impact.errors import EstimationError, ParameterError
from impact.estimators.drift import change_test, drift_from_cells

N_TREATED, N_CONTROL, PERIODS, RECENT = 12, 48, 18, 4  # the bundled pilot's shape


def simulate_cells(
    rng: np.random.Generator,
    reps: int,
    *,
    effect: float = -2.5,
    decline: float = 0.0,
    ramp: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`reps` pilots as unit x period means and counts: lasting unit levels (sd 3 minutes),
    shocks common to all units each period (sd 1), per-ticket noise (sd 8) over ~20 tickets.
    `decline` weakens the effect in the last RECENT periods; `ramp` makes it grow early on."""
    n = N_TREATED + N_CONTROL
    treated = np.arange(n) < N_TREATED
    counts = rng.poisson(20, (reps, n, PERIODS)) + 1
    level = rng.normal(15, 3, (reps, n, 1)) + rng.normal(0, 1, (reps, 1, PERIODS))
    growth = 1 - np.exp(-(np.arange(PERIODS) + 1) / 4) if ramp else np.ones(PERIODS)
    shift = np.where(np.arange(PERIODS) >= PERIODS - RECENT, decline, 0.0)
    arm_effect = np.where(treated[:, None], effect * growth + shift, 0.0)
    means = level + arm_effect + rng.normal(0, 8, counts.shape) / np.sqrt(counts)
    return means, counts, treated


def window_means(means: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    early = slice(0, PERIODS - RECENT)
    late = slice(PERIODS - RECENT, PERIODS)
    totals = means * counts
    earlier = totals[..., early].sum(-1) / counts[..., early].sum(-1)
    recent = totals[..., late].sum(-1) / counts[..., late].sum(-1)
    return earlier, recent


def alarm_rate(rng: np.random.Generator, reps: int, **world: float) -> float:
    means, counts, treated = simulate_cells(rng, reps, **world)
    earlier, recent = window_means(means, counts)
    p = [change_test(earlier[r], recent[r], treated)[3] for r in range(reps)]
    return float(np.mean(np.asarray(p) < 0.05))


def as_cells(means: np.ndarray, counts: np.ndarray, treated: np.ndarray) -> pd.DataFrame:
    n = len(treated)
    unit = np.repeat(np.arange(n), PERIODS)
    period = np.tile(np.arange(PERIODS), n)
    return pd.DataFrame(
        {
            "agent_id": unit,
            "arm": np.where(treated[unit], "treatment", "control"),
            "period": pd.Timestamp("2026-04-27") + pd.to_timedelta(period * 7, unit="D"),
            "total": (means * counts).ravel(),
            "n": counts.ravel(),
        }
    )


@pytest.mark.calibration
def test_false_alarm_rate_without_drift_is_alpha() -> None:
    # 4,000 simulated pilots with no drift: the alert fires in 5% of them (+-1.0% at 3 SE),
    # although units differ a lot and every period has its own shock.
    rate = alarm_rate(np.random.default_rng(11), 4_000)
    assert 0.040 <= rate <= 0.060, rate


@pytest.mark.calibration
def test_a_ramping_up_effect_does_not_raise_the_alarm() -> None:
    # The learning curve makes the effect stronger over time: an improvement, never a "decline".
    rate = alarm_rate(np.random.default_rng(12), 2_000, ramp=True)
    assert rate <= 0.05, rate


@pytest.mark.calibration
def test_power_against_a_halved_effect() -> None:
    # The effect weakens from -2.5 to -1.25 minutes in the last 4 weeks. Expected power at these
    # sizes: SE of the change ~0.36 min, z ~3.5 -> ~0.97 one-sided.
    rate = alarm_rate(np.random.default_rng(13), 1_000, decline=1.25)
    assert rate >= 0.9, rate
    small = alarm_rate(np.random.default_rng(14), 1_000, decline=0.4)  # a small decline
    assert 0.1 < small < rate


def test_change_test_is_welchs_t_test_on_per_unit_changes() -> None:
    means, counts, treated = simulate_cells(np.random.default_rng(3), 1, decline=0.8)
    earlier, recent = window_means(means[0], counts[0])
    change, se, _, p = change_test(earlier, recent, treated)
    delta = recent - earlier
    reference = stats.ttest_ind(
        delta[treated], delta[~treated], equal_var=False, alternative="greater"
    )
    assert change == pytest.approx(delta[treated].mean() - delta[~treated].mean())
    assert p == pytest.approx(reference.pvalue, rel=1e-10)
    assert change / se == pytest.approx(reference.statistic, rel=1e-10)
    # Higher is better (e.g. satisfaction): the same rise is an improvement.
    assert change_test(earlier, recent, treated, better="higher")[3] == pytest.approx(1 - p)


def test_drift_from_cells_windows_and_per_period_estimates() -> None:
    means, counts, treated = simulate_cells(np.random.default_rng(5), 1, decline=1.5)
    drift = drift_from_cells(as_cells(means[0], counts[0], treated), outcome="handle_time_minutes")
    earlier, recent = window_means(means[0], counts[0])
    expected = change_test(earlier, recent, treated)
    assert drift.change == pytest.approx(expected[0])
    assert drift.p_value == pytest.approx(expected[3])
    assert drift.alert and drift.n_recent == RECENT and drift.n_earlier == PERIODS - RECENT
    assert drift.units_tested == (N_TREATED, N_CONTROL)
    # Each period's estimate is Welch's comparison of that period's unit means.
    first = drift.periods.iloc[0]
    t, c = means[0][treated, 0], means[0][~treated, 0]
    welch = stats.ttest_ind(t, c, equal_var=False)
    assert first["estimate"] == pytest.approx(t.mean() - c.mean())
    assert (first["estimate"] / first["std_error"]) == pytest.approx(welch.statistic)
    assert drift.headline().startswith("Alert: the effect of the AI on handle time has weakened")
    assert list(drift.periods["window"].value_counts().sort_index()) == [PERIODS - RECENT, RECENT]


def test_on_the_sample_no_alarm_and_an_injected_decline_is_caught(sample) -> None:
    events = sample.events
    full = impact.with_assignments(
        impact.as_table(events), sample.assignments, since_assignment=False
    )
    steady = impact.effect_drift(full, "handle_time_minutes", pre_period="assignment")
    assert not steady.alert
    # Relative to each agent's own pre-pilot level, the weekly effect sits near the true ITT.
    assert steady.earlier[1] < sample.truth.pilot_itt_handle_time < steady.earlier[2]
    assert steady.relative_to_baseline and len(steady.periods) == 18

    # Inject the slow decline: treated agents' AI tickets lose most of the gain in the last month.
    treated = set(sample.assignments.loc[sample.assignments.arm == "treatment", "agent_id"])
    late = events["started_at"] >= events["started_at"].max().normalize() - pd.Timedelta(days=27)
    hit = late & events["agent_id"].isin(treated) & events["ai_used"]
    worse = events.assign(
        handle_time_minutes=events["handle_time_minutes"].where(
            ~hit, events.handle_time_minutes * 1.15
        )
    )
    full = impact.with_assignments(
        impact.as_table(worse), sample.assignments, since_assignment=False
    )
    declined = impact.effect_drift(full, "handle_time_minutes", pre_period="assignment")
    assert declined.alert, declined.headline()
    assert declined.change > 1.0  # minutes: the effect moved toward zero


def test_bad_settings_are_named(sample) -> None:
    pilot = impact.with_assignments(impact.as_table(sample.events), sample.assignments)
    with pytest.raises(EstimationError, match="at least 30 periods"):
        impact.effect_drift(pilot, "handle_time_minutes", recent=26)
    with pytest.raises(ParameterError, match="better must be"):
        impact.effect_drift(pilot, "handle_time_minutes", better="less")
    with pytest.raises(ParameterError, match="pre_period must be"):
        impact.effect_drift(pilot, "handle_time_minutes", pre_period="before")
