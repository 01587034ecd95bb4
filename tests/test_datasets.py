"""impact.datasets: the simulated rollout follows its design, and its truth is consistent."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from impact.datasets import (
    BAD_ROW_KINDS,
    EXPERIMENT_ID,
    REGIONS,
    WORKFLOWS,
    SampleData,
    inject_bad_rows,
    simulate,
    write_events_parquet,
    write_sample,
)

SMALL = {"n_agents": 60, "n_teams": 6, "n_weeks": 12}
EVENT_DTYPES = {
    "event_id": "string",
    "agent_id": "string",
    "team_id": "string",
    "workflow": "string",
    "region": "string",
    "started_at": "datetime64[us, UTC]",
    "ended_at": "datetime64[us, UTC]",
    "ai_used": "bool",
    "ai_model": "string",
    "handle_time_minutes": "float64",
    "resolved": "bool",
    "escalated": "bool",
    "reopened": "bool",
    "csat": "Int64",
    "compute_cost_usd": "float64",
    "review_minutes": "float64",
    "correction_minutes": "float64",
}


def _with_design(sample: SampleData) -> pd.DataFrame:
    """Events with their week index, the agent's tenure and arm, and the team's rollout week."""
    truth, rollouts = sample.truth, sample.rollouts
    rollout_at = pd.to_datetime(rollouts["rollout_at"]).dt.tz_localize("UTC")
    cohort = ((rollout_at - truth.start) // pd.Timedelta(weeks=1)).set_axis(rollouts["team_id"])
    arm = sample.assignments.set_index("agent_id")["arm"]
    tenure = sample.agents.set_index("agent_id")["tenure_months"]
    ev = sample.events
    return ev.assign(
        week=(ev["started_at"] - truth.start) // pd.Timedelta(weeks=1),
        cohort=ev["team_id"].map(cohort),
        arm=ev["agent_id"].map(arm),
        tenure_months=ev["agent_id"].map(tenure),
    )


def _mean_ramp(sample: SampleData, weeks_of_access: int) -> float:
    return float(np.mean([sample.truth.ramp(w) for w in range(weeks_of_access)]))


def test_same_seed_same_sample_other_seed_other_sample(sample: SampleData) -> None:
    again = simulate(seed=0)
    for name in ("events", "assignments", "rollouts", "agents"):
        pd.testing.assert_frame_equal(getattr(again, name), getattr(sample, name))
    assert again.truth == sample.truth
    assert again == sample
    other = simulate(seed=1)
    assert other.truth != sample.truth
    assert other.events["handle_time_minutes"].sum() != sample.events["handle_time_minutes"].sum()
    assert not other.agents["tenure_months"].equals(sample.agents["tenure_months"])


def test_events_have_the_data_model_schema(events: pd.DataFrame) -> None:
    assert events.dtypes.astype(str).to_dict() == EVENT_DTYPES
    assert list(events.columns) == list(EVENT_DTYPES)
    assert 95_000 < len(events) < 115_000  # 200 agents x 26 weeks x ~20
    assert events["event_id"].is_unique
    assert events["event_id"].iloc[0] == "E00000001"
    assert events["started_at"].is_monotonic_increasing
    required = [c for c in EVENT_DTYPES if c not in ("ai_model", "csat")]
    assert int(events[required].isna().sum().sum()) == 0
    assert set(events["workflow"].unique()) == set(WORKFLOWS)
    assert set(events["region"].unique()) == set(REGIONS)


def test_other_tables_have_the_data_model_schema(sample: SampleData) -> None:
    assert sample.agents.dtypes.astype(str).to_dict() == {
        "agent_id": "string",
        "team_id": "string",
        "region": "string",
        "tenure_months": "float64",
        "design": "string",
    }
    assert sample.assignments.dtypes.astype(str).to_dict() == {
        "experiment_id": "string",
        "agent_id": "string",
        "arm": "string",
        "assigned_at": "datetime64[us, UTC]",
    }
    assert sample.rollouts.dtypes.astype(str).to_dict() == {
        "team_id": "string",
        "rollout_at": "date32[day][pyarrow]",
    }
    agents = sample.agents
    assert agents["agent_id"].is_unique and len(agents) == 200
    assert agents["team_id"].nunique() == 20
    assert agents.groupby("team_id").size().eq(10).all()  # spread evenly
    assert agents.groupby("team_id")["region"].nunique().eq(1).all()  # one region per team
    assert agents["tenure_months"].between(1, 240).all()
    assert 20 < agents["tenure_months"].mean() < 40
    assert agents["design"].value_counts().to_dict() == {"rollout": 140, "pilot": 60}


def test_times_are_business_hours_and_durations_match(events: pd.DataFrame) -> None:
    duration = (events["ended_at"] - events["started_at"]) / pd.Timedelta(minutes=1)
    assert (events["ended_at"] >= events["started_at"]).all()
    assert np.array_equal(duration.to_numpy(), events["handle_time_minutes"].to_numpy())
    assert events["handle_time_minutes"].between(0.5, 1440).all()
    assert events["started_at"].dt.day_of_week.max() == 4  # weekdays only
    offset_hours = events["region"].map({"AMER": -5, "EMEA": 1, "APAC": 8}).astype(int)
    local_hour = (events["started_at"].dt.hour + offset_hours) % 24
    assert local_hour.between(9, 16).all()


def test_outcomes_have_realistic_levels(events: pd.DataFrame) -> None:
    handle = events["handle_time_minutes"]
    assert 10 < handle.median() < 14
    assert handle.mean() / handle.median() > 1.1  # heavy right tail
    assert 0.78 < events["resolved"].mean() < 0.83
    assert 0.08 < events["escalated"].mean() < 0.12
    assert 0.04 < events["reopened"].mean() < 0.06
    assert 0.62 < events["csat"].isna().mean() < 0.68
    assert set(events["csat"].dropna().unique()) == {1, 2, 3, 4, 5}
    weekday = events["started_at"].dt.day_of_week
    per_day = events.groupby(weekday).size()
    assert per_day[0] > 1.3 * per_day[4]  # busier Mondays
    median_by_day = handle.groupby(weekday).median()
    assert median_by_day[0] > median_by_day[4]  # slower Mondays
    by_workflow = handle.groupby(events["workflow"]).median()
    assert by_workflow["technical"] > by_workflow["returns"]


def test_experienced_agents_are_faster_before_any_ai(sample: SampleData) -> None:
    ev = _with_design(sample)
    pre = ev[ev["week"] < sample.truth.pilot_week]
    per_agent = pre.groupby("agent_id").agg(
        log_handle=("handle_time_minutes", lambda h: np.log(h).mean()),
        log_tenure=("tenure_months", lambda t: np.log(t.iloc[0])),
    )
    assert per_agent["log_handle"].corr(per_agent["log_tenure"]) < -0.2


def test_costs_follow_ai_use_and_rework(events: pd.DataFrame) -> None:
    used = events["ai_used"]
    assert np.array_equal(events["ai_model"].notna().to_numpy(), used.to_numpy())
    assert 0.65 < (events.loc[used, "ai_model"] == "small").mean() < 0.75
    assert np.array_equal((events["compute_cost_usd"] > 0).to_numpy(), used.to_numpy())
    cost_median = events[used].groupby("ai_model")["compute_cost_usd"].median()
    assert cost_median["small"] == pytest.approx(0.03, rel=0.1)
    assert cost_median["large"] == pytest.approx(0.12, rel=0.1)
    assert events.loc[used, "review_minutes"].mean() == pytest.approx(1.0, rel=0.05)
    assert events.loc[~used, "review_minutes"].eq(0).all()
    reopened = events["reopened"]
    assert np.array_equal((events["correction_minutes"] > 0).to_numpy(), reopened.to_numpy())
    assert events.loc[reopened, "correction_minutes"].mean() == pytest.approx(15, rel=0.1)


def test_pilot_is_a_complete_randomization(sample: SampleData) -> None:
    assignments, truth = sample.assignments, sample.truth
    assert len(assignments) == 60 and assignments["agent_id"].is_unique
    assert (assignments["experiment_id"] == EXPERIMENT_ID).all()
    assert assignments["arm"].value_counts().to_dict() == {"control": 48, "treatment": 12}
    assert (assignments["assigned_at"] == truth.pilot_start).all()
    assert truth.pilot_start == pd.Timestamp("2026-04-27", tz="UTC") and truth.pilot_week == 8
    ev = _with_design(sample)
    assert ev.loc[ev["arm"] == "control", "ai_used"].sum() == 0
    treated = ev[ev["arm"] == "treatment"]
    assert treated.loc[treated["started_at"] < truth.pilot_start, "ai_used"].sum() == 0
    post = treated.loc[treated["started_at"] >= truth.pilot_start, "ai_used"]
    assert post.mean() == truth.pilot_adoption
    assert 0.82 < truth.pilot_adoption < 0.88


@pytest.mark.parametrize(("pilot_share", "treatment_share"), [(0.5, 0.1), (0.3, 0.5), (1.0, 0.25)])
def test_treatment_arm_size_is_exact(pilot_share: float, treatment_share: float) -> None:
    data = simulate(pilot_share=pilot_share, treatment_share=treatment_share, **SMALL)
    n_pilot = int((data.agents["design"] == "pilot").sum())
    assert n_pilot == round(pilot_share * 6) * 10
    assert (data.assignments["arm"] == "treatment").sum() == round(treatment_share * n_pilot)


def test_rollout_is_staggered_with_never_treated_teams(sample: SampleData) -> None:
    rollouts, truth = sample.rollouts, sample.truth
    assert len(rollouts) == 14 and rollouts["team_id"].is_unique
    assert int(rollouts["rollout_at"].isna().sum()) == 5  # about a third never treated
    assert truth.rollout_weeks == (10, 14, 18)
    starts = pd.to_datetime(rollouts["rollout_at"]).dropna().dt.tz_localize("UTC")
    weeks = (starts - truth.start) // pd.Timedelta(weeks=1)
    assert weeks.value_counts().sort_index().to_dict() == {10: 3, 14: 3, 18: 3}
    pilot_teams = set(sample.agents.loc[sample.agents["design"] == "pilot", "team_id"])
    assert pilot_teams.isdisjoint(rollouts["team_id"])
    ev = _with_design(sample)
    rollout_ev = ev[ev["team_id"].isin(rollouts["team_id"])]
    assert rollout_ev.loc[rollout_ev["cohort"].isna(), "ai_used"].sum() == 0
    assert rollout_ev.loc[rollout_ev["week"] < rollout_ev["cohort"], "ai_used"].sum() == 0
    post = rollout_ev[rollout_ev["week"] >= rollout_ev["cohort"]]
    adopted = post.groupby("agent_id")["ai_used"].any()
    assert adopted.mean() == pytest.approx(truth.rollout_adoption)
    adopters_use = post.loc[post["agent_id"].map(adopted), "ai_used"].mean()
    assert 0.87 < adopters_use < 0.93


def test_adoption_is_confounded_by_tenure(sample: SampleData) -> None:
    ev = _with_design(sample)
    post = ev[ev["week"] >= ev["cohort"]]
    per_agent = post.groupby("agent_id").agg(
        handle=("handle_time_minutes", "mean"),
        adopted=("ai_used", "any"),
        tenure=("tenure_months", "first"),
    )
    assert np.corrcoef(np.log(per_agent["tenure"]), per_agent["adopted"])[0, 1] > 0.3
    adopters = per_agent["adopted"]
    naive = per_agent.loc[adopters, "handle"].mean() - per_agent.loc[~adopters, "handle"].mean()
    truth = sample.truth.adopter_att_handle_time
    assert truth < 0
    assert naive < 1.5 * truth  # selection makes the naive comparison overstate the saving


def test_truth_matches_the_design(sample: SampleData) -> None:
    truth = sample.truth
    assert truth.effect == -0.2 and truth.ramp_weeks == 4.0
    assert truth.ramp(0) == pytest.approx(1 - np.exp(-0.25))
    post_weeks = truth.n_weeks - truth.pilot_week
    expected_lift = truth.effect * truth.pilot_adoption * _mean_ramp(sample, post_weeks)
    assert truth.pilot_itt_lift == pytest.approx(expected_lift, rel=0.1)
    assert truth.pilot_itt_lift == pytest.approx(
        truth.pilot_itt_handle_time / truth.pilot_baseline_handle_time
    )
    cohort_ramps = [_mean_ramp(sample, truth.n_weeks - g) for g in truth.rollout_weeks]
    expected_adopter_lift = truth.effect * 0.9 * float(np.mean(cohort_ramps))
    assert truth.adopter_att_lift == pytest.approx(expected_adopter_lift, rel=0.15)
    assert 0.4 < truth.rollout_adoption < 0.7
    # Common random numbers make every ticket's AI outcome no worse (or no better) than its twin.
    assert 0 < truth.pilot_itt_resolved < 0.03
    assert -0.02 < truth.pilot_itt_escalated < 0
    assert 0 < truth.pilot_itt_reopened < 0.005
    assert truth.pilot_itt_csat > 0


def test_did_truth_tables(sample: SampleData) -> None:
    truth = sample.truth
    gt, dynamic = truth.did_att_gt, truth.did_att_dynamic
    assert list(gt.columns) == ["cohort", "week", "event_time", "n_teams", "att", "baseline"]
    assert len(gt) == (26 - 10) + (26 - 14) + (26 - 18)
    assert (gt["event_time"] == gt["week"] - gt["cohort"]).all()
    assert gt["event_time"].min() == 0 and (gt["n_teams"] == 3).all()
    assert (gt["att"] <= 0).all()  # the AI never slows a ticket down
    assert gt["baseline"].between(10, 25).all()
    weighted = (gt["att"] * gt["n_teams"]).sum() / gt["n_teams"].sum()
    assert truth.did_att_overall == pytest.approx(weighted)
    assert list(dynamic["event_time"]) == list(range(16))
    assert dynamic["n_cohorts"].tolist() == [3] * 8 + [2] * 4 + [1] * 4
    at = dynamic.set_index("event_time")["att"]
    assert at[0] > 0.5 * at[7]  # the learning curve: the effect grows with time since rollout
    last = gt[gt["event_time"] == 12]
    assert at[12] == pytest.approx(float(last["att"].iloc[0]))
    e0 = gt[gt["event_time"] == 0]
    assert at[0] == pytest.approx(e0["att"].mean())  # equal team counts: a plain mean


def test_truth_and_sample_are_frozen(sample: SampleData) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        sample.truth.effect = 0.0  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        sample.events = sample.events.head()  # type: ignore[misc]
    scalars = sample.truth.to_dict()
    assert scalars["pilot_week"] == 8 and scalars["pilot_start"] == "2026-04-27T00:00:00+00:00"
    assert "did_att_gt" not in scalars and json.loads(json.dumps(scalars)) == scalars
    assert "104" in repr(sample)  # events count, not a frame dump


def test_simulate_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="Monday"):
        simulate(start="2026-03-03", **SMALL)
    with pytest.raises(ValueError, match="n_teams"):
        simulate(n_agents=5, n_teams=6)
    with pytest.raises(ValueError, match="treatment_share"):
        simulate(treatment_share=1.5, **SMALL)
    assert len(simulate(pilot_share=0.0, **SMALL).assignments) == 0


def _defects(frame: pd.DataFrame) -> pd.DataFrame:
    """One simple predicate per kind of bad row."""
    return pd.DataFrame(
        {
            "duplicate_event_id": frame["event_id"].duplicated(),
            "negative_duration": frame["ended_at"] < frame["started_at"],
            "null_agent_id": frame["agent_id"].isna(),
            "handle_time_out_of_range": frame["handle_time_minutes"] > 1440,
            "csat_out_of_range": (frame["csat"] > 5).fillna(False).astype(bool),
            "unknown_workflow": ~frame["workflow"].isin(WORKFLOWS),
            "negative_cost": frame["compute_cost_usd"] < 0,
        }
    )


def test_inject_bad_rows_counts_are_exact(events: pd.DataFrame) -> None:
    broken, counts = inject_bad_rows(events, n_per_kind=5, seed=3)
    assert counts == dict.fromkeys(BAD_ROW_KINDS, 5)
    assert len(broken) == len(events) + 5
    assert broken.dtypes.astype(str).to_dict() == EVENT_DTYPES
    defects = _defects(broken)
    assert defects.sum().to_dict() == counts
    assert defects.sum(axis=1).max() == 1  # one defect per bad row
    assert int(defects.any(axis=1).sum()) == 35  # no original row broken twice
    negative = broken[defects["negative_duration"]]
    assert (negative["handle_time_minutes"] < 0).all()
    assert broken.loc[defects["negative_cost"], "ai_used"].all()
    assert int(_defects(events).to_numpy().sum()) == 0  # the input is untouched
    again, _ = inject_bad_rows(events, n_per_kind=5, seed=3)
    pd.testing.assert_frame_equal(again, broken)


def test_inject_bad_rows_refuses_more_than_the_rows(sample: SampleData) -> None:
    tiny = sample.events.head(20)
    with pytest.raises(ValueError, match="n_per_kind"):
        inject_bad_rows(tiny, n_per_kind=3)
    broken, counts = inject_bad_rows(tiny, n_per_kind=2)
    assert len(broken) == 22 and sum(counts.values()) == 14


def test_write_sample_round_trips(tmp_path: Path) -> None:
    paths = write_sample(tmp_path, seed=4, **SMALL)
    data = simulate(seed=4, **SMALL)
    assert sorted(paths) == ["agents", "assignments", "events", "rollouts", "truth"]
    for name in ("events", "assignments", "rollouts", "agents"):
        back = pq.read_table(paths[name]).to_pandas()
        pd.testing.assert_frame_equal(back, getattr(data, name))
    truth = json.loads(paths["truth"].read_text())
    assert truth == pytest.approx(data.truth.to_dict())
    assert truth["pilot_itt_lift"] < 0


def test_write_events_parquet_writes_exactly_n_events(tmp_path: Path) -> None:
    folder = write_events_parquet(tmp_path / "big", n_events=50_000, rows_per_file=20_000, seed=2)
    files = sorted(folder.glob("*.parquet"))
    assert [pq.read_metadata(f).num_rows for f in files] == [20_000, 20_000, 10_000]
    table = ds.dataset(folder).to_table()
    assert table.num_rows == 50_000
    sample_schema = pq.read_schema(write_sample(tmp_path / "s", **SMALL)["events"])
    assert table.schema.equals(sample_schema, check_metadata=False)
    ids = table.column("event_id").to_pandas()
    assert ids.is_unique and ids.min() == "E00000001" and ids.max() == "E00050000"
    ai_share = float(np.mean(table.column("ai_used").to_numpy()))
    assert 0.05 < ai_share < 0.25
    # A rerun replaces the old parts rather than mixing with them.
    write_events_parquet(tmp_path / "big", n_events=1_000, seed=2)
    assert ds.dataset(folder).count_rows() == 1_000
    assert len(list(folder.glob("*.parquet"))) == 1
