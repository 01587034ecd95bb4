"""The answer a report opens with, for people and for machines at once.

A :class:`ReportSummary` renders as an HTML card in the notebook (and so in the exported
report) and carries the same numbers as JSON under its own MIME type, which the runner lifts
out of the executed notebook into ``result.json``. The notebook needs no output path.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from impact.result import Effect

MIME_TYPE = "application/vnd.impact.result+json"
SCHEMA_VERSION = 1


_UNITS = {
    "minutes": "minutes",
    "hours": "hours",
    "seconds": "seconds",
    "usd": "USD",
    "eur": "EUR",
    "pct": "%",
    "rate": "",
}


def label(column: str) -> str:
    """A reader's name for a column: ``handle_time_minutes`` -> ``handle time (minutes)``.

    Example:
        >>> label("handle_time_minutes"), label("compute_cost_usd"), label("resolved")
        ('handle time (minutes)', 'compute cost (USD)', 'resolved')
    """
    words = column.split("_")
    unit = _UNITS.get(words[-1].lower()) if len(words) > 1 else None
    if unit is None:
        return " ".join(words)
    name = " ".join(words[:-1])
    return f"{name} ({unit})" if unit else name


def describe(effect: Effect) -> str:
    """The effect in plain words, e.g. "lowered handle_time_minutes by 18.2% (95% CI ...)"."""
    if not math.isfinite(effect.lift):
        return effect.headline()
    verb = "lowered" if effect.lift < 0 else "raised"
    level = f"{effect.confidence:.0%}"
    low, high = effect.lift_ci
    if low * high > 0:  # the interval excludes zero: speak in magnitudes, like the headline
        near, far = sorted((abs(low), abs(high)))
        interval = f"{level} CI {near:.1%} to {far:.1%}"
    else:
        interval = f"{level} CI {low:+.1%} to {high:+.1%}"
    certainty = "a clear change" if effect.significant else "not distinguishable from no change"
    name = label(effect.outcome).split(" (")[0]  # a relative change needs no unit
    return f"The AI {verb} {name} by {abs(effect.lift):.1%} ({interval}); {certainty}."


@dataclass(frozen=True, slots=True)
class ReportSummary:
    """Headline, effects and data quality of one report run.

    Example:
        >>> s = ReportSummary(title="Pilot", headline="No change yet")
        >>> s.to_dict()["headline"]
        'No change yet'
    """

    title: str
    headline: str
    effects: Sequence[Effect] = ()
    data_quality: Mapping[str, Any] = field(default_factory=dict)
    facts: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The JSON payload written to ``result.json`` (aggregates only)."""
        return {
            "schema_version": SCHEMA_VERSION,
            "title": self.title,
            "headline": self.headline,
            "effects": [e.to_dict() for e in self.effects],
            "data_quality": dict(self.data_quality),
            "facts": dict(self.facts),
        }

    def _repr_html_(self) -> str:
        sentences = [describe(e) for e in self.effects]
        items = "".join(f"<li>{html.escape(t)}</li>" for t in sentences if t != self.headline)
        dq = self.data_quality
        contract = html.escape(str(dq.get("contract")))
        version = html.escape(str(dq.get("version")))
        quality = (
            f"<p class='impact-dq'>Data checked against contract <code>{contract}</code> "
            f"v{version}: {dq.get('rows_checked', 0):,} rows, "
            f"{dq.get('rows_quarantined', 0):,} quarantined.</p>"
            if dq
            else ""
        )
        return (
            f"<div class='impact-summary' aria-label='{html.escape(self.title)}'>"
            f"<p class='impact-headline'><strong>{html.escape(self.headline)}</strong></p>"
            + (f"<ul>{items}</ul>" if items else "")
            + f"{quality}</div>"
        )

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        return {
            "text/html": self._repr_html_(),
            MIME_TYPE: self.to_dict(),
            "text/plain": self.headline,
        }


def summarize(
    title: str,
    effects: Sequence[Effect],
    *,
    data_quality: Any = None,
    headline: str | None = None,
    facts: Mapping[str, Any] | None = None,
) -> ReportSummary:
    """The summary a report notebook ends its first cell on.

    `data_quality` is a :class:`~impact.contracts.Validation` (or its ``to_dict()``); the
    headline defaults to the first effect in plain words.
    """
    if not effects and headline is None:
        raise ValueError("a report summary needs at least one effect or an explicit headline")
    quality = data_quality.to_dict() if hasattr(data_quality, "to_dict") else (data_quality or {})
    return ReportSummary(
        title=title,
        headline=headline or describe(effects[0]),
        effects=tuple(effects),
        data_quality=quality,
        facts=dict(facts or {}),
    )
