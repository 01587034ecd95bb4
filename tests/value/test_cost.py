"""Cost per outcome: the decomposition against a direct pandas computation."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from impact.errors import EstimationError, ParameterError
from impact.value import Register, bare_columns, cost_per_outcome
from impact.value.cost import COMPONENTS

from .conftest import FIXED, effect, register

LABOUR_PER_MIN = 1.0  # the FIXED register: $60 an hour
OVERHEAD_PER_AI_TICKET = 100.0 / (100.0 * 1.0)  # run $100/month over 100 AI tickets/month


@pytest.fixture(scope="module")
def small() -> pd.DataFrame:
    rng = np.random.default_rng(11)
    n = 400
    ai = rng.random(n) < 0.6
    return pd.DataFrame(
        {
            "workflow": rng.choice(["billing", "technical"], n),
            "ai_used": ai,
            "ai_model": np.where(ai, rng.choice(["small", "large"], n), None),
            "resolved": rng.random(n) < 0.8,
            "handle_time_minutes": rng.gamma(3.0, 4.0, n),
            "compute_cost_usd": np.where(ai, rng.gamma(2.0, 0.05, n), 0.0),
            "review_minutes": np.where(ai, rng.gamma(2.0, 0.5, n), 0.0),
            "correction_minutes": np.where(rng.random(n) < 0.1, rng.gamma(1.5, 10.0, n), 0.0),
        }
    )


def by_hand(frame: pd.DataFrame, *, shift: float = 0.0, ai_free: bool = False) -> pd.Series:
    """Component totals priced directly in pandas; `shift` minutes undone per ticket."""
    n = len(frame)
    return pd.Series(
        {
            "handling": (frame.handle_time_minutes.sum() - shift * n) * LABOUR_PER_MIN,
            "compute": 0.0 if ai_free else frame.compute_cost_usd.sum(),
            "review": 0.0 if ai_free else frame.review_minutes.sum() * LABOUR_PER_MIN,
            "correction": frame.correction_minutes.sum() * LABOUR_PER_MIN,
            "overhead": 0.0 if ai_free else n * OVERHEAD_PER_AI_TICKET,
        }
    )


def test_decomposition_matches_pandas(small: pd.DataFrame) -> None:
    result = cost_per_outcome(small, costs=register(), effect=effect(estimate=-2.0))
    ai = small.loc[small.ai_used]
    outcomes = ai.resolved.sum()
    with_ai = by_hand(ai) / outcomes
    without_ai = by_hand(ai, shift=-2.0, ai_free=True) / outcomes
    other = (
        by_hand(small.loc[~small.ai_used], ai_free=True) / small.loc[~small.ai_used].resolved.sum()
    )
    parts = result.components()[[f"{c}_usd" for c in COMPONENTS]]
    np.testing.assert_allclose(parts.loc["with AI"], with_ai, rtol=1e-12)
    np.testing.assert_allclose(parts.loc["without AI (counterfactual)"], without_ai, rtol=1e-12)
    np.testing.assert_allclose(parts.loc["not AI-assisted"], other, rtol=1e-12)
    # The table's totals per scenario add up to the same figures.
    table = result.table.groupby("scenario")[[f"{c}_usd" for c in COMPONENTS]].sum()
    np.testing.assert_allclose(table.loc["with AI"], by_hand(ai), rtol=1e-12)
    assert result.with_ai.point == pytest.approx(with_ai.sum(), rel=1e-12)
    assert result.without_ai.point == pytest.approx(without_ai.sum(), rel=1e-12)
    # No effect on outcomes: the increment is per AI-assisted ticket.
    increment = (by_hand(ai).sum() - by_hand(ai, shift=-2.0, ai_free=True).sum()) / len(ai)
    assert result.incremental.point == pytest.approx(increment, rel=1e-12)
    assert result.incremental.label == "incremental cost per AI-assisted ticket"


def test_counterfactual_interval_converges_to_the_effect_ci(small: pd.DataFrame) -> None:
    # Labour and overhead fixed: the cost without AI is linear in the effect, so its Monte
    # Carlo interval is the cost at the ends of the effect's normal 95% interval.
    e = effect(estimate=-2.0, se=0.5)
    result = cost_per_outcome(small, costs=register(), effect=e, draws=20_000, seed=5)
    ai = small.loc[small.ai_used]
    ends = [
        by_hand(ai, shift=x, ai_free=True).sum() / ai.resolved.sum() for x in (e.ci_low, e.ci_high)
    ]
    # d(cost)/d(effect) = -n / outcomes at $1/min; the quantile's MC error is ~0.03 SD.
    sd = 0.5 * len(ai) / ai.resolved.sum()
    assert result.without_ai.low == pytest.approx(min(ends), abs=0.1 * sd)
    assert result.without_ai.high == pytest.approx(max(ends), abs=0.1 * sd)
    # The labour rate and run costs are fixed here, so the observed cost has no spread.
    assert result.with_ai.low == result.with_ai.high == result.with_ai.point


def test_labour_interval_is_the_triangular_quantile(small: pd.DataFrame) -> None:
    # Only the labour rate is uncertain (triangular 30-60-90 $/h): the cost with AI is linear
    # in it, so its interval ends are the triangular distribution's 2.5% and 97.5% quantiles.
    reg = Register.from_dict(
        FIXED
        | {
            "assumptions": FIXED["assumptions"]
            | {
                "labour_usd_per_hour": {
                    "value": 60.0,
                    "low": 30.0,
                    "high": 90.0,
                    "distribution": "triangular",
                    "unit": "usd_per_hour",
                    "category": "labour",
                }
            }
        }
    )
    result = cost_per_outcome(small, costs=reg, draws=40_000, seed=1)
    ai = small.loc[small.ai_used]
    minutes = ai[["handle_time_minutes", "review_minutes", "correction_minutes"]].sum().sum()
    fixed_usd = ai.compute_cost_usd.sum() + len(ai) * OVERHEAD_PER_AI_TICKET

    def labour(cost_per_outcome_usd: float) -> float:  # the rate that gives this cost
        return (cost_per_outcome_usd * ai.resolved.sum() - fixed_usd) * 60 / minutes

    tail = math.sqrt(0.025 * 60 * 30)  # triangular(a=30, c=60, b=90): 30 + tail, 90 - tail
    # Monte Carlo SE of a 2.5% quantile: sqrt(q (1 - q) / n) / density = 0.105 $/h here.
    se = math.sqrt(0.025 * 0.975 / 40_000) / (2 * tail / (60 * 30))
    assert labour(result.with_ai.point) == pytest.approx(60.0, rel=1e-12)
    assert labour(result.with_ai.low) == pytest.approx(30 + tail, abs=4 * se)
    assert labour(result.with_ai.high) == pytest.approx(90 - tail, abs=4 * se)


def test_every_money_column_carries_its_interval(small: pd.DataFrame) -> None:
    result = cost_per_outcome(
        small, costs=register(), effect=effect(estimate=-2.0), by=["workflow"], draws=2_000
    )
    assert bare_columns(result.table.columns) == []
    assert bare_columns(result.components().columns) == []
    money = [c for c in result.table.columns if c.endswith("_usd") and "_low" not in c]
    for column in (c for c in money if not c.endswith("_high_usd")):
        base = column.removesuffix("_usd")
        low, high = result.table[f"{base}_low_usd"], result.table[f"{base}_high_usd"]
        assert ((low <= result.table[column] + 1e-9) & (result.table[column] <= high + 1e-9)).all()


def test_seeded_and_reproducible(small: pd.DataFrame, sample_register: Register) -> None:
    first = cost_per_outcome(small, costs=sample_register, draws=1_000, seed=3)
    again = cost_per_outcome(small, costs=sample_register, draws=1_000, seed=3)
    other = cost_per_outcome(small, costs=sample_register, draws=1_000, seed=4)
    pd.testing.assert_frame_equal(first.table, again.table)
    assert first.with_ai.low != other.with_ai.low
    with pytest.raises(ParameterError, match="seed must be a whole number"):
        cost_per_outcome(small, costs=sample_register, seed=None)  # type: ignore[arg-type]


def test_labour_range_widens_the_observed_cost(
    small: pd.DataFrame, sample_register: Register
) -> None:
    result = cost_per_outcome(small, costs=sample_register)
    assert result.with_ai.low < result.with_ai.point < result.with_ai.high


def test_incremental_cost_per_incremental_outcome(small: pd.DataFrame) -> None:
    effects = [effect(estimate=-2.0), effect("resolved", estimate=0.05, se=0.01)]
    result = cost_per_outcome(small, costs=register(), effect=effects)
    ai = small.loc[small.ai_used]
    n = len(ai)
    o1, o0 = ai.resolved.sum(), ai.resolved.sum() - 0.05 * n
    c1, c0 = by_hand(ai).sum(), by_hand(ai, shift=-2.0, ai_free=True).sum()
    assert result.incremental.point == pytest.approx((c1 - c0) / (o1 - o0), rel=1e-12)
    assert result.without_ai.point == pytest.approx(c0 / o0, rel=1e-12)


def test_segments_match_pandas_groupby(small: pd.DataFrame) -> None:
    result = cost_per_outcome(small, costs=register(), by=["workflow", "ai_model"])
    table = result.table.loc[result.table.scenario == "with AI"].set_index(["workflow", "ai_model"])
    ai = small.loc[small.ai_used]
    for (workflow, model), group in ai.groupby(["workflow", "ai_model"]):
        expected = by_hand(group)
        row = table.loc[(workflow, model)]
        assert row.tickets == len(group)
        assert row.compute_usd == pytest.approx(expected["compute"], rel=1e-12)
        assert row.per_outcome_usd == pytest.approx(expected.sum() / group.resolved.sum())
    others = result.table.loc[result.table.scenario == "not AI-assisted"]
    assert set(others.ai_model) == {"(none)"}


def test_on_simulated_events_by_model(events: pd.DataFrame, sample_register: Register) -> None:
    result = cost_per_outcome(events, costs=sample_register, by=["ai_model"])
    compute = result.table.loc[result.table.scenario == "with AI"].set_index("ai_model")
    expected = events.loc[events.ai_used].groupby("ai_model").compute_cost_usd.sum()
    np.testing.assert_allclose(compute.compute_usd.loc[expected.index], expected, rtol=1e-10)
    # The large model costs more compute per outcome: where it is not needed, it shows here.
    per_outcome = compute.compute_usd / compute.outcomes
    assert per_outcome["large"] > 2 * per_outcome["small"]


def test_bad_input(small: pd.DataFrame) -> None:
    broken = small.copy()
    broken.loc[3, "compute_cost_usd"] = -0.5
    with pytest.raises(EstimationError, match=r"1 event.*negative, null or NaN cost"):
        cost_per_outcome(broken, costs=register())
    with pytest.raises(EstimationError, match=r"needs column\(s\) \['review_minutes'\]"):
        cost_per_outcome(small.drop(columns="review_minutes"), costs=register())
    with pytest.raises(EstimationError, match="no AI-assisted tickets"):
        cost_per_outcome(small.assign(ai_used=False), costs=register())
    with pytest.raises(ParameterError, match="not 'escalated'"):
        cost_per_outcome(small, costs=register(), effect=effect("escalated", estimate=0.01))
    with pytest.raises(ParameterError, match="infinite or missing interval"):
        cost_per_outcome(small, costs=register(), effect=effect(ci_low=-math.inf))
    with pytest.raises(EstimationError, match="no AI-assisted ticket has 'resolved' true"):
        cost_per_outcome(small.assign(resolved=False), costs=register())
    with pytest.raises(TypeError, match=r"costs must be an impact.value.Register"):
        cost_per_outcome(small, costs={"labour_usd_per_hour": 60})  # type: ignore[arg-type]


def test_renders_with_intervals(small: pd.DataFrame) -> None:
    html = cost_per_outcome(small, costs=register(), effect=effect())._repr_html_()
    assert "95% interval" in html and "counterfactual" in html
    assert "register test-1 (sha " in html
