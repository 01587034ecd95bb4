"""Several arms, metrics, guardrails and segments in one experiment, with multiplicity control.

One engine scan reduces the events for every metric at once; then every treatment arm is
compared with control on every metric (one :class:`~impact.result.Effect` each), and p-values
are adjusted within each family: the primary metrics x arms, the guardrails x arms, and the
segments of each metric x arms. Guardrails are non-inferiority tests: "the AI must not raise the
reopen rate by more than 1 point" is ``Guardrail("reopened", margin=0.01)``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from impact.engine import as_table
from impact.errors import EstimationError, ParameterError
from impact.estimators.ab import ABTest
from impact.estimators.metrics import Metric
from impact.estimators.metrics import resolve as resolve_metric
from impact.result import Effect

if TYPE_CHECKING:
    from matplotlib.axes import Axes

Correction = Literal["holm", "bh", "bonferroni", "none"]
_DEFAULT_TEST = ABTest("")  # frozen: safe to share as a default
_CORRECTION_NAMES = {"holm": "Holm", "bh": "Benjamini-Hochberg", "bonferroni": "Bonferroni"}


@dataclass(frozen=True, slots=True)
class Guardrail:
    """A metric that must not get worse by `margin` or more (a non-inferiority test).

    `worse="higher"` (reopen rate, handle time) tests H0: effect >= margin against
    effect < margin; `worse="lower"` (resolution rate, CSAT) tests H0: effect <= -margin.
    A small p-value means the guardrail *holds*.
    """

    metric: str | Metric
    margin: float
    worse: Literal["higher", "lower"] = "higher"


def adjust_pvalues(p_values: Sequence[float], method: Correction = "holm") -> np.ndarray:
    """Family-wise (Holm, Bonferroni) or false-discovery-rate (BH) adjusted p-values.

    Example:
        >>> adjust_pvalues([0.01, 0.04, 0.03], "holm").round(3).tolist()
        [0.03, 0.06, 0.06]
    """
    p = np.asarray(p_values, dtype=np.float64)
    m = len(p)
    if method == "none" or m == 0:
        return p.copy()
    if method == "bonferroni":
        return np.minimum(p * m, 1.0)
    order = np.argsort(p, kind="stable")
    ranked = p[order]
    if method == "holm":
        adjusted = np.maximum.accumulate(np.minimum((m - np.arange(m)) * ranked, 1.0))
    elif method == "bh":
        scaled = ranked * m / np.arange(1, m + 1)
        adjusted = np.minimum(np.minimum.accumulate(scaled[::-1])[::-1], 1.0)
    else:
        raise ParameterError(f"correction must be holm, bh, bonferroni or none; got {method!r}")
    out = np.empty(m)
    out[order] = adjusted
    return out


@dataclass(frozen=True, slots=True, eq=False)
class ABResults:
    """Every arm x metric (x segment) effect of one experiment, with adjusted p-values.

    `effects` keeps one :class:`Effect` per row of `index` (columns ``arm, metric, role,
    segment``); their p-values are already adjusted (the raw one is in their notes and in
    ``to_frame().p_unadjusted``).
    """

    effects: tuple[Effect, ...]
    index: pd.DataFrame
    correction: Correction

    def to_frame(self) -> pd.DataFrame:
        """One row per effect: arm, metric, role, segment, then the Effect's columns."""
        frames = [e.to_frame() for e in self.effects]
        body = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
        return pd.concat([self.index.reset_index(drop=True), body], axis=1)

    def effect(self, metric: str, arm: str | None = None, segment: str = "") -> Effect:
        """The effect for `metric` (its label), `arm` and `segment`."""
        rows = self.index[
            (self.index.metric == metric)
            & (self.index.segment == segment)
            & ((self.index.arm == arm) if arm else True)
        ]
        if len(rows) != 1:
            raise KeyError(
                f"{len(rows)} effect(s) match metric={metric!r}, arm={arm!r}, "
                f"segment={segment!r}; have {self.index.to_dict('records')}"
            )
        return self.effects[int(rows.index[0])]

    def plot(self, ax: Axes | None = None, *, relative: bool = True) -> Axes:
        """Forest plot of every effect."""
        from impact.forest import forest

        return forest(list(self.effects), ax=ax, relative=relative)

    def _repr_html_(self) -> str:
        cols = [
            "arm",
            "metric",
            "role",
            "segment",
            "estimate",
            "ci_low",
            "ci_high",
            "lift",
            "p_value",
            "p_unadjusted",
            "n_treated",
            "n_control",
        ]
        frame = self.to_frame()
        return frame[[c for c in cols if c in frame]].to_html(index=False, float_format="%.4g")

    def __len__(self) -> int:
        return len(self.effects)

    def __repr__(self) -> str:
        lines = [f"<ABResults: {len(self.effects)} effect(s), {self.correction} correction>"]
        for (_, row), effect in zip(self.index.iterrows(), self.effects, strict=True):
            lines.append(f"  {row.arm} / {row.role}: {effect.headline()}")
        return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class Experiment:
    """Every treatment arm vs control on several metrics, guardrails and segments.

    Args:
        metrics: the primary metrics (column names or metric objects).
        guardrails: non-inferiority checks, as :class:`Guardrail` objects or a mapping
            ``{column: margin}`` (worse = higher).
        correction: p-value adjustment within each family: "holm" (family-wise error, the
            default), "bh" (false discovery rate), "bonferroni" or "none".
        by: segment column(s): the same comparison within each segment value.
        test: the comparison's options (arm, unit, control, covariates, inference, ...); its
            own `outcome` is ignored.

    Example:
        >>> import impact
        >>> pilot = impact.with_assignments(impact.as_table("sample:events"),
        ...                                 "sample:assignments")
        >>> res = Experiment(["handle_time_minutes", "resolved"],
        ...                  guardrails={"reopened": 0.02}).estimate(pilot)
        >>> res.to_frame()[["metric", "role"]].values.tolist()
        [['handle_time_minutes', 'primary'], ['resolved', 'primary'], ['reopened', 'guardrail']]
    """

    metrics: Sequence[str | Metric]
    guardrails: Mapping[str, float] | Sequence[Guardrail] = ()
    correction: Correction = "holm"
    by: str | Sequence[str] | None = None
    test: ABTest = _DEFAULT_TEST

    def estimate(self, events: Any) -> ABResults:
        """One engine scan, then every comparison and the multiplicity adjustment."""
        if self.correction not in ("holm", "bh", "bonferroni", "none"):
            raise ParameterError(
                f"correction must be holm, bh, bonferroni or none; got {self.correction!r}"
            )
        guards = self._guardrails()
        specs = [
            (resolve_metric(m, self.test.metric, self.test.denominator), "primary", None)
            for m in self.metrics
        ]
        specs += [(resolve_metric(g.metric), "guardrail", g) for g in guards]
        if not specs:
            raise ParameterError("an experiment needs at least one metric")
        tests = [self._test_for(metric, guard) for metric, _, guard in specs]
        tests[0].check()
        table, facts = tests[0].unit_table(as_table(events), [m for m, _, _ in specs])
        arms = self._arms(tests[0], table)
        rows: list[dict[str, Any]] = []
        effects: list[Effect] = []
        for i, ((metric, role, _), test) in enumerate(zip(specs, tests, strict=True)):
            for arm in arms:
                effects.append(test.from_units(table, facts, i, arm))
                rows.append({"arm": arm, "metric": metric.label, "role": role, "segment": ""})
        by = [self.by] if isinstance(self.by, str) else list(self.by or [])
        if by:
            seg_table, seg_facts = tests[0].unit_table(
                as_table(events), [m for m, _, _ in specs], by=by
            )
            for values, part in seg_table.groupby(by, sort=True, dropna=False):
                values = values if isinstance(values, tuple) else (values,)
                label = ", ".join(f"{k}={v}" for k, v in zip(by, values, strict=True))
                for i, ((metric, role, _), test) in enumerate(zip(specs, tests, strict=True)):
                    for arm in arms:
                        try:
                            seg = dataclasses.replace(test, expected_share=None)
                            effect = seg.from_units(part, seg_facts, i, arm)
                        except EstimationError as exc:
                            raise EstimationError(f"segment {label}: {exc}") from exc
                        effects.append(effect.with_(outcome=f"{effect.outcome} [{label}]"))
                        rows.append(
                            {"arm": arm, "metric": metric.label, "role": role, "segment": label}
                        )
        index = pd.DataFrame(rows)
        return ABResults(self._adjust(effects, index), index, self.correction)

    def _guardrails(self) -> list[Guardrail]:
        if isinstance(self.guardrails, Mapping):
            return [Guardrail(name, margin) for name, margin in self.guardrails.items()]
        return list(self.guardrails)

    def _test_for(self, metric: Metric, guard: Guardrail | None) -> ABTest:
        if guard is None:
            return dataclasses.replace(self.test, outcome=metric)
        if not guard.margin >= 0:
            raise ParameterError(
                f"a guardrail margin is a tolerated worsening >= 0, got "
                f"{guard.margin!r} for {metric.label}"
            )
        higher = guard.worse == "higher"
        return dataclasses.replace(
            self.test,
            outcome=metric,
            alternative="less" if higher else "greater",
            margin=guard.margin if higher else -guard.margin,
            estimand="ITT",
        )

    def _arms(self, test: ABTest, table: pd.DataFrame) -> list[str]:
        if test.treatment is not None:
            return [test.treatment_label(table)]
        labels = sorted(map(str, table.arm.unique()))
        if test.control not in labels:
            test.treatment_label(table)  # raises the error naming the arms
        others = [label for label in labels if label != test.control]
        if not others:
            raise EstimationError(
                f"expected one treatment arm besides {test.control!r}, found {others}; "
                "pass treatment=... to choose"
            )
        return others

    def _adjust(self, effects: list[Effect], index: pd.DataFrame) -> tuple[Effect, ...]:
        out = list(effects)
        index["p_unadjusted"] = [e.p_value for e in effects]
        # Families: primary x arms, guardrails x arms, and each metric's segments x arms.
        family = index.role + "|" + index.metric.where(index.segment.ne(""), "")
        if self.correction == "none":
            return tuple(out)
        for positions in index.groupby(family).indices.values():
            if len(positions) < 2:
                continue
            raw = [effects[i].p_value for i in positions]
            adjusted = adjust_pvalues(raw, self.correction)
            name = _CORRECTION_NAMES[self.correction]
            for i, p_raw, p_adj in zip(positions, raw, adjusted, strict=True):
                out[i] = effects[i].with_(
                    p_value=float(p_adj),
                    notes=(
                        *effects[i].notes,
                        f"p-value {name}-adjusted over {len(positions)} "
                        f"comparisons (unadjusted p = {p_raw:.4g}); the interval is not "
                        "adjusted",
                    ),
                )
        return tuple(out)
