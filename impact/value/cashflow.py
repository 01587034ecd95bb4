"""The business case month by month: benefits, build and run costs, NPV, ROI, IRR, payback.

Everything is vectorised over Monte Carlo draws: each input is a scalar or an array of draws,
and every output has one row per draw and one column per month (month 0 = build, months
1..horizon = operation). Point figures are the one-draw case.

Conventions (docs/value.md explains them for finance):

* Build costs are paid in month 0; run costs every month from month 1.
* Benefit in month m = tickets per month x adoption in month m x net value per ticket, where
  adoption ramps linearly from 0 to `adoption_max` over `adoption_ramp_months`.
* Net value per ticket = every measured effect priced by the register (time saved at the labour
  rate, fewer reopens and escalations at their rework cost, ...) minus the per-ticket AI costs
  that no effect measured (compute, human review).
* Payback month = first month m >= 1 in which cumulative benefit covers build plus cumulative
  run costs (undiscounted); ``inf`` when that never happens within the horizon.
* NPV discounts monthly at ``(1 + annual rate) ** (1 / 12) - 1``; ROI is undiscounted
  ``(total benefit - total cost) / total cost`` over the horizon.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize

from impact.errors import EstimationError, ParameterError
from impact.value.register import Register

ArrayLike = float | np.ndarray

#: Assumptions every business case needs.
REQUIRED = (
    "labour_usd_per_hour",
    "adoption_max",
    "adoption_ramp_months",
    "discount_rate_annual",
    "horizon_months",
)
MAX_HORIZON_MONTHS = 600

#: Money per unit *increase* of each outcome, per ticket: (register assumption, factor).
#: None means the outcome is already in dollars. Less is better for costs, so factors are < 0.
PRICES: dict[str, tuple[str | None, float]] = {
    "handle_time_minutes": ("labour_usd_per_hour", -1 / 60),
    "review_minutes": ("labour_usd_per_hour", -1 / 60),
    "correction_minutes": ("labour_usd_per_hour", -1 / 60),
    "compute_cost_usd": (None, -1.0),
    "reopened": ("rework_usd_per_reopen", -1.0),
    "escalated": ("cost_usd_per_escalation", -1.0),
    "resolved": ("value_usd_per_resolution", 1.0),
}
#: Per-ticket AI costs taken from the register unless an effect on the outcome measured them.
VARIABLE_COSTS: dict[str, str] = {
    "compute_cost_usd": "compute_usd_per_ticket",
    "review_minutes": "review_minutes_per_ticket",
}


def check_register(register: Register, outcomes: tuple[str, ...] = ()) -> None:
    """Raise one clear error if the register cannot support a business case for `outcomes`."""
    needed = list(REQUIRED)
    needed += [PRICES[o][0] for o in outcomes if o in PRICES and PRICES[o][0] is not None]
    needed += [name for outcome, name in VARIABLE_COSTS.items() if outcome not in outcomes]
    register.require(dict.fromkeys(needed), purpose="the business case")
    rate = register["discount_rate_annual"]
    # `support` is where draws can fall: for a normal range it reaches past [low, high].
    lowest, highest = rate.support
    if lowest < 0 or highest >= 1:
        raise ParameterError(
            f"discount_rate_annual must lie in [0, 1) (an annual rate such as 0.10 for 10%), got "
            f"value {rate.value}, range [{rate.low}, {rate.high}] ({rate.distribution}, draws "
            f"from {lowest:.4g} to {highest:.4g}); percentages are fractions"
        )
    horizon = register["horizon_months"]
    if (
        horizon.uncertain
        or horizon.value != int(horizon.value)
        or not (1 <= horizon.value <= MAX_HORIZON_MONTHS)
    ):
        raise ParameterError(
            f"horizon_months must be a fixed whole number of months from 1 to "
            f"{MAX_HORIZON_MONTHS}, got {horizon.value} ({horizon.distribution})"
        )
    adoption = register["adoption_max"]
    if adoption.support[1] > 1:
        raise ParameterError(
            f"adoption_max is a share and cannot exceed 1, but its {adoption.distribution} range "
            f"[{adoption.low}, {adoption.high}] draws up to {adoption.support[1]:.4g}; use a "
            "bounded distribution (uniform or triangular) with high <= 1"
        )
    for a in register.by_category("build"):
        if a.unit != "usd":
            raise ParameterError(f"build cost {a.name!r} must be in usd (one-off), got {a.unit!r}")
    for a in register.by_category("run"):
        if a.unit != "usd_per_month":
            raise ParameterError(f"run cost {a.name!r} must be in usd_per_month, got {a.unit!r}")
    if not register.by_category("build") and not register.by_category("run"):
        raise ParameterError(
            "the register has no build or run costs (categories build, run); ROI and payback "
            "need what the AI costs"
        )


def monthly_rate(annual: ArrayLike) -> ArrayLike:
    """The monthly rate equivalent to an annual one: ``(1 + annual) ** (1 / 12) - 1``."""
    return np.power(1.0 + np.asarray(annual, dtype=np.float64), 1 / 12) - 1.0


def price_per_unit(outcome: str, values: Mapping[str, ArrayLike]) -> ArrayLike:
    """Money per ticket per unit increase of `outcome` (negative when less is better)."""
    if outcome not in PRICES:
        raise ParameterError(
            f"no price for outcome {outcome!r}; the value layer prices {sorted(PRICES)}"
        )
    name, factor = PRICES[outcome]
    return factor if name is None else factor * np.asarray(values[name], dtype=np.float64)


def value_per_ticket(
    effects: Mapping[str, ArrayLike], values: Mapping[str, ArrayLike]
) -> dict[str, ArrayLike]:
    """Net money per AI-assisted ticket, by component (keys: outcomes, then AI costs).

    `effects` maps outcome -> effect per ticket (treated minus counterfactual, outcome units).
    The per-ticket AI costs (compute, review) are subtracted unless an effect measured them.
    """
    if "reopened" in effects and "correction_minutes" in effects:
        raise ParameterError(
            "effects on both reopened and correction_minutes would count rework twice; "
            "pass one of them"
        )
    parts: dict[str, ArrayLike] = {
        outcome: np.asarray(effect, dtype=np.float64) * price_per_unit(outcome, values)
        for outcome, effect in effects.items()
    }
    if "compute_cost_usd" not in effects:
        parts["compute_usd_per_ticket"] = -np.asarray(values["compute_usd_per_ticket"], float)
    if "review_minutes" not in effects:
        parts["review_minutes_per_ticket"] = -(
            np.asarray(values["review_minutes_per_ticket"], float)
            * np.asarray(values["labour_usd_per_hour"], float)
            / 60
        )
    return parts


@dataclass(frozen=True, slots=True)
class CashFlows:
    """Monthly cash flows for `n` draws: arrays of shape (n, horizon + 1), month 0 first."""

    adoption: np.ndarray
    benefit: np.ndarray
    build: np.ndarray
    run: np.ndarray
    rate_monthly: np.ndarray  # shape (n,)

    @property
    def net(self) -> np.ndarray:
        """Benefit minus build and run costs, per month."""
        return self.benefit - self.build - self.run

    @property
    def cumulative(self) -> np.ndarray:
        """Cumulative net position at the end of each month (undiscounted)."""
        return np.cumsum(self.net, axis=1)

    @property
    def cost(self) -> np.ndarray:
        """Build plus run costs, per month."""
        return self.build + self.run

    def npv(self) -> np.ndarray:
        """Net present value per draw, month 0 undiscounted (as numpy_financial.npv)."""
        return npv(self.net, self.rate_monthly)

    def roi(self) -> np.ndarray:
        """(total benefit - total cost) / total cost per draw, undiscounted."""
        cost = self.cost.sum(axis=1)
        if np.any(cost <= 0):
            raise EstimationError("total build and run cost is zero: ROI is undefined")
        return (self.benefit.sum(axis=1) - cost) / cost

    def payback_month(self) -> np.ndarray:
        """First month >= 1 whose cumulative net is >= 0 per draw; inf if none."""
        return payback_month(self.net)


def cash_flows(
    values: Mapping[str, ArrayLike],
    value_per_ticket: ArrayLike,
    *,
    volume: ArrayLike,
    build_names: tuple[str, ...],
    run_names: tuple[str, ...],
) -> CashFlows:
    """Monthly schedule for every draw in `values` (scalars broadcast to one draw)."""
    horizon = int(np.asarray(values["horizon_months"]).flat[0])
    arrays = [np.atleast_1d(np.asarray(v, dtype=np.float64)) for v in values.values()]
    arrays += [np.atleast_1d(np.asarray(value_per_ticket, float)), np.atleast_1d(volume)]
    n = max(a.shape[0] for a in arrays)

    def column(x: ArrayLike) -> np.ndarray:
        return np.broadcast_to(np.asarray(x, dtype=np.float64), (n,)).reshape(n, 1)

    month = np.arange(horizon + 1, dtype=np.float64).reshape(1, -1)
    ramp = column(values["adoption_ramp_months"])
    share = np.where(ramp > 0, np.clip(month / np.where(ramp > 0, ramp, 1.0), 0.0, 1.0), 1.0)
    # Shares stay in [0, 1] even in the ~3e-5 normal tail the register check allows.
    adoption = np.clip(column(values["adoption_max"]), 0.0, 1.0) * share * (month >= 1)
    benefit = column(volume) * adoption * column(value_per_ticket)
    build = np.zeros((n, horizon + 1))
    build[:, :1] = sum((column(values[b]) for b in build_names), np.zeros((n, 1)))
    run = np.zeros((n, horizon + 1))
    run[:, 1:] = sum((column(values[r]) for r in run_names), np.zeros((n, 1)))
    rate = column(monthly_rate(values["discount_rate_annual"])).ravel()
    return CashFlows(adoption=adoption, benefit=benefit, build=build, run=run, rate_monthly=rate)


def npv(net: np.ndarray, rate_monthly: ArrayLike) -> np.ndarray:
    """Net present value of monthly flows (last axis = months, the first undiscounted)."""
    net = np.atleast_2d(net)
    rate = np.broadcast_to(np.asarray(rate_monthly, float), (net.shape[0],)).reshape(-1, 1)
    factors = np.power(1.0 + rate, -np.arange(net.shape[1], dtype=np.float64))
    return (net * factors).sum(axis=1)


def payback_month(net: np.ndarray) -> np.ndarray:
    """First month >= 1 in which the cumulative net flow is >= 0; inf when it never is."""
    cumulative = np.cumsum(np.atleast_2d(net), axis=1)
    # Relative tolerance: a flow that exactly covers its cost should not miss by rounding.
    scale = np.abs(np.atleast_2d(net)).sum(axis=1, keepdims=True)
    covered = cumulative[:, 1:] >= -1e-12 * scale
    first = np.argmax(covered, axis=1) + 1.0
    return np.where(covered.any(axis=1), first, math.inf)


def irr(net: np.ndarray | list[float]) -> float:
    """Internal rate of return per period of a single flow series (nan when none exists).

    Searches the rate in (-0.99, 10) per period where NPV changes sign.
    """
    flows = np.asarray(net, dtype=np.float64).ravel()

    def f(rate: float) -> float:
        return float(npv(flows, rate)[0])

    grid = np.concatenate([np.linspace(-0.99, 1.0, 400), np.linspace(1.0, 10.0, 50)[1:]])
    signs = np.sign([f(r) for r in grid])
    change = np.nonzero(signs[:-1] * signs[1:] < 0)[0]
    if not len(change):
        return math.nan
    i = int(change[0])
    return float(optimize.brentq(f, grid[i], grid[i + 1], xtol=1e-14, rtol=1e-12))


def schedule_frame(
    flows: CashFlows,
    start: pd.Timestamp | None = None,
    simulated: CashFlows | None = None,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """The point schedule as a table (first draw of `flows`): one row per month, money in usd.

    Money columns are ``benefit_usd`` (the AI's gross benefit), ``cost_usd`` (build in month
    0, run costs after), ``net_usd`` and ``cumulative_usd``; each has ``<name>_low_usd`` and
    ``<name>_high_usd``, the month's interval over the `simulated` futures (equal to the point
    without them). ``discount_factor`` turns a month's net into its present value.
    """
    months = np.arange(flows.net.shape[1])
    point = {
        "benefit": flows.benefit,
        "cost": flows.cost,
        "net": flows.net,
        "cumulative": flows.cumulative,
    }
    sims = point
    if simulated is not None:
        sims = {
            "benefit": simulated.benefit,
            "cost": simulated.cost,
            "net": simulated.net,
            "cumulative": simulated.cumulative,
        }
    alpha = (1 - confidence) / 2
    frame = pd.DataFrame(
        {
            "month": months,
            "adoption": flows.adoption[0],
            "discount_factor": (1 + flows.rate_monthly[0]) ** -months.astype(np.float64),
        }
    )
    for name, values in point.items():
        low, high = np.quantile(sims[name], [alpha, 1 - alpha], axis=0)
        frame[f"{name}_usd"] = values[0]
        frame[f"{name}_low_usd"] = low
        frame[f"{name}_high_usd"] = high
    if start is not None:
        frame.insert(1, "month_start", [start + pd.DateOffset(months=int(m) - 1) for m in months])
    return frame
