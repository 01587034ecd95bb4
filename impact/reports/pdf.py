"""HTML report -> PDF with weasyprint (the `pdf` extra)."""

from __future__ import annotations

from pathlib import Path

from impact.errors import MissingDependencyError


def export_pdf(html_path: Path, destination: Path) -> Path:
    """Render the HTML page at `html_path` to a PDF at `destination`."""
    try:
        from weasyprint import HTML
    except ImportError as exc:  # pragma: no cover - exercised only without the extra
        raise MissingDependencyError(
            "PDF reports need weasyprint: pip install 'impact[pdf]'"
        ) from exc
    HTML(filename=str(html_path), base_url=str(html_path.parent)).write_pdf(str(destination))
    return destination
