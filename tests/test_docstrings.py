"""Every example in a docstring of `impact` runs and prints what it says (doctest)."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import impact

MODULES = sorted(
    info.name
    for info in pkgutil.walk_packages(impact.__path__, prefix="impact.")
    if not info.name.endswith("__main__")
)


def _examples(name: str) -> list[doctest.DocTest]:
    module = importlib.import_module(name)
    return [t for t in doctest.DocTestFinder().find(module, name) if t.examples]


@pytest.mark.parametrize("name", [m for m in MODULES if _examples(m)])
def test_docstring_examples_run(name: str) -> None:
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    for test in _examples(name):
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.attempted > 0
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {name}"


# Result and error types are returned or raised, not called by users: no example needed.
NOT_ENTRY_POINTS = {
    "ABResults", "ContractError", "Diagnostic", "Drift", "EstimationError", "Guardrail",
    "ImpactError", "MissingDependencyError", "ParameterError", "Plan", "Validation",
}  # fmt: skip


def test_every_public_entry_point_has_an_example() -> None:
    missing = [
        name
        for name in impact.__all__
        if name not in NOT_ENTRY_POINTS
        and callable(getattr(impact, name))
        and ">>>" not in (getattr(impact, name).__doc__ or "")
    ]
    assert missing == []
