"""The owner's and finance's answers: the recommendation and its reasons in plain words, with
every figure's interval, from the evidence a report gathers; and the tables behind them.

:func:`value_summary` turns a :class:`~impact.value.Decision` and the evidence behind it (the
north-star and guardrail effects, the payback simulation, cost per outcome, and optionally the
triangulation of designs and the drift test) into the :class:`ReportSummary` the owner's report
opens with; :func:`payback_summary` does the same for finance. The words come from
:mod:`impact.reports.wording`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

from impact.reports.summary import ReportSummary, effect_number, summarize
from impact.reports.table import ReaderTable
from impact.reports.wording import (
    blockers,
    change_text,
    level_text,
    limit_text,
    name_of,
    plain_reasons,
)
from impact.result import Effect

if TYPE_CHECKING:
    from impact.estimators.drift import Drift
    from impact.reports.triangulation import Triangulation
    from impact.value import CostPerOutcome, Decision, DecisionRule, Payback, Register


def effects_table(
    north_star: Effect, guardrails: Sequence[Effect] = (), *, rule: DecisionRule | None = None
) -> pd.DataFrame:
    """One row per metric in the reader's terms, units in the headers and cells: the level
    without and with the AI, the change with its interval, the relative change, the limit."""
    limits = {g.outcome: g for g in (rule.guardrails if rule else ())}
    rows = []
    for role, effect in [("north star", north_star), *(("guardrail", g) for g in guardrails)]:
        guard = limits.get(effect.outcome)
        low, high = effect.lift_ci
        rows.append(
            {
                "metric": name_of(effect.outcome),
                "role": role,
                "without AI (its unit)": level_text(effect.outcome, effect.baseline),
                "with AI (its unit)": level_text(effect.outcome, effect.baseline + effect.estimate),
                f"change ({effect.confidence:.0%} CI)": change_text(effect, relative=False),
                "relative change (%)": f"{effect.lift * 100:+.1f}% ({low * 100:+.1f}% to "
                f"{high * 100:+.1f}%)",
                "limit": limit_text(guard) if guard else "",
            }
        )
    return ReaderTable(pd.DataFrame(rows))


def effects_plot(north_star: Effect, guardrails: Sequence[Effect] = ()) -> Any:
    """Forest plot of the north star and guardrails, relative change (%), reader's names."""
    from impact.reports.plots import forest

    effects = [north_star, *guardrails]
    ax = forest(effects, labels=[name_of(e.outcome) for e in effects])
    ax.set_title("Change with the AI per metric (grey: not distinguishable from no change)")
    ax.figure.tight_layout()
    return ax


def decision_table(
    decision: Decision,
    *,
    rule: DecisionRule,
    north_star: Effect,
    guardrails: Sequence[Effect] = (),
    value: Payback | None = None,
) -> pd.DataFrame:
    """The checks behind the recommendation, one row each, in plain words."""
    reasons = plain_reasons(
        decision, rule=rule, north_star=north_star, guardrails=guardrails, value=value
    )
    checks = [
        f"north star: {name_of(rule.north_star.outcome)}",
        *(f"guardrail: {name_of(g.outcome)}" for g in rule.guardrails),
        f"payback within {rule.payback_months} months",
    ]
    return ReaderTable(
        pd.DataFrame(
            {"check": checks, "status": list(decision.checks["status"]), "what it means": reasons}
        ),
        caption=f"Recommendation: {decision.recommendation}.",
    )


def quality_table(check: Any) -> ReaderTable:
    """Rows quarantined by rule, for readers: only the rules that failed, with counts (no ids).

    `check` is a :class:`~impact.contracts.Validation` (or its ``to_dict()``).
    """
    quality = check.to_dict() if hasattr(check, "to_dict") else dict(check)
    rules = pd.DataFrame(quality.get("rules") or [])
    checked, quarantined = (
        int(quality.get("rows_checked", 0)),
        int(quality.get("rows_quarantined", 0)),
    )
    failed = rules.loc[rules["n_failed"] > 0] if len(rules) else rules
    where = f"contract {quality.get('contract')} v{quality.get('version')}"
    if failed.empty:
        return ReaderTable(
            pd.DataFrame(),
            caption=f"All {len(rules)} checks of {where} passed on {checked:,} rows: no row was "
            "quarantined.",
        )
    table = failed.rename(columns={"n_failed": "rows quarantined"})[
        ["column", "rule", "rows quarantined"]
    ]
    return ReaderTable(
        table.sort_values("rows quarantined", ascending=False).reset_index(drop=True),
        caption=f"{quarantined:,} of {checked:,} rows ({quarantined / max(checked, 1):.2%}) broke "
        f"{len(failed)} of the {len(rules)} checks of {where} and were set aside; the estimates "
        "use the other rows.",
    )


def value_summary(
    title: str,
    *,
    decision: Decision,
    rule: DecisionRule,
    north_star: Effect,
    guardrails: Sequence[Effect] = (),
    value: Payback,
    cost: CostPerOutcome | None = None,
    triangulation: Triangulation | None = None,
    drift: Drift | None = None,
    register: Register | None = None,
    data_quality: Any = None,
    previous: Any = None,
    period_end: str | None = None,
) -> ReportSummary:
    """The owner's summary: recommendation, headline sentence, reasons and headline figures.

    `previous` is the last good run's ``result.json`` (path or mapping; ``""`` on a first run):
    the summary then says what changed since.
    """
    reasons = plain_reasons(
        decision, rule=rule, north_star=north_star, guardrails=guardrails, value=value
    )
    months = rule.payback_months
    p = value.probability(months)
    numbers: dict[str, Mapping[str, Any]] = {
        "north_star": effect_number(
            north_star, label_text=f"change in {name_of(north_star.outcome)} with the AI"
        ),
        "npv": _value(value.npv, f"net present value over {value.horizon} months"),
        "roi": _value(value.roi, "return on investment (undiscounted)"),
        "payback_months": _value(value.payback_months, "months to pay back"),
        "p_payback": {
            "label": f"chance of paying back within {months} months",
            "point": p,
            "unit": "probability",
        },
    }
    if cost is not None:
        numbers |= {
            "cost_with_ai": _value(cost.with_ai, f"cost per {cost.outcome} ticket, with AI"),
            "cost_without_ai": _value(
                cost.without_ai, f"cost per {cost.outcome} ticket, without AI"
            ),
            "cost_difference": _value(cost.incremental, "difference, with minus without AI"),
        }
    signals: dict[str, str] = {}
    facts: dict[str, Any] = {"decision_checks": decision.checks.to_dict("records")}
    if triangulation is not None:
        signals["designs"] = triangulation.verdict
        facts["triangulation"] = triangulation.to_dict()
        numbers["pooled_per_use"] = {
            "label": "pooled effect of using the AI, all designs",
            "point": triangulation.pooled[0] / (100 if triangulation.relative else 1),
            "low": triangulation.pooled[1] / (100 if triangulation.relative else 1),
            "high": triangulation.pooled[2] / (100 if triangulation.relative else 1),
            "unit": "ratio" if triangulation.relative else "",
            "confidence": 1 - triangulation.alpha,
        }
    if drift is not None:
        signals["drift"] = "alert" if drift.alert else "no alert"
        facts["drift"] = drift.to_dict()
    quality = data_quality.to_dict() if hasattr(data_quality, "to_dict") else data_quality
    if quality:
        n = int(quality.get("rows_quarantined", 0))
        signals["data quality"] = "all rows passed" if n == 0 else f"{n:,} rows quarantined"
    blocking = blockers(
        decision, rule=rule, north_star=north_star, guardrails=guardrails, value=value
    )
    headline = _headline(decision.recommendation, north_star, value, months, blocking, drift)
    return summarize(
        title,
        [north_star, *guardrails],
        data_quality=quality,
        headline=headline,
        facts=facts,
        recommendation=decision.recommendation,
        reasons=reasons,
        numbers=numbers,
        signals=signals,
        assumptions=[register] if register is not None else (),
        previous=previous,
        period_end=period_end,
    )


def payback_summary(
    title: str,
    *,
    value: Payback,
    rule: DecisionRule,
    decision: Decision,
    north_star: Effect,
    guardrails: Sequence[Effect] = (),
    register: Register | None = None,
    data_quality: Any = None,
    previous: Any = None,
    period_end: str | None = None,
    months: int | None = None,
) -> ReportSummary:
    """Finance's summary: NPV, ROI, payback month and P(payback <= N months), each with its
    interval, then the recommendation and the reasons. `months` is N (default: the rule's)."""
    months = months or rule.payback_months
    numbers: dict[str, Mapping[str, Any]] = {
        "npv": _value(value.npv, f"net present value over {value.horizon} months"),
        "roi": _value(value.roi, "return on investment (undiscounted)"),
        "payback_months": _value(value.payback_months, "months to pay back"),
        "p_payback": {
            "label": f"chance of paying back within {months} months",
            "point": value.probability(months),
            "unit": "probability",
        },
        "p_never": {
            "label": f"chance of never paying back within {value.horizon} months",
            "point": value.p_never,
            "unit": "probability",
        },
        "value_per_ticket": _value(value.value_per_ticket, "net value per AI-assisted ticket"),
        "north_star": effect_number(
            north_star, label_text=f"change in {name_of(north_star.outcome)} with the AI"
        ),
    }
    payback = (
        f"it pays back in {value.break_even_month()} (month {value.payback_months.point:.0f}) "
        "at the point assumptions"
        if math.isfinite(value.payback_months.point)
        else f"it does not pay back within {value.horizon} months at the point assumptions"
    )
    headline = (
        f"{title}: NPV {value.npv} over {value.horizon} months; {payback}, and within "
        f"{months} months in {value.probability(months):.0%} of simulated futures. "
        f"Recommendation: {decision.recommendation}."
    )
    quality = data_quality.to_dict() if hasattr(data_quality, "to_dict") else data_quality
    return summarize(
        f"{title}: payback",
        [north_star, *guardrails],
        data_quality=quality,
        headline=headline,
        facts={"decision_checks": decision.checks.to_dict("records"), "value": value.to_dict()},
        recommendation=decision.recommendation,
        reasons=plain_reasons(
            decision, rule=rule, north_star=north_star, guardrails=guardrails, value=value
        ),
        numbers=numbers,
        signals={},
        assumptions=[register] if register is not None else (),
        previous=previous,
        period_end=period_end,
    )


def _headline(
    recommendation: str,
    north_star: Effect,
    value: Payback,
    months: int,
    blocking: Sequence[str],
    drift: Drift | None,
) -> str:
    name = name_of(north_star.outcome)
    low, high = north_star.lift_ci
    if math.isfinite(north_star.lift) and low * high > 0:
        verb = "lowered" if north_star.lift < 0 else "raised"
        near, far = sorted((abs(low), abs(high)))
        effect = (
            f"The AI {verb} {name} by {abs(north_star.lift):.1%} "
            f"({north_star.confidence:.0%} CI {near:.1%} to {far:.1%})"
        )
    else:
        effect = f"The change in {name} is not yet clear ({change_text(north_star)})"
    money = (
        f"worth a net present value of {value.npv} over {value.horizon} months, with a "
        f"{value.probability(months):.0%} chance of paying back within {months} months"
    )
    if recommendation == "scale":
        what = "Scale it: every check passes."
    else:
        lead = "Stabilize before scaling" if recommendation == "stabilize" else "Pivot"
        what = f"{lead}: {'; '.join(blocking) or 'see the reasons below'}."
    tail = " The effect has weakened recently (drift alert)." if drift and drift.alert else ""
    return f"{effect}, {money}. {what}{tail}"


def _value(v: Any, text: str) -> dict[str, Any]:
    return v.to_dict() | {"label": text}


__all__ = [
    "blockers",
    "change_text",
    "decision_table",
    "effects_plot",
    "effects_table",
    "name_of",
    "payback_summary",
    "plain_reasons",
    "quality_table",
    "value_summary",
]
