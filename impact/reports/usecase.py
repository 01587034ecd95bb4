"""One use case of the portfolio: where its data and register are, and how it is scored.

:func:`assess` scores a use case exactly as the owner's report scores its north star: the
randomized pilot with CUPED, the guardrails, payback by Monte Carlo and the register's decision
rule. :func:`evidence_strength` grades how firmly the north-star effect is established:

* **strong**: the interval excludes zero, it is precise (half its width is at most half the
  estimate's size) and every design check passes (sample ratio, balance, ...);
* **moderate**: the interval excludes zero, but it is imprecise or a check fails;
* **weak**: the interval includes zero.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from impact.contracts import Validation, validate
from impact.data import between, with_assignments
from impact.errors import ParameterError
from impact.estimators.ab import ab_test
from impact.result import Effect
from impact.value import Decision, DecisionRule, Payback, Register, decide, payback

Strength = Literal["strong", "moderate", "weak"]
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_KEYS = {"title", "register", "events", "assignments", "experiment", "simulate"}


@dataclass(frozen=True, slots=True)
class UseCase:
    """One use case: its register and where its pilot data come from.

    `events` and `assignments` are sources :func:`impact.as_table` reads (paths, or
    ``"sample:events"``); `simulate` instead holds :func:`impact.datasets.simulate` arguments
    (seed, effect, ...) for a simulated use case with a known true effect.
    """

    name: str
    register: Path
    title: str = ""
    events: str | None = None
    assignments: str | None = None
    experiment: str | None = None
    simulate: Mapping[str, Any] = field(default_factory=dict)

    def sources(self) -> tuple[Any, Any]:
        """The events and assignments (frames for a simulated use case)."""
        if self.simulate:
            from impact.datasets import simulate

            data = simulate(**dict(self.simulate))
            return data.events, data.assignments
        return self.events, self.assignments


def load_portfolio(path: str | Path) -> tuple[dict[str, Any], tuple[UseCase, ...]]:
    """The portfolio file's header (title, version) and its use cases, checked.

    Relative paths in the file are read from the current directory (the project root when the
    runner executes a report), as is `path` itself (else from the project holding impact).
    """
    path = Path(path)
    root = Path(__file__).resolve().parents[2]
    if not path.exists() and not path.is_absolute() and (root / path).exists():
        path = root / path  # a notebook run from notebooks/ reads the project's file
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ParameterError(f"cannot read the portfolio {path}: {exc}") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("use_cases"), dict):
        raise ParameterError(f"{path}: expected a mapping with a 'use_cases' section")
    if raw.get("format") != 1:
        raise ParameterError(f"{path}: portfolio format {raw.get('format')!r} is unknown; use 1")
    if not str(raw.get("version") or "").strip():
        raise ParameterError(f"{path}: the portfolio has no version; add `version: ...`")
    cases = []
    for name, entry in raw["use_cases"].items():
        where = f"{path.name}: use case {name!r}"
        if not _NAME.match(str(name)):
            raise ParameterError(f"{where}: names are lower-case letters, digits and _")
        if not isinstance(entry, dict) or "register" not in entry:
            raise ParameterError(f"{where} needs a 'register'")
        if unknown := sorted(set(entry) - _KEYS):
            raise ParameterError(f"{where}: unknown key(s) {unknown}; known: {sorted(_KEYS)}")
        simulated = entry.get("simulate") or {}
        if not isinstance(simulated, dict):
            raise ParameterError(f"{where}: 'simulate' must be a mapping of simulate() arguments")
        if bool(simulated) == bool(entry.get("events")):
            raise ParameterError(f"{where}: give either 'events' (and 'assignments') or 'simulate'")
        if entry.get("events") and not entry.get("assignments"):
            raise ParameterError(f"{where}: 'events' need 'assignments' (the pilot's arms)")
        cases.append(
            UseCase(
                name=str(name),
                register=Path(str(entry["register"])),
                title=str(entry.get("title") or ""),
                events=entry.get("events"),
                assignments=entry.get("assignments"),
                experiment=entry.get("experiment"),
                simulate=dict(simulated),
            )
        )
    if not cases:
        raise ParameterError(f"{path}: the portfolio lists no use cases")
    header = {"title": str(raw.get("title") or "AI portfolio"), "version": str(raw["version"])}
    return header, tuple(cases)


def evidence_strength(effect: Effect) -> tuple[Strength, str]:
    """How firmly the north-star effect is established (see the module docstring)."""
    clear = effect.ci_low > 0 or effect.ci_high < 0
    half = (effect.ci_high - effect.ci_low) / 2
    precise = math.isfinite(half) and half <= 0.5 * abs(effect.estimate)
    failed = [d.name for d in effect.diagnostics if not d.passed]
    if not clear:
        return "weak", "the interval includes no change"
    if precise and not failed:
        return "strong", "a clear, precise effect from a randomized pilot; every check passes"
    why = []
    if not precise:
        why.append("the interval is wide (more than half the effect on either side)")
    if failed:
        why.append(f"check(s) failed: {', '.join(failed)}")
    return "moderate", "a clear effect, but " + " and ".join(why)


@dataclass(frozen=True, eq=False)
class Assessment:
    """One use case scored: effects, payback, decision, evidence strength."""

    use_case: UseCase
    register: Register
    data_quality: Validation
    north_star: Effect
    guardrails: tuple[Effect, ...]
    value: Payback
    decision: Decision
    rule: DecisionRule
    evidence: Strength
    evidence_reason: str

    @property
    def title(self) -> str:
        return self.use_case.title or self.register.title or self.use_case.name


def assess(
    use_case: UseCase,
    *,
    period_end: str = "",
    draws: int = 10_000,
    seed: int = 0,
    confidence: float = 0.95,
) -> Assessment:
    """Score `use_case` from its randomized pilot and register (as the owner's report does)."""
    register = Register.from_yaml(use_case.register)
    rule = DecisionRule.from_register(register)
    events, assignments = use_case.sources()
    check = validate(events, "workflow_events")
    valid = between(check.valid, "started_at", end=period_end)
    full = with_assignments(
        valid, assignments, experiment=use_case.experiment, since_assignment=False
    )
    options = {"pre_period": "assignment", "confidence": confidence}
    north_star = ab_test(full, rule.north_star.outcome, **options)
    guardrails = tuple(ab_test(full, g.outcome, **options) for g in rule.guardrails)
    value = payback(north_star, costs=register, draws=draws, seed=seed)
    decision = decide(north_star, rule=rule, guardrails=guardrails, value=value)
    strength, reason = evidence_strength(north_star)
    return Assessment(
        use_case=use_case,
        register=register,
        data_quality=check,
        north_star=north_star,
        guardrails=guardrails,
        value=value,
        decision=decision,
        rule=rule,
        evidence=strength,
        evidence_reason=reason,
    )


__all__ = ["Assessment", "Strength", "UseCase", "assess", "evidence_strength", "load_portfolio"]
