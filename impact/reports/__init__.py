"""Turn results into what people read: summaries, plots, HTML pages and the index."""

from impact.reports.plots import forest
from impact.reports.summary import ReportSummary, describe, label, summarize

__all__ = ["ReportSummary", "describe", "forest", "label", "summarize"]
