"""Every query the engine runs compiles to BigQuery, Snowflake and Trino SQL.

The test runs the real calls on DuckDB and records each Ibis expression they execute
(validation's structural and per-rule aggregates, the A/B per-unit tables with their numeric
checks, caps and pre-periods, the DiD panel and 2x2 moments, the matching unit table, drift
cells, cost sums, ``unit_summary`` and ``panel``), then compiles each one with
``ibis.to_sql(expr, dialect=...)``: no warehouse connection is needed, and a dialect break
surfaces here before a user meets it. Spark runs the same expressions for real in
``test_spark_parity.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.operations as ops
import ibis.expr.types as ir
import numpy as np
import pandas as pd
import pytest

import impact
from impact.datasets import inject_bad_rows, simulate
from impact.engine import default_backend
from impact.estimators.adopters import adopter_units
from impact.estimators.drift import effect_drift
from impact.estimators.metrics import order_statistic
from impact.value import Register, cost_per_outcome

DIALECTS = ("bigquery", "snowflake", "trino")
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def sample() -> Any:
    return simulate(n_agents=40, n_teams=4, n_weeks=12, tickets_per_agent_week=4, seed=5)


@pytest.fixture
def executed(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[ir.Expr]]:
    """Every expression executed while the test runs (the result still comes from DuckDB)."""
    seen: list[ir.Expr] = []
    for method in ("execute", "to_pyarrow"):
        original = getattr(ir.Expr, method)

        def recording(self: ir.Expr, *args: Any, _original: Any = original, **kw: Any) -> Any:
            seen.append(self)
            return _original(self, *args, **kw)

        monkeypatch.setattr(ir.Expr, method, recording)
    yield seen


def _compiles_everywhere(expressions: list[ir.Expr]) -> dict[str, list[str]]:
    """Compile every recorded expression to each dialect; return the SQL texts per dialect."""
    assert expressions, "no query was executed: the recorder saw nothing"
    out: dict[str, list[str]] = {}
    for dialect in DIALECTS:
        texts = []
        for expr in expressions:
            sql = ibis.to_sql(expr, dialect=dialect)
            assert sql.lstrip().upper().startswith(("SELECT", "WITH")), sql[:200]
            texts.append(sql)
        out[dialect] = texts
    return out


Call = Callable[[Any], object]


def test_unit_summary_and_panel(sample: Any, executed: list[ir.Expr]) -> None:
    events = impact.as_table(sample.events)
    impact.unit_summary(events, unit="agent_id", outcomes=["handle_time_minutes"]).to_pyarrow()
    impact.panel(
        events, unit="team_id", time="started_at", outcomes=["resolved"], period="week"
    ).to_pyarrow()
    sql = _compiles_everywhere(executed)
    # Weekly periods compile to each dialect's own week truncation, never DuckDB's syntax.
    assert "DATE_TRUNC" in sql["trino"][1].upper() or "DATE_TRUNC(" in sql["trino"][1]
    assert "WEEK" in sql["bigquery"][1].upper()


def test_ab_aggregation(sample: Any, executed: list[ir.Expr]) -> None:
    pilot = impact.with_assignments(impact.as_table(sample.events), sample.assignments)
    effect = impact.ab_test(pilot, "handle_time_minutes", expected_share=0.2)
    assert effect.n_treated > 0
    sql = _compiles_everywhere(executed)
    # The A/B query groups events per unit in the engine.
    assert any("GROUP BY" in s.upper() for s in sql["snowflake"])


def test_ab_ratio_and_cuped_aggregation(sample: Any, executed: list[ir.Expr]) -> None:
    pilot = impact.with_assignments(
        impact.as_table(sample.events), sample.assignments, since_assignment=False
    )
    impact.ab_test(pilot, "handle_time_minutes", metric="ratio", pre_period="assignment")
    _compiles_everywhere(executed)


def test_validation_aggregates(sample: Any, executed: list[ir.Expr]) -> None:
    # Broken rows (duplicates included) take the second, ranking pass too.
    broken, _ = inject_bad_rows(sample.events, n_per_kind=2, seed=1)
    check = impact.validate(broken, "workflow_events")
    assert check.rows_quarantined > 0
    check.quarantine.count().to_pyarrow()
    sql = _compiles_everywhere(executed)
    assert len(sql["bigquery"]) >= 2  # the counting pass and the ranking pass


def test_ab_numeric_check_of_text_columns(sample: Any, executed: list[ir.Expr]) -> None:
    # Text that must parse as numbers: the check counts unparseable values with an example.
    events = sample.events.assign(csat=sample.events["csat"].astype(str).replace("<NA>", None))
    pilot = impact.with_assignments(impact.as_table(events), sample.assignments)
    impact.ab_test(pilot, "csat")
    sql = _compiles_everywhere(executed)
    assert any("TRY_CAST" in s.upper() for s in sql["trino"])


def test_ab_cap_compiles_where_the_engine_has_an_exact_quantile(
    sample: Any, executed: list[ir.Expr]
) -> None:
    pilot = impact.with_assignments(impact.as_table(sample.events), sample.assignments)
    impact.ab_test(pilot, "handle_time_minutes", cap=0.99)
    quantiles = [e for e in executed if "QUANTILE_CONT" in ibis.to_sql(e, dialect="duckdb").upper()]
    assert len(quantiles) == 1
    # Snowflake (and Spark, for real) have an exact, interpolating percentile aggregate.
    assert "PERCENTILE_CONT(0.99)" in ibis.to_sql(quantiles[0], dialect="snowflake")


def test_ab_cap_without_an_exact_quantile_uses_order_statistics(
    sample: Any, executed: list[ir.Expr], monkeypatch: pytest.MonkeyPatch
) -> None:
    """BigQuery and Trino have no exact quantile aggregate: the cap comes from a count and two
    ranked rows instead, and equals DuckDB's ``quantile_cont`` to 1e-12."""
    pilot = impact.with_assignments(impact.as_table(sample.events), sample.assignments)
    native = impact.ab_test(pilot, "handle_time_minutes", cap=0.99)
    executed.clear()
    backend = type(default_backend())
    has = backend.has_operation.__func__
    monkeypatch.setattr(
        backend,
        "has_operation",
        classmethod(lambda cls, op: op is not ops.Quantile and has(cls, op)),
    )
    ranked = impact.ab_test(pilot, "handle_time_minutes", cap=0.99)
    assert ranked.estimate == pytest.approx(native.estimate, rel=1e-12)
    assert ranked.std_error == pytest.approx(native.std_error, rel=1e-12)
    assert ranked.notes == native.notes  # the same cap value and count of capped events
    sql = _compiles_everywhere(executed)
    assert any("ROW_NUMBER()" in s.upper() for s in sql["bigquery"])
    assert not any("QUANTILE" in s.upper() or "PERCENTILE" in s.upper() for s in sql["trino"])


def test_ab_experiment_filter_and_drift_cells(sample: Any, executed: list[ir.Expr]) -> None:
    experiment = str(sample.assignments["experiment_id"].iloc[0])
    pilot = impact.with_assignments(
        impact.as_table(sample.events), sample.assignments, experiment=experiment
    )
    effect_drift(pilot, "handle_time_minutes")
    _compiles_everywhere(executed)


def test_did_and_matching_aggregations(sample: Any, executed: list[ir.Expr]) -> None:
    events = impact.as_table(sample.events)
    panel = impact.rollout_panel(events, sample.rollouts)
    assert isinstance(panel, pd.DataFrame) and len(panel) > 0
    units = adopter_units(events, sample.agents, sample.rollouts)
    impact.matched_cohort(
        units,
        "post_handle_time_minutes",
        pre_outcome="pre_handle_time_minutes",
        covariates=["tenure_months", "pre_handle_time_minutes"],
    )
    sql = _compiles_everywhere(executed)
    assert len(sql["trino"]) >= 3  # the duplicate-rollout check, the panel, the unit table


def test_did_two_by_two_moments(sample: Any, executed: list[ir.Expr]) -> None:
    """The 2x2 DiD accumulates X'X, X'y and the clustered scores in the engine."""
    events = impact.as_table(sample.events)
    starts = impact.as_table(sample.rollouts)
    rows = events.inner_join(starts, "team_id").mutate(
        treated=ibis._.rollout_at.notnull(),
        post=ibis._.started_at >= ibis.timestamp("2026-04-20T00:00:00+00:00"),
    )
    impact.DiffInDiff(treated="treated", post="post", cluster="team_id").estimate(rows)
    sql = _compiles_everywhere(executed)
    assert len(sql["snowflake"]) >= 2


def test_cost_per_outcome_sums(sample: Any, executed: list[ir.Expr]) -> None:
    register = Register.from_yaml(ROOT / "assumptions" / "ai_assist.yaml")
    cost_per_outcome(impact.as_table(sample.events), costs=register, by=["workflow"])
    _compiles_everywhere(executed)


@pytest.mark.parametrize("n", [1, 2, 7, 1000])
def test_order_statistic_equals_the_interpolated_quantile(n: int) -> None:
    rng = np.random.default_rng(n)
    values = rng.lognormal(size=n).round(1)  # rounding makes ties
    table = impact.as_table(pd.DataFrame({"x": np.r_[values, np.nan, np.nan]}))
    for q in (0.5, 0.9, 0.99, 0.999):
        expected = float(np.quantile(values, q))  # numpy's default is the same linear rule
        assert order_statistic(table, "x", q) == pytest.approx(expected, rel=1e-12)
    empty = impact.as_table(pd.DataFrame({"x": [np.nan, np.nan]}))
    assert order_statistic(empty, "x", 0.5) is None
