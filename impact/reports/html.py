"""Executed notebook -> a reader's HTML page: no code cells, no prompts, no stderr."""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbconvert import HTMLExporter
from nbconvert.preprocessors import Preprocessor

from impact.reports.summary import MIME_TYPE

TEMPLATES = Path(__file__).parent / "templates"


class _DropNoise(Preprocessor):
    """Remove stderr streams and error tracebacks meant for analysts, not readers."""

    def preprocess_cell(self, cell, resources, index):  # type: ignore[no-untyped-def]
        if cell.get("cell_type") == "code":
            cell.outputs = [
                out
                for out in cell.get("outputs", [])
                if not (out.get("output_type") == "stream" and out.get("name") == "stderr")
            ]
        return cell, resources


def export_html(notebook: Path, destination: Path, *, title: str) -> Path:
    """Write `notebook` as a standalone HTML page for readers; return `destination`."""
    node = nbformat.read(notebook, as_version=4)
    exporter = HTMLExporter(
        template_name="impact_report",
        extra_template_basedirs=[str(TEMPLATES)],
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        embed_images=True,
    )
    exporter.register_preprocessor(_DropNoise(), enabled=True)
    body, _ = exporter.from_notebook_node(node, resources={"metadata": {"name": title}})
    destination.write_text(body, encoding="utf-8")
    return destination


def extract_result(notebook: Path) -> dict | None:
    """The last report payload the notebook displayed (see `ReportSummary`), or None."""
    node = nbformat.read(notebook, as_version=4)
    found = None
    for cell in node.cells:
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if MIME_TYPE in data:
                found = data[MIME_TYPE]
    return dict(found) if found is not None else None
