"""The decision rule: one north-star metric, guardrails, and the odds of paying back.

Thresholds live in config (the ``decision:`` block of the assumptions register), not in code.
The result is a recommendation, scale / stabilize / pivot, with its reasons in plain words:

* **scale**: the north star improved by at least its minimum (the whole interval on the good
  side), every guardrail holds (the interval rules out a worsening beyond its margin) and
  P(payback <= N months) reaches `scale_probability`.
* **pivot**: the north star got worse (the interval on the bad side), or the improvement is
  too small to matter, or P(payback <= N months) is below `pivot_probability`.
* **stabilize**: anything in between: a guardrail breached or not yet ruled out, the north star
  not yet clear, or payback too uncertain. Fix or measure, then decide again.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from impact.errors import ParameterError
from impact.result import Effect
from impact.value.montecarlo import Payback
from impact.value.register import Register

Better = Literal["lower", "higher"]
Recommendation = Literal["scale", "stabilize", "pivot"]


@dataclass(frozen=True, slots=True)
class NorthStar:
    """The one metric the rollout is for; `min_lift` is the smallest relative gain worth it."""

    outcome: str
    better: Better = "lower"
    min_lift: float = 0.0

    def __post_init__(self) -> None:
        _check_better(self.better, self.outcome)
        if not 0 <= self.min_lift < 1:
            raise ParameterError(f"north_star.min_lift must be in [0, 1), got {self.min_lift}")


@dataclass(frozen=True, slots=True)
class Guardrail:
    """A metric that must not get worse by more than `margin` (in the metric's own units)."""

    outcome: str
    better: Better = "lower"
    margin: float = 0.0

    def __post_init__(self) -> None:
        _check_better(self.better, self.outcome)
        if not (math.isfinite(self.margin) and self.margin >= 0):
            raise ParameterError(
                f"guardrail {self.outcome}: margin must be >= 0, got {self.margin}"
            )


@dataclass(frozen=True, slots=True)
class DecisionRule:
    """Thresholds for scale / stabilize / pivot (see the module docstring)."""

    north_star: NorthStar
    guardrails: tuple[Guardrail, ...] = ()
    payback_months: int = 12
    scale_probability: float = 0.8
    pivot_probability: float = 0.2

    def __post_init__(self) -> None:
        if not 0 <= self.pivot_probability < self.scale_probability <= 1:
            raise ParameterError(
                "need 0 <= pivot_probability < scale_probability <= 1, got "
                f"{self.pivot_probability} and {self.scale_probability}"
            )
        if not (isinstance(self.payback_months, int) and self.payback_months >= 1):
            raise ParameterError(
                f"payback_months must be a whole number >= 1, got {self.payback_months!r}"
            )

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> DecisionRule:
        """From the ``decision:`` block of a register (keys as in assumptions/ai_assist.yaml)."""
        if "north_star" not in raw:
            raise ParameterError("the decision config needs a north_star (outcome, better)")
        known = {
            "north_star",
            "guardrails",
            "payback_months",
            "scale_probability",
            "pivot_probability",
        }
        if unknown := sorted(set(raw) - known):
            raise ParameterError(f"unknown decision setting(s) {unknown}; use {sorted(known)}")
        try:
            return cls(
                north_star=NorthStar(**raw["north_star"]),
                guardrails=tuple(Guardrail(**g) for g in raw.get("guardrails") or ()),
                **{k: raw[k] for k in known - {"north_star", "guardrails"} if k in raw},
            )
        except TypeError as exc:
            raise ParameterError(f"decision config: {exc}") from None

    @classmethod
    def from_register(cls, register: Register) -> DecisionRule:
        """The rule in the register's ``decision:`` block."""
        if not register.decision:
            raise ParameterError(f"{register.path or 'the register'} has no decision: block")
        return cls.from_mapping(register.decision)

    @classmethod
    def from_yaml(cls, path: str | Path) -> DecisionRule:
        """The rule in a register file's ``decision:`` block."""
        return cls.from_register(Register.from_yaml(path))


@dataclass(frozen=True, eq=False)
class Decision:
    """A recommendation with the evidence behind it; `checks` has one row per check."""

    recommendation: Recommendation
    headline: str
    reasons: tuple[str, ...]
    checks: pd.DataFrame = field(repr=False)

    def _repr_html_(self) -> str:
        reasons = "".join(f"<li>{html.escape(r)}</li>" for r in self.reasons)
        return (
            f"<div class='impact-decision'><h3>{html.escape(self.headline)}</h3>"
            f"<ul>{reasons}</ul>{self.checks.to_html(index=False)}</div>"
        )

    def __str__(self) -> str:
        return self.headline


def decide(
    north_star: Effect,
    *,
    rule: DecisionRule,
    guardrails: Sequence[Effect] = (),
    value: Payback | None = None,
) -> Decision:
    """Recommend scale, stabilize or pivot from the evidence, with reasons in plain words.

    Example:
        >>> from impact.result import Effect
        >>> ht = Effect(outcome="handle_time_minutes", method="ab.welch", estimand="ATE",
        ...             estimate=-2.2, std_error=0.4, ci_low=-3.0, ci_high=-1.4, p_value=1e-6,
        ...             baseline=12.0, lift=-0.18, lift_ci=(-0.24, -0.12), n_treated=40,
        ...             n_control=160)
        >>> rule = DecisionRule(NorthStar("handle_time_minutes", "lower", min_lift=0.05))
        >>> decide(ht, rule=rule).recommendation
        'stabilize'
    """
    if not isinstance(rule, DecisionRule):
        raise TypeError(f"rule must be a DecisionRule, got {type(rule).__name__}")
    for what, item in [("north_star", north_star), *(("guardrails", g) for g in guardrails)]:
        if not isinstance(item, Effect):
            raise TypeError(f"{what} must hold impact.Effect objects, got {type(item).__name__}")
    if value is not None and not isinstance(value, Payback):
        raise TypeError(f"value must be a Payback (value.payback(...)), got {type(value).__name__}")
    star = rule.north_star
    if north_star.outcome != star.outcome:
        raise ParameterError(
            f"the rule's north star is {star.outcome!r}, but the effect passed "
            f"is on {north_star.outcome!r}"
        )
    checks, reasons = [], []
    star_status, star_text = _north_star(north_star, star)
    checks.append(
        {"check": f"north star: {star.outcome}", "status": star_status, "detail": star_text}
    )
    reasons.append(star_text)

    by_outcome = {e.outcome: e for e in guardrails}
    if extra := sorted(set(by_outcome) - {g.outcome for g in rule.guardrails}):
        raise ParameterError(
            f"effects on {extra} are not guardrails in the rule; "
            f"guardrails: {[g.outcome for g in rule.guardrails]}"
        )
    guard_status = []
    for g in rule.guardrails:
        status, text = _guardrail(by_outcome.get(g.outcome), g)
        guard_status.append(status)
        checks.append({"check": f"guardrail: {g.outcome}", "status": status, "detail": text})
        if status != "holds":
            reasons.append(text)

    months = rule.payback_months
    if value is None:
        p = math.nan
        pay_status, pay_text = "not assessed", "no business case given: payback not assessed"
    else:
        p = value.probability(months)
        pay_status = (
            "likely"
            if p >= rule.scale_probability
            else "unlikely"
            if p < rule.pivot_probability
            else "uncertain"
        )
        pay_text = (
            f"P(payback <= {months} months) = {p:.2f} ({pay_status}; scale needs "
            f">= {rule.scale_probability:.2f}); NPV {value.npv}"
        )
    checks.append(
        {"check": f"payback within {months} months", "status": pay_status, "detail": pay_text}
    )
    reasons.append(pay_text)

    if star_status in ("worse", "too small") or pay_status == "unlikely":
        recommendation: Recommendation = "pivot"
    elif (
        star_status == "improved"
        and all(s == "holds" for s in guard_status)
        and pay_status == "likely"
    ):
        recommendation = "scale"
    else:
        recommendation = "stabilize"

    guard_phrase = (
        "no guardrails set"
        if not rule.guardrails
        else "guardrails hold"
        if all(s == "holds" for s in guard_status)
        else "guardrail breached: "
        + ", ".join(
            g.outcome for g, s in zip(rule.guardrails, guard_status, strict=True) if s == "breached"
        )
        if "breached" in guard_status
        else "guardrails not yet ruled out: "
        + ", ".join(
            g.outcome for g, s in zip(rule.guardrails, guard_status, strict=True) if s != "holds"
        )
    )
    pay_phrase = (
        f"P(payback <= {months} months) = {p:.2f}" if value is not None else "payback not assessed"
    )
    headline = f"{recommendation}: {_short(north_star)}, {guard_phrase}, {pay_phrase}"
    return Decision(recommendation, headline, tuple(reasons), pd.DataFrame(checks))


def _check_better(better: str, outcome: str) -> None:
    if better not in ("lower", "higher"):
        raise ParameterError(f"{outcome}: better must be 'lower' or 'higher', got {better!r}")


def _name(outcome: str) -> str:
    return outcome.removesuffix("_minutes").removesuffix("_usd").replace("_", " ")


def _short(e: Effect) -> str:
    if math.isfinite(e.lift) and all(math.isfinite(x) for x in e.lift_ci):
        return f"{_name(e.outcome)} {e.lift:+.0%} (CI {e.lift_ci[0]:+.0%} to {e.lift_ci[1]:+.0%})"
    return f"{_name(e.outcome)} {e.estimate:+.3g} (CI {e.ci_low:+.3g} to {e.ci_high:+.3g})"


def _north_star(e: Effect, star: NorthStar) -> tuple[str, str]:
    sign = -1.0 if star.better == "lower" else 1.0  # sign * change > 0 means better
    good_end = min(sign * e.ci_low, sign * e.ci_high)  # the least favourable end
    bad_end = max(sign * e.ci_low, sign * e.ci_high)
    gain = sign * e.lift if math.isfinite(e.lift) else math.nan
    if bad_end < 0:
        return "worse", f"{_short(e)}: the {star.outcome} got worse, the interval rules out a gain"
    if good_end <= 0:
        return "inconclusive", (
            f"{_short(e)}: the interval includes no change, so the gain on "
            f"{star.outcome} is not yet established"
        )
    if math.isfinite(gain) and gain < star.min_lift:
        return "too small", (
            f"{_short(e)}: a real but small gain, below the "
            f"{star.min_lift:.0%} minimum that makes the rollout worth it"
        )
    return "improved", f"{_short(e)}: a clear gain on the north star"


def _guardrail(e: Effect | None, g: Guardrail) -> tuple[str, str]:
    if e is None:
        return "not measured", f"guardrail {g.outcome} was not measured; measure it before scaling"
    worse = 1.0 if g.better == "lower" else -1.0  # worse * change > 0 means worse
    worst = max(worse * e.ci_low, worse * e.ci_high)
    best = min(worse * e.ci_low, worse * e.ci_high)
    span = f"{e.estimate:+.3g} (CI {e.ci_low:+.3g} to {e.ci_high:+.3g}, margin {g.margin:g})"
    if worst <= g.margin:
        return "holds", f"guardrail {g.outcome} holds: {span}"
    if best > 0 and worse * e.estimate > g.margin:
        return "breached", (
            f"guardrail {g.outcome} breached: {span}; it got worse by more than the margin"
        )
    return "inconclusive", (
        f"guardrail {g.outcome} not yet ruled out: {span}; the interval "
        "allows a worsening beyond the margin"
    )
