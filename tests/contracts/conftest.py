"""Hand-built frames for the contract tests: small, valid by construction, and easy to break."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

#: What `break_events` does, and the one rule each kind of damage breaks.
INJECTED = {
    "duplicate": "duplicate event_id",
    "negative_duration": "ended_at >= started_at",
    "null_agent_id": "agent_id not null",
    "long_handle_time": "handle_time_minutes <= 1440",
    "csat_9": "csat <= 5",
    "unknown_workflow": "workflow in {billing, technical, account, returns}",
    "negative_cost": "compute_cost_usd >= 0",
}


def build_events(n: int = 200) -> pd.DataFrame:
    """`n` workflow events that satisfy every rule of the workflow_events contract."""
    rng = np.random.default_rng(7)
    i = np.arange(n)
    started = pd.Timestamp("2026-03-02 09:00", tz="UTC") + pd.to_timedelta(i * 37, unit="min")
    handle = rng.uniform(1.0, 60.0, n).round(2)
    ai = i % 3 == 0
    csat = pd.array(np.where(i % 4 == 0, None, 1 + i % 5), dtype="Int64")
    return pd.DataFrame(
        {
            "event_id": [f"E{k:08d}" for k in i],
            "agent_id": [f"A{k % 20:04d}" for k in i],
            "team_id": [f"T{k % 4:02d}" for k in i],
            "workflow": np.array(["billing", "technical", "account", "returns"])[i % 4],
            "region": np.array(["AMER", "EMEA", "APAC"])[i % 3],
            "started_at": started,
            "ended_at": started + pd.to_timedelta(handle * 60, unit="s").round("s"),
            "ai_used": ai,
            "ai_model": pd.array(np.where(ai, "small", None), dtype="string"),
            "handle_time_minutes": handle,
            "resolved": i % 5 != 0,
            "escalated": i % 7 == 0,
            "reopened": i % 11 == 0,
            "csat": csat,
            "compute_cost_usd": np.where(ai, 0.02, 0.0),
            "review_minutes": np.where(ai, 1.5, 0.0),
            "correction_minutes": np.where(i % 6 == 0, 2.0, 0.0),
        }
    )


def break_events(events: pd.DataFrame, n_per_kind: int = 5) -> pd.DataFrame:
    """`events` with `n_per_kind` rows of each kind in INJECTED, each breaking one rule.

    Damaged rows are distinct; duplicates are appended exact copies of undamaged rows.
    """
    out = events.copy()
    kinds = [k for k in INJECTED if k != "duplicate"]
    rows = np.arange(len(kinds) * n_per_kind).reshape(len(kinds), n_per_kind) * 3
    picks = dict(zip(kinds, rows, strict=True))
    idx = picks["negative_duration"]
    out.loc[idx, "ended_at"] = out.loc[idx, "started_at"] - pd.Timedelta(minutes=5)
    out.loc[picks["null_agent_id"], "agent_id"] = None
    idx = picks["long_handle_time"]
    out.loc[idx, "handle_time_minutes"] = 1500.0
    out.loc[idx, "ended_at"] = out.loc[idx, "started_at"] + pd.Timedelta(minutes=1500)
    out.loc[picks["csat_9"], "csat"] = 9
    out.loc[picks["unknown_workflow"], "workflow"] = "unknown"
    out.loc[picks["negative_cost"], "compute_cost_usd"] = -0.5
    damaged = set(np.concatenate(list(picks.values())))
    spare = [k for k in range(len(out)) if k not in damaged][-n_per_kind:]
    return pd.concat([out, events.iloc[spare]], ignore_index=True)


@pytest.fixture
def clean_events() -> pd.DataFrame:
    """200 valid workflow events (a fresh copy per test: mutate freely)."""
    return build_events()


@pytest.fixture
def write_contract(tmp_path: Path) -> Callable[..., Path]:
    """Write a one-table ODCS contract from YAML snippets; returns its path."""

    def write(properties: str, quality: str = "", name: str = "demo") -> Path:
        text = f"""\
apiVersion: v3.1.0
kind: DataContract
id: urn:test:{name}
name: {name}
version: 0.1.0
status: draft
schema:
  - name: {name}
    properties:
{_indent(properties, 6)}
"""
        if quality:
            text += f"    quality:\n{_indent(quality, 6)}\n"
        path = tmp_path / f"{name}.yaml"
        path.write_text(text, encoding="utf-8")
        return path

    return write


def _indent(block: str, spaces: int) -> str:
    import textwrap

    return textwrap.indent(textwrap.dedent(block).strip("\n"), " " * spaces)


@pytest.fixture
def broken_events() -> pd.DataFrame:
    """`clean_events` with 5 rows of each kind in INJECTED: 30 damaged rows + 5 copies."""
    return break_events(build_events())


@pytest.fixture
def injected() -> dict[str, str]:
    """Kind of damage -> the rule it breaks (see `break_events`)."""
    return dict(INJECTED)
