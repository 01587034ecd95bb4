"""Weighting (IPW, AIPW), refutation, the E-value and per-segment effects."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from impact.errors import EstimationError, ParameterError
from impact.estimators.heterogeneity import segment_effects
from impact.estimators.matching import MatchedCohort
from impact.estimators.refute import e_value, refute
from impact.estimators.weighting import Weighting, aipw, ipw
from impact.result import Effect


def confounded(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    team = rng.choice(["north", "south", "west"], n)
    t = rng.random(n) < 1 / (1 + np.exp(-(0.8 * x)))
    gain = np.select([team == "north", team == "south"], [-3.0, -1.0], -2.0)
    y = 10 + 2 * x + gain * t + rng.normal(size=n)
    return pd.DataFrame({"adopted": t, "x": x, "y": y, "team": team, "pre": 9 + 2 * x})


def test_ipw_att_matches_the_hand_formula() -> None:
    data = confounded(800, seed=1)
    x = sm.add_constant(data[["x"]].to_numpy())
    e = sm.Logit(data.adopted.astype(float), x).fit(disp=0).predict(x)
    t = data.adopted.to_numpy()
    odds = e / (1 - e)
    expected = data.y[t].mean() - np.average(data.y[~t], weights=odds[~t])
    effect = ipw(data, "y", covariates=["x"])
    assert effect.estimate == pytest.approx(expected, rel=1e-10)
    ate = ipw(data, "y", covariates=["x"], estimand="ATE", normalize=False)
    expected_ate = np.mean(t * data.y / e) - np.mean((1 - t) * data.y / (1 - e))
    assert ate.estimate == pytest.approx(expected_ate, rel=1e-10)


def test_aipw_is_doubly_robust_when_the_score_model_is_wrong() -> None:
    data = confounded(3000, seed=2)
    rng = np.random.default_rng(0)
    # A useless score: weighting alone stays confounded; AIPW's outcome model saves it.
    data["bad_score"] = rng.uniform(0.3, 0.7, len(data))
    truth = -2.0  # the mean gain over three equally likely teams
    naive = ipw(data, "y", covariates=["x"], score="bad_score")
    robust = aipw(data, "y", covariates=["x"], score="bad_score", estimand="ATE")
    assert abs(naive.estimate - truth) > 1.0
    assert robust.ci_low < truth < robust.ci_high


def test_trimming_reports_dropped_units_and_diagnostics() -> None:
    data = confounded(800, seed=3)
    effect = ipw(data, "y", covariates=["x"], trim=(0.2, 0.8))
    dropped = effect.tables["dropped"]
    assert dropped.units.sum() == len(data) - effect.n_treated - effect.n_control > 0
    assert "outside (0.2, 0.8)" in dropped.reason.iloc[0]
    assert effect.diagnostic("max_abs_smd_after").passed
    assert effect.diagnostic("effective_controls").value > 10
    with pytest.raises(ParameterError, match="trim must be"):
        Weighting("y", trim=(0.9, 0.1))


def test_weighting_with_pre_outcome_is_a_weighted_did() -> None:
    data = confounded(600, seed=4)
    did = ipw(data, "y", covariates=["x"], pre_outcome="pre")
    change = ipw(data.assign(d=data.y - data.pre), "d", covariates=["x"])
    assert did.estimate == pytest.approx(change.estimate)
    assert did.std_error == pytest.approx(change.std_error, rel=1e-6)


def test_weighting_refuses_one_group() -> None:
    data = confounded(100, seed=5).assign(adopted=False)
    with pytest.raises(EstimationError, match="all 100 unit"):
        ipw(data, "y", covariates=["x"])


def test_refutations_pass_for_a_real_effect_and_fail_for_none() -> None:
    data = confounded(400, seed=6)
    table = refute(MatchedCohort("y", covariates=("x",)), data, n_simulations=20)
    assert list(table.refuter) == ["placebo treatment", "random common cause", "data subset"]
    assert table.passed.all()
    assert abs(table.refuted_mean.iloc[0]) < 0.5
    null = data.assign(y=10 + 2 * data.x + np.random.default_rng(1).normal(size=len(data)))
    placebo = refute(MatchedCohort("y", covariates=("x",)), null, n_simulations=20).iloc[0]
    assert not placebo.passed  # no effect: the real estimate looks like a shuffled one


def test_e_value_follows_vanderweele_ding() -> None:
    effect = Effect(
        outcome="y",
        method="m",
        estimand="ATT",
        estimate=-2.0,
        std_error=0.5,
        ci_low=-3.0,
        ci_high=-1.0,
        p_value=0.001,
        baseline=10.0,
        lift=-0.2,
        lift_ci=(-0.3, -0.1),
        n_treated=50,
        n_control=50,
    )
    out = e_value(effect, outcome_sd=4.0)
    rr = math.exp(0.91 * 0.5)
    assert out["e_value"] == pytest.approx(rr + math.sqrt(rr * (rr - 1)))
    rr_ci = math.exp(0.91 * 0.25)
    assert out["e_value_ci"] == pytest.approx(rr_ci + math.sqrt(rr_ci * (rr_ci - 1)))
    crossing = effect.with_(ci_high=0.5)
    assert e_value(crossing, outcome_sd=4.0)["e_value_ci"] == 1.0
    assert "unmeasured confounder" in out["meaning"]


def test_segment_effects_rank_teams_with_intervals() -> None:
    data = confounded(1500, seed=7)
    table = segment_effects(data, "y", segment="team", covariates=["x"])
    assert list(table.segment) == ["north", "west", "south"]
    truth = {"north": -3.0, "west": -2.0, "south": -1.0}
    for row in table.itertuples():
        assert row.ci_low < truth[row.segment] < row.ci_high
    with pytest.raises(EstimationError, match="no 'team' value has 2000 adopters"):
        segment_effects(data, "y", segment="team", covariates=["x"], min_units=2000)
