"""The same `impact` calls on DuckDB and on a local Spark session give the same numbers.

Every input is written once to Parquet and read by each engine through
``impact.as_table(path, backend=...)``, the seam a warehouse user goes through. Engine tables
(unit tables, panels, validation counts) and the Effects computed from them are compared to
1e-9 relative; counts exactly. The Spark session is ``tests/scale/conftest.py``'s, shared by
the whole run: every test here is in xdist group "spark", so one worker starts one JVM.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import impact
from impact.datasets import SampleData, inject_bad_rows, simulate
from impact.estimators.adopters import adopter_units
from impact.estimators.metrics import Mean, Ratio, unit_table

pytestmark = [
    pytest.mark.spark,
    pytest.mark.slow,
    pytest.mark.xdist_group("spark"),
    # py4j (Spark's Python-Java bridge) drops its local sockets without closing them.
    pytest.mark.filterwarnings(
        "ignore:Exception ignored in. <socket.socket:pytest.PytestUnraisableExceptionWarning"
    ),
    pytest.mark.filterwarnings("ignore:unclosed <socket.socket:ResourceWarning"),
]

RTOL = 1e-9
OUTCOMES = ["handle_time_minutes", "resolved", "csat"]
Tables = dict[str, Any]


@pytest.fixture(scope="module")
def data() -> SampleData:
    """A small simulated rollout: a randomized pilot and staggered teams with adopters."""
    return simulate(n_agents=60, n_teams=6, n_weeks=14, tickets_per_agent_week=6, seed=11)


@pytest.fixture(scope="module")
def files(data: SampleData, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The inputs and a copy of the events with broken rows (duplicates too), as Parquet."""
    folder = tmp_path_factory.mktemp("parity")
    broken, _ = inject_bad_rows(data.events, n_per_kind=3, seed=2)
    frames = {
        "events": data.events,
        "assignments": data.assignments,
        "rollouts": data.rollouts,
        "agents": data.agents,
        "broken": broken,
    }
    paths = {}
    for name, frame in frames.items():
        paths[name] = folder / f"{name}.parquet"
        frame.to_parquet(paths[name], index=False)
    return paths


@pytest.fixture(scope="module")
def duck(files: dict[str, Path]) -> Tables:
    return {name: impact.as_table(path) for name, path in files.items()}


@pytest.fixture(scope="module")
def sparked(spark: Any, files: dict[str, Path]) -> Tables:
    return {name: impact.as_table(path, backend=spark) for name, path in files.items()}


Run = Callable[[Callable[[Tables], Any]], tuple[Any, Any]]


@pytest.fixture(scope="module")
def on_both(duck: Tables, sparked: Tables) -> Run:
    """Call `fn(tables)` on the DuckDB tables, then on the Spark ones; return both results."""

    def run(fn: Callable[[Tables], Any]) -> tuple[Any, Any]:
        return fn(duck), fn(sparked)

    return run


# -- comparing ---------------------------------------------------------------------------------
def _canonical(frame: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    """Sorted by `keys`, dates as ISO text, numbers as float64: engine-neutral for comparing."""
    out = frame.copy()
    for column in out.columns:
        values = out[column]
        if column in ("period", "rollout_at") or pd.api.types.is_datetime64_any_dtype(values):
            out[column] = pd.to_datetime(values.astype(str)).dt.strftime("%Y-%m-%d")
        elif pd.api.types.is_bool_dtype(values) or pd.api.types.is_numeric_dtype(values):
            out[column] = values.astype("float64")
    return out.sort_values(list(keys)).reset_index(drop=True)


def _assert_same_frame(duck: pd.DataFrame, spark: pd.DataFrame, keys: Sequence[str]) -> None:
    assert sorted(duck.columns) == sorted(spark.columns)
    assert len(duck) == len(spark) > 0
    left = _canonical(duck, keys)
    right = _canonical(spark, keys)[left.columns]
    pd.testing.assert_frame_equal(left, right, check_exact=False, rtol=RTOL, atol=0.0)


def _assert_same_effect(duck: impact.Effect, spark: impact.Effect) -> None:
    """Same method, sample sizes, notes and diagnostics; every number to 1e-9 relative."""
    assert (duck.method, duck.n_treated, duck.n_control) == (
        spark.method,
        spark.n_treated,
        spark.n_control,
    )
    for name in ("estimate", "std_error", "ci_low", "ci_high", "p_value", "baseline", "lift"):
        a, b = getattr(duck, name), getattr(spark, name)
        assert math.isfinite(a), name
        assert b == pytest.approx(a, rel=RTOL, abs=0.0), name
    assert spark.lift_ci == pytest.approx(duck.lift_ci, rel=RTOL, abs=0.0)
    assert [(d.name, d.passed) for d in duck.diagnostics] == [
        (d.name, d.passed) for d in spark.diagnostics
    ]
    assert [d.value for d in spark.diagnostics] == pytest.approx(
        [d.value for d in duck.diagnostics], rel=RTOL, abs=1e-12, nan_ok=True
    )
    assert duck.notes == spark.notes
    assert sorted(duck.tables) == sorted(spark.tables)
    for name, frame in duck.tables.items():
        pd.testing.assert_frame_equal(
            frame, spark.tables[name], check_exact=False, rtol=RTOL, atol=1e-12
        )


# -- the generic aggregations ------------------------------------------------------------------
def test_unit_summary_matches(on_both: Run, data: SampleData) -> None:
    duck, spark = on_both(
        lambda t: impact.unit_summary(t["events"], unit="agent_id", outcomes=OUTCOMES).to_pandas()
    )
    assert duck["n_events"].sum() == len(data.events)
    _assert_same_frame(duck, spark, ["agent_id"])


def test_panel_matches(on_both: Run) -> None:
    duck, spark = on_both(
        lambda t: impact.panel(
            t["events"], unit="team_id", time="started_at", outcomes=OUTCOMES, by=["workflow"]
        ).to_pandas()
    )
    # Weeks start on Monday on both engines: every period is a Monday.
    assert set(pd.to_datetime(_canonical(spark, ["team_id"])["period"]).dt.dayofweek) == {0}
    _assert_same_frame(duck, spark, ["team_id", "period", "workflow"])


# -- A/B ---------------------------------------------------------------------------------------
def _pilot(t: Tables, *, since_assignment: bool = True) -> Any:
    return impact.with_assignments(t["events"], t["assignments"], since_assignment=since_assignment)


def test_ab_mean_unit_table_and_effect_match(on_both: Run) -> None:
    def units(t: Tables) -> pd.DataFrame:
        table, _ = unit_table(_pilot(t), [Mean("handle_time_minutes")], unit="agent_id", arm="arm")
        return table

    duck_units, spark_units = on_both(units)
    _assert_same_frame(duck_units, spark_units, ["agent_id"])

    duck, spark = on_both(
        lambda t: impact.ab_test(_pilot(t), "handle_time_minutes", expected_share=0.2)
    )
    _assert_same_effect(duck, spark)
    assert duck.method == "ab.welch"
    # ... and both equal the difference of the arms' unit means computed by hand.
    means = duck_units.groupby("arm")["0.num"].mean()
    assert duck.estimate == pytest.approx(means["treatment"] - means["control"], rel=1e-12)


def test_ab_ratio_unit_table_and_effect_match(on_both: Run, files: dict[str, Path]) -> None:
    def units(t: Tables) -> pd.DataFrame:
        metric = Ratio("review_minutes", "handle_time_minutes")
        table, _ = unit_table(_pilot(t), [metric], unit="agent_id", arm="arm")
        return table

    duck_units, spark_units = on_both(units)
    _assert_same_frame(duck_units, spark_units, ["agent_id"])
    assert (duck_units["0.den"] > 0).all()

    # Assignments as a pandas frame: an unbound Ibis memtable, shipped to the engine of the events.
    assignments = pd.read_parquet(files["assignments"])
    duck, spark = on_both(
        lambda t: impact.ab_test(
            impact.with_assignments(t["events"], assignments), "resolved", metric="ratio"
        )
    )
    _assert_same_effect(duck, spark)
    assert duck.method == "ab.ratio"


def test_a_pandas_frame_becomes_a_spark_table(spark: Any, data: SampleData) -> None:
    table = impact.as_table(data.agents, backend=spark)
    assert table.get_backend().name == "pyspark"
    assert int(table.count().execute()) == len(data.agents)


def test_ab_cuped_unit_table_and_effect_match(on_both: Run) -> None:
    """Pre-period sums as the covariate, and the 99th-percentile cap (an engine quantile)."""

    def units(t: Tables) -> tuple[pd.DataFrame, dict[str, Any]]:
        return unit_table(
            _pilot(t, since_assignment=False),
            [Mean("handle_time_minutes")],
            unit="agent_id",
            arm="arm",
            pre_period="assignment",
            cap=0.99,
        )

    (duck_units, duck_facts), (spark_units, spark_facts) = on_both(units)
    _assert_same_frame(duck_units, spark_units, ["agent_id"])
    assert duck_units["0.xnum"].notna().all()  # every unit has a pre-period
    assert spark_facts["caps"][0] == pytest.approx(duck_facts["caps"][0], rel=RTOL)
    assert duck_facts["capped"] == spark_facts["capped"] and duck_facts["capped"][0] > 0

    duck, spark = on_both(
        lambda t: impact.ab_test(
            _pilot(t, since_assignment=False),
            "handle_time_minutes",
            pre_period="assignment",
            cap=0.99,
            expected_share=0.2,
        )
    )
    _assert_same_effect(duck, spark)
    assert duck.method == "ab.welch+cuped"
    assert duck.diagnostic("variance_reduction").value > 0.1


# -- contracts ---------------------------------------------------------------------------------
def test_validation_counts_per_rule_match_on_broken_data(on_both: Run) -> None:
    def check(t: Tables) -> tuple[pd.DataFrame, tuple[int, ...], pd.DataFrame]:
        result = impact.validate(t["broken"], "workflow_events")
        counts = (
            result.rows_checked,
            result.rows_valid,
            result.rows_quarantined,
            int(result.valid.count().to_pyarrow().as_py()),
        )
        # The quarantine is small: which rows, and every rule each one broke.
        rules = impact.contracts.RULES_COLUMN
        quarantine = result.quarantine.select("event_id", rules).to_pandas()
        return result.summary, counts, quarantine.sort_values(["event_id", rules])

    (duck, duck_counts, duck_q), (spark, spark_counts, spark_q) = on_both(check)
    assert duck_counts == spark_counts
    checked, valid, quarantined, n_valid = duck_counts
    assert valid + quarantined == checked and n_valid == valid
    assert quarantined == len(duck_q) > 0  # the broken rows were found, not waved through
    columns = ["column", "rule", "n_failed", "passed", "message"]
    pd.testing.assert_frame_equal(duck[columns], spark[columns])
    assert (duck["n_failed"] > 0).sum() >= 5  # several rules broke, each counted the same
    # The examples name the same rows (deterministic minimum of the identity column).
    assert duck["example"].tolist() == spark["example"].tolist()
    pd.testing.assert_frame_equal(duck_q.reset_index(drop=True), spark_q.reset_index(drop=True))


# -- difference-in-differences -----------------------------------------------------------------
@pytest.fixture(scope="module")
def panels(duck: Tables, sparked: Tables) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The team x week rollout panel built by each engine."""
    return tuple(impact.rollout_panel(t["events"], t["rollouts"]) for t in (duck, sparked))


def test_did_rollout_panel_matches(panels: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    duck, spark = panels
    _assert_same_frame(duck, spark, ["team_id", "period"])
    assert duck["rollout_week"].notna().any() and duck["rollout_week"].isna().any()


def test_did_twfe_matches_from_spark_panel(panels: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    duck, spark = (impact.did(p, method="twfe") for p in panels)
    _assert_same_effect(duck, spark)
    assert duck.method.startswith("did.twfe")


def test_did_callaway_santanna_matches_on_spark_events(on_both: Run) -> None:
    """The front door: raw events and rollouts in, the panel built by the engine inside."""
    duck, spark = on_both(lambda t: impact.did(t["events"], rollouts=t["rollouts"]))
    _assert_same_effect(duck, spark)
    assert duck.method.startswith("did.callaway_santanna")
    assert duck.tables  # group-time ATTs and the event study came along and matched


# -- matching ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def adopters(duck: Tables, sparked: Tables) -> tuple[Any, Any]:
    """The per-agent adopter tables (lazy, one per engine)."""
    return tuple(adopter_units(t["events"], t["agents"], t["rollouts"]) for t in (duck, sparked))


def test_matching_adopter_units_match(adopters: tuple[Any, Any]) -> None:
    duck, spark = (table.to_pandas() for table in adopters)
    assert np.isfinite(duck["pre_handle_time_minutes"]).all()
    assert duck["adopted"].any() and not duck["adopted"].all()
    _assert_same_frame(duck, spark, ["agent_id"])


def test_matched_cohort_matches_on_spark_units(adopters: tuple[Any, Any]) -> None:
    def match(units: Any) -> impact.Effect:
        return impact.matched_cohort(
            units,
            "post_handle_time_minutes",
            pre_outcome="pre_handle_time_minutes",
            covariates=["tenure_months", "pre_handle_time_minutes", "pre_weekly_volume"],
        )

    duck, spark = (match(table) for table in adopters)
    _assert_same_effect(duck, spark)
    assert duck.method.startswith("matching")
