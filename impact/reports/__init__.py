"""Turn results into what people read: summaries, plots, HTML pages and the index.

The owner's report is built from :func:`value_summary` (recommendation, reasons, headline
figures), :func:`rollout_designs` / :func:`triangulate` (do the designs agree?) and
:func:`what_changed` (since the previous run); the portfolio report from :func:`portfolio`.
"""

from impact.reports.business import value_summary
from impact.reports.changes import Changes, load_result, what_changed
from impact.reports.plots import counterfactual, forest, payback_distribution
from impact.reports.portfolio import Portfolio, evidence_strength, portfolio
from impact.reports.schema import validate_result
from impact.reports.summary import ReportSummary, describe, label, summarize
from impact.reports.triangulation import Triangulation, rollout_designs, triangulate

__all__ = [
    "Changes",
    "Portfolio",
    "ReportSummary",
    "Triangulation",
    "counterfactual",
    "describe",
    "evidence_strength",
    "forest",
    "label",
    "load_result",
    "payback_distribution",
    "portfolio",
    "rollout_designs",
    "summarize",
    "triangulate",
    "validate_result",
    "value_summary",
    "what_changed",
]
