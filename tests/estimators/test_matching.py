"""Matched cohorts: a hand-checked example, scikit-learn's neighbours, options and bad input."""

from __future__ import annotations

import math

import matplotlib
import numpy as np
import pandas as pd
import pytest
from sklearn.neighbors import NearestNeighbors

from impact.errors import EstimationError, ParameterError
from impact.estimators.balance import love_plot, overlap_plot
from impact.estimators.matching import MatchedCohort, matched_cohort
from impact.estimators.neighbours import nearest

matplotlib.use("Agg")

HAND = pd.DataFrame(
    {
        "agent_id": ["t1", "t2", "t3", "c1", "c2", "c3", "c4"],
        "adopted": [True, True, True, False, False, False, False],
        "ps": [0.3, 0.5, 0.7, 0.2, 0.35, 0.6, 0.9],
        "y": [10.0, 12.0, 15.0, 7.0, 9.0, 8.0, 11.0],
        "x": [1.0, 2.0, 3.0, 0.5, 1.5, 2.5, 4.0],
    }
)


def confounded(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    tenure = rng.lognormal(math.log(22.0), 0.8, n)
    lt = np.log(tenure / 24.0)
    adopted = rng.random(n) < 1 / (1 + np.exp(-(0.2 + 1.5 * lt)))
    y = 15.0 - 2.0 * lt - 2.0 * adopted + rng.normal(0, 1, n)
    return pd.DataFrame(
        {
            "agent_id": [f"A{i}" for i in range(n)],
            "adopted": adopted,
            "y": y,
            "tenure_months": tenure,
            "team": rng.integers(0, 5, n),
        }
    )


def test_hand_checked_example_estimate_and_abadie_imbens_se() -> None:
    # Matches by score: t1(.3)->c2(.35), t2(.5)->c3(.6), t3(.7)->c3(.6); ATT = (1 + 4 + 7) / 3.
    # Control variances from their 2 nearest controls: c2: 2/3 (9 - 7.5)^2 = 1.5,
    # c3: 2/3 (8 - 10)^2 = 8/3. c3 is used twice: (w^2 - q) = 4 - 2 = 2.
    # V = [sum (Y - Y0hat - tau)^2 + 2 * 8/3] / 3^2 = (9 + 0 + 9 + 16/3) / 9.
    m = matched_cohort(
        HAND, "y", covariates=["x"], score="ps", distance="propensity", bias_adjust=False
    )
    assert m.estimate == pytest.approx(4.0)
    assert m.std_error == pytest.approx(math.sqrt((18 + 16 / 3) / 9))
    assert m.baseline == pytest.approx(25 / 3)
    assert m.lift == pytest.approx(4.0 / (25 / 3))
    pairs = m.tables["pairs"]
    assert list(zip(pairs.treated_unit, pairs.control_unit, strict=True)) == [
        ("t1", "c2"),
        ("t2", "c3"),
        ("t3", "c3"),
    ]
    assert (m.n_treated, m.n_control) == (3, 2)
    assert m.tables["pairs_summary"].max_control_reuse.item() == 2


def test_hand_checked_example_without_replacement_is_greedy_from_the_largest_score() -> None:
    # t3 (.7) first takes c3 (.6); t2 (.5) then takes c2 (.35; c4 at .9 is farther);
    # t1 (.3) takes c1 (.2).
    m = matched_cohort(
        HAND,
        "y",
        covariates=["x"],
        score="ps",
        distance="propensity",
        replace=False,
        bias_adjust=False,
    )
    pairs = dict(zip(m.tables["pairs"].treated_unit, m.tables["pairs"].control_unit, strict=True))
    assert pairs == {"t1": "c1", "t2": "c2", "t3": "c3"}
    assert m.estimate == pytest.approx(((10 - 7) + (12 - 9) + (15 - 8)) / 3)


def test_mahalanobis_neighbours_agree_with_scikit_learn() -> None:
    rng = np.random.default_rng(5)
    x = rng.normal(size=(400, 3)) @ np.array([[1, 0.5, 0], [0, 1, 0.3], [0, 0, 2.0]])
    treated = rng.random(400) < 0.3
    strata = rng.integers(0, 3, 400)
    cov = np.cov(x, rowvar=False)
    white = np.linalg.solve(np.linalg.cholesky(cov), x.T).T
    t_rows, c_rows = np.flatnonzero(treated), np.flatnonzero(~treated)
    m = nearest(white, strata, t_rows, c_rows, k=3)
    for s in range(3):
        ts, cs = t_rows[strata[t_rows] == s], c_rows[strata[c_rows] == s]
        nn = NearestNeighbors(
            n_neighbors=3, metric="mahalanobis", metric_params={"VI": np.linalg.inv(cov)}
        ).fit(x[cs])
        dist, idx = nn.kneighbors(x[ts])
        mine = np.isin(m.target, ts)
        assert np.allclose(m.distance[mine].reshape(-1, 3), dist, atol=1e-9)
        assert (m.pool[mine].reshape(-1, 3) == cs[idx]).all()


def test_propensity_neighbours_agree_with_scikit_learn_ball_tree() -> None:
    units = confounded(600, seed=2)
    m = matched_cohort(units, "y", covariates=["tenure_months"], ratio=2)
    scores = m.tables["units"].set_index("unit").score
    t = units.adopted.to_numpy()
    logit = np.log(scores / (1 - scores)).to_numpy()
    nn = NearestNeighbors(n_neighbors=2, algorithm="ball_tree").fit(logit[~t, None])
    dist, _ = nn.kneighbors(logit[t, None])
    assert np.allclose(m.tables["pairs"].distance.to_numpy().reshape(-1, 2), dist)


def test_matching_balances_and_recovers_a_confounded_effect() -> None:
    units = confounded(3000, seed=1)
    naive = units.groupby("adopted").y.mean()
    assert naive[True] - naive[False] < -2.5  # the naive comparison credits tenure to the AI
    m = matched_cohort(units, "y", covariates=["tenure_months"])
    assert m.ci_low < -2.0 < m.ci_high
    assert m.diagnostic("max_abs_smd_after").value < 0.1
    assert m.diagnostic("max_abs_smd_after").passed
    balance = m.tables["balance"]
    assert balance.smd_before.abs().max() > 0.5


def test_caliper_drops_distant_pairs_and_reports_them() -> None:
    units = confounded(800, seed=3)
    m = matched_cohort(units, "y", covariates=["tenure_months"], caliper=0.01)
    scores = m.tables["units"].score.to_numpy()
    sd = np.std(np.log(scores / (1 - scores)), ddof=1)
    assert m.tables["pairs"].distance.max() <= 0.01 * sd + 1e-12
    dropped = m.tables["dropped"]
    n_treated = int(units.adopted.sum())
    assert dropped.units.sum() == n_treated - m.n_treated > 0
    assert "caliper" in dropped.reason.iloc[0]
    assert m.diagnostic("treated_retained").value == pytest.approx(m.n_treated / n_treated)


def test_exact_strata_are_never_crossed_and_empty_strata_are_reported() -> None:
    units = confounded(600, seed=4)
    units.loc[(units.team == 4) & ~units.adopted, "team"] = 3  # team 4 has no non-adopter
    m = matched_cohort(units, "y", covariates=["tenure_months"], exact=["team"])
    team = units.set_index("agent_id").team
    pairs = m.tables["pairs"]
    assert (team[pairs.treated_unit].to_numpy() == team[pairs.control_unit].to_numpy()).all()
    dropped = m.tables["dropped"]
    row = dropped[dropped.reason.str.contains("exact")]
    assert row.units.item() == int(((units.team == 4) & units.adopted).sum())


def test_ate_ratio_and_matched_did_options() -> None:
    units = confounded(800, seed=6)
    rng = np.random.default_rng(0)
    units["pre"] = units.y - rng.normal(0, 1, len(units)) + 3.0
    did = matched_cohort(units, "y", covariates=["tenure_months"], pre_outcome="pre")
    on_change = matched_cohort(
        units.assign(change=units.y - units.pre), "change", covariates=["tenure_months"]
    )
    assert did.estimate == pytest.approx(on_change.estimate)
    assert did.std_error == pytest.approx(on_change.std_error)
    assert did.baseline == pytest.approx(on_change.baseline + units.pre[units.adopted].mean())
    ate = matched_cohort(units, "y", covariates=["tenure_months"], estimand="ATE", ratio=3)
    assert ate.estimand == "ATE" and ate.n_treated + ate.n_control == len(units)
    assert ate.ci_low < -2.0 < ate.ci_high


def test_without_replacement_uses_each_control_once() -> None:
    units = confounded(500, seed=7)
    m = matched_cohort(units, "y", covariates=["tenure_months"], replace=False, ratio=1)
    assert m.tables["pairs"].control_unit.is_unique
    assert m.n_treated == min(int(units.adopted.sum()), int((~units.adopted).sum()))


def test_small_integer_covariates_do_not_overflow() -> None:
    units = confounded(400, seed=8)
    units["score_a"] = (units.tenure_months.clip(0, 127)).astype(np.int8)
    units["score_b"] = (units.tenure_months * 100).clip(0, 32000).astype(np.int16)
    small = matched_cohort(units, "y", covariates=["score_a", "score_b"])
    wide = matched_cohort(
        units.astype({"score_a": float, "score_b": float}), "y", covariates=["score_a", "score_b"]
    )
    assert small.estimate == pytest.approx(wide.estimate)
    assert small.tables["balance"].equals(wide.tables["balance"])


def test_categorical_covariates_become_indicators() -> None:
    units = confounded(600, seed=9).assign(region=lambda d: np.where(d.team < 2, "EMEA", "AMER"))
    m = matched_cohort(units, "y", covariates=["tenure_months", "region"])
    assert list(m.tables["balance"].covariate) == ["tenure_months", "region=EMEA"]
    assert any("indicator" in note for note in m.notes)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.assign(adopted=True), "all 600 unit(s) are treated"),
        (lambda d: d.assign(const=1), "'const' has no variance"),
        (
            lambda d: d.assign(tenure_months=d.tenure_months.where(d.index != 5)),
            "1 unit(s) have a missing or infinite covariate 'tenure_months' (e.g. unit 'A5')",
        ),
        (lambda d: d.assign(adopted=d.adopted.astype(int) * 2), "must be binary"),
        (lambda d: d.assign(tenure_months=d.adopted * 100.0 + 1), "no overlap"),
        (lambda d: d.assign(y=d.y.where(d.index != 7)), "missing or infinite outcome 'y'"),
    ],
    ids=["all-treated", "no-variance", "missing", "non-binary", "no-overlap", "missing-y"],
)
def test_bad_input_raises_a_clear_error(change, message: str) -> None:
    units = change(confounded(600, seed=10))
    covariates = ["tenure_months", "const"] if "const" in units else ["tenure_months"]
    with pytest.raises(EstimationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        matched_cohort(units, "y", covariates=covariates)


def test_missing_columns_and_bad_options_are_named() -> None:
    units = confounded(100, seed=11)
    with pytest.raises(EstimationError, match=r"no column\(s\) \['pre_tenure'\]"):
        matched_cohort(units, "y", covariates=["pre_tenure"])
    with pytest.raises(ParameterError, match="ATE needs matching with replacement"):
        MatchedCohort("y", estimand="ATE", replace=False)
    with pytest.raises(ParameterError, match="caliper must be positive"):
        MatchedCohort("y", caliper=0)


def test_common_support_report_and_plots() -> None:
    units = confounded(600, seed=12)
    m = matched_cohort(units, "y", covariates=["tenure_months"], common_support=True)
    scores = m.tables["units"]
    t = scores.treated.to_numpy()
    above = int((scores.score[t] > scores.score[~t].max()).sum())
    below = int((scores.score[t] < scores.score[~t].min()).sum())
    assert m.tables["dropped"].units.sum() == above + below
    assert m.n_treated == int(t.sum()) - above - below
    assert love_plot(m.tables["balance"]).get_xlabel().startswith("absolute")
    assert overlap_plot(scores.score.to_numpy(), t).get_xlabel() == "propensity score"


def test_ties_keep_every_equally_near_control_in_both_searches() -> None:
    """ties=True: each target keeps every pool unit as near as its k-th match (weights
    1/count), on a line (sorted search) and in several dimensions (KD-tree), against a brute
    force over all pairs."""
    rng = np.random.default_rng(3)
    n = 300
    x = rng.integers(0, 6, (n, 2)).astype(float)  # integer covariates: many ties
    treated = rng.random(n) < 0.4
    strata = rng.integers(0, 2, n)
    t_rows, c_rows = np.flatnonzero(treated), np.flatnonzero(~treated)
    for coords in (x[:, :1], x):
        for k in (1, 2):
            m = nearest(coords, strata, t_rows, c_rows, k=k, ties=True)
            for target in t_rows:
                same = c_rows[strata[c_rows] == strata[target]]
                d = np.sqrt(((coords[same] - coords[target]) ** 2).sum(axis=1))
                expected = set(same[d <= np.sort(d)[k - 1] + 1e-12])
                mine = m.pool[m.target == target]
                assert set(mine) == expected
                assert np.allclose(m.weight[m.target == target], 1 / len(expected))
    with pytest.raises(ParameterError, match="ties=True needs matching with replacement"):
        MatchedCohort("y", ties=True, replace=False)


def test_inverse_variance_distance_scales_each_covariate_by_its_sd() -> None:
    units = confounded(500, seed=13).assign(
        tenure_days=lambda d: d.tenure_months * 30.4, noise=lambda d: np.arange(len(d)) % 7
    )
    months = matched_cohort(
        units, "y", covariates=["tenure_months", "noise"], distance="inverse_variance"
    )
    days = matched_cohort(
        units, "y", covariates=["tenure_days", "noise"], distance="inverse_variance"
    )
    assert months.estimate == pytest.approx(days.estimate)  # units of measure do not matter
    assert months.method == "matching.nearest.inverse_variance"


@pytest.mark.slow
def test_a_million_units_match_in_linear_memory() -> None:
    """1M units in 50 exact strata: score matching (sorted search) and Mahalanobis matching
    (one KD-tree) never build a distance matrix; peak memory stays a few hundred bytes per
    unit (a 1M x 1M float matrix would be 8 TB, even one stratum's 6 GB)."""
    import tracemalloc

    rng = np.random.default_rng(0)
    n = 1_000_000
    strata = rng.integers(0, 50, n)
    treated = rng.random(n) < 0.3
    t_rows, c_rows = np.flatnonzero(treated), np.flatnonzero(~treated)
    score = rng.normal(size=(n, 1))
    x = rng.normal(size=(n, 3))
    tracemalloc.start()
    try:
        by_score = nearest(score, strata, t_rows, c_rows, k=2)
        peak_score = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()
        by_covariates = nearest(x, strata, t_rows, c_rows, k=1)
        peak_tree = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(by_score.target) == 2 * len(t_rows)
    assert len(by_covariates.target) == len(t_rows)
    assert (strata[by_score.pool] == strata[by_score.target]).all()
    assert peak_score < 400 * n and peak_tree < 400 * n, (peak_score, peak_tree)


@pytest.mark.parametrize("dims", [1, 3])
def test_greedy_without_replacement_is_the_sequential_algorithm(
    dims: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Chunked tree queries, re-queries and tree rebuilds (several dimensions) and union-find
    chains (one) give exactly the pairs of the one-target-at-a-time greedy algorithm: each
    target in order takes its nearest free control in its stratum, within the caliper."""
    from impact.estimators import neighbours

    monkeypatch.setattr(neighbours, "GREEDY_CHUNK", 7)  # many chunks, stale lists, rebuilds
    rng = np.random.default_rng(11)
    for trial in range(6):
        n = 300
        x = rng.normal(size=(n, dims))
        strata = rng.integers(0, 3, n)
        treated = rng.random(n) < 0.45
        targets, pool = np.flatnonzero(treated), np.flatnonzero(~treated)
        k, caliper = 1 + trial % 2, (np.inf, 0.6, 1.2)[trial % 3]
        order = rng.permutation(len(targets))
        m = nearest(x, strata, targets, pool, k=k, replace=False, max_distance=caliper, order=order)
        free, expected = np.ones(len(pool), dtype=bool), []
        for row in order:
            t = targets[row]
            for _ in range(k):
                d = np.sqrt(((x[pool] - x[t]) ** 2).sum(axis=1))
                d[~free | (strata[pool] != strata[t]) | (d > caliper)] = np.inf
                if not np.isfinite(d.min()):
                    break
                free[d.argmin()] = False
                expected.append((t, pool[d.argmin()]))
        assert sorted(zip(m.target.tolist(), m.pool.tolist(), strict=True)) == sorted(expected)
