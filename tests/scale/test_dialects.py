"""Every query the engine runs compiles to BigQuery, Snowflake and Trino SQL.

The test runs the real calls on DuckDB and records each Ibis expression they execute
(validation's structural and per-rule aggregates, the A/B per-unit table, DiD and matching
aggregations, ``unit_summary`` and ``panel``), then compiles each one with
``ibis.to_sql(expr, dialect=...)``: no warehouse connection is needed, and a dialect break
surfaces here before a user meets it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd
import pytest

import impact
from impact.datasets import inject_bad_rows, simulate
from impact.estimators.adopters import adopter_units

DIALECTS = ("bigquery", "snowflake", "trino")


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


def test_did_and_matching_aggregations(sample: Any, executed: list[ir.Expr]) -> None:
    events = impact.as_table(sample.events)
    panel = impact.rollout_panel(events, sample.rollouts)
    assert isinstance(panel, pd.DataFrame) and len(panel) > 0
    adopter_units(events, sample.agents, sample.rollouts).to_pyarrow()
    _compiles_everywhere(executed)
