"""The difference-in-differences family in one place (re-exports; see docs/did.md).

:func:`did` is the front door; the estimator classes behind it are
:class:`StaggeredDiD` (Callaway-Sant'Anna), :class:`TwoWayFixedEffects`, :class:`Imputation`
(Borusyak-Jaravel-Spiess / Gardner) and :class:`DiffInDiff` (2x2).
"""

from impact.estimators.did import StaggeredDiD, did
from impact.estimators.did_plots import counterfactual_plot, event_study_plot
from impact.estimators.imputation import Imputation
from impact.estimators.panels import cohorts_from_treatment, rollout_panel
from impact.estimators.placebo import placebo_in_space, placebo_in_time
from impact.estimators.twfe import TwoWayFixedEffects
from impact.estimators.two_by_two import DiffInDiff

__all__ = [
    "DiffInDiff",
    "Imputation",
    "StaggeredDiD",
    "TwoWayFixedEffects",
    "cohorts_from_treatment",
    "counterfactual_plot",
    "did",
    "event_study_plot",
    "placebo_in_space",
    "placebo_in_time",
    "rollout_panel",
]
