"""One-at-a-time sensitivity: how NPV and payback move when each input goes to its range ends.

Each uncertain assumption is set to its low and its high end, and each effect to the ends of
its confidence interval, with everything else at its point value. The inputs that swing NPV the
most head the tornado chart; for the top one, root finding gives its break-even value: the value
at which NPV is exactly zero.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy import optimize

from impact.value.case import BusinessCase
from impact.value.money import Value, format_amount

if TYPE_CHECKING:
    from matplotlib.axes import Axes

#: How far beyond its range the break-even search looks, in multiples of the range width.
SEARCH_WIDTHS = 10.0


@dataclass(frozen=True, slots=True)
class BreakEven:
    """The value of one input at which NPV is zero (others at their point values)."""

    name: str
    value: float | None  # None: NPV keeps its sign over the whole search interval
    unit: str
    base: float
    searched: tuple[float, float]

    def __str__(self) -> str:
        if self.value is None:
            return (
                f"NPV keeps its sign for {self.name} anywhere in "
                f"[{self.searched[0]:,.4g}, {self.searched[1]:,.4g}] {self.unit}"
            )
        return (
            f"NPV is zero at {self.name} = {self.value:,.4g} {self.unit} "
            f"(point value {self.base:,.4g})"
        )


@dataclass(frozen=True, eq=False)
class Sensitivity:
    """Tornado table (one row per input, largest NPV swing first) and the top break-even.

    Columns: ``name, kind, unit, low, base, high, npv_low_usd, npv_high_usd, swing_usd,
    payback_low_months, payback_high_months`` (payback ``inf`` = never within the horizon).
    """

    table: pd.DataFrame = field(repr=False)
    base_npv_usd: float
    base_payback_months: float
    break_even: BreakEven | None
    npv: Value | None = None  # the Monte Carlo NPV with its interval, when one was run
    register_label: str = ""

    @property
    def most_important(self) -> str:
        return str(self.table["name"].iloc[0])

    def plot(self, ax: Axes | None = None, *, top: int = 10) -> Axes:
        """Tornado chart of NPV at each input's low and high end."""
        from impact.value.plots import tornado

        return tornado(self, ax=ax, top=top)

    def _repr_html_(self) -> str:
        # Every money figure as a range: NPV with the input at its low end to its high end.
        shown = pd.DataFrame(
            {
                "input": self.table["name"],
                "unit": self.table["unit"],
                "low": self.table["low"].map(_number),
                "point": self.table["base"].map(_number),
                "high": self.table["high"].map(_number),
                "NPV, input at low to high end": [
                    f"{format_amount(a, 'usd')} to {format_amount(b, 'usd')}"
                    for a, b in zip(self.table.npv_low_usd, self.table.npv_high_usd, strict=True)
                ],
                "payback, low to high end": [
                    f"{format_amount(a, 'months')} to {format_amount(b, 'months')}"
                    for a, b in zip(
                        self.table.payback_low_months, self.table.payback_high_months, strict=True
                    )
                ],
            }
        )
        if self.npv is not None:
            base = f"NPV at point values {self.npv}"
        else:
            ends = [*self.table.npv_low_usd, *self.table.npv_high_usd, self.base_npv_usd]
            base = (
                f"NPV at point values {format_amount(self.base_npv_usd, 'usd')} "
                f"(one-at-a-time range {format_amount(min(ends), 'usd')} to "
                f"{format_amount(max(ends), 'usd')})"
            )
        line = html.escape(str(self.break_even)) if self.break_even else ""
        label = f" ({html.escape(self.register_label)})" if self.register_label else ""
        return (
            f"<div class='impact-sensitivity'><p>{html.escape(base)}{label}. {line}</p>"
            f"{shown.to_html(index=False)}</div>"
        )


def _number(x: float) -> str:
    return f"{x:,.4g}"


def sensitivity(case: BusinessCase, *, npv: Value | None = None) -> Sensitivity:
    """One-at-a-time sensitivity of NPV and payback month for a business case.

    `npv` (the Monte Carlo figure, as :meth:`Payback.sensitivity` passes it) is shown with the
    point NPV, so the table never shows a bare money figure.

    Example:
        >>> from impact.result import Effect
        >>> from impact.value.register import Register
        >>> e = Effect(outcome="handle_time_minutes", method="ab.welch", estimand="ATE",
        ...            estimate=-2.2, std_error=0.4, ci_low=-3.0, ci_high=-1.4, p_value=1e-6,
        ...            baseline=12.0, lift=-0.18, lift_ci=(-0.24, -0.12), n_treated=40,
        ...            n_control=160)
        >>> case = BusinessCase((e,), Register.from_yaml("assumptions/ai_assist.yaml"))
        >>> s = sensitivity(case)
        >>> s.most_important
        'handle_time_minutes'
    """
    values = case.register.values()
    effects = case.point_effects()
    base = case.flows(values, effects)
    rows = []
    for e in case.effects:
        ends = [case.flows(values, effects | {e.outcome: x}) for x in (e.ci_low, e.ci_high)]
        rows.append(
            _row(
                e.outcome,
                "effect",
                "effect per ticket",
                e.ci_low,
                e.estimate,
                e.ci_high,
                ends,
            )
        )
    for a in case.register.assumptions.values():
        if not a.uncertain or (a.name == "tickets_per_month" and case.volume is not None):
            continue
        if a.name not in _used(case):
            continue
        ends = [case.flows(values | {a.name: x}, effects) for x in (a.low, a.high)]
        rows.append(_row(a.name, "assumption", a.unit, a.low, a.value, a.high, ends))
    table = pd.DataFrame(rows).sort_values("swing_usd", ascending=False, kind="stable")
    table = table.reset_index(drop=True)
    top = table.iloc[0] if len(table) else None
    return Sensitivity(
        table=table,
        base_npv_usd=float(base.npv()[0]),
        base_payback_months=float(base.payback_month()[0]),
        break_even=None if top is None else break_even(case, str(top["name"])),
        npv=npv,
        register_label=case.register.label,
    )


def break_even(case: BusinessCase, name: str) -> BreakEven:
    """The value of `name` (an assumption or an effect's outcome) at which NPV is zero."""
    values, effects = case.register.values(), case.point_effects()
    if name in effects:
        e = next(e for e in case.effects if e.outcome == name)
        base, low, high, unit = e.estimate, e.ci_low, e.ci_high, "effect per ticket"

        def npv_at(x: float) -> float:
            return float(case.flows(values, effects | {name: x}).npv()[0])

        floor, ceiling = -math.inf, math.inf
    else:
        a = case.register[name]
        base, low, high, unit = a.value, a.low, a.high, a.unit

        def npv_at(x: float) -> float:
            return float(case.flows(values | {name: x}, effects).npv()[0])

        floor = 0.0 if a.category != "finance" or name == "discount_rate_annual" else -math.inf
        ceiling = (
            1.0 if name == "adoption_max" else 0.99 if name == "discount_rate_annual" else math.inf
        )
    width = max(high - low, abs(base) * 0.1, 1e-9)
    lo = max(low - SEARCH_WIDTHS * width, floor)
    hi = min(high + SEARCH_WIDTHS * width, ceiling)
    grid = np.unique(np.concatenate([np.linspace(lo, hi, 201), [base]]))
    npvs = np.array([npv_at(x) for x in grid])
    crossings = np.nonzero(np.sign(npvs[:-1]) * np.sign(npvs[1:]) <= 0)[0]
    if not len(crossings):
        return BreakEven(name, None, unit, base, (float(lo), float(hi)))
    # The crossing nearest the point value is the one finance asks about.
    i = int(crossings[np.argmin(np.abs(grid[crossings] - base))])
    if npvs[i] == 0:
        root = float(grid[i])
    else:
        root = float(optimize.brentq(npv_at, grid[i], grid[i + 1], xtol=1e-12))
    return BreakEven(name, root, unit, base, (float(lo), float(hi)))


def _used(case: BusinessCase) -> set[str]:
    """Names of the register entries the cash-flow model reads."""
    from impact.value.cashflow import PRICES, REQUIRED, VARIABLE_COSTS

    names = set(REQUIRED) | set(case.build_names) | set(case.run_names) | {"tickets_per_month"}
    names |= {PRICES[o][0] for o in case.outcomes if PRICES[o][0]}
    names |= {v for k, v in VARIABLE_COSTS.items() if k not in case.outcomes}
    return names


def _row(
    name: str, kind: str, unit: str, low: float, base: float, high: float, ends: list
) -> dict[str, object]:
    npv_low, npv_high = (float(f.npv()[0]) for f in ends)
    pay_low, pay_high = (float(f.payback_month()[0]) for f in ends)
    return {
        "name": name,
        "kind": kind,
        "unit": unit,
        "low": low,
        "base": base,
        "high": high,
        "npv_low_usd": npv_low,
        "npv_high_usd": npv_high,
        "swing_usd": abs(npv_high - npv_low),
        "payback_low_months": pay_low,
        "payback_high_months": pay_high,
    }
