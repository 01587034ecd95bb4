"""`Value`: a money (or months, or ratio) figure that always carries its interval.

Finance reads point figures as promises; a `Value` makes the spread impossible to drop. Every
figure the value layer returns is a `Value`, never a bare float.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass

from impact.errors import EstimationError

#: Units whose figures are rendered as money.
MONEY_UNITS = {"usd": "$", "eur": "€", "gbp": "£"}


@dataclass(frozen=True, slots=True)
class Value:
    """A figure with its interval: `point` (from the point assumptions and the point estimate)
    and `low`/`high` (the interval's ends, at `confidence`).

    `high` may be ``inf`` for months (some simulated futures never pay back within the
    horizon); `low <= high` always holds.

    Example:
        >>> npv = Value(120_000.0, -15_000.0, 260_000.0, unit="usd")
        >>> str(npv)
        '$120,000 (95% interval -$15,000 to $260,000)'
        >>> npv.excludes(0.0)
        False
    """

    point: float
    low: float
    high: float
    unit: str
    confidence: float = 0.95
    label: str = ""

    def __post_init__(self) -> None:
        for name in ("point", "low", "high"):
            number = float(getattr(self, name))
            if math.isnan(number):
                raise EstimationError(
                    f"{self.label or 'a value figure'}: {name} is NaN; an input (effect or "
                    "assumption) is missing or not a number"
                )
            object.__setattr__(self, name, number)
        if self.low > self.high:
            raise EstimationError(
                f"{self.label or 'a value figure'}: interval low {self.low} > high {self.high}"
            )
        if not 0 < self.confidence < 1:
            raise ValueError(f"confidence must lie strictly between 0 and 1, got {self.confidence}")

    @property
    def width(self) -> float:
        """``high - low``: how much the figure is still uncertain."""
        return self.high - self.low

    def excludes(self, number: float) -> bool:
        """True when `number` lies outside the interval (e.g. ``npv.excludes(0)``)."""
        return not self.low <= number <= self.high

    def format(self, number: float) -> str:
        """`number` in this figure's unit: ``$1,234``, ``12.5%``, ``7 months``."""
        return format_amount(number, self.unit)

    def __str__(self) -> str:
        level = f"{self.confidence:.0%}"
        return (
            f"{self.format(self.point)} ({level} interval {self.format(self.low)} to "
            f"{self.format(self.high)})"
        )

    def to_dict(self) -> dict[str, float | str]:
        """JSON-ready: point, low, high, unit, confidence, label."""
        return {
            "point": self.point,
            "low": self.low,
            "high": self.high,
            "unit": self.unit,
            "confidence": self.confidence,
            "label": self.label,
        }

    def _repr_html_(self) -> str:
        label = f"<strong>{html.escape(self.label)}</strong>: " if self.label else ""
        return f"<span class='impact-value'>{label}{html.escape(str(self))}</span>"


def format_amount(number: float, unit: str) -> str:
    """Format `number` for people: money with a symbol and thousands, ratios as percent."""
    if math.isinf(number):
        return "never" if unit == "months" else ("∞" if number > 0 else "-∞")
    if unit in MONEY_UNITS:
        sign = "-" if number < 0 else ""
        magnitude = abs(number)
        digits = 2 if magnitude < 100 else 0
        return f"{sign}{MONEY_UNITS[unit]}{magnitude:,.{digits}f}"
    if unit == "ratio":
        return f"{number:.1%}"
    if unit == "months":
        return f"{number:.0f} months" if number != 1 else "1 month"
    return f"{number:,.4g} {unit}".rstrip()
