"""The same `impact` calls on DuckDB and on a local Spark session give the same numbers.

Every input is written once to Parquet and read by each engine through
``impact.as_table(path, backend=...)``, the seam a warehouse user goes through. Aggregates are
compared to 1e-9 relative; integer counts exactly. One module-scoped SparkSession
(``local[1]``) serves every test.
"""

from __future__ import annotations

import math
import shutil
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

pyspark = pytest.importorskip("pyspark", reason="install the `spark` extra")
if shutil.which("java") is None:  # pragma: no cover - machine set-up
    pytest.skip("Spark needs Java (make system-deps)", allow_module_level=True)

import ibis  # noqa: E402

import impact  # noqa: E402
from impact.datasets import inject_bad_rows, simulate  # noqa: E402
from impact.estimators.adopters import adopter_units  # noqa: E402

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


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[1]")
        .appName("impact-parity")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "1")
        .config("spark.default.parallelism", "1")
        .config("spark.driver.memory", "1g")
        # Catalyst's constraint propagation grows without bound on the validation plan (30
        # OR-ed rule flags re-derived through the duplicate-key semi/anti joins) and exhausts
        # the driver heap; see docs/scaling.md.
        .config("spark.sql.constraintPropagation.enabled", "false")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    try:
        yield ibis.pyspark.connect(session)
    finally:
        session.stop()


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A small simulated rollout (pilot + staggered teams) and a broken copy, as Parquet."""
    folder = tmp_path_factory.mktemp("parity")
    sample = simulate(n_agents=60, n_teams=6, n_weeks=14, tickets_per_agent_week=6, seed=11)
    broken, _ = inject_bad_rows(sample.events, n_per_kind=3, seed=2)
    frames = {
        "events": sample.events,
        "assignments": sample.assignments,
        "rollouts": sample.rollouts,
        "agents": sample.agents,
        "broken": broken,
    }
    paths = {}
    for name, frame in frames.items():
        paths[name] = folder / f"{name}.parquet"
        frame.to_parquet(paths[name], index=False)
    return paths


Run = Callable[[Callable[[dict[str, Any]], Any]], tuple[Any, Any]]


@pytest.fixture(scope="module")
def on_both(spark: Any, files: dict[str, Path]) -> Run:
    """Call `fn(tables)` with the inputs read by DuckDB, then by Spark; return both results."""

    def run(fn: Callable[[dict[str, Any]], Any]) -> tuple[Any, Any]:
        results = []
        for backend in (None, spark):
            tables = {k: impact.as_table(p, backend=backend) for k, p in files.items()}
            results.append(fn(tables))
        return results[0], results[1]

    return run


def _canonical(frame: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    """Sorted by `keys`, dates as ISO text, numbers as float64: engine-neutral for comparing."""
    out = frame.copy()
    for column in out.columns:
        values = out[column]
        if column == "period" or pd.api.types.is_datetime64_any_dtype(values):
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
    assert (duck.method, duck.n_treated, duck.n_control) == (
        spark.method,
        spark.n_treated,
        spark.n_control,
    )
    for name in ("estimate", "std_error", "ci_low", "ci_high", "p_value", "baseline", "lift"):
        a, b = getattr(duck, name), getattr(spark, name)
        assert math.isfinite(a)
        assert b == pytest.approx(a, rel=RTOL, abs=0.0), name


def test_unit_summary_matches(on_both: Run, files: dict[str, Path]) -> None:
    duck, spark = on_both(
        lambda t: impact.unit_summary(t["events"], unit="agent_id", outcomes=OUTCOMES).to_pandas()
    )
    assert duck["n_events"].sum() == len(pd.read_parquet(files["events"]))
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


def test_ab_unit_means_and_effect_match(on_both: Run) -> None:
    def units(t: dict[str, Any]) -> pd.DataFrame:
        pilot = impact.with_assignments(t["events"], t["assignments"])
        return impact.unit_summary(
            pilot, unit="agent_id", outcomes=["handle_time_minutes"], by=["arm"]
        ).to_pandas()

    duck_units, spark_units = on_both(units)
    _assert_same_frame(duck_units, spark_units, ["agent_id"])

    def effect(t: dict[str, Any]) -> impact.Effect:
        pilot = impact.with_assignments(t["events"], t["assignments"])
        return impact.ab_test(pilot, "handle_time_minutes", expected_share=0.2)

    duck, spark = on_both(effect)
    _assert_same_effect(duck, spark)
    # ... and both equal Welch's test on the unit means computed by hand.
    means = duck_units.set_index("arm")["handle_time_minutes_mean"]
    assert duck.estimate == pytest.approx(
        means["treatment"].mean() - means["control"].mean(), rel=1e-12
    )


def test_ab_ratio_metric_matches(on_both: Run) -> None:
    def effect(t: dict[str, Any]) -> impact.Effect:
        pilot = impact.with_assignments(t["events"], t["assignments"])
        return impact.ab_test(pilot, "resolved", metric="ratio")

    _assert_same_effect(*on_both(effect))


def test_validation_counts_match_on_broken_data(on_both: Run) -> None:
    def check(t: dict[str, Any]) -> tuple[pd.DataFrame, tuple[int, int, int], tuple[int, int]]:
        result = impact.validate(t["broken"], "workflow_events")
        partition = (
            int(result.valid.count().to_pyarrow().as_py()),
            int(result.quarantine.count().to_pyarrow().as_py()),
        )
        counts = (result.rows_checked, result.rows_valid, result.rows_quarantined)
        return result.summary, counts, partition

    (duck, duck_counts, duck_parts), (spark, spark_counts, spark_parts) = on_both(check)
    assert duck_counts == spark_counts
    assert duck_parts == spark_parts == duck_counts[1:]
    assert duck_counts[2] > 0  # the broken rows were found, not waved through
    pd.testing.assert_frame_equal(
        duck[["column", "rule", "n_failed", "passed"]],
        spark[["column", "rule", "n_failed", "passed"]],
    )
    # The examples name the same rows (deterministic minimum of the identity column).
    assert duck["example"].tolist() == spark["example"].tolist()


def test_did_rollout_panel_matches(on_both: Run) -> None:
    duck, spark = on_both(lambda t: impact.rollout_panel(t["events"], t["rollouts"]))
    _assert_same_frame(duck, spark, ["team_id", "period"])


def test_matching_adopter_units_match(on_both: Run) -> None:
    duck, spark = on_both(
        lambda t: adopter_units(t["events"], t["agents"], t["rollouts"]).to_pandas()
    )
    assert np.isfinite(duck["pre_handle_time_minutes"]).any()
    _assert_same_frame(duck, spark, ["agent_id"])
