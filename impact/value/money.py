"""`Value`: a money (or months, or ratio) figure that always carries its interval.

Finance reads point figures as promises; a `Value` makes the spread impossible to drop. Every
figure the value layer returns is a `Value`, never a bare float.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass

from impact.errors import EstimationError

#: Units whose figures are rendered as money.
MONEY_UNITS = {"usd": "$", "eur": "€", "gbp": "£"}
_AMOUNT = r"-?[$€£]\d[\d,]*(?:\.\d+)?"
#: An amount followed by a bracket holding an interval, or the two ends of a range.
_QUALIFIED = re.compile(rf"{_AMOUNT}\s*\([^()]*?{_AMOUNT} to {_AMOUNT}\)|{_AMOUNT} to {_AMOUNT}")


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
    """Format `number` for people: money with a symbol, thousands and three significant figures
    from $10,000 (false precision misleads), ratios as percent."""
    if math.isinf(number):
        return "never" if unit == "months" else ("∞" if number > 0 else "-∞")
    if unit in MONEY_UNITS:
        sign = "-" if number < 0 else ""
        magnitude = abs(number)
        digits = 2 if magnitude < 100 else 0
        if magnitude >= 10_000:  # three significant figures: $1,710,000, not $1,709,306
            magnitude = float(f"{magnitude:.3g}")
        return f"{sign}{MONEY_UNITS[unit]}{magnitude:,.{digits}f}"
    if unit == "ratio":
        return f"{number:.1%}"
    if unit == "months":
        return f"{number:.0f} months" if number != 1 else "1 month"
    return f"{number:,.4g} {unit}".rstrip()


def bare_amounts(text: str) -> list[str]:
    """Money figures in `text` (HTML or plain) that stand without their interval.

    A report must never show one (DESIGN.md decision 6). An amount is qualified when a bracket
    holding an interval follows it (``$120 (95% interval $80 to $150)``) or when it is an end
    of a range (``$80 to $150``). In HTML tables, a money column (header ``<name>_usd``) needs
    its ``<name>_low_usd`` and ``<name>_high_usd`` columns beside it.

    Example:
        >>> bare_amounts("NPV $1,200 (95% interval -$300 to $2,500); build $220,000")
        ['$220,000']
    """
    plain = re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", text)))
    found = re.findall(_AMOUNT, _QUALIFIED.sub(" ", plain))
    for table in re.findall(r"<table.*?</table>", text, flags=re.DOTALL):
        headers = [h.strip() for h in re.findall(r"<th[^>]*>([^<]*)</th>", table)]
        found += bare_columns(headers)
    return found


def bare_columns(columns: Iterable[object]) -> list[str]:
    """Money columns (``*_usd``) of a table that lack their ``_low_usd``/``_high_usd`` pair.

    Example:
        >>> bare_columns(["month", "net_usd", "net_low_usd", "net_high_usd", "build_usd"])
        ['build_usd']
    """
    names = [str(c) for c in columns]
    have = set(names)
    out = []
    for name in dict.fromkeys(names):
        if not name.endswith("_usd") or name.endswith(("_low_usd", "_high_usd")):
            continue
        if name in ("low_usd", "high_usd"):
            continue
        base = name.removesuffix("_usd")
        if {f"{base}_low_usd", f"{base}_high_usd"} <= have:
            continue
        if base in ("point", "median") and {"low_usd", "high_usd"} <= have:
            continue  # a band: one interval for its point and median lines
        out.append(name)
    return out
