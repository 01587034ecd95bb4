"""Laws that hold for any input: hypothesis generates the events, each test states one law.

- The A/B estimate does not depend on row order, nor on a constant added to the outcome.
- Swapping the arms negates the effect; scaling the outcome scales the estimate and the SE.
- The confidence interval contains the estimate (for every alternative).
- Validation partitions its input: valid + quarantined = the input rows, exactly.

Examples are few (each one runs DuckDB queries) and deadlines are off: the suite stays < 60 s.
"""

from __future__ import annotations

import functools
import math
from collections import Counter
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

import impact
from impact.datasets import simulate

SETTINGS = settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=True,  # the same examples on every run: CI never flakes on a new draw
)
VALUES = st.floats(min_value=-1e3, max_value=1e3, allow_nan=False, allow_infinity=False)


@st.composite
def experiments(draw: st.DrawFn) -> pd.DataFrame:
    """Events of 2-10 units per arm, 1-3 events per unit, outcomes in [-1000, 1000]."""
    rows = []
    for arm in ("treatment", "control"):
        for i in range(draw(st.integers(2, 10))):
            for k in range(draw(st.integers(1, 3))):
                rows.append({"agent_id": f"{arm[0]}{i}", "arm": arm, "y": draw(VALUES), "k": k})
    frame = pd.DataFrame(rows)
    means = frame.groupby(["arm", "agent_id"]).y.mean()
    # Both arms constant is no test at all (impact raises EstimationError; the corpus checks it).
    assume(means.groupby(level="arm").std().max() > 1e-3)
    return frame


def ab(frame: pd.DataFrame, **options: Any) -> impact.Effect:
    return impact.ab_test(frame, "y", **options)


def close(a: float, b: float, scale: float = 1.0) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9 * scale)


@SETTINGS
@given(frame=experiments(), seed=st.integers(0, 2**32 - 1))
def test_row_order_does_not_matter(frame: pd.DataFrame, seed: int) -> None:
    shuffled = frame.sample(frac=1.0, random_state=np.random.RandomState(seed))
    a, b = ab(frame), ab(shuffled)
    scale = float(frame.y.abs().max()) + 1
    assert close(a.estimate, b.estimate, scale) and close(a.std_error, b.std_error, scale)
    assert a.p_value == pytest.approx(b.p_value, rel=1e-9, abs=1e-12)


@SETTINGS
@given(frame=experiments(), shift=st.floats(-1e4, 1e4))
def test_a_constant_added_to_the_outcome_changes_nothing(frame: pd.DataFrame, shift: float) -> None:
    a, b = ab(frame), ab(frame.assign(y=frame.y + shift))
    scale = float(frame.y.abs().max()) + abs(shift) + 1
    assert math.isclose(a.estimate, b.estimate, rel_tol=1e-7, abs_tol=1e-9 * scale)
    assert math.isclose(a.std_error, b.std_error, rel_tol=1e-6, abs_tol=1e-9 * scale)


@SETTINGS
@given(frame=experiments())
def test_swapping_the_arms_negates_the_effect(frame: pd.DataFrame) -> None:
    swapped = frame.assign(arm=frame.arm.map({"treatment": "control", "control": "treatment"}))
    a, b = ab(frame), ab(swapped)
    scale = float(frame.y.abs().max()) + 1
    assert close(a.estimate, -b.estimate, scale)
    assert close(a.std_error, b.std_error, scale)
    assert a.p_value == pytest.approx(b.p_value, rel=1e-9, abs=1e-12)
    assert close(a.ci_low, -b.ci_high, scale) and close(a.ci_high, -b.ci_low, scale)


@SETTINGS
@given(frame=experiments(), factor=st.sampled_from([-3.0, 0.5, 2.0, 1e3, 1e-3]))
def test_scaling_the_outcome_scales_estimate_and_se(frame: pd.DataFrame, factor: float) -> None:
    a, b = ab(frame), ab(frame.assign(y=frame.y * factor))
    scale = (float(frame.y.abs().max()) + 1) * abs(factor)
    assert close(b.estimate, a.estimate * factor, scale)
    assert close(b.std_error, a.std_error * abs(factor), scale)
    assert b.p_value == pytest.approx(a.p_value, rel=1e-7, abs=1e-12)


@SETTINGS
@given(
    frame=experiments(),
    alternative=st.sampled_from(["two-sided", "greater", "less"]),
    confidence=st.sampled_from([0.8, 0.9, 0.95, 0.99]),
)
def test_the_interval_contains_the_estimate(
    frame: pd.DataFrame, alternative: str, confidence: float
) -> None:
    e = ab(frame, alternative=alternative, confidence=confidence)
    assert e.ci_low <= e.estimate <= e.ci_high
    assert 0.0 <= e.p_value <= 1.0
    if alternative == "two-sided":
        assert e.estimate - e.ci_low == pytest.approx(e.ci_high - e.estimate, rel=1e-9)
    else:
        assert math.isinf(e.ci_high if alternative == "greater" else e.ci_low)


# -- validation partitions its input ----------------------------------------------------------
TEAMS = st.one_of(st.none(), st.sampled_from(["T1", "T2", "T3", " T1", "T1\u200b", "é"]))
DATES = st.one_of(
    st.none(),
    st.dates(
        min_value=pd.Timestamp("1970-01-01").date(), max_value=pd.Timestamp("2262-04-10").date()
    ),
)


@SETTINGS
@given(rows=st.lists(st.tuples(TEAMS, DATES), min_size=0, max_size=25))
def test_validation_partitions_rollouts(rows: list[tuple[Any, Any]]) -> None:
    frame = pd.DataFrame(rows, columns=["team_id", "rollout_at"]).astype({"team_id": object})
    frame["rollout_at"] = pd.to_datetime(frame["rollout_at"]).dt.date if len(frame) else []
    check = impact.validate(frame, "rollouts")
    valid = check.valid.execute()
    quarantine = check.quarantine.execute()
    assert check.rows_checked == len(frame)
    assert (len(valid), len(quarantine)) == (check.rows_valid, check.rows_quarantined)
    assert check.rows_valid + check.rows_quarantined == len(frame)

    def bag(f: pd.DataFrame) -> Counter[tuple[Any, Any]]:
        dates = pd.to_datetime(f["rollout_at"]).dt.date
        return Counter(
            (None if pd.isna(t) else t, None if pd.isna(d) else d)
            for t, d in zip(f["team_id"], dates, strict=True)
        )

    assert bag(valid) + bag(quarantine) == bag(frame)
    # What the contract says: team_id required and unique, so the valid teams are distinct
    # and every distinct non-null team keeps exactly one row.
    assert valid.team_id.notna().all() and valid.team_id.is_unique
    assert set(valid.team_id) == set(frame.team_id.dropna())


@functools.cache
def _events() -> pd.DataFrame:
    return simulate(n_agents=20, n_teams=2, n_weeks=4, tickets_per_agent_week=2, seed=2).events


@SETTINGS
@given(
    bad_csat=st.sets(st.integers(0, 150), max_size=5),
    negative=st.sets(st.integers(0, 150), max_size=5),
    copies=st.lists(st.integers(0, 150), max_size=5),
)
@example(bad_csat={1}, negative={2}, copies=[1, 3, 3])  # a clean copy of a broken row
def test_validation_partitions_events_and_quarantines_exactly_the_broken_rows(
    bad_csat: set[int], negative: set[int], copies: list[int]
) -> None:
    events = _events()
    frame = events.copy()
    frame.loc[sorted(bad_csat), "csat"] = 9
    frame.loc[sorted(negative), "handle_time_minutes"] = -1.0
    frame = pd.concat([frame, events.iloc[copies]], ignore_index=True)
    check = impact.validate(frame, "workflow_events")
    assert check.rows_valid + check.rows_quarantined == len(frame)
    quarantined = check.quarantine.select("event_id").execute().event_id
    valid = check.valid.select("event_id").execute().event_id
    assert Counter(valid) + Counter(quarantined) == Counter(frame.event_id)
    broken = {events.event_id[i] for i in bad_csat | negative}
    # The appended copies are of the original, clean rows; of the rows sharing an id, the
    # first clean one is kept, so a broken row never displaces a clean copy of itself.
    rescued = broken & set(events.event_id.iloc[copies])
    assert valid.is_unique
    assert set(valid) == set(events.event_id) - broken | rescued
    assert len(quarantined) == len(frame) - len(set(valid))
    assert len(valid) == len(events) - len(broken - rescued)
