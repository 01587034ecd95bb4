"""A/B tests on workflow events: compare randomized arms on unit-level sufficient statistics.

Events are reduced per randomization unit (usually an agent) inside the engine, since a unit's
events are not independent; the comparison (Welch, delta method, CUPED, regression adjustment,
CACE, always-valid intervals) runs on that small table. See docs/ab.md.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from impact.engine import as_table
from impact.errors import EstimationError, ParameterError
from impact.estimators import _inference, adjustment, compliance, sequential, trust
from impact.estimators.metrics import (
    Metric,
    MetricKind,
    PrePeriod,
    Proportion,
    Ratio,
    Sum,
    check_denominators,
    unit_table,
    usable,
)
from impact.estimators.metrics import resolve as resolve_metric
from impact.result import Alternative, Diagnostic, Effect

MIN_UNITS_PER_ARM = trust.MIN_UNITS_PER_ARM
SRM_ALPHA = trust.SRM_ALPHA

Adjustment = Literal["auto", "cuped", "regression", "none"]
Inference = Literal["fixed", "sequential"]
Estimand = Literal["ITT", "CACE"]


@dataclass(frozen=True, slots=True)
class ABTest:
    """Difference between a treatment arm and control on one metric.

    Args:
        outcome: the event column to analyse, or a metric object
            (:class:`~impact.estimators.metrics.Ratio` etc.).
        arm: the column naming each event's arm.
        unit: the randomization unit; the test counts units, not events.
        control: the control arm's label.
        treatment: the treatment arm's label; inferred when exactly one other arm exists.
        expected_share: the designed treatment share of units, for the sample-ratio check
            (None skips the check).
        confidence: confidence level of the interval.
        alternative: "two-sided", "greater" (treatment raises the outcome) or "less".
        metric: how events become the compared number: "mean" (per unit, then over units),
            "proportion" (same, z-test), "ratio" (sum over sum, per arm) or "sum" (per unit).
        denominator: for ratios, the column summed in the denominator (default: the events).
        covariate: unit-level column(s) to adjust for (averaged per unit); one gives CUPED,
            several give regression adjustment.
        pre_period: "assignment" (events before each unit's ``assigned_at``) or a (start, end)
            pair of ISO dates: those events give the metric's own pre-period value per unit,
            used as a CUPED covariate; only later events count as the test.
        time: the event time column (for `pre_period`).
        adjustment: "auto" (CUPED for one covariate, regression for several), "cuped",
            "regression" (Lin's interacted OLS, HC2) or "none".
        cap: winsorize the outcome at this upper quantile of the test-period events (computed in
            the engine), e.g. 0.99; None keeps every value.
        margin: test ``estimate == margin`` instead of 0: with ``alternative="less"`` and a
            positive margin, a non-inferiority test ("must not raise it by `margin` or more").
        inference: "fixed" (one look) or "sequential" (a confidence sequence valid at every look).
        mixture_sd: the sequential test's prior SD of the effect, in outcome units; fix it
            before monitoring (e.g. from :func:`impact.plan_ab`); None tunes it to this look.
        estimand: "ITT" (effect of assignment) or "CACE" (effect of using the AI among those
            whose use assignment changed; needs `exposure`).
        exposure: the boolean event column saying the AI was used (for CACE).
        use_t: t reference distribution (Welch df); None means t except for proportions.

    Example:
        >>> from impact.datasets import simulate
        >>> from impact.data import with_assignments
        >>> s = simulate(seed=1)
        >>> full = with_assignments(as_table(s.events), s.assignments, since_assignment=False)
        >>> test = ABTest("handle_time_minutes", pre_period="assignment", expected_share=0.2)
        >>> effect = test.estimate(full)
        >>> effect.ci_high < 0, effect.n_treated, effect.n_control, effect.method
        (True, 12, 48, 'ab.welch+cuped')
    """

    outcome: str | Metric
    arm: str = "arm"
    unit: str = "agent_id"
    control: str = "control"
    treatment: str | None = None
    expected_share: float | Mapping[str, float] | None = None
    confidence: float = 0.95
    alternative: Alternative = "two-sided"
    metric: MetricKind = "mean"
    denominator: str | None = None
    covariate: str | Sequence[str] | None = None
    pre_period: PrePeriod = None
    time: str = "started_at"
    adjustment: Adjustment = "auto"
    cap: float | None = None
    margin: float = 0.0
    inference: Inference = "fixed"
    mixture_sd: float | None = None
    estimand: Estimand = "ITT"
    exposure: str = "ai_used"
    use_t: bool | None = None

    # -- public ------------------------------------------------------------------------------
    def estimate(self, events: Any) -> Effect:
        """Validate, reduce `events` per unit in the engine, and compare the arms."""
        self.check()
        table, facts = self.unit_table(as_table(events), [self.resolved])
        return self.from_units(table, facts, 0, self.treatment_label(table))

    @property
    def resolved(self) -> Metric:
        """The metric object behind `outcome`, `metric` and `denominator`."""
        return resolve_metric(self.outcome, self.metric, self.denominator)

    @property
    def covariates(self) -> tuple[str, ...]:
        if self.covariate is None:
            return ()
        return (self.covariate,) if isinstance(self.covariate, str) else tuple(self.covariate)

    def check(self) -> None:
        """Raise ValueError/ParameterError for options that cannot work, before any scan."""
        _inference.check_confidence(self.confidence)
        _inference.check_alternative(self.alternative)
        for name, value, allowed in (
            ("adjustment", self.adjustment, Adjustment.__args__),
            ("inference", self.inference, Inference.__args__),
            ("estimand", self.estimand, Estimand.__args__),
        ):
            if value not in allowed:
                raise ParameterError(f"{name} must be one of {list(allowed)}, got {value!r}")
        if self.estimand == "CACE" and isinstance(self.resolved, Ratio):
            raise ParameterError(
                "CACE is implemented for unit-level metrics (mean, proportion, sum); use "
                "metric='mean' or the ITT"
            )
        share = self.expected_share
        if isinstance(share, Mapping):
            valid = bool(share) and all(v > 0 for v in share.values())
        else:
            valid = share is None or 0 < share < 1
        if not valid:
            raise ParameterError(
                "expected_share must lie strictly between 0 and 1 (or be a mapping of arms to "
                f"positive shares), got {share!r}"
            )
        if self.mixture_sd is not None and not self.mixture_sd > 0:
            raise ParameterError(f"mixture_sd must be positive, got {self.mixture_sd!r}")

    def unit_table(
        self, events: Any, metrics: Sequence[Metric], *, by: Sequence[str] = (), period: Any = None
    ) -> tuple[pd.DataFrame, dict[str, Any]]:
        """The per-unit table for `metrics` (one engine scan), after the arm checks."""
        table, facts = unit_table(
            events,
            metrics,
            unit=self.unit,
            arm=self.arm,
            time=self.time,
            pre_period=self.pre_period,
            covariates=self.covariates,
            exposure=self.exposure if self.estimand == "CACE" else None,
            cap=self.cap,
            by=by,
            period=period,
        )
        arms_per_unit = table.groupby(self.unit)["arm"].nunique()
        crossed = arms_per_unit[arms_per_unit > 1]
        if len(crossed):
            raise EstimationError(
                f"{len(crossed)} {self.unit} value(s) appear in more than one arm (e.g. "
                f"{crossed.index[0]!r}); the randomization is broken for them. Fix the "
                "assignments; do not analyse contaminated units."
            )
        return table, facts

    def treatment_label(self, table: pd.DataFrame) -> str:
        labels = sorted(map(str, table.arm.unique()))
        if self.control not in labels:
            raise EstimationError(
                f"no unit is in the control arm {self.control!r}; arms present: {labels}"
            )
        if self.treatment is not None:
            if self.treatment not in labels:
                raise EstimationError(
                    f"no unit is in the treatment arm {self.treatment!r}; arms present: {labels}"
                )
            return self.treatment
        others = [label for label in labels if label != self.control]
        if len(others) != 1:
            raise EstimationError(
                f"expected one treatment arm besides {self.control!r}, found {others}; "
                "pass treatment=... to choose"
            )
        return others[0]

    # -- the comparison on the per-unit table ------------------------------------------------
    def from_units(
        self, table: pd.DataFrame, facts: Mapping[str, Any], index: int, treatment: str
    ) -> Effect:
        """The Effect of `treatment` vs control for metric `index` of a :meth:`unit_table`."""
        metric = self.resolved
        notes = list(self._data_notes(table, facts, index))
        num, den = f"{index}.num", f"{index}.den"
        check_denominators(table, metric, index, self.unit)
        has_value = usable(table, index)
        if n_empty := int((~has_value).sum()):
            notes.append(
                f"{n_empty} unit(s) have no {metric.column} value on any event and are left out"
            )
        self._enough_units(table, has_value, treatment, metric)
        units = table.loc[has_value & table.arm.isin([treatment, self.control])]
        # Work in units of a power of two near the largest value: exact, and squares of
        # outcomes near 1e300 cannot overflow. Estimates are scaled back at the end.
        scale = adjustment.power_of_two(units[num])
        if scale != 1.0:
            scaled = [c for c in (num, f"{index}.xnum") if c in units]
            units = units.assign(**{c: units[c] / scale for c in scaled})
        t_rows, c_rows = units.arm == treatment, units.arm == self.control
        n_t, n_c = int(t_rows.sum()), int(c_rows.sum())
        use_t = self.use_t if self.use_t is not None else not isinstance(metric, Proportion)
        diagnostics = [*self._balance(table, treatment, index)]
        covs = self._covariate_matrix(units, index, notes)
        mode = self._mode(covs)
        if self.estimand == "CACE":
            y = units[num].to_numpy(np.float64)
            if mode != "none":
                y = adjustment.residualize(y, covs.to_numpy(np.float64))  # type: ignore[union-attr]
            d = units["exposure"].to_numpy(np.float64)
            t, c = t_rows.to_numpy(), c_rows.to_numpy()
            comp = compliance.cace(y[t], d[t], y[c], d[c])
            method = "ab.cace" + ("+cuped" if mode != "none" else "")
            notes.append(
                f"CACE: the effect of using the AI, = ITT / {comp.theta[0]:.3f} (the change in "
                f"the share of {metric.column} items handled with {self.exposure!r})"
            )
        elif mode == "regression":
            comp = adjustment.regression(
                units.loc[t_rows, num].to_numpy(np.float64),
                units.loc[c_rows, num].to_numpy(np.float64),
                covs.loc[t_rows].to_numpy(np.float64),
                covs.loc[c_rows].to_numpy(np.float64),
                use_t=use_t,
            )
            method = f"ab.{metric.kind}+regression"
        else:
            pairs = [
                (
                    units.loc[rows, num].to_numpy(np.float64),
                    units.loc[rows, den].to_numpy(np.float64),
                )
                for rows in (t_rows, c_rows)
            ]
            xpairs: list[Any] = [None, None]
            if mode == "cuped":
                xpairs = [
                    self._cuped_pair(units.loc[rows], covs.loc[rows], index)
                    for rows in (t_rows, c_rows)
                ]
            comp = adjustment.compare(*pairs, *xpairs, use_t=use_t)
            base = {"mean": "welch", "proportion": "ztest" if not use_t else "welch"}
            method = f"ab.{base.get(metric.kind, metric.kind)}" + (
                "+cuped" if mode == "cuped" else ""
            )
        low, high, p = self._interval(comp, notes, scale)
        if self.inference == "sequential":
            method += "+sequential"
        lift, lift_se = _inference.ratio_lift(
            comp.mean_t, comp.var_mean_t, comp.mean_c, comp.var_mean_c, comp.cov_means
        )
        if self.margin:
            notes.append(
                f"tested against a margin: H0 is effect = {self.margin:+g} "
                f"({self.alternative}); p is for that null"
            )
        if comp.variance_reduction is not None:
            diagnostics.append(
                Diagnostic(
                    "variance_reduction",
                    float(comp.variance_reduction),
                    passed=comp.variance_reduction >= 0,
                    detail=f"{mode} removed {comp.variance_reduction:.0%} of the variance"
                    if comp.variance_reduction >= 0
                    else f"{mode} increased the variance: the covariate does not predict it",
                )
            )
        diagnostics.append(self._influence(units, t_rows, c_rows, index))
        return Effect(
            outcome=metric.label,
            method=method,
            estimand="CACE" if self.estimand == "CACE" else "ATE",
            estimate=float(comp.estimate) * scale,
            std_error=float(comp.std_error) * scale,
            ci_low=float(low) * scale,
            ci_high=float(high) * scale,
            p_value=float(p),
            baseline=float(comp.mean_c) * scale,
            lift=float(lift),
            lift_ci=_inference.lift_interval(
                lift, lift_se, confidence=self.confidence, alternative=self.alternative
            ),
            n_treated=n_t,
            n_control=n_c,
            confidence=self.confidence,
            alternative=self.alternative,
            unit=self.unit,
            diagnostics=(*self._sizes(n_t, n_c, table, treatment), *diagnostics),
            notes=tuple(notes),
            tables={
                "arms": adjustment.arm_table(
                    units, t_rows, c_rows, treatment, self.control, index, comp, scale
                )
            },
        )

    def _interval(
        self, comp: adjustment.Comparison, notes: list[str], scale: float = 1.0
    ) -> tuple[float, float, float]:
        if self.inference == "fixed":
            notes.append(
                "fixed-horizon test: valid for one planned look; a report re-run as data "
                "arrive should use inference='sequential'"
            )
            return _inference.interval(
                comp.estimate,
                comp.std_error,
                confidence=self.confidence,
                alternative=self.alternative,
                df=comp.df,
                null=self.margin / scale,
            )
        alpha = 1 - self.confidence
        if self.mixture_sd is None:
            mixture = sequential.tuned_mixture_var(comp.std_error**2, alpha)
            notes.append(
                "sequential: the mixture was tuned to this look; fix mixture_sd before "
                "monitoring repeatedly"
            )
        else:
            mixture = (self.mixture_sd / scale) ** 2
        notes.append(
            f"always-valid {self.confidence:.0%} confidence sequence (normal mixture, "
            f"prior SD {math.sqrt(mixture) * scale:.4g}): valid however often you look"
        )
        return sequential.confidence_sequence(
            comp.estimate,
            comp.std_error,
            confidence=self.confidence,
            mixture_var=mixture,
            alternative=self.alternative,
            null=self.margin / scale,
        )

    def _mode(self, covs: pd.DataFrame | None) -> str:
        if covs is None or covs.shape[1] == 0 or self.adjustment == "none":
            return "none"
        mode = self.adjustment
        if mode == "auto":
            mode = "cuped" if covs.shape[1] == 1 else "regression"
        if mode == "cuped" and covs.shape[1] > 1:
            raise ParameterError(
                f"CUPED takes one covariate, got {list(covs.columns)}; use "
                "adjustment='regression' for several"
            )
        if mode == "regression" and isinstance(self.resolved, Ratio):
            raise ParameterError(
                f"regression adjustment on {list(covs.columns)} needs a unit-level metric; for "
                "ratio metrics use one covariate (CUPED), e.g. the pre-period value alone"
            )
        return mode

    def _covariate_matrix(
        self, units: pd.DataFrame, index: int, notes: list[str]
    ) -> pd.DataFrame | None:
        columns: dict[str, pd.Series] = {}
        if self.pre_period is not None:
            xnum, xden = units[f"{index}.xnum"], units[f"{index}.xden"]
            columns["pre"] = (
                xnum / xden.where(xden > 0) if isinstance(self.resolved, Ratio) else xnum
            )
        for name in self.covariates:
            columns[name] = units[f"cov.{name}"]
        return adjustment.covariate_matrix(columns, notes)

    def _cuped_pair(
        self, rows: pd.DataFrame, covs: pd.DataFrame, index: int
    ) -> tuple[np.ndarray, np.ndarray]:
        if self.pre_period is not None and isinstance(self.resolved, Ratio):
            return (
                rows[f"{index}.xnum"].to_numpy(np.float64),
                rows[f"{index}.xden"].to_numpy(np.float64),
            )
        x = covs.iloc[:, 0].to_numpy(np.float64)
        return x, np.ones_like(x)

    # -- checks ------------------------------------------------------------------------------
    def _data_notes(self, table: pd.DataFrame, facts: Mapping[str, Any], index: int) -> list[str]:
        notes = []
        metric = self.resolved
        if n_missing := facts["missing"].get(index, 0):
            notes.append(
                f"{n_missing} of {int(table.n_events.sum())} event(s) have no {metric.column} "
                "value (null or NaN) and are left out of the unit means"
            )
        if self.cap is not None and (upper := facts["caps"].get(index)) is not None:
            notes.append(
                f"{facts['capped'][index]} event(s) above the {self.cap:.0%} quantile "
                f"of {metric.column} ({upper:.4g}) were capped at it"
            )
        if isinstance(metric, Sum):
            notes.append(
                f"{metric.column} is summed per unit over the window: units observed "
                "for different lengths of time are not comparable"
            )
        return notes

    def _enough_units(
        self, table: pd.DataFrame, has_value: pd.Series, treatment: str, metric: Metric
    ) -> None:
        """At least 2 units with a value per arm; the error says how many have none."""
        for label, arm in (("treated", treatment), ("control", self.control)):
            in_arm = table.arm == arm
            n, n_without = int((in_arm & has_value).sum()), int((in_arm & ~has_value).sum())
            if n < 2:
                without = f" ({n_without} more have none on any event)" if n_without else ""
                raise EstimationError(
                    f"the {label} arm has {n} unit(s) with a {metric.column} value{without}; "
                    "a comparison needs at least 2 per arm"
                )

    def _sizes(self, n_t: int, n_c: int, table: pd.DataFrame, treatment: str) -> list[Diagnostic]:
        checks = [trust.min_units(n_t, n_c)]
        share = self.expected_share
        if isinstance(share, Mapping) and (
            missing := [a for a in (self.control, treatment) if a not in share]
        ):
            raise ParameterError(
                f"expected_share names the designed share of every arm; it lacks {missing} "
                f"(got {dict(share)})"
            )
        if self.expected_share is not None:
            checks.append(
                trust.sample_ratio(table, self.unit, treatment, self.control, self.expected_share)
            )
        return checks

    def _balance(self, table: pd.DataFrame, treatment: str, index: int) -> list[Diagnostic]:
        """Pre-period imbalance: did the arms already differ before the test began?"""
        if self.pre_period is None:
            return []
        units = table.loc[table.arm.isin([treatment, self.control])]
        den = units[f"{index}.xden"]
        x = units[f"{index}.xnum"] / den.where(den > 0)
        check = trust.pre_period_imbalance(x[units.arm == treatment], x[units.arm == self.control])
        return [check] if check is not None else []

    def _influence(
        self, units: pd.DataFrame, t_rows: pd.Series, c_rows: pd.Series, index: int
    ) -> Diagnostic:
        return trust.outlier_influence(
            *(
                (
                    units.loc[rows, f"{index}.num"].to_numpy(np.float64),
                    units.loc[rows, f"{index}.den"].to_numpy(np.float64),
                )
                for rows in (t_rows, c_rows)
            )
        )


def ab_test(events: Any, outcome: str | Metric | Sequence[str | Metric], **options: Any) -> Any:
    """Compare randomized arms: one Effect for one metric and one treatment arm, else an
    :class:`~impact.estimators.multiple.ABResults` (every arm x metric, corrected).

    Example:
        >>> import impact
        >>> pilot = impact.with_assignments(impact.as_table("sample:events"),
        ...                                 "sample:assignments")
        >>> impact.ab_test(pilot, "handle_time_minutes").lift < 0
        True
    """
    from impact.estimators.multiple import Experiment

    if not isinstance(outcome, str | Sequence) and not hasattr(outcome, "kind"):
        raise TypeError(
            "outcome must be a column name, a metric (impact.Ratio(...)) or a list of them; "
            f"got {type(outcome).__name__} {outcome!r}"
        )
    experiment = {k: options.pop(k) for k in ("guardrails", "correction", "by") if k in options}
    single = isinstance(outcome, str) or hasattr(outcome, "kind")
    metrics = [outcome] if single else list(outcome)  # type: ignore[arg-type]
    test = ABTest(metrics[0] if metrics else "", **options)
    results = Experiment(metrics, test=test, **experiment).estimate(events)
    if single and len(results.effects) == 1:
        return results.effects[0]
    return results
