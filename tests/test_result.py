from __future__ import annotations

import dataclasses
import math

import pandas as pd
import pytest

from impact.result import Diagnostic, Effect


def effect(**changes: object) -> Effect:
    base = dict(
        outcome="handle_time_minutes",
        method="ab.welch",
        estimand="ATE",
        estimate=-2.0,
        std_error=0.5,
        ci_low=-3.0,
        ci_high=-1.0,
        p_value=0.0004,
        baseline=10.0,
        lift=-0.2,
        lift_ci=(-0.29, -0.11),
        n_treated=40,
        n_control=160,
        diagnostics=(Diagnostic("sample_ratio_p", 0.4, True, "fine"),),
        tables={"arms": pd.DataFrame({"arm": ["t", "c"], "units": [40, 160]})},
    )
    return Effect(**(base | changes))  # type: ignore[arg-type]


def test_effect_is_frozen_including_its_tables() -> None:
    e = effect()
    with pytest.raises(dataclasses.FrozenInstanceError):
        e.estimate = 1.0  # type: ignore[misc]
    with pytest.raises(TypeError):
        e.tables["new"] = pd.DataFrame()  # type: ignore[index]


def test_tables_are_copied_so_the_caller_cannot_change_the_result() -> None:
    frame = pd.DataFrame({"x": [1.0]})
    e = effect(tables={"t": frame})
    frame.loc[0, "x"] = 99.0
    assert e.tables["t"].x.iloc[0] == 1.0


def test_to_frame_has_every_field_and_diagnostic() -> None:
    row = effect().to_frame()
    assert len(row) == 1
    assert row.loc[0, "estimate"] == -2.0
    assert row.loc[0, "lift_ci_low"] == -0.29 and row.loc[0, "lift_ci_high"] == -0.11
    assert row.loc[0, "sample_ratio_p"] == 0.4
    assert "tables" not in row.columns


def test_to_dict_is_json_ready() -> None:
    import json

    data = json.loads(json.dumps(effect().to_dict()))
    assert data["diagnostics"] == [
        {"name": "sample_ratio_p", "value": 0.4, "passed": True, "detail": "fine"}
    ]
    assert data["n_treated"] == 40


def test_headline_and_html() -> None:
    e = effect()
    assert e.headline() == ("handle_time_minutes: -2 (-20.0%, 95% CI -29.0% to -11.0%), p < 0.001")
    html = e._repr_html_()
    assert "sample_ratio_p" in html and "40 treated, 160 control" in html
    assert e.significant and e.passed
    assert not effect(p_value=0.2).significant


def test_diagnostic_lookup_names_the_known_ones() -> None:
    with pytest.raises(KeyError, match="have \\['sample_ratio_p'\\]"):
        effect().diagnostic("pre_trend_p")


def test_plot_draws_the_interval() -> None:
    import matplotlib

    matplotlib.use("Agg")
    ax = effect().plot()
    lines = ax.lines
    assert any(math.isclose(x, -20.0) for line in lines for x in line.get_xdata())
    assert "relative change" in ax.get_xlabel()
