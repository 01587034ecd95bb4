"""`reports/index.html`: each report's latest good run, its headline, status and history."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem;max-width:70rem;
color:#1f2328}
h1{font-size:1.6rem} h2{font-size:1.2rem;margin-top:2rem}
table{border-collapse:collapse;width:100%;margin:.5rem 0}
td,th{border-bottom:1px solid #d0d7de;padding:.35rem .6rem;text-align:left;font-size:.92rem;
vertical-align:top}
td:last-child{min-width:22rem}
.ok{color:#1a7f37}.failed{color:#cf222e}.headline{font-size:1.05rem;margin:.4rem 0}
.muted{color:#656d76;font-size:.85rem}
"""


def render_index(reports: Mapping[str, Sequence[Mapping[str, Any]]], *, generated_at: str) -> str:
    """HTML for the index from ``{report: [manifest, ...]}`` (newest first).

    A manifest is the dict each run writes (see `impact.runs.manifest`); links are relative to
    the reports folder, so the page works from a file system or any static host.
    """
    sections = []
    for name, runs in sorted(reports.items()):
        good = next((r for r in runs if r.get("status") == "succeeded"), None)
        title = html.escape(str((good or runs[0]).get("title") or name))
        if good:
            link = html.escape(f"{name}/{good['run_id']}/report.html")
            latest = (
                f"<p class='headline'><a href='{link}'>{html.escape(str(good.get('headline', '')))}"
                f"</a></p><p class='muted'>latest good run {html.escape(good['run_id'])}, "
                f"finished {html.escape(str(good.get('finished_at', '')))}</p>"
            )
        else:
            latest = "<p class='failed'>No successful run yet.</p>"
        rows = "".join(_history_row(name, run) for run in runs[:20])
        sections.append(
            f"<section><h2>{title} <span class='muted'>({html.escape(name)})</span></h2>{latest}"
            "<table><tr><th>run</th><th>status</th><th>parameters</th><th>finished</th>"
            f"<th>detail</th></tr>{rows}</table></section>"
        )
    body = "".join(sections) or "<p>No report has run yet. Run <code>make demo</code>.</p>"
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width,initial-scale=1'>"
        f"<title>impact reports</title><style>{_STYLE}</style></head><body>"
        f"<h1>impact reports</h1><p class='muted'>Index built {html.escape(generated_at)}</p>"
        f"{body}</body></html>"
    )


def _first_sentence(text: str, limit: int = 140) -> str:
    """The headline's first sentence, cut to `limit` characters: the history stays scannable
    (the latest good run shows the whole headline above the table)."""
    first = text.split(". ")[0].rstrip(".")
    first = first + "." if first and not first.endswith(("!", "?")) else first
    return first if len(first) <= limit else first[: limit - 1].rstrip() + "\u2026"


def _history_row(name: str, run: Mapping[str, Any]) -> str:
    status = str(run.get("status"))
    css = "ok" if status == "succeeded" else "failed"
    params = ", ".join(f"{k}={v}" for k, v in sorted(run.get("parameters", {}).items()))
    target = "report.html" if status == "succeeded" else "notebook.ipynb"
    link = html.escape(f"{name}/{run['run_id']}/{target}")
    error = run.get("error") or {}
    detail = (
        html.escape(f"{error.get('type', '')}: {error.get('message', '')}"[:160])
        if error
        else html.escape(_first_sentence(str(run.get("headline", ""))))
    )
    return (
        f"<tr><td><a href='{link}'>{html.escape(run['run_id'])}</a></td>"
        f"<td class='{css}'>{html.escape(status)}</td><td>{html.escape(params)}</td>"
        f"<td>{html.escape(str(run.get('finished_at', '')))}</td><td>{detail}</td></tr>"
    )
