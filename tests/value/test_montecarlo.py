"""Monte Carlo payback: reproducible, and converging to the analytical answer where one exists."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from impact.errors import ParameterError
from impact.value import Payback, Register, Value, payback

from .conftest import effect, register

# The FIXED register at $1/min, 100 tickets/month, run $100/month, build $1,000, 12 months, 0%:
#   NPV(e) = -1000 + 12 * (-100 e - 100),  ROI(e) = (-1200 e - 2200) / 2200   (e = minutes)
# so with e ~ normal(-2, 0.5) both are normal, and payback <= N iff e <= -1 - 10 / N.
EST, SE = -2.0, 0.5


@pytest.fixture(scope="module")
def linear() -> Payback:
    return payback(effect(estimate=EST, se=SE), costs=register(), draws=200_000, seed=7)


def test_reproducible_with_a_seed() -> None:
    e = effect()
    first = payback(e, costs=register(), draws=1_000, seed=3)
    again = payback(e, costs=register(), draws=1_000, seed=3)
    other = payback(e, costs=register(), draws=1_000, seed=4)
    pd.testing.assert_frame_equal(first.draws, again.draws)
    assert not first.draws.equals(other.draws)


def test_point_figures_are_the_deterministic_case(linear: Payback) -> None:
    assert linear.npv.point == pytest.approx(200.0)
    assert linear.roi.point == pytest.approx(200 / 2200)
    assert linear.payback_months.point == 10
    assert linear.value_per_ticket.point == pytest.approx(2.0)


def test_roi_distribution_converges_to_the_analytical_normal(linear: Payback) -> None:
    mean, sd = (-1200 * EST - 2200) / 2200, 1200 * SE / 2200
    roi = linear.draws["roi"]
    assert roi.mean() == pytest.approx(mean, abs=4 * sd / math.sqrt(len(roi)))
    assert roi.std() == pytest.approx(sd, rel=0.01)
    assert linear.roi.low == pytest.approx(mean - 1.959964 * sd, abs=0.01 * sd * 2)
    assert linear.roi.high == pytest.approx(mean + 1.959964 * sd, abs=0.01 * sd * 2)
    p = stats.norm.cdf(mean / sd)  # P(ROI > 0) = 0.6306
    assert linear.p_roi_positive == pytest.approx(p, abs=0.004)


def test_npv_interval_converges(linear: Payback) -> None:
    mean, sd = -1000 + 12 * (-100 * EST - 100), 1200 * SE
    assert linear.npv.low == pytest.approx(mean - 1.959964 * sd, abs=0.02 * sd)
    assert linear.npv.high == pytest.approx(mean + 1.959964 * sd, abs=0.02 * sd)


@pytest.mark.parametrize("months", [6, 10, 12])
def test_payback_probability_converges(linear: Payback, months: int) -> None:
    expected = stats.norm.cdf((-1 - 10 / months - EST) / SE)
    assert linear.probability(months=months) == pytest.approx(expected, abs=0.004)


def test_never_paying_back_is_an_explicit_outcome(linear: Payback) -> None:
    expected = stats.norm.sf((-1 - 10 / 12 - EST) / SE)  # = 1 - P(payback <= 12)
    assert linear.p_never == pytest.approx(expected, abs=0.004)
    assert np.isinf(linear.draws.payback_month).sum() > 0
    assert linear.probability(12) + linear.p_never == pytest.approx(1.0)


def test_a_case_that_never_pays_back() -> None:
    value = payback(effect(estimate=-0.5, se=0.05), costs=register(), draws=1_000)
    assert math.isinf(value.payback_months.point)
    assert value.p_never == 1.0 and value.probability(12) == 0.0
    assert "no payback within 12 months" in value.headline()
    assert value.break_even_month() == "never within 12 months"
    assert "never" in str(value.payback_months)


def test_break_even_month_is_a_calendar_month(linear: Payback) -> None:
    assert linear.break_even_month() == "2027-04"  # month 10 from go-live 2026-07-01


def test_effect_draws_are_resampled_when_the_estimator_left_them() -> None:
    e = effect(tables={"draws": pd.DataFrame({"estimate": [-2.0, -2.0, -2.0]})})
    value = payback(e, costs=register(), draws=500)
    np.testing.assert_allclose(value.draws.roi, 200 / 2200, rtol=1e-12)


def test_every_figure_is_a_value_with_an_interval(linear: Payback) -> None:
    for figure in (linear.npv, linear.roi, linear.payback_months, linear.value_per_ticket):
        assert isinstance(figure, Value)
        assert figure.low <= figure.high
        assert "95% interval" in str(figure)
    html = linear._repr_html_()
    assert "interval" in html and "P(payback" in html
    assert linear.to_dict()["npv"]["low"] == linear.npv.low


def test_the_sample_register_uncertainty_widens_the_interval(sample_register: Register) -> None:
    e = effect(estimate=-2.2, se=0.4)
    points_only = dataclasses.replace(
        sample_register,
        assumptions={
            n: dataclasses.replace(a, distribution="fixed")
            for n, a in sample_register.assumptions.items()
        },
    )
    value = payback(e, costs=sample_register, draws=5_000)
    effect_only = payback(e, costs=points_only, draws=5_000)
    assert value.npv.point == pytest.approx(effect_only.npv.point)
    assert value.npv.low < value.npv.point < value.npv.high
    assert 0 < value.probability(12) < 1
    # The assumption ranges add uncertainty on top of the effect's sampling error.
    assert value.npv.width > 1.1 * effect_only.npv.width


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"ci_high": math.inf}, "infinite or missing interval"),
        ({"std_error": math.nan}, "infinite or missing interval"),
        ({"std_error": 0.0}, "infinite or missing interval"),
    ],
)
def test_effects_without_a_usable_interval_are_refused(changes: dict, message: str) -> None:
    with pytest.raises(ParameterError, match=message):
        payback(effect(**changes), costs=register())


def test_bad_arguments() -> None:
    with pytest.raises(ParameterError, match="draws must be an integer >= 100"):
        payback(effect(), costs=register(), draws=10)
    with pytest.raises(ParameterError, match="volume must be a positive number"):
        payback(effect(), costs=register(), volume=-5)
    with pytest.raises(ParameterError, match="two effects on 'handle_time_minutes'"):
        payback([effect(), effect()], costs=register())
    with pytest.raises(ParameterError, match="seed must be a whole number"):
        payback(effect(), costs=register(), seed=None)  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="volume must be a positive number"):
        payback(effect(), costs=register(), volume=True)


def test_volume_argument_overrides_the_register() -> None:
    value = payback(effect(), costs=register(), volume=200.0, draws=200)
    # Twice the tickets: benefit $400/month, net $300: cumulative covers $1,000 in month 4.
    assert value.payback_months.point == 4
