"""The AI portfolio: every use case scored the same way, then ranked.

A portfolio file (``assumptions/portfolio.yaml``) lists the use cases; each has its own
assumptions register (costs, volume, decision rule) and its own pilot data, or for the demo a
simulated sample. Each is scored by :func:`impact.reports.usecase.assess`; :func:`rank_portfolio`
ranks them:

1. by recommendation: scale, then stabilize, then pivot (the recommendation already folds in
   the evidence and the odds of paying back);
2. within a recommendation, by evidence strength: strong, moderate, weak
   (:func:`impact.reports.usecase.evidence_strength`);
3. then by NPV (point value), largest first.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from impact.errors import ParameterError
from impact.reports.changes import format_number
from impact.reports.summary import ReportSummary, effect_number, register_entry, summarize
from impact.reports.table import ReaderTable
from impact.reports.usecase import (
    Assessment,
    UseCase,
    assess,
    evidence_strength,
    load_portfolio,
)
from impact.reports.wording import blockers, change_text, name_of
from impact.value import Payback

if TYPE_CHECKING:
    from matplotlib.figure import Figure

ORDER = {"scale": 0, "stabilize": 1, "pivot": 2}
STRENGTH_ORDER = {"strong": 0, "moderate": 1, "weak": 2}


@dataclass(frozen=True, eq=False)
class Portfolio:
    """Use cases ranked (see the module docstring), with a table and plots for the reader."""

    title: str
    version: str
    assessments: tuple[Assessment, ...]
    total_npv: Any  # a Value: the sum of every use case's NPV, with its interval

    def table(self) -> ReaderTable:
        """One row per use case, best first; every money figure with its interval."""
        rows = []
        for rank, a in enumerate(self.assessments, start=1):
            months = a.rule.payback_months
            rows.append(
                {
                    "rank": rank,
                    "use case": a.title,
                    "recommendation": a.decision.recommendation,
                    f"change in {name_of(a.north_star.outcome)} (95% CI)": change_text(
                        a.north_star
                    ),
                    "evidence": a.evidence,
                    "NPV, USD (95% interval)": str(a.value.npv),
                    f"chance of payback within {months} months": _percent(
                        a.value.probability(months)
                    ),
                    "months to pay back (95% interval)": _months(a.value),
                    "register": a.register.label,
                }
            )
        return ReaderTable(pd.DataFrame(rows))

    def headline(self) -> str:
        """The ranking in one or two sentences."""
        counts = pd.Series([a.decision.recommendation for a in self.assessments]).value_counts()
        parts = [f"{counts[r]} should {r}" for r in ("scale", "stabilize", "pivot") if r in counts]
        top = self.assessments[0]
        return (
            f"Of {len(self.assessments)} AI use cases, {', '.join(parts)}. First: "
            f"{top.title} ({top.decision.recommendation}; NPV {top.value.npv}, "
            f"{top.evidence} evidence). All use cases together: NPV {self.total_npv}."
        )

    def reasons(self) -> list[str]:
        """One line per use case, in rank order."""
        out = []
        for a in self.assessments:
            why = blockers(
                a.decision,
                rule=a.rule,
                north_star=a.north_star,
                guardrails=a.guardrails,
                value=a.value,
            )
            tail = f": {'; '.join(why)}" if why and a.decision.recommendation != "scale" else ""
            out.append(
                f"{a.title}: {a.decision.recommendation}, {a.evidence} evidence, "
                f"{name_of(a.north_star.outcome)} {change_text(a.north_star)}, "
                f"P(payback <= {a.rule.payback_months} months) = "
                f"{a.value.probability(a.rule.payback_months):.0%}{tail}."
            )
        return out

    def summary(self, *, previous: Any = None, period_end: str | None = None) -> ReportSummary:
        """The report summary: headline, one reason per use case, headline numbers per case."""
        numbers: dict[str, Mapping[str, Any]] = {
            "total_npv": self.total_npv.to_dict() | {"label": "NPV of all use cases together"}
        }
        signals: dict[str, str] = {}
        for a in self.assessments:
            key = a.use_case.name
            months = a.rule.payback_months
            numbers[f"{key}.npv"] = a.value.npv.to_dict() | {"label": f"{a.title}: NPV"}
            numbers[f"{key}.p_payback"] = {
                "label": f"{a.title}: chance of paying back within {months} months",
                "point": a.value.probability(months),
                "unit": "probability",
            }
            numbers[f"{key}.north_star"] = effect_number(
                a.north_star, label_text=f"{a.title}: change in {name_of(a.north_star.outcome)}"
            )
            signals[f"{a.title}: recommendation"] = a.decision.recommendation
            signals[f"{a.title}: evidence"] = a.evidence
        signals["ranking"] = " > ".join(a.use_case.name for a in self.assessments)
        quarantined = sum(a.data_quality.rows_quarantined for a in self.assessments)
        return summarize(
            f"{self.title}: portfolio report",
            [a.north_star.with_(outcome=f"{a.north_star.outcome}") for a in self.assessments],
            headline=self.headline(),
            reasons=self.reasons(),
            numbers=numbers,
            signals=signals,
            facts={
                "portfolio_version": self.version,
                "use_cases": [a.use_case.name for a in self.assessments],
                "rows_quarantined": quarantined,
                "ranking_rule": "recommendation, then evidence strength, then NPV",
            },
            assumptions=[register_entry(a.register) for a in self.assessments],
            previous=previous,
            period_end=period_end,
        )

    def evidence(self) -> ReaderTable:
        """Per use case: evidence strength and why, the pilot size, the design checks."""
        rows = []
        for a in self.assessments:
            e = a.north_star
            failed = [d.name for d in e.diagnostics if not d.passed]
            rows.append(
                {
                    "use case": a.title,
                    "evidence": a.evidence,
                    "why": a.evidence_reason,
                    "design": "randomized pilot (A/B, CUPED)",
                    "agents with / without AI": f"{e.n_treated} / {e.n_control}",
                    "design checks": "all pass" if not failed else "failed: " + ", ".join(failed),
                    "guardrails": "; ".join(
                        f"{name_of(g.outcome)} {change_text(g)}" for g in a.guardrails
                    ),
                }
            )
        return ReaderTable(pd.DataFrame(rows))

    def assumptions(self) -> ReaderTable:
        """Per use case: the register (version and hash), go-live, horizon and decision rule."""
        rows = []
        for a in self.assessments:
            r, rule = a.register, a.rule
            rows.append(
                {
                    "use case": a.title,
                    "register": f"{Path(r.path).name if r.path else ''} {r.label}".strip(),
                    "go-live": str(r.start_date or ""),
                    "horizon (months)": a.value.horizon,
                    "north star": f"{name_of(rule.north_star.outcome)}, at least "
                    f"{rule.north_star.min_lift:.0%} better",
                    "scale when P(payback within "
                    "N months) is at least": f"{rule.scale_probability:.0%} "
                    f"(N = {rule.payback_months})",
                }
            )
        return ReaderTable(pd.DataFrame(rows))

    def data_quality(self) -> ReaderTable:
        """Rows checked and quarantined per use case and rule (counts only, no row ids)."""
        rows = []
        for a in self.assessments:
            failed = a.data_quality.summary.loc[lambda f: f["n_failed"] > 0]
            rules = "; ".join(f"{r.rule}: {r.n_failed:,}" for r in failed.itertuples()) or "none"
            rows.append(
                {
                    "use case": a.title,
                    "rows checked": a.data_quality.rows_checked,
                    "rows quarantined": a.data_quality.rows_quarantined,
                    "rules broken (rows)": rules,
                }
            )
        return ReaderTable(pd.DataFrame(rows), caption="Counts only; no row or id is shown.")

    def plot(self) -> Figure:
        """NPV with its interval per use case, and the chance of paying back in time."""
        import matplotlib.pyplot as plt

        n = len(self.assessments)
        fig, (left, right) = plt.subplots(
            1, 2, figsize=(10, 0.7 * n + 2.2), sharey=True, gridspec_kw={"width_ratios": [3, 2]}
        )
        colours = {"scale": "tab:green", "stabilize": "tab:orange", "pivot": "tab:red"}
        y = np.arange(n)[::-1]
        for yi, a in zip(y, self.assessments, strict=True):
            npv = a.value.npv
            colour = colours[a.decision.recommendation]
            left.errorbar(
                npv.point / 1e3,
                yi,
                xerr=[[(npv.point - npv.low) / 1e3], [(npv.high - npv.point) / 1e3]],
                fmt="o",
                color=colour,
                capsize=4,
            )
            p = a.value.probability(a.rule.payback_months) * 100
            right.barh(yi, p, color=colour, alpha=0.8)
            right.text(p + 2, yi, f"{p:.0f}%", va="center", fontsize="small")
        left.axvline(0, color="black", linewidth=0.8, linestyle="--")
        left.set_yticks(y, [f"{a.title}\n({a.decision.recommendation})" for a in self.assessments])
        left.set_xlabel("NPV (thousand USD), 95% interval")
        months = {a.rule.payback_months for a in self.assessments}
        within = f"{months.pop()} months" if len(months) == 1 else "each rule's months"
        right.set_xlabel(f"chance of paying back within {within} (%)")
        right.set_xlim(0, 115)
        right.set_xticks([0, 20, 40, 60, 80, 100])
        fig.suptitle("The portfolio: value and payback, coloured by recommendation")
        fig.tight_layout()
        return fig

    def _repr_html_(self) -> str:
        return (
            f"<div class='impact-portfolio'><p>{html.escape(self.headline())}</p>"
            f"{self.table()._repr_html_()}</div>"
        )


def rank_portfolio(
    assessments: Sequence[Assessment], *, title: str = "AI portfolio", version: str = ""
) -> Portfolio:
    """Rank assessed use cases (recommendation, evidence, NPV) and add up their NPV."""
    if not assessments:
        raise ParameterError("a portfolio needs at least one assessed use case")
    ranked = sorted(
        assessments,
        key=lambda a: (
            ORDER[a.decision.recommendation],
            STRENGTH_ORDER[a.evidence],
            -a.value.npv.point,
        ),
    )
    return Portfolio(
        title=title, version=version, assessments=tuple(ranked), total_npv=_total(ranked)
    )


def portfolio(
    path: str | Path,
    *,
    period_end: str = "",
    draws: int = 10_000,
    seed: int = 0,
    confidence: float = 0.95,
) -> Portfolio:
    """Load the portfolio file, assess every use case and rank them.

    Each use case's Monte Carlo gets its own seed (``seed + position``), so the use cases'
    simulated futures are independent and their NPVs add up draw by draw.
    """
    header, cases = load_portfolio(path)
    assessed = [
        assess(case, period_end=period_end, draws=draws, seed=seed + i, confidence=confidence)
        for i, case in enumerate(cases)
    ]
    return rank_portfolio(assessed, title=header["title"], version=header["version"])


def _total(assessments: Sequence[Assessment]) -> Any:
    from impact.value.money import Value

    sizes = {len(a.value.draws) for a in assessments}
    confidence = assessments[0].value.npv.confidence
    point = float(sum(a.value.npv.point for a in assessments))
    if len(sizes) != 1:  # cannot add draw by draw: sum the ends (a conservative box)
        low = float(sum(a.value.npv.low for a in assessments))
        high = float(sum(a.value.npv.high for a in assessments))
    else:
        total = np.sum([a.value.draws["npv_usd"].to_numpy() for a in assessments], axis=0)
        alpha = (1 - confidence) / 2
        low, high = (float(q) for q in np.quantile(total, [alpha, 1 - alpha]))
    return Value(
        point,
        min(low, point),
        max(high, point),
        unit="usd",
        confidence=confidence,
        label="total NPV",
    )


def _percent(p: float) -> str:
    return f"{p:.0%}"


def _months(value: Payback) -> str:
    v = value.payback_months
    return (
        f"{format_number(v.point if math.isfinite(v.point) else None, 'months')} "
        f"({format_number(v.low if math.isfinite(v.low) else None, 'months')} to "
        f"{format_number(v.high if math.isfinite(v.high) else None, 'months')})"
    )


__all__ = [
    "Assessment",
    "Portfolio",
    "UseCase",
    "assess",
    "evidence_strength",
    "load_portfolio",
    "portfolio",
    "rank_portfolio",
]
