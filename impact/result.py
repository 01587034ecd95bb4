"""The one result type: :class:`Effect`, with its :class:`Diagnostic` checks.

Every estimator returns an `Effect`; every report consumes one. Richer designs (event studies,
group-time ATTs, balance tables) hang extra tables off ``Effect.tables``.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from types import MappingProxyType
from typing import TYPE_CHECKING, Literal

import pandas as pd

if TYPE_CHECKING:
    from matplotlib.axes import Axes

Alternative = Literal["two-sided", "greater", "less"]


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One check on an assumption behind an estimate.

    Example:
        >>> Diagnostic("sample_ratio_p", 0.41, passed=True, detail="arms match the design")
        Diagnostic(name='sample_ratio_p', value=0.41, passed=True, detail='arms match the design')
    """

    name: str
    value: float
    passed: bool
    detail: str = ""


def _frozen_tables(tables: Mapping[str, pd.DataFrame]) -> Mapping[str, pd.DataFrame]:
    return MappingProxyType({name: frame.copy() for name, frame in tables.items()})


@dataclass(frozen=True, slots=True, eq=False)
class Effect:
    """Estimated causal effect of one treatment on one outcome.

    `estimate` is in outcome units (treated minus counterfactual); `baseline` is the
    counterfactual mean of the treated, so ``lift = estimate / baseline``. The lift interval
    accounts for the baseline being estimated too (delta method), so it is not
    ``(ci_low / baseline, ci_high / baseline)``.

    Example:
        >>> e = Effect(outcome="handle_time_minutes", method="ab.welch", estimand="ATE",
        ...            estimate=-2.0, std_error=0.5, ci_low=-3.0, ci_high=-1.0, p_value=0.001,
        ...            baseline=10.0, lift=-0.2, lift_ci=(-0.29, -0.11),
        ...            n_treated=40, n_control=160)
        >>> e.significant
        True
        >>> print(e.headline())
        handle_time_minutes: -2 (-20.0%, 95% CI -29.0% to -11.0%), p = 0.001
    """

    outcome: str
    method: str
    estimand: str
    estimate: float
    std_error: float
    ci_low: float
    ci_high: float
    p_value: float
    baseline: float
    lift: float
    lift_ci: tuple[float, float]
    n_treated: int
    n_control: int
    confidence: float = 0.95
    alternative: Alternative = "two-sided"
    unit: str = ""
    diagnostics: tuple[Diagnostic, ...] = ()
    notes: tuple[str, ...] = ()
    tables: Mapping[str, pd.DataFrame] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Plain Python numbers, whatever numpy scalar an estimator computed them as: results
        # compare, print and serialize the same way everywhere.
        for name in _FLOAT_FIELDS:
            object.__setattr__(self, name, float(getattr(self, name)))
        for name in ("n_treated", "n_control"):
            count = getattr(self, name)
            if int(count) != count:
                raise ValueError(f"{name} must be a whole number of units, got {count!r}")
            object.__setattr__(self, name, int(count))
        object.__setattr__(self, "tables", _frozen_tables(self.tables))
        object.__setattr__(self, "lift_ci", tuple(float(x) for x in self.lift_ci))
        object.__setattr__(self, "diagnostics", tuple(self.diagnostics))
        object.__setattr__(self, "notes", tuple(self.notes))

    # -- derived ---------------------------------------------------------------------------
    @property
    def significant(self) -> bool:
        """True when the p-value is below ``1 - confidence``."""
        return bool(self.p_value < 1 - self.confidence)

    @property
    def passed(self) -> bool:
        """True when every diagnostic passed."""
        return all(d.passed for d in self.diagnostics)

    def diagnostic(self, name: str) -> Diagnostic:
        """The diagnostic called `name`; KeyError names the ones that exist."""
        for d in self.diagnostics:
            if d.name == name:
                return d
        raise KeyError(f"no diagnostic {name!r}; have {[d.name for d in self.diagnostics]}")

    def with_(self, **changes: object) -> Effect:
        """A copy with some fields changed (the result itself never changes)."""
        return replace(self, **changes)  # type: ignore[arg-type]

    # -- rendering -------------------------------------------------------------------------
    def headline(self) -> str:
        """One line in plain words: the change, the relative change with its interval, p."""
        level = f"{self.confidence:.0%}"
        lift = (
            f" ({self.lift:+.1%}, {level} CI {self.lift_ci[0]:+.1%} to {self.lift_ci[1]:+.1%})"
            if math.isfinite(self.lift)
            else f" ({level} CI {_num(self.ci_low)} to {_num(self.ci_high)})"
        )
        return f"{self.outcome}: {_num(self.estimate, signed=True)}{lift}, p {_p(self.p_value)}"

    def to_frame(self) -> pd.DataFrame:
        """One row: every scalar field, then one column per diagnostic value."""
        skip = {"diagnostics", "notes", "tables", "lift_ci"}
        row: dict[str, object] = {f.name: getattr(self, f.name) for f in fields(self)}
        row = {k: v for k, v in row.items() if k not in skip}
        row["lift_ci_low"], row["lift_ci_high"] = self.lift_ci
        row |= {d.name: d.value for d in self.diagnostics}
        return pd.DataFrame([row])

    def to_dict(self) -> dict[str, object]:
        """JSON-ready headline numbers and diagnostics (aggregates only, no tables)."""
        out = self.to_frame().drop(columns=[d.name for d in self.diagnostics]).iloc[0].to_dict()
        out = {k: (v.item() if hasattr(v, "item") else v) for k, v in out.items()}
        out["diagnostics"] = [
            {"name": d.name, "value": d.value, "passed": d.passed, "detail": d.detail}
            for d in self.diagnostics
        ]
        out["notes"] = list(self.notes)
        return out

    def _repr_html_(self) -> str:
        level = f"{self.confidence:.0%}"
        rows = [
            (
                "estimate",
                f"{_num(self.estimate, signed=True)} ({level} CI {_num(self.ci_low)} "
                f"to {_num(self.ci_high)})",
            ),
            (
                "relative lift",
                f"{self.lift:+.1%} ({level} CI {self.lift_ci[0]:+.1%} to {self.lift_ci[1]:+.1%})",
            ),
            ("p-value", f"p {_p(self.p_value)} ({self.alternative})"),
            ("baseline", _num(self.baseline)),
            (
                "units",
                f"{self.n_treated:,} treated, {self.n_control:,} control"
                + (f" ({self.unit})" if self.unit else ""),
            ),
            ("method", f"{self.method}, estimand {self.estimand}"),
        ]
        body = "".join(
            f"<tr><th style='text-align:left'>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>"
            for k, v in rows
        )
        checks = "".join(
            f"<tr><td class='{'impact-ok' if d.passed else 'impact-warn'}'>"
            f"{'pass' if d.passed else 'WARN'}</td><td>{html.escape(d.name)}</td>"
            f"<td>{_num(d.value)}</td><td>{html.escape(d.detail)}</td></tr>"
            for d in self.diagnostics
        )
        notes = "".join(f"<li>{html.escape(n)}</li>" for n in self.notes)
        return (
            f"<div class='impact-effect'><strong>{html.escape(self.headline())}</strong>"
            f"<table>{body}</table>"
            + (
                f"<table><tr><th></th><th>check</th><th>value</th><th></th></tr>{checks}</table>"
                if checks
                else ""
            )
            + (f"<ul>{notes}</ul>" if notes else "")
            + "</div>"
        )

    def __repr__(self) -> str:
        return f"<Effect {self.method} {self.headline()}>"

    def plot(self, ax: Axes | None = None, *, relative: bool = True) -> Axes:
        """Point estimate with its interval: relative lift by default, else absolute."""
        from impact.forest import forest

        return forest([self], ax=ax, relative=relative)


_FLOAT_FIELDS = (
    "estimate",
    "std_error",
    "ci_low",
    "ci_high",
    "p_value",
    "baseline",
    "lift",
    "confidence",
)


def _num(x: float, *, signed: bool = False) -> str:
    if not math.isfinite(x):
        return str(x)
    text = f"{x:+.4g}" if signed else f"{x:.4g}"
    return text


def _p(p: float) -> str:
    return "< 0.001" if p < 0.001 else f"= {p:.3g}"
