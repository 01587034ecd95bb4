"""Who benefits most? Effects of adoption per segment (team, workflow, region) with EconML.

A double machine learning model (EconML's ``LinearDML``) removes what the covariates predict
about adoption and the outcome, then fits the effect as a function of the segment; each
segment's effect comes with its own confidence interval. Use it after the matched estimate,
to say where to roll out next, not instead of it.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from impact.errors import EstimationError, MissingDependencyError
from impact.estimators._units import load_units


def segment_effects(
    units: Any,
    outcome: str,
    *,
    segment: str,
    covariates: Sequence[str],
    treatment: str = "adopted",
    pre_outcome: str | None = None,
    confidence: float = 0.95,
    min_units: int = 10,
    seed: int = 0,
) -> pd.DataFrame:
    """Conditional average effect of adoption per value of `segment`, best first.

    Returns one row per segment: ``segment, units, adopters, effect, ci_low, ci_high``
    (outcome units; with `pre_outcome`, the effect on the change). Segments with fewer than
    `min_units` adopters or non-adopters are left out (too few to say anything).

    Example:
        >>> rng = np.random.default_rng(0)
        >>> n = 600
        >>> team = rng.choice(["north", "south"], n)
        >>> x = rng.normal(size=n)
        >>> t = rng.random(n) < 1 / (1 + np.exp(-x))
        >>> y = x + np.where(team == "north", -3.0, -1.0) * t + rng.normal(size=n)
        >>> frame = pd.DataFrame({"adopted": t, "x": x, "y": y, "team": team})
        >>> table = segment_effects(frame, "y", segment="team", covariates=["x"])
        >>> table.segment.tolist() == ["north", "south"]
        True
    """
    try:
        with warnings.catch_warnings():
            # econml imports dowhy, whose sources carry invalid escape sequences (a
            # Deprecation- or SyntaxWarning when first compiled): noise we cannot fix.
            warnings.simplefilter("ignore", SyntaxWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            from econml.dml import LinearDML
        from sklearn.linear_model import LinearRegression, LogisticRegression
    except ImportError as exc:  # pragma: no cover - part of the causal extra
        raise MissingDependencyError(
            "segment_effects needs econml: pip install 'impact[causal]'"
        ) from exc
    frame = units if isinstance(units, pd.DataFrame) else None
    u = load_units(
        frame if frame is not None else units,
        outcome=outcome,
        treatment=treatment,
        covariates=covariates,
        exact=[segment],
        pre_outcome=pre_outcome,
    )
    labels = u.strata_labels[segment].to_numpy()
    counts = pd.DataFrame({"code": u.strata, "treated": u.treated}).groupby("code").treated
    adopters, total = counts.sum(), counts.size()
    ok = (adopters >= min_units) & (total - adopters >= min_units)
    if ok.sum() == 0:
        raise EstimationError(
            f"no {segment!r} value has {min_units} adopters and {min_units} non-adopters; "
            "lower min_units or use a coarser segment"
        )
    keep = np.isin(u.strata, ok[ok].index.to_numpy())
    codes = u.strata[keep]
    kept_codes = np.sort(np.unique(codes))
    # Effect modifiers: segment indicators (the first kept segment is the reference).
    modifiers = (codes[:, None] == kept_codes[None, 1:]).astype(np.float64)
    model = LinearDML(
        model_y=LinearRegression(),
        model_t=LogisticRegression(C=np.inf, max_iter=1000),
        discrete_treatment=True,
        cv=3,
        random_state=seed,
    )
    model.fit(u.y[keep] - u.pre[keep], u.treated[keep].astype(int), X=modifiers, W=u.x[keep])
    grid = np.vstack([np.zeros(len(kept_codes) - 1), np.eye(len(kept_codes) - 1)])
    inference = model.effect_inference(grid)
    low, high = inference.conf_int(alpha=1 - confidence)
    table = pd.DataFrame(
        {
            "segment": [str(v) for v in labels[kept_codes]],
            "units": total[kept_codes].to_numpy(),
            "adopters": adopters[kept_codes].to_numpy(),
            "effect": inference.point_estimate,
            "ci_low": np.ravel(low),
            "ci_high": np.ravel(high),
        }
    )
    return table.sort_values("effect", ignore_index=True)
