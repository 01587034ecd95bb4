"""What changed since the previous run: the recommendation, the headline numbers, the register.

A scheduled report is read against the one before it. :func:`what_changed` compares two
``result.json`` payloads (this run's and the last good run's, which the runner passes to the
notebook as the ``previous_result`` parameter) and says in words what moved:

* the recommendation (scale / stabilize / pivot) and every named signal (e.g. whether the
  designs agree, whether the drift alert fired);
* the assumptions register's version (a new version changes the money figures by itself);
* every headline number. A number is a **notable** change when its new point lies outside the
  previous run's interval (or, for a probability, moved by 0.10 or more): movement inside the
  interval is what sampling noise alone produces.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from impact.value.money import format_amount

#: A probability that moves by at least this much is a notable change.
PROBABILITY_STEP = 0.10


@dataclass(frozen=True, eq=False)
class Changes:
    """The differences between this run and the previous good one, and a sentence about them.

    `items` has one mapping per compared thing: ``what, kind ("recommendation", "signal",
    "assumptions", "number"), before, after, changed, notable`` and, for numbers, ``change``
    and ``unit``.
    """

    first_run: bool
    summary: str
    items: tuple[Mapping[str, Any], ...] = field(default=(), repr=False)
    previous_run: str | None = None
    previous_period_end: str | None = None

    @property
    def notable(self) -> tuple[Mapping[str, Any], ...]:
        return tuple(i for i in self.items if i.get("notable"))

    def to_dict(self) -> dict[str, Any]:
        return {
            "first_run": self.first_run,
            "previous_run": self.previous_run,
            "previous_period_end": self.previous_period_end,
            "summary": self.summary,
            "items": [dict(i) for i in self.items],
        }

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr class='{'impact-warn' if i.get('notable') else ''}'>"
            f"<td>{html.escape(str(i['what']))}</td><td>{html.escape(_shown(i, 'before'))}</td>"
            f"<td>{html.escape(_shown(i, 'after'))}</td>"
            f"<td>{html.escape(_change_text(i))}</td></tr>"
            for i in self.items
        )
        table = (
            "<table><tr><th>what</th><th>previous run</th><th>this run</th><th>change</th></tr>"
            f"{rows}</table>"
            if rows
            else ""
        )
        return f"<div class='impact-changes'><p>{html.escape(self.summary)}</p>{table}</div>"


def load_result(source: str | Path | Mapping[str, Any] | None) -> dict[str, Any] | None:
    """A previous run's ``result.json`` as a dict; None for ``""``/None (no previous run).

    A path that does not exist or does not hold a JSON object raises ValueError, naming it:
    a report that silently compares with nothing would claim a first run.
    """
    if source is None or (isinstance(source, str) and not source.strip()):
        return None
    if isinstance(source, Mapping):
        return dict(source)
    path = Path(source)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot read the previous result {path}: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path} does not hold a result object")
    return data


def what_changed(current: Mapping[str, Any], previous: Mapping[str, Any] | None) -> Changes:
    """Compare two result payloads (this run's first); None means this is the first run.

    Example:
        >>> now = {"recommendation": {"decision": "scale", "reasons": []},
        ...        "headline_numbers": {"npv": {"label": "NPV", "point": 2e6, "low": 1e6,
        ...                                     "high": 3e6, "unit": "usd"}}}
        >>> before = {"recommendation": {"decision": "stabilize", "reasons": []},
        ...           "headline_numbers": {"npv": {"label": "NPV", "point": 1.5e6,
        ...                                        "low": 0.5e6, "high": 2.5e6, "unit": "usd"}},
        ...           "run_id": "r1"}
        >>> what_changed(now, before).summary
        'Since the previous report (run r1): the recommendation changed from stabilize to scale. No headline number moved outside its previous interval.'
    """  # noqa: E501
    if previous is None:
        return Changes(
            first_run=True,
            summary=(
                "This is the first run of this report: there is no earlier report to compare "
                "with yet. The next run will show what changed."
            ),
        )
    items: list[dict[str, Any]] = []
    before_rec = _decision(previous.get("recommendation"))
    after_rec = _decision(current.get("recommendation"))
    if before_rec or after_rec:
        items.append(_categorical("recommendation", "recommendation", before_rec, after_rec))
    before_sig, after_sig = previous.get("signals") or {}, current.get("signals") or {}
    for name in _ordered(after_sig, before_sig):
        items.append(_categorical(name, "signal", before_sig.get(name), after_sig.get(name)))
    before_reg, after_reg = _registers(previous), _registers(current)
    for name in _ordered(after_reg, before_reg):
        items.append(
            _categorical(
                f"assumptions: {name}", "assumptions", before_reg.get(name), after_reg.get(name)
            )
        )
    before_num = previous.get("headline_numbers") or {}
    after_num = current.get("headline_numbers") or {}
    for key in _ordered(after_num, before_num):
        items.append(_number(key, before_num.get(key), after_num.get(key)))
    return Changes(
        first_run=False,
        summary=_summary(items, previous),
        items=tuple(items),
        previous_run=previous.get("run_id"),
        previous_period_end=previous.get("period_end"),
    )


def _ordered(first: Mapping[str, Any], second: Mapping[str, Any]) -> list[str]:
    return [*first, *(k for k in second if k not in first)]


def _decision(recommendation: Any) -> str | None:
    if isinstance(recommendation, Mapping):
        return recommendation.get("decision")
    return None


def _registers(payload: Mapping[str, Any]) -> dict[str, str]:
    out = {}
    for entry in payload.get("assumptions") or []:
        name = entry.get("title") or entry.get("path") or "register"
        sha = f" (sha {entry['sha']})" if entry.get("sha") else ""
        out[str(name)] = f"{entry.get('version')}{sha}"
    return out


def _categorical(what: str, kind: str, before: Any, after: Any) -> dict[str, Any]:
    changed = before != after
    return {
        "what": what,
        "kind": kind,
        "before": before,
        "after": after,
        "changed": changed,
        "notable": changed,
    }


def _number(key: str, before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> dict:
    ref = after or before or {}
    unit = str(ref.get("unit", ""))
    item: dict[str, Any] = {
        "what": ref.get("label") or key,
        "key": key,
        "kind": "number",
        "unit": unit,
        "before": dict(before) if before else None,
        "after": dict(after) if after else None,
    }
    b, a = _point(before), _point(after)
    if b is None or a is None:
        return item | {"change": None, "changed": b != a, "notable": (b is None) != (a is None)}
    change = a - b
    if unit == "probability":
        notable = abs(change) >= PROBABILITY_STEP
    else:
        low, high = _bound(before, "low"), _bound(before, "high")
        notable = (low is not None and a < low) or (high is not None and a > high)
    return item | {"change": change, "changed": change != 0, "notable": bool(notable)}


def _point(number: Mapping[str, Any] | None) -> float | None:
    if not number:
        return None
    value = number.get("point")
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else None


def _bound(number: Mapping[str, Any] | None, side: str) -> float | None:
    value = (number or {}).get(side)
    return float(value) if isinstance(value, int | float) else None


def _shown(item: Mapping[str, Any], side: str) -> str:
    value = item.get(side)
    if item["kind"] != "number":
        return "(none)" if value is None else str(value)
    if not value:
        return "(none)"
    unit = item.get("unit", "")
    point = format_number(value.get("point"), unit)
    low, high = value.get("low"), value.get("high")
    if low is None and high is None:
        return point
    return f"{point} ({format_number(low, unit)} to {format_number(high, unit)})"


def _change_text(item: Mapping[str, Any]) -> str:
    if item["kind"] != "number":
        return "changed" if item.get("changed") else "unchanged"
    change = item.get("change")
    if change is None:
        return "new" if item.get("before") is None else "no longer reported"
    unit = item.get("unit", "")
    sign = "+" if change > 0 else "-" if change < 0 else "±"
    if unit in ("ratio", "probability"):  # a change of a share is in percentage points
        text = f"{sign}{abs(change) * 100:.1f} points"
    else:
        text = f"{sign}{format_number(abs(change), unit)}"
    return text + (" (outside the previous interval)" if item.get("notable") else "")


def format_number(value: Any, unit: str) -> str:
    """A headline number for people: money, percent, months, probability."""
    if value is None:
        return "never" if unit == "months" else "unbounded"
    if unit == "probability":
        return f"{value:.0%}"
    if unit == "ratio":
        return f"{value * 100:.1f}%"
    return format_amount(float(value), unit)


def _summary(items: list[dict[str, Any]], previous: Mapping[str, Any]) -> str:
    since = "Since the previous report"
    if previous.get("run_id"):
        since += f" (run {previous['run_id']}"
        since += f", period ending {previous['period_end']})" if previous.get("period_end") else ")"
    parts = []
    rec = next((i for i in items if i["kind"] == "recommendation"), None)
    if rec is not None:
        parts.append(
            f"the recommendation changed from {rec['before']} to {rec['after']}"
            if rec["changed"]
            else f"the recommendation is unchanged ({rec['after']})"
        )
    parts += [
        f"{i['what']} changed from {i['before']} to {i['after']}"
        for i in items
        if i["kind"] in ("signal", "assumptions") and i["changed"]
    ]
    moved = [i for i in items if i["kind"] == "number" and i["notable"]]
    parts += [
        f"{i['what']} moved from {_shown(i, 'before').split(' (')[0]} to "
        f"{_shown(i, 'after').split(' (')[0]}"
        for i in moved
    ]
    text = f"{since}: " + ("; ".join(parts) if parts else "nothing material changed") + "."
    numbers = [i for i in items if i["kind"] == "number"]
    if numbers and not moved:
        text += " No headline number moved outside its previous interval."
    return text


__all__ = ["Changes", "format_number", "load_result", "what_changed"]
