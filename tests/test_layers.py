"""Imports point one way (ARCHITECTURE.md): a module imports only from its own layer or below."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "impact"
# Lowest first. A module may import modules of its own layer or of lower ones.
LAYERS: list[set[str]] = [
    {"errors", "result", "forest", "_optional"},
    {"engine", "datasets"},
    {"contracts", "privacy"},
    {"data"},
    {"estimators"},
    {"value"},
    {"reports"},
    {"runs"},
    {"cli", "__init__", "__main__"},
]
LEVEL = {name: level for level, names in enumerate(LAYERS) for name in names}


def _top(module: str) -> str:
    return module.split(".")[1] if module.startswith("impact.") else module


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, top-level impact subpackage) of every `impact.*` import, lazy ones included."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "impact":
                found += [(node.lineno, alias.name) for alias in node.names]
            elif node.module.startswith("impact."):
                found.append((node.lineno, _top(node.module)))
        elif isinstance(node, ast.Import):
            found += [
                (node.lineno, _top(a.name)) for a in node.names if a.name.startswith("impact.")
            ]
    return found


MODULES = sorted(p for p in PACKAGE.rglob("*.py") if "_bundled" not in p.parts)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_point_down(path: Path) -> None:
    own = path.relative_to(PACKAGE).parts[0].removesuffix(".py")
    assert own in LEVEL, f"{own} is in no layer of ARCHITECTURE.md; add it to LAYERS"
    upward = [
        f"line {line}: imports impact.{target} (layer {LEVEL[target]} > {LEVEL[own]})"
        for line, target in _imports(path)
        if target in LEVEL and LEVEL[target] > LEVEL[own]
    ]
    assert upward == []


def test_every_subpackage_has_a_layer() -> None:
    names = {p.relative_to(PACKAGE).parts[0].removesuffix(".py") for p in MODULES}
    assert sorted(names - LEVEL.keys()) == []
