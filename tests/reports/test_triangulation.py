"""Triangulation: the agreement rules, the pooled estimate against statsmodels, the designs."""

from __future__ import annotations

import numpy as np
import pytest
from statsmodels.stats.meta_analysis import combine_effects

from impact.errors import ParameterError
from impact.reports.triangulation import ADOPTERS, PILOT, ROLLOUT, rollout_designs, triangulate
from impact.result import Effect

Z = 1.959963984540054


def lift(point: float, se: float, *, outcome: str = "handle_time_minutes") -> Effect:
    """An effect whose relative change is `point` with standard error `se` (fractions)."""
    return Effect(
        outcome=outcome,
        method="m",
        estimand="ATT",
        estimate=point * 15,
        std_error=se * 15,
        ci_low=(point - Z * se) * 15,
        ci_high=(point + Z * se) * 15,
        p_value=0.01,
        baseline=15.0,
        lift=point,
        lift_ci=(point - Z * se, point + Z * se),
        n_treated=12,
        n_control=48,
    )


@pytest.mark.parametrize(
    ("designs", "verdict"),
    [
        # Same direction, sizes within chance.
        ({"a": lift(-0.15, 0.02), "b": lift(-0.12, 0.04), "c": lift(-0.16, 0.02)}, "agree"),
        # Same direction, but -5% and -30% with tight intervals differ by far more than chance.
        ({"a": lift(-0.05, 0.01), "b": lift(-0.30, 0.01)}, "partly agree"),
        # One design finds a clear gain, another a clear loss.
        ({"a": lift(-0.15, 0.02), "b": lift(0.10, 0.02)}, "conflict"),
        # Nothing is clear anywhere.
        ({"a": lift(-0.02, 0.03), "b": lift(0.01, 0.03)}, "inconclusive"),
        # A clear gain, and a near-zero estimate pointing the other way: not a clear conflict.
        ({"a": lift(-0.15, 0.02), "b": lift(0.01, 0.05)}, "partly agree"),
    ],
)
def test_verdicts(designs: dict[str, Effect], verdict: str) -> None:
    result = triangulate(designs)
    assert result.verdict == verdict, result.summary
    assert result.summary.lower().startswith(
        {"agree": "the", "partly agree": "the", "conflict": "conflict", "inconclusive": "incon"}[
            verdict
        ]
    )


def test_agreement_words_state_range_gap_and_test() -> None:
    result = triangulate({"pilot": lift(-0.15, 0.02), "rollout": lift(-0.10, 0.04)})
    assert result.agree
    text = result.summary
    assert "The two designs agree: each points to lower handle time" in text
    assert "from -15.0% to -10.0%" in text
    assert "the largest gap, 5.0 points between pilot and rollout" in text
    assert "heterogeneity p = 0.26" in text and "all intervals overlap" in text
    assert result.max_gap == pytest.approx(5.0)
    assert bool(result.pairs.loc[0, "overlap"])


def test_pooled_estimate_and_q_match_statsmodels_fixed_effect_meta_analysis() -> None:
    designs = {"a": lift(-0.165, 0.019), "b": lift(-0.094, 0.043), "c": lift(-0.166, 0.0185)}
    result = triangulate(designs)
    est = np.array([-16.5, -9.4, -16.6])
    var = np.array([1.9, 4.3, 1.85]) ** 2
    reference = combine_effects(est, var)
    assert result.pooled[0] == pytest.approx(reference.mean_effect_fe, rel=1e-9)
    low, high = reference.conf_int(use_t=False)[0]
    assert result.pooled[1:] == pytest.approx((low, high), rel=1e-9)
    assert result.q == pytest.approx(reference.q, rel=1e-9)
    assert result.i_squared == pytest.approx(reference.i2, rel=1e-9)


def test_absolute_scale_and_bad_input() -> None:
    result = triangulate({"a": lift(-0.15, 0.02), "b": lift(-0.14, 0.02)}, relative=False)
    assert result.table["estimate"].tolist() == pytest.approx([-2.25, -2.1])
    assert "change in handle time (minutes)" in result.scale_label
    with pytest.raises(ParameterError, match="at least two designs"):
        triangulate({"a": lift(-0.1, 0.02)})
    no_lift = lift(-0.1, 0.02).with_(lift=float("nan"), lift_ci=(float("nan"), float("nan")))
    with pytest.raises(ParameterError, match=r"design\(s\) \['b'\] have no finite estimate"):
        triangulate({"a": lift(-0.1, 0.02), "b": no_lift})


@pytest.mark.slow
def test_rollout_designs_agree_on_the_sample_and_cover_their_truths(sample) -> None:
    import impact

    check = impact.validate(sample.events, contract="workflow_events")
    result = rollout_designs(
        check.valid,
        assignments=sample.assignments,
        rollouts=sample.rollouts,
        agents=sample.agents,
    )
    truth = sample.truth
    assert result.verdict == "agree", result.summary
    assert list(result.table["design"]) == [PILOT, ROLLOUT, ADOPTERS]
    rows = result.table.set_index("design")
    # Per AI use, each design's interval covers its own in-sample truth (percent):
    # the pilot ITT over the pilot's AI-use share; the adopters' ATT over their ~90% use.
    assert rows.loc[PILOT, "ci_low"] < 100 * truth.pilot_itt_lift / truth.pilot_adoption
    assert 100 * truth.pilot_itt_lift / truth.pilot_adoption < rows.loc[PILOT, "ci_high"]
    assert rows.loc[ADOPTERS, "ci_low"] < 100 * truth.adopter_att_lift / 0.9
    assert 100 * truth.adopter_att_lift / 0.9 < rows.loc[ADOPTERS, "ci_high"]
    assert rows.loc[ROLLOUT, "ci_low"] < 0 or rows.loc[ROLLOUT, "ci_high"] < 0
    counterfactual = result.original(ROLLOUT).tables["counterfactual"]
    assert {"observed", "counterfactual"} <= set(counterfactual.columns)
    html = result._repr_html_()
    assert "agents who chose the AI vs. look-alikes who did not" in html
