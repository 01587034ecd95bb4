"""The answer a report opens with, for people and for machines at once.

A :class:`ReportSummary` renders as an HTML card in the notebook (and so in the exported
report) and carries the same numbers as JSON under its own MIME type, which the runner lifts
out of the executed notebook into ``result.json``. The notebook needs no output path. The
payload is checked against ``result.schema.json`` when the summary is built.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from impact.reports.changes import Changes, format_number, load_result, what_changed
from impact.reports.schema import json_safe, validate_result
from impact.result import Effect

MIME_TYPE = "application/vnd.impact.result+json"
SCHEMA_VERSION = 2


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
    """Headline, recommendation, headline numbers and data quality of one report run.

    `numbers` maps a key to a headline figure ``{label, point, low, high, unit, confidence}``
    (money always with its interval); `signals` names categorical findings ("designs":
    "agree"); `assumptions` lists the registers used (title, version, sha); `changes` says
    what moved since the previous run.

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
    recommendation: str | None = None
    reasons: Sequence[str] = ()
    numbers: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    signals: Mapping[str, str] = field(default_factory=dict)
    assumptions: Sequence[Mapping[str, Any]] = ()
    changes: Changes | None = None
    period_end: str | None = None

    def __post_init__(self) -> None:
        validate_result(self.to_dict())

    def to_dict(self) -> dict[str, Any]:
        """The JSON payload written to ``result.json`` (aggregates only; strict JSON)."""
        recommendation = (
            {"decision": self.recommendation, "reasons": list(self.reasons)}
            if self.recommendation
            else None
        )
        return json_safe(
            {
                "schema_version": SCHEMA_VERSION,
                "title": self.title,
                "headline": self.headline,
                "period_end": self.period_end or None,
                "recommendation": recommendation,
                "headline_numbers": {k: dict(v) for k, v in self.numbers.items()},
                "signals": {k: str(v) for k, v in self.signals.items()},
                "assumptions": [dict(a) for a in self.assumptions],
                "effects": [e.to_dict() for e in self.effects],
                "data_quality": dict(self.data_quality),
                "facts": dict(self.facts),
                "changes": self.changes.to_dict() if self.changes else None,
            }
        )

    def _repr_html_(self) -> str:
        parts = [f"<div class='impact-summary' aria-label='{html.escape(self.title)}'>"]
        if self.period_end or self.assumptions:
            period = f"data up to {self.period_end}" if self.period_end else "all data to date"
            parts.append(
                f"<p class='impact-context'>{html.escape(self.title)} &middot; "
                f"{html.escape(period)}</p>"
            )
        if self.recommendation:
            rec = html.escape(self.recommendation)
            parts.append(
                f"<p class='impact-recommendation impact-{rec}'>Recommendation: "
                f"<strong>{rec.upper()}</strong></p>"
            )
        parts.append(
            f"<p class='impact-headline'><strong>{html.escape(self.headline)}</strong></p>"
        )
        sentences = list(self.reasons) or [describe(e) for e in self.effects]
        items = "".join(f"<li>{html.escape(t)}</li>" for t in sentences if t != self.headline)
        if items:
            parts.append(f"<ul class='impact-reasons'>{items}</ul>")
        if self.numbers:
            rows = "".join(
                f"<tr><th scope='row'>{html.escape(str(n.get('label', key)))}</th>"
                f"<td>{html.escape(_figure(n))}</td></tr>"
                for key, n in self.numbers.items()
            )
            parts.append(
                "<table class='impact-numbers'><thead><tr><th>headline figure</th>"
                f"<th>value ({_level(self.numbers)} interval)</th></tr></thead>"
                f"<tbody>{rows}</tbody></table>"
            )
        parts.append(_quality_line(self.data_quality))
        if self.assumptions:
            registers = "; ".join(
                f"{a.get('title') or 'register'} version {a.get('version')}"
                + (f" (sha {a['sha']})" if a.get("sha") else "")
                for a in self.assumptions
            )
            parts.append(
                f"<p class='impact-assumptions'>Assumptions: {html.escape(registers)}.</p>"
            )
        if self.changes is not None:
            parts.append(
                f"<p class='impact-changes-summary'>{html.escape(self.changes.summary)}</p>"
            )
        parts.append("</div>")
        return "".join(parts)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        return {
            "text/html": self._repr_html_(),
            MIME_TYPE: self.to_dict(),
            "text/plain": self.headline,
        }


def _figure(number: Mapping[str, Any]) -> str:
    unit = str(number.get("unit", ""))
    point = format_number(number.get("point"), unit)
    if "low" not in number and "high" not in number:
        return point
    low, high = number.get("low"), number.get("high")
    if low is None and high is None:
        return point
    return f"{point} ({format_number(low, unit)} to {format_number(high, unit)})"


def _level(numbers: Mapping[str, Mapping[str, Any]]) -> str:
    levels = {n.get("confidence") for n in numbers.values() if n.get("confidence")}
    return f"{levels.pop():.0%}" if len(levels) == 1 else "stated"


def _quality_line(dq: Mapping[str, Any]) -> str:
    if not dq:
        return ""
    contract = html.escape(str(dq.get("contract")))
    version = html.escape(str(dq.get("version")))
    return (
        f"<p class='impact-dq'>Data checked against contract <code>{contract}</code> "
        f"v{version}: {dq.get('rows_checked', 0):,} rows, "
        f"{dq.get('rows_quarantined', 0):,} quarantined.</p>"
    )


def effect_number(effect: Effect, *, label_text: str | None = None) -> dict[str, Any]:
    """An effect's relative change as a headline figure (unit ``ratio``: -0.15 = 15% lower)."""
    low, high = effect.lift_ci
    if math.isfinite(effect.lift):
        return {
            "label": label_text or f"change in {label(effect.outcome).split(' (')[0]}",
            "point": effect.lift,
            "low": low,
            "high": high,
            "unit": "ratio",
            "confidence": effect.confidence,
        }
    unit = label(effect.outcome).partition(" (")[2].rstrip(")")
    return {
        "label": label_text or f"change in {label(effect.outcome)}",
        "point": effect.estimate,
        "low": effect.ci_low,
        "high": effect.ci_high,
        "unit": unit,
        "confidence": effect.confidence,
    }


def summarize(
    title: str,
    effects: Sequence[Effect],
    *,
    data_quality: Any = None,
    headline: str | None = None,
    facts: Mapping[str, Any] | None = None,
    recommendation: str | None = None,
    reasons: Sequence[str] = (),
    numbers: Mapping[str, Mapping[str, Any]] | None = None,
    signals: Mapping[str, str] | None = None,
    assumptions: Sequence[Any] = (),
    previous: Any = None,
    period_end: str | None = None,
) -> ReportSummary:
    """The summary a report notebook ends its first cell on.

    `data_quality` is a :class:`~impact.contracts.Validation` (or its ``to_dict()``); the
    headline defaults to the first effect in plain words, the headline numbers to each effect's
    relative change. `assumptions` are :class:`~impact.value.Register` objects (or mappings
    with title, version, sha). `previous` is the previous good run's ``result.json`` (a path, a
    mapping, or ``""`` on a first run): given (even empty), the summary says what changed.
    """
    if not effects and headline is None:
        raise ValueError("a report summary needs at least one effect or an explicit headline")
    quality = data_quality.to_dict() if hasattr(data_quality, "to_dict") else (data_quality or {})
    if numbers is None:
        numbers = {e.outcome: effect_number(e) for e in effects}
    summary = ReportSummary(
        title=title,
        headline=headline or describe(effects[0]),
        effects=tuple(effects),
        data_quality=quality,
        facts=dict(facts or {}),
        recommendation=recommendation,
        reasons=tuple(reasons),
        numbers=dict(numbers),
        signals=dict(signals or {}),
        assumptions=tuple(register_entry(a) for a in assumptions),
        period_end=period_end or None,
    )
    if previous is None:
        return summary
    changes = what_changed(summary.to_dict(), load_result(previous))
    return replace(summary, changes=changes)


def register_entry(register: Any) -> dict[str, Any]:
    """``{title, version, sha, path}`` of an assumptions register (or a mapping of those)."""
    if isinstance(register, Mapping):
        return {k: register.get(k) for k in ("title", "version", "sha", "path")}
    return {
        "title": getattr(register, "title", None),
        "version": str(register.version),
        "sha": getattr(register, "content_hash", None),
        # the file name only: result.json is read by others and must not reveal local paths
        "path": Path(register.path).name if getattr(register, "path", None) else None,
    }
