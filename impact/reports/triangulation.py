"""Triangulation: several designs side by side, and whether they tell the same story.

A randomized pilot, a staggered team rollout and matched adopters rest on different
assumptions (chance, parallel trends, no hidden confounder). When they agree, the conclusion
does not hinge on any one of them. :func:`triangulate` compares their effects on one scale (the
relative change by default) and decides, by rules stated here and in docs/runs.md:

* **inconclusive**: no design's interval excludes zero: nothing to confirm.
* **conflict**: intervals exclude zero on opposite sides: one design finds a gain, another a loss.
* **agree**: every point estimate has the same sign and the differences between designs are
  within chance: Cochran's Q test of heterogeneity (the inverse-variance weighted spread of
  the estimates around their pooled value) has p >= `alpha`.
* **partly agree**: anything else: the same direction with sizes that differ by more than
  chance, or a direction that differs without a clear conflict.

The Q test treats the designs as independent samples. A pilot on its own teams is independent
of a rollout; designs run on the same teams (DiD and matched adopters) are positively
correlated, which makes the test lenient for that pair. The words report the range of the
estimates, the largest gap between two designs and whether all intervals overlap.

:func:`rollout_designs` runs the three designs of the bundled data model and puts each on the
per-use scale (:func:`impact.estimators.uptake.per_use`), so that they estimate the same thing.
"""

from __future__ import annotations

import html
import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
from scipy import stats

from impact.data import with_assignments
from impact.engine import as_table
from impact.errors import ParameterError
from impact.estimators.ab import ab_test
from impact.estimators.adopters import adopter_units
from impact.estimators.did import did
from impact.estimators.matching import matched_cohort
from impact.estimators.panels import rollout_panel
from impact.estimators.uptake import per_use
from impact.reports.summary import label
from impact.reports.table import ReaderTable
from impact.result import Effect

if TYPE_CHECKING:
    from matplotlib.axes import Axes

Verdict = Literal["agree", "partly agree", "conflict", "inconclusive"]
#: The designs :func:`rollout_designs` runs, as named in its tables.
PILOT, ROLLOUT, ADOPTERS = "pilot A/B (randomized)", "rollout DiD (teams)", "matched adopters"


@dataclass(frozen=True, eq=False)
class Triangulation:
    """Designs compared on one scale: the table, the pooled estimate, the verdict in words.

    `table` has one row per design: ``design, method, estimand, estimate, ci_low, ci_high,
    std_error, significant, n_treated, n_control`` on the comparison scale (percent for
    relative effects). `pairs` has one row per pair of designs: their ``difference``, its
    ``z`` and two-sided ``p_value``, and whether their intervals ``overlap``.
    """

    effects: Mapping[str, Effect] = field(repr=False)
    relative: bool
    table: pd.DataFrame = field(repr=False)
    pairs: pd.DataFrame = field(repr=False)
    pooled: tuple[float, float, float]
    q: float
    q_p_value: float
    i_squared: float
    max_gap: float
    same_direction: bool
    overlap: bool
    verdict: Verdict
    summary: str
    alpha: float = 0.05
    originals: Mapping[str, Effect] = field(default_factory=dict, repr=False)
    scale_label: str = ""
    descriptions: Mapping[str, tuple[str, str]] = field(default_factory=dict, repr=False)

    @property
    def agree(self) -> bool:
        return self.verdict == "agree"

    def original(self, design: str) -> Effect:
        """The design's effect before rescaling (with its tables, e.g. the DiD counterfactual)."""
        found = self.originals.get(design) or self.effects.get(design)
        if found is None:
            raise KeyError(f"no design {design!r}; have {sorted(self.effects)}")
        return found

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready verdict, pooled estimate and one row per design (aggregates only)."""
        scale = "percent" if self.relative else "outcome units"
        return {
            "verdict": self.verdict,
            "summary": self.summary,
            "scale": scale,
            "pooled": dict(zip(("estimate", "ci_low", "ci_high"), self.pooled, strict=True)),
            "heterogeneity_p": self.q_p_value,
            "i_squared": self.i_squared,
            "max_gap": self.max_gap,
            "same_direction": self.same_direction,
            "overlap": self.overlap,
            "designs": [
                {k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()}
                for row in self.table.to_dict("records")
            ],
        }

    def plot(self, ax: Axes | None = None) -> Axes:
        """Forest plot: each design's estimate and interval, the pooled estimate as a diamond."""
        import matplotlib.pyplot as plt

        rows = self.table
        if ax is None:
            _, ax = plt.subplots(figsize=(8, 0.65 * len(rows) + 2.0))
        y = np.arange(len(rows))[::-1] + 1
        colours = ["tab:blue" if s else "tab:gray" for s in rows["significant"]]
        for yi, (_, row), colour in zip(y, rows.iterrows(), colours, strict=True):
            ax.errorbar(
                row["estimate"],
                yi,
                xerr=[[row["estimate"] - row["ci_low"]], [row["ci_high"] - row["estimate"]]],
                fmt="o",
                color=colour,
                capsize=4,
            )
        point, low, high = self.pooled
        ax.fill(
            [low, point, high, point], [0, 0.18, 0, -0.18], color="black", label="pooled (Q test)"
        )
        ax.axvline(0, color="black", linewidth=0.8, linestyle="--")
        ax.set_yticks([*y, 0], [*rows["design"], "pooled"])
        ax.set_ylim(-0.7, len(rows) + 0.7)
        ax.set_xlabel(self.scale_label or ("change (%)" if self.relative else "change"))
        answer = {"agree": "yes", "partly agree": "partly", "conflict": "no, they conflict"}
        ax.set_title(f"Do the designs agree? {answer.get(self.verdict, self.verdict)}")
        ax.figure.tight_layout()
        return ax

    def reader_table(self) -> ReaderTable:
        """The table for readers: what each design compares, its estimate and interval."""
        unit = "%" if self.relative else ""
        level = f"{1 - self.alpha:.0%} CI"
        rows = []
        for row in self.table.itertuples(index=False):
            what, units = self.descriptions.get(row.design, (row.estimand, "units"))
            rows.append(
                {
                    "design": row.design,
                    "what it compares": what,
                    "units compared (with / without AI)": f"{row.n_treated} / {row.n_control} "
                    f"{units}",
                    f"estimate ({unit or 'outcome units'})": f"{row.estimate:+.1f}{unit}",
                    f"{level} ({unit or 'outcome units'})": f"{row.ci_low:+.1f}{unit} to "
                    f"{row.ci_high:+.1f}{unit}",
                    "clear change?": "yes" if row.significant else "no",
                }
            )
        return ReaderTable(pd.DataFrame(rows))

    def _repr_html_(self) -> str:
        shown = self.reader_table()
        css = "impact-ok" if self.agree else "impact-warn"
        return (
            f"<div class='impact-triangulation'><p class='{css}'>{html.escape(self.summary)}</p>"
            f"{shown._repr_html_()}</div>"
        )


def triangulate(
    effects: Mapping[str, Effect],
    *,
    relative: bool = True,
    alpha: float = 0.05,
    originals: Mapping[str, Effect] | None = None,
    descriptions: Mapping[str, tuple[str, str]] | None = None,
) -> Triangulation:
    """Compare `effects` (design name -> Effect on the same outcome) and say if they agree.

    `relative=True` compares relative changes (percent of the counterfactual), which are
    comparable across populations with different baselines; otherwise outcome units.
    `originals` keeps each design's effect before any rescaling; `descriptions` maps a design
    to ``(what it compares, its unit's name)`` for the reader's table.

    Example:
        >>> def e(lift, low, high):
        ...     return Effect(outcome="handle_time_minutes", method="m", estimand="ATE",
        ...                   estimate=lift * 15, std_error=1.0, ci_low=low * 15,
        ...                   ci_high=high * 15, p_value=0.001, baseline=15.0, lift=lift,
        ...                   lift_ci=(low, high), n_treated=10, n_control=40)
        >>> t = triangulate({"pilot": e(-0.15, -0.19, -0.11), "rollout": e(-0.12, -0.2, -0.04)})
        >>> t.verdict
        'agree'
    """
    if len(effects) < 2:
        raise ParameterError(f"triangulation needs at least two designs, got {len(effects)}")
    if not 0 < alpha < 1:
        raise ParameterError(f"alpha must lie strictly between 0 and 1, got {alpha!r}")
    rows = [_row(name, e, relative) for name, e in effects.items()]
    table = pd.DataFrame(rows)
    if (
        not np.isfinite(table[["estimate", "std_error"]].to_numpy()).all()
        or not (table["std_error"] > 0).all()
    ):
        bad = table.loc[~np.isfinite(table["estimate"]) | ~(table["std_error"] > 0), "design"]
        raise ParameterError(
            f"design(s) {list(bad)} have no finite estimate or interval on the "
            f"{'relative' if relative else 'absolute'} scale; try relative={not relative}"
        )
    est, se = table["estimate"].to_numpy(), table["std_error"].to_numpy()
    weights = 1 / se**2
    pooled = float((weights * est).sum() / weights.sum())
    pooled_se = float(math.sqrt(1 / weights.sum()))
    z = float(stats.norm.ppf(1 - alpha / 2))
    q = float((weights * (est - pooled) ** 2).sum())
    dof = len(est) - 1
    q_p = float(stats.chi2.sf(q, dof))
    i2 = max(0.0, (q - dof) / q) if q > 0 else 0.0
    pairs = _pairs(table)
    low, high = table["ci_low"].to_numpy(), table["ci_high"].to_numpy()
    positive, negative = (low > 0), (high < 0)
    same_direction = bool((est > 0).all() or (est < 0).all())
    overlap = bool(low.max() <= high.min())
    if not (positive | negative).any():
        verdict: Verdict = "inconclusive"
    elif positive.any() and negative.any():
        verdict = "conflict"
    elif same_direction and q_p >= alpha:
        verdict = "agree"
    else:
        verdict = "partly agree"
    first = next(iter(effects.values()))
    result = Triangulation(
        effects=dict(effects),
        relative=relative,
        table=table,
        pairs=pairs,
        pooled=(pooled, pooled - z * pooled_se, pooled + z * pooled_se),
        q=q,
        q_p_value=q_p,
        i_squared=i2,
        max_gap=float(pairs["difference"].abs().max()),
        same_direction=same_direction,
        overlap=overlap,
        verdict=verdict,
        summary="",
        alpha=alpha,
        originals=dict(originals or {}),
        scale_label=_scale_label(first, relative),
        descriptions=dict(descriptions or {}),
    )
    return _with_summary(result, first)


def _row(name: str, effect: Effect, relative: bool) -> dict[str, Any]:
    crit = _critical_value(effect)
    if relative:
        low, high = effect.lift_ci
        scale = 100.0
        point, se = effect.lift, (high - low) / (2 * crit) if crit else math.nan
    else:
        point, low, high, se, scale = (
            effect.estimate,
            effect.ci_low,
            effect.ci_high,
            effect.std_error,
            1.0,
        )
    return {
        "design": name,
        "method": effect.method,
        "estimand": effect.estimand,
        "estimate": point * scale,
        "ci_low": low * scale,
        "ci_high": high * scale,
        "std_error": se * scale,
        "significant": bool(low > 0 or high < 0),
        "n_treated": effect.n_treated,
        "n_control": effect.n_control,
    }


def _critical_value(effect: Effect) -> float:
    width = effect.ci_high - effect.ci_low
    if math.isfinite(width) and effect.std_error > 0:
        return width / (2 * effect.std_error)
    return float(stats.norm.ppf(0.5 + effect.confidence / 2))


def _pairs(table: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for (_, a), (_, b) in itertools.combinations(table.iterrows(), 2):
        diff = a["estimate"] - b["estimate"]
        se = math.hypot(a["std_error"], b["std_error"])
        z = diff / se
        rows.append(
            {
                "design_a": a["design"],
                "design_b": b["design"],
                "difference": diff,
                "z": z,
                "p_value": float(2 * stats.norm.sf(abs(z))),
                "overlap": bool(a["ci_low"] <= b["ci_high"] and b["ci_low"] <= a["ci_high"]),
            }
        )
    return pd.DataFrame(rows)


def _scale_label(effect: Effect, relative: bool) -> str:
    name = label(effect.outcome)
    level = f"{effect.confidence:.0%} CI"
    if relative:
        return f"change in {name.split(' (')[0]} (% of the level without AI), {level}"
    return f"change in {name}, {level}"


def _with_summary(t: Triangulation, first: Effect) -> Triangulation:
    names = list(t.table["design"])
    count = {2: "two", 3: "three", 4: "four", 5: "five"}.get(len(names), str(len(names)))
    what = label(first.outcome).split(" (")[0]
    unit = "%" if t.relative else ""
    est = t.table["estimate"]
    span = (
        f"from {_mag(est.min(), unit, t.relative)} to {_mag(est.max(), unit, t.relative)}"
        if len(est) > 1
        else ""
    )
    gap = t.pairs.loc[t.pairs["difference"].abs().idxmax()]
    gap_text = (
        f"the largest gap, {abs(gap['difference']):.1f}{' points' if t.relative else ''} "
        f"between {gap['design_a']} and {gap['design_b']}"
    )
    overlap = "all intervals overlap" if t.overlap else "not all intervals overlap"
    p = f"heterogeneity p = {t.q_p_value:.2f}"
    if t.verdict == "inconclusive":
        text = (
            f"Inconclusive: none of the {count} designs finds a clear change in {what} "
            f"(estimates {span}); they cannot confirm one another yet."
        )
    elif t.verdict == "conflict":
        ups = list(t.table.loc[t.table["ci_low"] > 0, "design"])
        downs = list(t.table.loc[t.table["ci_high"] < 0, "design"])
        text = (
            f"Conflict: {', '.join(downs)} find(s) lower {what}, {', '.join(ups)} higher. At "
            "least one design's assumptions fail here; do not rely on any single estimate."
        )
    else:
        direction = "lower" if (est < 0).all() else "higher" if (est > 0).all() else None
        pooled = t.pooled
        pooled_text = (
            f"pooled {_mag(pooled[0], unit, t.relative)}, "
            f"{1 - t.alpha:.0%} CI {_mag(pooled[1], unit, t.relative)} to "
            f"{_mag(pooled[2], unit, t.relative)}"
        )
        if t.verdict == "agree":
            text = (
                f"The {count} designs agree: each points to {direction} {what}, {span} "
                f"({pooled_text}); {gap_text}, is within what chance explains ({p}), and "
                f"{overlap}."
            )
        elif direction is not None:
            text = (
                f"The {count} designs partly agree: each points to {direction} {what}, but the "
                f"size differs by more than chance explains ({p}): {span}; {gap_text}. "
                "Read the larger and smaller estimates with their designs' assumptions in mind."
            )
        else:
            text = (
                f"The {count} designs partly agree: they do not all point the same way "
                f"(estimates {span}, {p}), though none contradicts another clearly; "
                f"{overlap}."
            )
    return replace(t, summary=text)


def _mag(value: float, unit: str, relative: bool) -> str:
    return f"{value:+.1f}{unit}" if relative else f"{value:+.3g}"


def rollout_designs(
    events: Any,
    *,
    assignments: Any,
    rollouts: Any,
    agents: Any,
    outcome: str = "handle_time_minutes",
    exposure: str = "ai_used",
    experiment: str | None = None,
    covariates: Sequence[str] = ("tenure_months",),
    confidence: float = 0.95,
    alpha: float = 0.05,
    pilot_effect: Effect | None = None,
) -> Triangulation:
    """Pilot A/B, staggered-rollout DiD and matched adopters on `outcome`, per AI use.

    Each design is also run on `exposure` (the share of tickets handled with the AI) and its
    effect divided by that first stage (:func:`~impact.estimators.uptake.per_use`): the A/B
    (CUPED on each agent's pre-assignment level) becomes the complier effect, the team-level
    DiD the effect per adopting team's AI use, the matched difference in differences (on
    tenure, pre-period level, trend and volume, exactly within the rollout wave) the effect
    per adopter's use. `pilot_effect` is the A/B effect when the caller has it already (the
    same CUPED comparison), saving an engine scan.
    """
    table = as_table(events)
    full = with_assignments(table, assignments, experiment=experiment, since_assignment=False)
    pilot = with_assignments(table, assignments, experiment=experiment)
    ab = pilot_effect or ab_test(full, outcome, pre_period="assignment", confidence=confidence)
    ab_use = ab_test(pilot, exposure, confidence=confidence)

    panel = rollout_panel(table, rollouts, outcomes=[outcome, exposure])
    team = did(panel, outcome=outcome, confidence=confidence)
    team_use = did(panel, outcome=exposure, confidence=confidence)

    units = adopter_units(table, agents, rollouts, outcomes=[outcome, exposure])
    matching = {
        "covariates": [*covariates, f"pre_{outcome}", f"pre_trend_{outcome}", "pre_weekly_volume"],
        "exact": ["rollout_at"],
        "confidence": confidence,
    }
    matched = matched_cohort(
        units, f"post_{outcome}", pre_outcome=f"pre_{outcome}", **matching
    ).with_(outcome=outcome)
    matched_use = matched_cohort(
        units, f"post_{exposure}", pre_outcome=f"pre_{exposure}", **matching
    )
    originals = {PILOT: ab, ROLLOUT: team, ADOPTERS: matched}
    scaled = {
        PILOT: per_use(ab, ab_use),
        ROLLOUT: per_use(team, team_use),
        ADOPTERS: per_use(matched, matched_use),
    }
    descriptions = {
        PILOT: ("agents given the AI at random vs. the rest of the pilot", "agents"),
        ROLLOUT: ("teams after their rollout vs. teams not rolled out yet", "teams"),
        ADOPTERS: ("agents who chose the AI vs. look-alikes who did not", "agents"),
    }
    return triangulate(scaled, alpha=alpha, originals=originals, descriptions=descriptions)


__all__ = [
    "ADOPTERS",
    "PILOT",
    "ROLLOUT",
    "Triangulation",
    "Verdict",
    "rollout_designs",
    "triangulate",
]
