"""Shared fixtures: session-scoped, seeded samples from `impact.datasets` (never mutate them)."""

from __future__ import annotations

import pandas as pd
import pytest

from impact.datasets import SampleData, simulate


@pytest.fixture(scope="session")
def sample() -> SampleData:
    """The default simulated sample (seed 0): ~100k events, 200 agents, 20 teams, 26 weeks."""
    return simulate(seed=0)


@pytest.fixture(scope="session")
def events(sample: SampleData) -> pd.DataFrame:
    """`sample.events`: workflow_events as in docs/data-model.md."""
    return sample.events
