"""The project config (``impact.yaml``): which reports exist, their notebooks and schedules."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml
from croniter import croniter

from impact.errors import ParameterError
from impact.runs.delivery import Delivery

CONFIG_NAME = "impact.yaml"
_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")


@dataclass(frozen=True, slots=True)
class ReportSpec:
    """One report: a notebook under ``notebooks/``, its default parameters and schedule."""

    name: str
    notebook: Path
    title: str
    schedule: str | None = None
    audience: tuple[str, ...] = ()
    parameters: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Project:
    """A project root with its reports; outputs go to ``reports_dir``."""

    root: Path
    reports: Mapping[str, ReportSpec]
    reports_dir: Path
    kernel: str = "impact"
    delivery: Delivery | None = None

    def report(self, name: str) -> ReportSpec:
        """The report called `name`; ParameterError lists the configured ones."""
        if name not in self.reports:
            raise ParameterError(
                f"no report {name!r} in {CONFIG_NAME}; configured: {sorted(self.reports)}"
            )
        return self.reports[name]


def find_config(start: Path | None = None) -> Path:
    """``$IMPACT_PROJECT/impact.yaml`` or the nearest ``impact.yaml`` from `start` upwards."""
    if env := os.environ.get("IMPACT_PROJECT"):
        candidate = Path(env) / CONFIG_NAME
        if candidate.is_file():
            return candidate
        raise ParameterError(f"IMPACT_PROJECT={env} holds no {CONFIG_NAME}")
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / CONFIG_NAME).is_file():
            return folder / CONFIG_NAME
    raise ParameterError(f"no {CONFIG_NAME} in {here} or any parent; run inside the project")


def load_project(config: Path | None = None) -> Project:
    """Parse and check the project config (names, notebooks inside ``notebooks/``, crons)."""
    path = config or find_config()
    root = path.parent.resolve()
    raw = read_yaml(path)
    if not isinstance(raw, dict) or not isinstance(raw.get("reports"), dict):
        raise ParameterError(f"{path}: expected a mapping with a 'reports' section")
    notebooks = (root / "notebooks").resolve()
    reports: dict[str, ReportSpec] = {}
    for name, entry in raw["reports"].items():
        if not _NAME.match(str(name)):
            raise ParameterError(
                f"{path}: report name {name!r} must be lower-case letters, digits, _ or -"
            )
        if not isinstance(entry, dict) or "notebook" not in entry:
            raise ParameterError(f"{path}: report {name!r} needs a 'notebook'")
        notebook = (root / str(entry["notebook"])).resolve()
        if not notebook.is_relative_to(notebooks) or notebook.suffix != ".ipynb":
            raise ParameterError(
                f"{path}: report {name!r}: notebooks must be .ipynb files under notebooks/, "
                f"got {entry['notebook']!r}"
            )
        if not notebook.is_file():
            raise ParameterError(f"{path}: report {name!r}: no notebook at {notebook}")
        schedule = entry.get("schedule")
        if schedule is not None and not croniter.is_valid(str(schedule)):
            raise ParameterError(f"{path}: report {name!r}: invalid cron {schedule!r}")
        params = entry.get("parameters") or {}
        if not isinstance(params, dict):
            raise ParameterError(f"{path}: report {name!r}: 'parameters' must be a mapping")
        reports[name] = ReportSpec(
            name=name,
            notebook=notebook,
            title=str(entry.get("title") or name),
            schedule=str(schedule) if schedule else None,
            audience=tuple(entry.get("audience") or ()),
            parameters=MappingProxyType(dict(params)),
        )
    return Project(
        root=root,
        reports=MappingProxyType(reports),
        reports_dir=_reports_dir(path, root, raw.get("reports_dir", "reports")),
        kernel=str(raw.get("kernel", "impact")),
        delivery=Delivery.from_config(raw.get("delivery"), root),
    )


def read_yaml(path: Path) -> Any:
    """The YAML document in `path`, loaded safely; a broken file is a ParameterError naming it."""
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        # Safe loading refuses Python tags (``!!python/object``) with a ConstructorError too.
        raise ParameterError(f"{path}: not valid YAML ({' '.join(str(exc).split())})") from exc


def _reports_dir(path: Path, root: Path, value: Any) -> Path:
    """Where runs are written: a folder inside the project, or an absolute path on purpose.

    A relative ``reports_dir`` must stay inside the project root (``../elsewhere`` is refused),
    so a config copied between projects cannot write outside its own. An absolute path is
    taken as written: it says plainly where reports go (e.g. a shared drive).
    """
    text = str(value).strip()
    if not text:
        raise ParameterError(f"{path}: reports_dir is empty; leave it out for reports/")
    given = Path(text).expanduser()
    if given.is_absolute():
        return given.resolve()
    # Checked on the path as written, before symbolic links are followed: a link inside the
    # project was put there by someone who meant it.
    inside = Path(os.path.normpath(root / given))
    if inside == root or not inside.is_relative_to(root):
        raise ParameterError(
            f"{path}: reports_dir {text!r} must be a folder inside the project ({root}), "
            "or an absolute path"
        )
    return inside.resolve()
