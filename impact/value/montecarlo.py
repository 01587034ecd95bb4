"""Payback with its uncertainty: Monte Carlo over the effect and the assumptions' ranges.

Each draw takes the effect from its sampling distribution (normal around the estimate with its
standard error, or resampled from ``effect.tables["draws"]`` when the estimator left
bootstrap/posterior draws) and every assumption from its range, then runs the monthly business
case. The result, :class:`Payback`, reports NPV, ROI and payback month as :class:`Value`
figures with intervals, P(payback <= N months), P(ROI > 0) and the share of futures that never
pay back within the horizon.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from impact.errors import ParameterError
from impact.result import Effect
from impact.value.case import BusinessCase
from impact.value.cashflow import schedule_frame
from impact.value.money import Value, format_amount
from impact.value.register import Register

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from impact.value.sensitivity import Sensitivity

DEFAULT_DRAWS = 10_000


def effect_draws(effect: Effect, rng: np.random.Generator, n: int) -> np.ndarray:
    """`n` draws of the effect: resampled from ``tables["draws"].estimate`` when present,
    else normal(estimate, std_error)."""
    draws = effect.tables.get("draws")
    if draws is not None and "estimate" in draws.columns and len(draws):
        pool = draws["estimate"].to_numpy(np.float64)
        if not np.isfinite(pool).all():
            raise ParameterError(f"the effect on {effect.outcome} has non-finite draws")
        return rng.choice(pool, size=n, replace=True)
    return rng.normal(effect.estimate, effect.std_error, n)


def check_simulation(draws: object, seed: object, confidence: object) -> None:
    """Raise ParameterError unless draws, seed and confidence make a reproducible simulation."""
    if not isinstance(draws, int) or isinstance(draws, bool) or draws < 100:
        raise ParameterError(f"draws must be an integer >= 100, got {draws!r}")
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ParameterError(
            f"seed must be a whole number >= 0 (the same seed gives the same answer), got {seed!r}"
        )
    if not isinstance(confidence, (int, float)) or not 0 < confidence < 1:
        raise ParameterError(f"confidence must lie strictly between 0 and 1, got {confidence!r}")


@dataclass(frozen=True, eq=False)
class Payback:
    """NPV, ROI and payback month of a business case, with their simulated distributions.

    `schedule` is the case month by month (point figures with their intervals over the
    simulated futures); `draws` has one row per simulated future
    (``npv_usd, roi, payback_month, value_per_ticket_usd``; payback ``inf`` = never within the
    horizon); `band` the cumulative net position by month (low, median, high).
    """

    case: BusinessCase = field(repr=False)
    npv: Value
    roi: Value
    payback_months: Value
    value_per_ticket: Value
    schedule: pd.DataFrame = field(repr=False)
    band: pd.DataFrame = field(repr=False)
    draws: pd.DataFrame = field(repr=False)
    seed: int = 0

    # -- probabilities ---------------------------------------------------------------------
    def probability(self, months: int = 12) -> float:
        """P(payback <= `months` months) over the simulated futures."""
        if months < 0:
            raise ValueError(f"months must be >= 0, got {months}")
        return float((self.draws["payback_month"] <= months).mean())

    @property
    def p_roi_positive(self) -> float:
        """P(ROI > 0): the share of futures in which the AI returns more than it costs."""
        return float((self.draws["roi"] > 0).mean())

    @property
    def p_never(self) -> float:
        """Share of futures that never pay back within the horizon."""
        return float(np.isinf(self.draws["payback_month"]).mean())

    @property
    def horizon(self) -> int:
        return self.case.horizon

    @property
    def register_label(self) -> str:
        return self.case.register.label

    def break_even_month(self, months: float | None = None) -> str:
        """Calendar month (``YYYY-MM``) of payback month `months` (default: the point), or
        ``"never within 36 months"``."""
        m = self.payback_months.point if months is None else months
        if math.isinf(m):
            return f"never within {self.horizon} months"
        start = self.case.register.start_date
        if start is None:
            return f"month {int(m)}"
        return (pd.Timestamp(start) + pd.DateOffset(months=int(m) - 1)).strftime("%Y-%m")

    # -- output ----------------------------------------------------------------------------
    def headline(self, months: int = 12) -> str:
        """One line for the value owner, e.g. 'NPV $1.2M (...), P(payback <= 12 months) = 0.91'."""
        payback = (
            f"payback {self.break_even_month()} (month {self.payback_months.point:.0f})"
            if math.isfinite(self.payback_months.point)
            else f"no payback within {self.horizon} months"
        )
        return (
            f"NPV {self.npv}; ROI {self.roi}; {payback}; "
            f"P(payback <= {months} months) = {self.probability(months):.2f}; "
            f"never pays back in {self.p_never:.0%} of futures"
        )

    def figures(self) -> pd.DataFrame:
        """One row per figure: point, low, high, unit."""
        rows = [self.npv, self.roi, self.payback_months, self.value_per_ticket]
        return pd.DataFrame([v.to_dict() for v in rows])

    def to_dict(self) -> dict[str, object]:
        """JSON-ready figures and probabilities for result.json."""
        return {
            "register": self.register_label,
            "horizon_months": self.horizon,
            "n_draws": len(self.draws),
            "seed": self.seed,
            "npv": self.npv.to_dict(),
            "roi": self.roi.to_dict(),
            "payback_months": self.payback_months.to_dict(),
            "value_per_ticket": self.value_per_ticket.to_dict(),
            "p_payback_12": self.probability(12),
            "p_roi_positive": self.p_roi_positive,
            "p_never": self.p_never,
            "break_even_month": self.break_even_month(),
        }

    def sensitivity(self) -> Sensitivity:
        """One-at-a-time sensitivity of NPV and payback to each assumption and effect."""
        from impact.value.sensitivity import sensitivity

        return sensitivity(self.case, npv=self.npv)

    def plot(self, ax: Axes | None = None) -> Axes:
        """Cumulative net position by month with its band and the payback month marked."""
        from impact.value.plots import cumulative

        return cumulative(self, ax=ax)

    def _repr_html_(self) -> str:
        rows = [
            ("NPV", str(self.npv)),
            ("ROI (undiscounted)", str(self.roi)),
            ("payback", f"{self.break_even_month()}: {self.payback_months}"),
            ("P(payback <= 12 months)", f"{self.probability(12):.2f}"),
            ("P(ROI > 0)", f"{self.p_roi_positive:.2f}"),
            ("never pays back", f"{self.p_never:.0%} of simulated futures"),
            ("net value per AI-assisted ticket", str(self.value_per_ticket)),
            ("effects", "; ".join(e.headline() for e in self.case.effects)),
            ("assumptions", self.register_label),
            ("simulation", f"{len(self.draws):,} draws, seed {self.seed}"),
        ]
        body = "".join(
            f"<tr><th style='text-align:left'>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>"
            for k, v in rows
        )
        return f"<div class='impact-payback'><table>{body}</table></div>"

    def __repr__(self) -> str:
        return f"<Payback {self.headline()}>"


def payback(
    effect: Effect | Sequence[Effect],
    *,
    costs: Register,
    volume: float | None = None,
    draws: int = DEFAULT_DRAWS,
    seed: int = 0,
    confidence: float = 0.95,
) -> Payback:
    """NPV, ROI and payback of scaling the AI, with uncertainty from the effect and the register.

    Args:
        effect: the estimated effect(s) per ticket, e.g. on handle_time_minutes; add effects on
            reopened, escalated or resolved to value quality too (a faster-but-worse rollout
            then shows its true value).
        costs: the assumptions register (:meth:`Register.from_yaml`).
        volume: tickets per month in scope at full adoption; None reads ``tickets_per_month``
            from the register (with its range).
        draws: Monte Carlo draws; seed: makes them reproducible.

    Example:
        >>> from impact.result import Effect
        >>> e = Effect(outcome="handle_time_minutes", method="ab.welch", estimand="ATE",
        ...            estimate=-2.2, std_error=0.4, ci_low=-3.0, ci_high=-1.4, p_value=1e-6,
        ...            baseline=12.0, lift=-0.18, lift_ci=(-0.24, -0.12), n_treated=40,
        ...            n_control=160)
        >>> reg = Register.from_yaml("assumptions/ai_assist.yaml")
        >>> value = payback(e, costs=reg, draws=2_000)
        >>> value.npv.unit, 0 <= value.probability(months=12) <= 1
        ('usd', True)
    """
    check_simulation(draws, seed, confidence)
    case = BusinessCase(effects=effect, register=costs, volume=volume)  # type: ignore[arg-type]
    point = case.flows()
    rng = np.random.default_rng(seed)
    effects = {e.outcome: effect_draws(e, rng, draws) for e in case.effects}
    values = costs.sample(rng, draws)
    sim = case.flows(values, effects)
    per_ticket = np.asarray(sum(case.components(values, effects).values()), float)
    point_per_ticket = float(sum(case.components(costs.values(), case.point_effects()).values()))

    alpha = (1 - confidence) / 2
    levels = [alpha, 1 - alpha]

    def figure(pt: float, sample: np.ndarray, unit: str, label: str) -> Value:
        # inverted_cdf never interpolates between a finite month and inf.
        low, high = np.quantile(sample, levels, method="inverted_cdf")
        return Value(pt, float(low), float(high), unit=unit, confidence=confidence, label=label)

    npv_draws, roi_draws, months = sim.npv(), sim.roi(), sim.payback_month()
    cumulative = sim.cumulative
    band = pd.DataFrame(
        {
            "month": np.arange(cumulative.shape[1]),
            "low_usd": np.quantile(cumulative, alpha, axis=0),
            "median_usd": np.quantile(cumulative, 0.5, axis=0),
            "high_usd": np.quantile(cumulative, 1 - alpha, axis=0),
            "point_usd": point.cumulative[0],
        }
    )
    start = pd.Timestamp(costs.start_date) if costs.start_date else None
    return Payback(
        case=case,
        npv=figure(float(point.npv()[0]), npv_draws, "usd", "NPV"),
        roi=figure(float(point.roi()[0]), roi_draws, "ratio", "ROI"),
        payback_months=figure(float(point.payback_month()[0]), months, "months", "payback"),
        value_per_ticket=figure(point_per_ticket, per_ticket, "usd", "net value per ticket"),
        schedule=schedule_frame(point, start, sim, confidence),
        band=band,
        draws=pd.DataFrame(
            {
                "npv_usd": npv_draws,
                "roi": roi_draws,
                "payback_month": months,
                "value_per_ticket_usd": per_ticket,
            }
        ),
        seed=seed,
    )


__all__ = [
    "DEFAULT_DRAWS",
    "Payback",
    "check_simulation",
    "effect_draws",
    "format_amount",
    "payback",
]
