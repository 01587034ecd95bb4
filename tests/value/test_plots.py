"""The value plots return Axes with units in every label."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pandas as pd
import pytest

from impact.value import Register, cost_per_outcome, payback

from .conftest import effect, register


@pytest.fixture(autouse=True)
def _close() -> None:
    yield
    plt.close("all")


def test_cumulative_marks_payback() -> None:
    ax = payback(effect(), costs=register(), draws=500).plot()
    assert "USD" in ax.get_ylabel() and "months" in ax.get_xlabel()
    labels = [line.get_label() for line in ax.get_lines()]
    assert any(label.startswith("payback: month 10") for label in labels)


def test_cumulative_says_when_it_never_pays_back() -> None:
    ax = payback(effect(estimate=-0.5, se=0.05), costs=register(), draws=500).plot()
    assert any("no payback within 12 months" in t.get_text() for t in ax.texts)


def test_cost_stack(events: pd.DataFrame, sample_register: Register) -> None:
    ax = cost_per_outcome(
        events, costs=sample_register, effect=effect(estimate=-2.0, se=0.4)
    ).plot()
    assert "(USD)" in ax.get_ylabel()
    assert len(ax.patches) == 3 * 5  # three scenarios x five components


def test_tornado(sample_register: Register) -> None:
    s = payback(effect(estimate=-2.2, se=0.4), costs=sample_register, draws=500).sensitivity()
    ax = s.plot(top=5)
    assert "(thousand USD)" in ax.get_xlabel()
    assert len(ax.patches) == 2 * 5
    assert all("[" in t.get_text() for t in ax.get_yticklabels())  # units beside each name
