"""Drift: the effect period by period, and an alert when its recent level has degraded.

The slow decline nobody notices: novelty wears off, a model update makes answers worse, agents
stop checking. :func:`effect_drift` reduces the events of a running A/B test to one row per
unit x period in the engine, then

* estimates the effect in every period on its own (treated minus control mean of per-unit
  means, Welch interval): the picture. With ``pre_period="assignment"`` each unit's outcome is
  first taken relative to its own mean before assignment (a per-period difference in
  differences), which removes the lasting differences between units and narrows the intervals;
* tests whether the effect over the last `recent` periods is worse than over the periods before:
  per unit, the change ``mean(recent) - mean(earlier)`` of its own outcome; the drift is the
  difference of those changes between the arms, ``effect(recent) - effect(earlier)``, with a
  Welch t-test across units. Each unit is one independent observation, so the persistent
  differences between units (which make period-by-period estimates correlated) cancel, and the
  test keeps its false-alarm rate (alpha, one-sided in the "worse" direction) whatever the
  period effects or the number of periods. The alert fires when the one-sided p-value is below
  `alpha`.

Units present in only one of the two windows do not enter the test (their count is reported).
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import ibis
import numpy as np
import pandas as pd
from scipy import stats

from impact.data import numeric, period_of, require
from impact.engine import as_table
from impact.errors import EstimationError, ParameterError
from impact.estimators._inference import ArmStats, check_confidence, interval, welch

if TYPE_CHECKING:
    from matplotlib.axes import Axes

Better = Literal["lower", "higher"]
Period = Literal["day", "week", "month"]


@dataclass(frozen=True, eq=False)
class Drift:
    """The effect per period and the test of its recent level against its earlier level.

    `periods` has one row per period: ``period, window ("earlier" or "recent"), n_treated,
    n_control, treated_mean, control_mean, estimate, std_error, ci_low, ci_high``.
    `earlier` and `recent` are the effect over each window as ``(estimate, ci_low, ci_high)``;
    `change` is ``recent - earlier`` (outcome units) with `std_error` and the one-sided
    `p_value` in the worse direction; `alert` is ``p_value < alpha``.
    """

    outcome: str
    better: Better
    periods: pd.DataFrame = field(repr=False)
    earlier: tuple[float, float, float]
    recent: tuple[float, float, float]
    change: float
    std_error: float
    df: float
    p_value: float
    alpha: float
    alert: bool
    n_recent: int
    n_earlier: int
    units_tested: tuple[int, int]  # treated, control units present in both windows
    units_dropped: int
    confidence: float = 0.95
    relative_to_baseline: bool = False  # outcomes taken relative to each unit's pre-period
    period: str = "period"  # the period's name for the text: "week", "day", "month"

    @property
    def unit(self) -> str:
        return _unit(self.outcome)

    def headline(self) -> str:
        """The verdict in plain words."""
        name, unit = _name(self.outcome), self.unit
        earlier, recent = self.earlier[0], self.recent[0]
        window = f"the last {self.n_recent} {self.period}s"
        base = f"the {self.n_earlier} {self.period}s before"
        numbers = (
            f"{window}: {_fmt(recent, unit)} against {_fmt(earlier, unit)} in {base} "
            f"(change {_fmt(self.change, unit, signed=True)}, one-sided p = {self.p_value:.3g})"
        )
        if self.alert:
            return (
                f"Alert: the effect of the AI on {name} has weakened significantly. Over "
                f"{numbers}; a decline this large is unlikely to be chance."
            )
        return f"No significant decline in the effect on {name}. Over {numbers}."

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready verdict and numbers (no per-unit data)."""
        return {
            "outcome": self.outcome,
            "better": self.better,
            "alert": self.alert,
            "p_value": self.p_value,
            "alpha": self.alpha,
            "change": self.change,
            "std_error": self.std_error,
            "earlier": dict(zip(("estimate", "ci_low", "ci_high"), self.earlier, strict=True)),
            "recent": dict(zip(("estimate", "ci_low", "ci_high"), self.recent, strict=True)),
            "n_recent_periods": self.n_recent,
            "n_earlier_periods": self.n_earlier,
            "units_tested": list(self.units_tested),
            "units_dropped": self.units_dropped,
            "headline": self.headline(),
        }

    def plot(self, ax: Axes | None = None) -> Axes:
        """Effect per period with its interval, both windows' levels, recent window shaded."""
        import matplotlib.dates as mdates
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(8, 4.8))
        rows = self.periods
        x = pd.to_datetime(rows["period"])
        recent = rows["window"].eq("recent").to_numpy()
        ax.errorbar(
            x,
            rows["estimate"],
            yerr=[rows["estimate"] - rows["ci_low"], rows["ci_high"] - rows["estimate"]],
            fmt="o",
            color="tab:blue",
            ecolor="tab:blue",
            alpha=0.8,
            capsize=3,
            label=f"effect in each {self.period} ({self.confidence:.0%} CI)",
        )
        if recent.any():
            start = x[recent].min() - pd.Timedelta(days=3)
            ax.axvspan(
                start,
                x.max() + pd.Timedelta(days=3),
                color="tab:orange",
                alpha=0.12,
                label=f"last {self.n_recent} {self.period}s (tested)",
            )
        for mask, level, colour, text in (
            (~recent, self.earlier[0], "tab:gray", "earlier level"),
            (recent, self.recent[0], "tab:red" if self.alert else "tab:green", "recent level"),
        ):
            if mask.any():
                ax.hlines(level, x[mask].min(), x[mask].max(), colors=colour, linestyles="--")
                ax.plot([], [], "--", color=colour, label=f"{text}: {_fmt(level, self.unit)}")
        ax.axhline(0, color="black", linewidth=0.8)
        unit = f" ({self.unit})" if self.unit else ""
        ax.set_ylabel(f"effect on {_name(self.outcome)}{unit}\nAI minus control")
        ax.set_xlabel(f"{self.period} starting (date)")
        verdict = "ALERT: effect weakened" if self.alert else "no significant decline"
        ax.set_title(f"Effect over time: {verdict} (one-sided p = {self.p_value:.2g})")
        locator = mdates.AutoDateLocator(maxticks=8)
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=2, fontsize="small")
        ax.figure.tight_layout()
        return ax

    def reader_table(self) -> pd.DataFrame:
        """One row per period for readers: the effect with its interval, in the outcome's unit."""
        unit = self.unit or "outcome units"
        level = f"{self.confidence:.0%} CI"
        rows = self.periods
        return pd.DataFrame(
            {
                f"{self.period} starting": pd.to_datetime(rows["period"]).dt.date,
                "window": rows["window"],
                f"effect ({unit})": rows["estimate"].round(2),
                f"{level} ({unit})": [
                    f"{lo:+.2f} to {hi:+.2f}"
                    for lo, hi in zip(rows["ci_low"], rows["ci_high"], strict=True)
                ],
                "units with / without AI": [
                    f"{t} / {c}" for t, c in zip(rows["n_treated"], rows["n_control"], strict=True)
                ],
            }
        )

    def _repr_html_(self) -> str:
        css = "impact-warn" if self.alert else "impact-ok"
        return (
            f"<div class='impact-drift'><p class='{css}'>{html.escape(self.headline())}</p>"
            f"{self.reader_table().to_html(index=False)}</div>"
        )


def effect_drift(
    events: Any,
    outcome: str,
    *,
    unit: str = "agent_id",
    arm: str = "arm",
    time: str = "started_at",
    control: str = "control",
    treatment: str | None = None,
    period: Period = "week",
    pre_period: Literal["assignment"] | None = None,
    assigned_at: str = "assigned_at",
    recent: int = 4,
    min_earlier: int = 4,
    better: Better = "lower",
    alpha: float = 0.05,
    confidence: float = 0.95,
) -> Drift:
    """The effect on `outcome` per `period`, and whether its last `recent` periods degraded.

    `events` are the events of an A/B test (:func:`impact.with_assignments`), with the `arm`
    of each `unit`. With ``pre_period="assignment"`` they include each unit's events before its
    `assigned_at` (``since_assignment=False``), which serve as its baseline; otherwise they
    are the events after assignment only. `better` says which way the outcome should move
    ("lower" handle time): the alert is one-sided, for a change toward worse.

    Example:
        >>> import impact
        >>> pilot = impact.with_assignments(impact.as_table("sample:events"),
        ...                                 "sample:assignments")
        >>> drift = effect_drift(pilot, "handle_time_minutes")
        >>> drift.alert, len(drift.periods)
        (False, 18)
    """
    if pre_period not in (None, "assignment"):
        raise ParameterError(f"pre_period must be None or 'assignment', got {pre_period!r}")
    table = as_table(events)
    require(table, unit, arm, time, *([assigned_at] if pre_period else []))
    pre = table[time] < table[assigned_at] if pre_period else ibis.literal(False)
    with_period = table.mutate(_period=period_of(table, time, period), _y=numeric(table, outcome))
    with_period = with_period.mutate(_pre=pre)
    cells = (
        with_period.filter(with_period._y.notnull())
        .group_by([unit, arm, "_period", "_pre"])
        .aggregate(total=with_period._y.sum(), n=with_period._y.count())
        .execute()
        .rename(columns={"_period": "period", "_pre": "pre"})
    )
    return drift_from_cells(
        cells,
        outcome=outcome,
        unit=unit,
        arm=arm,
        control=control,
        treatment=treatment,
        recent=recent,
        min_earlier=min_earlier,
        better=better,
        alpha=alpha,
        confidence=confidence,
        period=period,
    )


def drift_from_cells(
    cells: pd.DataFrame,
    *,
    outcome: str,
    unit: str = "agent_id",
    arm: str = "arm",
    control: str = "control",
    treatment: str | None = None,
    recent: int = 4,
    min_earlier: int = 4,
    better: Better = "lower",
    alpha: float = 0.05,
    confidence: float = 0.95,
    period: str = "period",
) -> Drift:
    """:func:`effect_drift` on unit x period sums: columns `unit`, `arm`, ``period, total, n``
    and optionally ``pre`` (True for a unit's baseline rows before assignment).

    The sufficient statistics are all the test needs, so simulation studies run on them.
    """
    check_confidence(confidence)
    if better not in ("lower", "higher"):
        raise ParameterError(f"better must be 'lower' or 'higher', got {better!r}")
    if not 0 < alpha < 0.5:
        raise ParameterError(f"alpha must lie strictly between 0 and 0.5, got {alpha!r}")
    for name, number in (("recent", recent), ("min_earlier", min_earlier)):
        if not (isinstance(number, int) and number >= 1):
            raise ParameterError(f"{name} must be a whole number >= 1, got {number!r}")
    cells = cells.loc[cells["n"] > 0]
    baseline, no_baseline = None, 0
    if "pre" in cells.columns:
        pre = cells["pre"].astype(bool)
        if pre.any():
            sums = cells.loc[pre].groupby(unit)[["total", "n"]].sum()
            baseline = sums["total"] / sums["n"]
        cells = cells.loc[~pre].drop(columns="pre")
    if baseline is not None:  # outcomes relative to each unit's own pre-period mean
        base = cells[unit].map(baseline)
        no_baseline = int(cells.loc[base.isna(), unit].nunique())
        cells = cells.loc[base.notna()].assign(total=lambda f: f["total"] - f["n"] * base)
    arms = sorted(map(str, cells[arm].unique()))
    if control not in arms:
        raise EstimationError(f"no {arm} == {control!r} among the arms {arms}")
    others = [a for a in arms if a != control]
    if treatment is None:
        if len(others) != 1:
            raise EstimationError(f"expected one treatment arm besides {control!r}, got {others}")
        treatment = others[0]
    elif treatment not in others:
        raise EstimationError(f"no {arm} == {treatment!r} among the arms {arms}")
    cells = cells.loc[cells[arm].astype(str).isin([treatment, control])]
    periods = sorted(cells["period"].unique())
    if len(periods) < recent + min_earlier:
        raise EstimationError(
            f"the drift test needs at least {recent + min_earlier} periods ({recent} recent, "
            f"{min_earlier} earlier), but the data span {len(periods)}; shorten `recent` or "
            "wait for more data"
        )
    cut = periods[-recent]
    cells = cells.assign(
        _treated=cells[arm].astype(str).eq(treatment),
        window=np.where(cells["period"] >= cut, "recent", "earlier"),
    )
    by_period = _per_period(cells, confidence)
    sums = cells.groupby([unit, "_treated", "window"])[["total", "n"]].sum()
    windows = (
        (sums["total"] / sums["n"])
        .unstack("window")
        .reindex(columns=["earlier", "recent"])
        .reset_index()
    )
    earlier = _window_effect(windows, "earlier", confidence)
    latest = _window_effect(windows, "recent", confidence)
    both = windows.dropna(subset=["earlier", "recent"])
    treated = both["_treated"].to_numpy()
    diff, se, df, p_value = change_test(
        both["earlier"].to_numpy(), both["recent"].to_numpy(), treated, better=better
    )
    return Drift(
        outcome=outcome,
        better=better,
        periods=by_period,
        earlier=earlier,
        recent=latest,
        change=float(diff),
        std_error=float(se),
        df=float(df),
        p_value=p_value,
        alpha=float(alpha),
        alert=p_value < alpha,
        n_recent=recent,
        n_earlier=len(periods) - recent,
        units_tested=(int(treated.sum()), int((~treated).sum())),
        units_dropped=len(windows) - len(both) + no_baseline,
        confidence=confidence,
        relative_to_baseline=baseline is not None,
        period=period,
    )


def change_test(
    earlier: np.ndarray, recent: np.ndarray, treated: np.ndarray, *, better: Better = "lower"
) -> tuple[float, float, float, float]:
    """The drift test on per-unit window means: ``(change, se, df, one-sided p)``.

    ``change = mean(recent - earlier | treated) - mean(recent - earlier | control)``, the
    effect's move between the windows; Welch's t-test across units, one-sided toward worse
    (a rise when lower is better). These per-unit means are all the test needs.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> level = rng.normal(15, 3, 60)
        >>> treated = np.arange(60) < 12
        >>> earlier = level - 2.5 * treated + rng.normal(0, 0.5, 60)
        >>> recent = level - 1.0 * treated + rng.normal(0, 0.5, 60)   # the effect weakened
        >>> change, se, df, p = change_test(earlier, recent, treated)
        >>> round(change, 1), p < 0.001
        (1.3, True)
    """
    change = np.asarray(recent, np.float64) - np.asarray(earlier, np.float64)
    treated = np.asarray(treated, bool)
    diff, se, df = welch(_stats(change[treated]), _stats(change[~treated]))
    worse = 1.0 if better == "lower" else -1.0  # a rise in the effect is worse when lower wins
    return float(diff), float(se), float(df), float(stats.t.sf(worse * diff / se, df))


def _stats(values: pd.Series | np.ndarray) -> ArmStats:
    v = np.asarray(values, dtype=np.float64)
    return ArmStats(n=len(v), mean=float(v.mean()) if len(v) else math.nan, var=_var(v))


def _var(v: np.ndarray) -> float:
    return float(v.var(ddof=1)) if len(v) > 1 else math.nan


def _window_effect(
    windows: pd.DataFrame, window: str, confidence: float
) -> tuple[float, float, float]:
    rows = windows.dropna(subset=[window])
    treated = rows["_treated"].to_numpy()
    diff, se, df = welch(_stats(rows.loc[treated, window]), _stats(rows.loc[~treated, window]))
    low, high, _ = interval(diff, se, confidence=confidence, df=df)
    return float(diff), float(low), float(high)


def _per_period(cells: pd.DataFrame, confidence: float) -> pd.DataFrame:
    """Welch comparison of per-unit means within each period, vectorised over periods."""
    means = cells.assign(_mean=cells["total"] / cells["n"])
    stats_by = (
        means.groupby(["period", "window", "_treated"])["_mean"]
        .agg(["count", "mean", "var"])
        .unstack("_treated")
    )
    n_t = stats_by[("count", True)].fillna(0).to_numpy(np.float64)
    n_c = stats_by[("count", False)].fillna(0).to_numpy(np.float64)
    m_t, m_c = stats_by[("mean", True)].to_numpy(), stats_by[("mean", False)].to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        vt = stats_by[("var", True)].to_numpy() / n_t
        vc = stats_by[("var", False)].to_numpy() / n_c
        se = np.sqrt(vt + vc)
        df = (vt + vc) ** 2 / (vt**2 / (n_t - 1) + vc**2 / (n_c - 1))
    usable = (n_t >= 2) & (n_c >= 2) & (se > 0)  # else the period is shown as a gap
    diff = np.where(usable, m_t - m_c, np.nan)
    se = np.where(usable, se, np.nan)
    q = stats.t.ppf(0.5 + confidence / 2, np.where(usable, df, 1.0))
    index = stats_by.index.to_frame(index=False)
    return pd.DataFrame(
        {
            "period": index["period"],
            "window": index["window"],
            "n_treated": n_t.astype(int),
            "n_control": n_c.astype(int),
            "treated_mean": m_t,
            "control_mean": m_c,
            "estimate": diff,
            "std_error": se,
            "ci_low": diff - q * se,
            "ci_high": diff + q * se,
        }
    )


_UNIT_SUFFIXES = {"minutes": "minutes", "hours": "hours", "seconds": "seconds", "usd": "USD"}


def _unit(outcome: str) -> str:
    suffix = outcome.rsplit("_", 1)[-1].lower()
    return _UNIT_SUFFIXES.get(suffix, "") if "_" in outcome else ""


def _name(outcome: str) -> str:
    words: Sequence[str] = outcome.split("_")
    if _unit(outcome):
        words = words[:-1]
    return " ".join(words)


def _fmt(number: float, unit: str, *, signed: bool = False) -> str:
    text = f"{number:+.3g}" if signed else f"{number:.3g}"
    return f"{text} {unit}".rstrip()


__all__ = ["Drift", "change_test", "drift_from_cells", "effect_drift"]
