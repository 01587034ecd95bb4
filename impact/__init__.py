"""impact: what an AI rollout really changed in a workflow, and what that change is worth.

Example:
    >>> import impact
    >>> check = impact.validate("sample:events", contract="workflow_events")
    >>> pilot = impact.with_assignments(check.valid, "sample:assignments")
    >>> effect = impact.ab_test(pilot, "handle_time_minutes", expected_share=0.2)
    >>> effect.lift < 0
    True
"""

from impact import datasets, privacy, reports, value
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
from impact.estimators.drift import Drift, effect_drift
from impact.estimators.matching import (
    CoarsenedExact,
    MatchedCohort,
    Weighting,
    adopter_units,
    aipw,
    coarsened_exact,
    e_value,
    ipw,
    love_plot,
    matched_cohort,
    overlap_plot,
    refute,
    segment_effects,
)
from impact.estimators.metrics import Mean, Proportion, Ratio, Sum
from impact.estimators.monitoring import ab_over_time, plot_over_time
from impact.estimators.multiple import ABResults, Experiment, Guardrail
from impact.estimators.planning import Plan, plan_ab
from impact.estimators.rollout import (
    DiffInDiff,
    Imputation,
    StaggeredDiD,
    TwoWayFixedEffects,
    cohorts_from_treatment,
    counterfactual_plot,
    did,
    event_study_plot,
    placebo_in_space,
    placebo_in_time,
    rollout_panel,
)
from impact.estimators.uptake import per_use
from impact.result import Diagnostic, Effect

__version__ = "0.1.0"

__all__ = [
    "ABResults",
    "ABTest",
    "CoarsenedExact",
    "ContractError",
    "Diagnostic",
    "DiffInDiff",
    "Drift",
    "Effect",
    "EstimationError",
    "Experiment",
    "Guardrail",
    "ImpactError",
    "Imputation",
    "MatchedCohort",
    "Mean",
    "MissingDependencyError",
    "ParameterError",
    "Plan",
    "Proportion",
    "Ratio",
    "StaggeredDiD",
    "Sum",
    "TwoWayFixedEffects",
    "Validation",
    "Weighting",
    "__version__",
    "ab_over_time",
    "ab_test",
    "adopter_units",
    "aipw",
    "as_table",
    "between",
    "coarsened_exact",
    "cohorts_from_treatment",
    "counterfactual_plot",
    "datasets",
    "did",
    "e_value",
    "effect_drift",
    "event_study_plot",
    "ipw",
    "load",
    "load_contract",
    "love_plot",
    "matched_cohort",
    "overlap_plot",
    "panel",
    "per_use",
    "placebo_in_space",
    "placebo_in_time",
    "plan_ab",
    "plot_over_time",
    "privacy",
    "refute",
    "reports",
    "rollout_panel",
    "segment_effects",
    "unit_summary",
    "validate",
    "value",
    "with_assignments",
]
