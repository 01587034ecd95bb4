"""impact: what an AI rollout really changed in a workflow, and what that change is worth.

Example:
    >>> import impact
    >>> check = impact.validate("sample:events", contract="workflow_events")
    >>> pilot = impact.with_assignments(check.valid, "sample:assignments")
    >>> effect = impact.ab_test(pilot, "handle_time_minutes", expected_share=0.2)
    >>> effect.lift < 0
    True
"""

from impact import datasets, reports, value
from impact.contracts import Validation, load_contract, validate
from impact.data import between, load, panel, unit_summary, with_assignments
from impact.engine import as_table
from impact.errors import (
    ContractError,
    EstimationError,
    ImpactError,
    MissingDependencyError,
    ParameterError,
)
from impact.estimators.ab import ABTest, ab_test
from impact.estimators.metrics import Mean, Proportion, Ratio, Sum
from impact.estimators.monitoring import ab_over_time, plot_over_time
from impact.estimators.multiple import ABResults, Experiment, Guardrail
from impact.estimators.planning import Plan, plan_ab
from impact.result import Diagnostic, Effect

__version__ = "0.1.0"

__all__ = [
    "ABResults",
    "ABTest",
    "ContractError",
    "Diagnostic",
    "Effect",
    "EstimationError",
    "Experiment",
    "Guardrail",
    "ImpactError",
    "Mean",
    "MissingDependencyError",
    "ParameterError",
    "Plan",
    "Proportion",
    "Ratio",
    "Sum",
    "Validation",
    "__version__",
    "ab_over_time",
    "ab_test",
    "as_table",
    "between",
    "datasets",
    "load",
    "load_contract",
    "panel",
    "plan_ab",
    "plot_over_time",
    "reports",
    "unit_summary",
    "validate",
    "value",
    "with_assignments",
]
