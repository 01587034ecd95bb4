"""Run records: one ``manifest.json`` per run, and the index built from them."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from impact.reports.index import render_index
from impact.runs.ledger import previous_success

MANIFEST = "manifest.json"


def utc_now() -> datetime:
    return datetime.now(UTC)


def write_atomic(path: Path, text: str) -> None:
    """Write `text` beside `path`, then rename over it: readers see old or new, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: Path, data: Mapping[str, Any]) -> None:
    write_atomic(path, json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")


def read_manifests(reports_dir: Path) -> dict[str, list[dict[str, Any]]]:
    """``{report: [manifest, ...]}``, newest run first; unreadable manifests are skipped."""
    found: dict[str, list[dict[str, Any]]] = {}
    if not reports_dir.is_dir():
        return found
    for path in reports_dir.glob(f"*/*/{MANIFEST}"):
        try:
            manifest = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        found.setdefault(path.parent.parent.name, []).append(manifest)
    for runs in found.values():
        runs.sort(key=lambda m: str(m.get("run_id")), reverse=True)
    return found


def previous_result(reports_dir: Path, report: str, period_end: str | None, root: Path) -> str:
    """Path (relative to `root` when inside it) of the ``result.json`` a new run of `report`
    compares with, or ``""`` on a first run: the notebook's ``previous_result`` parameter."""
    run_id = previous_success(reports_dir, report, period_end)
    if run_id is None:
        return ""
    path = (reports_dir / report / run_id / "result.json").resolve()
    if not path.is_file():
        return ""
    root = root.resolve()
    return str(path.relative_to(root)) if path.is_relative_to(root) else str(path)


def rebuild_index(reports_dir: Path) -> Path:
    """Rewrite ``index.html`` from the manifests on disk (atomically); return its path."""
    index = reports_dir / "index.html"
    generated = utc_now().strftime("%Y-%m-%d %H:%M UTC")
    write_atomic(index, render_index(read_manifests(reports_dir), generated_at=generated))
    return index
