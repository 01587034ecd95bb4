"""Unit-level inputs of the matched-cohort and weighting estimators, validated once.

Matching and weighting work on one row per unit (an agent): a treatment flag, an outcome and
covariates. This module pulls just those columns from the engine (a unit table is small even at
a million agents), checks them and builds the numeric design: categorical covariates become
indicator columns, everything becomes float64 so small integer dtypes never overflow when
squared, and missing values or constant covariates raise an error that names the column.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from impact.engine import as_table
from impact.errors import EstimationError


@dataclass(frozen=True, slots=True)
class Units:
    """The validated unit table as arrays (row order is the input's)."""

    ids: np.ndarray  # unit labels, for messages and the matched-pairs table
    treated: np.ndarray  # bool
    y: np.ndarray  # float64 outcome (the post-period level for a matched DiD)
    pre: np.ndarray  # float64 pre-period outcome; zeros unless `pre_outcome` was given
    x: np.ndarray  # float64 design, one column per entry of `names` (indicators for categories)
    names: tuple[str, ...]
    strata: np.ndarray  # int codes of the exact-matching strata (all 0 without `exact`)
    strata_labels: pd.DataFrame  # one row per stratum code: the exact columns' values
    score: np.ndarray | None  # user-supplied propensity scores, if any
    notes: tuple[str, ...]


def load_units(
    source: Any,
    *,
    outcome: str,
    treatment: str,
    covariates: Sequence[str],
    exact: Sequence[str] = (),
    pre_outcome: str | None = None,
    score: str | None = None,
    unit: str | None = None,
) -> Units:
    """Select, check and encode the columns the estimators need; raise on anything unusable."""
    # A unit table is small: a pandas frame is used as is, anything else is selected in the
    # engine and only the needed columns come back.
    table = source if isinstance(source, pd.DataFrame) else as_table(source)
    wanted = [outcome, treatment, *covariates, *exact]
    wanted += [c for c in (pre_outcome, score, unit) if c is not None]
    if missing := [c for c in dict.fromkeys(wanted) if c not in table.columns]:
        raise EstimationError(
            f"no column(s) {missing} in the unit table; it has {sorted(table.columns)}. "
            "Build one with impact.adopter_units(events, agents, rollouts)."
        )
    columns = list(dict.fromkeys(wanted))
    frame = (
        table[columns].reset_index(drop=True)
        if isinstance(table, pd.DataFrame)
        else table.select(*columns).execute()
    )
    if frame.empty:
        raise EstimationError("the unit table is empty: no unit to match")
    ids = frame[unit].to_numpy() if unit else np.arange(len(frame))
    treated = _treatment(frame, treatment, ids)
    y = _numeric(frame, outcome, ids, role="outcome")
    notes: list[str] = []
    pre = np.zeros_like(y)
    if pre_outcome is not None:
        pre = _numeric(frame, pre_outcome, ids, role="pre-period outcome")
    x, names = _design(frame, covariates, ids, notes)
    strata, labels = _strata(frame, exact, ids)
    scores = None
    if score is not None:
        scores = _numeric(frame, score, ids, role="propensity score")
        if bad := int(((scores <= 0) | (scores >= 1)).sum()):
            example = ids[np.flatnonzero((scores <= 0) | (scores >= 1))[0]]
            raise EstimationError(
                f"{bad} unit(s) have a {score!r} outside (0, 1) (e.g. unit {example!r}); "
                "propensity scores must be probabilities strictly between 0 and 1"
            )
    return Units(ids, treated, y, pre, x, tuple(names), strata, labels, scores, tuple(notes))


def _treatment(frame: pd.DataFrame, column: str, ids: np.ndarray) -> np.ndarray:
    values = frame[column]
    if values.isna().any():
        example = ids[np.flatnonzero(values.isna().to_numpy())[0]]
        raise EstimationError(
            f"{int(values.isna().sum())} unit(s) have no {column!r} value (e.g. unit "
            f"{example!r}); every unit must be treated (1/True) or not (0/False)"
        )
    if pd.api.types.is_bool_dtype(values):
        treated = values.to_numpy(dtype=bool)
    else:
        numbers = pd.to_numeric(values, errors="coerce")
        if numbers.isna().any() or not numbers.isin([0, 1]).all():
            odd = values[numbers.isna() | ~numbers.isin([0, 1])]
            raise EstimationError(
                f"{column!r} must be binary (True/False or 1/0); {len(odd)} unit(s) have "
                f"other values, e.g. {odd.iloc[0]!r}"
            )
        treated = numbers.to_numpy(dtype=np.float64) == 1
    n_treated = int(treated.sum())
    if n_treated == 0 or n_treated == treated.size:
        which = "treated" if n_treated else "untreated"
        raise EstimationError(
            f"all {treated.size} unit(s) are {which} ({column!r}); a matched comparison needs "
            "both adopters and non-adopters"
        )
    return treated


def _numeric(frame: pd.DataFrame, column: str, ids: np.ndarray, *, role: str) -> np.ndarray:
    values = frame[column]
    if not (pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values)):
        raise EstimationError(
            f"the {role} {column!r} must be numeric, got dtype {values.dtype} "
            f"(e.g. {values.iloc[0]!r})"
        )
    # float64 before any arithmetic: int8/int16 columns would overflow when squared.
    out = pd.to_numeric(values, errors="coerce").astype("float64").to_numpy(na_value=np.nan)
    if bad := int((~np.isfinite(out)).sum()):
        example = ids[np.flatnonzero(~np.isfinite(out))[0]]
        raise EstimationError(
            f"{bad} unit(s) have a missing or infinite {role} {column!r} (e.g. unit "
            f"{example!r}); fill or drop them before matching (units without pre-period "
            "events have no pre-period covariates)"
        )
    return out


def _design(
    frame: pd.DataFrame, covariates: Sequence[str], ids: np.ndarray, notes: list[str]
) -> tuple[np.ndarray, list[str]]:
    columns: list[np.ndarray] = []
    names: list[str] = []
    for name in covariates:
        values = frame[name]
        if pd.api.types.is_bool_dtype(values) or pd.api.types.is_numeric_dtype(values):
            column = _numeric(frame, name, ids, role="covariate")
            if np.ptp(column) == 0:
                raise EstimationError(
                    f"the covariate {name!r} has no variance (every unit has {column[0]:g}); "
                    "it cannot balance anything: drop it from covariates"
                )
            columns.append(column)
            names.append(name)
            continue
        if values.isna().any():
            example = ids[np.flatnonzero(values.isna().to_numpy())[0]]
            raise EstimationError(
                f"{int(values.isna().sum())} unit(s) have a missing covariate {name!r} (e.g. "
                f"unit {example!r}); fill or drop them before matching"
            )
        levels = sorted(map(str, values.unique()))
        if len(levels) < 2:
            raise EstimationError(
                f"the covariate {name!r} has no variance (every unit is {levels[0]!r}); "
                "drop it from covariates"
            )
        text = values.astype(str).to_numpy()
        # One indicator per level except the first, as a regression would code it.
        for level in levels[1:]:
            columns.append((text == level).astype(np.float64))
            names.append(f"{name}={level}")
        notes.append(
            f"categorical covariate {name!r} enters as {len(levels) - 1} indicator(s) "
            f"(reference level {levels[0]!r})"
        )
    if not columns:
        raise EstimationError("no covariates: pass covariates=[...] to match on")
    return np.column_stack(columns), names


def _strata(
    frame: pd.DataFrame, exact: Sequence[str], ids: np.ndarray
) -> tuple[np.ndarray, pd.DataFrame]:
    if not exact:
        return np.zeros(len(frame), dtype=np.int64), pd.DataFrame(index=[0])
    keys = frame[list(exact)]
    if (nulls := keys.isna().any(axis=1)).any():
        example = ids[np.flatnonzero(nulls.to_numpy())[0]]
        raise EstimationError(
            f"{int(nulls.sum())} unit(s) have a missing exact-matching key {list(exact)} "
            f"(e.g. unit {example!r}); fill or drop them"
        )
    codes, uniques = pd.factorize(pd.MultiIndex.from_frame(keys.astype(str)))
    return codes.astype(np.int64), pd.DataFrame(list(uniques), columns=list(exact))
