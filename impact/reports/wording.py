"""The reader's words for effects and checks: names, changes with their intervals, reasons.

Written for someone who does not read confidence intervals for a living: "handle time:
-14.5% (95% CI -17.7% to -11.3%) with the AI", "a rise in the reopen rate beyond its 1-point
limit is not yet ruled out". Rates are proportions, shown in percentage points.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from impact.reports.summary import label
from impact.result import Effect

if TYPE_CHECKING:
    from impact.value import Decision, DecisionRule, Payback

#: Reader's names for the bundled outcomes; rates are proportions shown in percentage points.
NAMES = {
    "handle_time_minutes": "handle time",
    "reopened": "reopen rate",
    "escalated": "escalation rate",
    "resolved": "resolution rate",
    "csat": "customer satisfaction (1-5)",
}
RATES = {"reopened", "escalated", "resolved", "ai_used"}


def name_of(outcome: str) -> str:
    """A reader's name: ``reopened`` -> ``reopen rate``, else :func:`label` without the unit."""
    return NAMES.get(outcome, label(outcome).split(" (")[0])


def change_text(effect: Effect, *, relative: bool = True) -> str:
    """The change with its interval in the outcome's own terms: rates in percentage points,
    csat on its 1-5 scale, others relative (or, with ``relative=False``, in their unit)."""
    level = f"{effect.confidence:.0%} CI"
    if effect.outcome in RATES:
        return (
            f"{effect.estimate * 100:+.1f} points ({level} {effect.ci_low * 100:+.1f} to "
            f"{effect.ci_high * 100:+.1f})"
        )
    if relative and math.isfinite(effect.lift) and effect.outcome not in ("csat",):
        low, high = effect.lift_ci
        return f"{effect.lift:+.1%} ({level} {low:+.1%} to {high:+.1%})"
    unit = _unit_of(effect.outcome)
    return f"{effect.estimate:+.2f} {unit} ({level} {effect.ci_low:+.2f} to {effect.ci_high:+.2f})"


def _margin_text(outcome: str, margin: float) -> str:
    if outcome in RATES:
        points = margin * 100
        return f"{points:g}-point" if points != 1 else "1-point"
    return f"{margin:g}"


def plain_reasons(
    decision: Decision,
    *,
    rule: DecisionRule,
    north_star: Effect,
    guardrails: Sequence[Effect] = (),
    value: Payback | None = None,
) -> list[str]:
    """One sentence per check behind `decision`, in the reader's words."""
    statuses = dict(zip(decision.checks["check"], decision.checks["status"], strict=True))
    star = rule.north_star
    name = name_of(star.outcome)
    change = change_text(north_star)
    status = statuses.get(f"north star: {star.outcome}")
    reasons = [
        {
            "improved": f"{name.capitalize()}: {change} with the AI, a clear gain above the "
            f"{star.min_lift:.0%} minimum that makes the rollout worth it.",
            "too small": f"{name.capitalize()}: {change} with the AI, a real change but below "
            f"the {star.min_lift:.0%} minimum that makes the rollout worth it.",
            "worse": f"{name.capitalize()}: {change} with the AI; it got worse.",
        }.get(
            str(status),
            f"{name.capitalize()}: {change} with the AI; not yet distinguishable from no change.",
        )
    ]
    by_outcome = {e.outcome: e for e in guardrails}
    for g in rule.guardrails:
        effect = by_outcome.get(g.outcome)
        gname, limit = name_of(g.outcome), _margin_text(g.outcome, g.margin)
        direction = "rise" if g.better == "lower" else "fall"
        status = statuses.get(f"guardrail: {g.outcome}")
        if effect is None:
            reasons.append(f"{gname.capitalize()} was not measured; measure it before scaling.")
            continue
        text = change_text(effect)
        reasons.append(
            {
                "holds": f"{gname.capitalize()}: {text}; a {direction} beyond the {limit} "
                "limit is ruled out (guardrail holds).",
                "breached": f"{gname.capitalize()}: {text}; it got worse, most likely by more "
                f"than the {limit} limit (guardrail breached).",
            }.get(
                str(status),
                f"{gname.capitalize()}: {text}; a {direction} beyond the {limit} limit is not "
                "yet ruled out.",
            )
        )
    months = rule.payback_months
    if value is None:
        reasons.append("Payback was not assessed (no business case).")
    else:
        p = value.probability(months)
        reasons.append(
            f"Pays back within {months} months in {p:.0%} of simulated futures (scaling needs "
            f"{rule.scale_probability:.0%}; below {rule.pivot_probability:.0%} means pivot); "
            f"NPV {value.npv} over {value.horizon} months."
        )
    return reasons


def blockers(
    decision: Decision,
    *,
    rule: DecisionRule,
    north_star: Effect,
    guardrails: Sequence[Effect] = (),
    value: Payback | None = None,
) -> list[str]:
    """Short phrases for each check that stands between the evidence and "scale"."""
    statuses = dict(zip(decision.checks["check"], decision.checks["status"], strict=True))
    star = rule.north_star
    name = name_of(star.outcome)
    out = []
    status = statuses.get(f"north star: {star.outcome}")
    if status != "improved":
        out.append(
            {
                "too small": f"the gain in {name} is below the {star.min_lift:.0%} minimum",
                "worse": f"{name} got worse with the AI",
            }.get(str(status), f"the change in {name} is not yet clear")
        )
    by_outcome = {e.outcome: e for e in guardrails}
    for g in rule.guardrails:
        status = statuses.get(f"guardrail: {g.outcome}")
        if status == "holds":
            continue
        gname, limit = name_of(g.outcome), _margin_text(g.outcome, g.margin)
        effect = by_outcome.get(g.outcome)
        if effect is None:
            out.append(f"the {gname} was not measured")
        elif status == "breached":
            out.append(
                f"the {gname} got worse, most likely beyond its {limit} limit: "
                f"{change_text(effect)}"
            )
        else:
            direction = "rise" if g.better == "lower" else "fall"
            out.append(
                f"a {direction} in the {gname} beyond its {limit} limit is not yet ruled out: "
                f"change {change_text(effect)}"
            )
    if value is None:
        out.append("payback was not assessed")
    else:
        p, months = value.probability(rule.payback_months), rule.payback_months
        if p < rule.pivot_probability:
            out.append(f"there is only a {p:.0%} chance of paying back within {months} months")
        elif p < rule.scale_probability:
            out.append(
                f"the chance of paying back within {months} months is {p:.0%}, short of the "
                f"{rule.scale_probability:.0%} needed to scale"
            )
    return out


def _unit_of(outcome: str) -> str:
    if outcome == "csat":
        return "points on a 1-5 scale"
    return label(outcome).partition(" (")[2].rstrip(")") or "units"


def limit_text(g: Any) -> str:
    """A guardrail's limit in words: ``may not rise by 1 point``."""
    verb = "rise" if g.better == "lower" else "fall"
    if g.outcome in RATES:
        points = g.margin * 100
        return f"may not {verb} by {points:g} point{'' if points == 1 else 's'}"
    return f"may not {verb} by {g.margin:g} {_unit_of(g.outcome)}"


def level_text(outcome: str, value: float) -> str:
    """A level in its unit: ``4.9%`` for a rate, ``15.88 minutes`` for handle time."""
    if outcome in RATES:
        return f"{value * 100:.1f}%"
    unit = _unit_of(outcome)
    return f"{value:.2f} {unit}"


__all__ = [
    "NAMES",
    "RATES",
    "blockers",
    "change_text",
    "level_text",
    "limit_text",
    "name_of",
    "plain_reasons",
]
