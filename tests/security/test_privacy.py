"""impact.privacy: keyed pseudonyms computed in the engine, and small-segment suppression."""

from __future__ import annotations

import hashlib
import hmac

import ibis
import numpy as np
import pandas as pd
import pytest

import impact
from impact.datasets import simulate
from impact.errors import ParameterError
from impact.privacy import pseudonymize, suppress_small

KEY = "k3y-for-tests-0123456789abcdef"


def reference(value: str, key: str = KEY) -> str:
    return hmac.new(key.encode(), value.encode("utf-8"), hashlib.sha256).hexdigest()


@pytest.fixture
def key(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("IMPACT_PSEUDONYM_KEY", KEY)
    return KEY


def test_pseudonyms_equal_python_hmac_sha256(key: str) -> None:
    ids = ["A0001", "A0002", " é\u200b\t", "", "x'); DROP TABLE t; --", None]
    frame = pd.DataFrame({"agent_id": ids, "team_id": [1, 2, 3, 4, 5, 6], "y": range(6)})
    out = pseudonymize(frame, ["agent_id", "team_id"]).execute()
    expected = [reference(v) if v is not None else None for v in ids]
    assert out.agent_id.tolist() == expected
    assert out.team_id.tolist() == [reference(str(i)) for i in range(1, 7)]
    assert out.y.tolist() == list(range(6))  # other columns untouched


def test_load_pseudonymizes_after_validating(key: str) -> None:
    events = simulate(n_agents=20, n_teams=2, n_weeks=4, seed=2).events
    events.loc[events.index[0], "csat"] = 9  # one row to quarantine, by its raw event id
    loaded = impact.load(
        events, contract="workflow_events", pseudonymize=["agent_id", "event_id"]
    ).execute()
    assert len(loaded) == len(events) - 1
    assert sorted(loaded.event_id) == sorted(map(reference, events.event_id.iloc[1:]))
    assert set(loaded.agent_id) == set(map(reference, events.agent_id))
    assert sorted(loaded.team_id) == sorted(events.team_id.iloc[1:])  # others untouched
    plain = impact.load(events, columns={"unit": "agent_id"}, pseudonymize=["unit"]).execute()
    assert set(plain.unit) == set(map(reference, events.agent_id))


def test_long_key_is_hashed_first_as_rfc_2104_says(monkeypatch: pytest.MonkeyPatch) -> None:
    long_key = "L" * 100
    monkeypatch.setenv("MY_KEY", long_key)
    out = pseudonymize(pd.DataFrame({"u": ["A0001"]}), ["u"], key_env="MY_KEY").execute()
    assert out.u[0] == reference("A0001", long_key)


def test_pseudonyms_keep_per_unit_statistics(key: str) -> None:
    sample = simulate(n_agents=60, n_teams=6, n_weeks=10, seed=4)
    pilot = impact.with_assignments(impact.as_table(sample.events), sample.assignments)
    before = impact.ab_test(pilot, "handle_time_minutes")
    hidden = pseudonymize(pilot, ["agent_id", "event_id", "team_id"])
    after = impact.ab_test(hidden, "handle_time_minutes")
    assert after.estimate == pytest.approx(before.estimate, rel=1e-12)
    assert after.std_error == pytest.approx(before.std_error, rel=1e-12)
    assert (after.n_treated, after.n_control) == (before.n_treated, before.n_control)
    seen = set(hidden.select("agent_id").distinct().execute().agent_id)
    assert not seen & set(sample.events.agent_id)
    assert len(seen) == before.n_treated + before.n_control


def test_pseudonyms_depend_on_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    frame = pd.DataFrame({"u": ["A0001"]})
    monkeypatch.setenv("IMPACT_PSEUDONYM_KEY", KEY)
    first = pseudonymize(frame, ["u"]).execute().u[0]
    monkeypatch.setenv("IMPACT_PSEUDONYM_KEY", KEY + "!")
    second = pseudonymize(frame, ["u"]).execute().u[0]
    assert first != second and hashlib.sha256(b"A0001").hexdigest() not in (first, second)


def test_pseudonymize_is_lazy_and_in_the_engine(key: str) -> None:
    out = pseudonymize(pd.DataFrame({"u": ["a"]}), ["u"], prefix="u_")
    assert isinstance(out, ibis.expr.types.Table)
    assert "sha256" in ibis.to_sql(out).lower()
    assert out.execute().u[0] == "u_" + reference("a")


def test_pseudonymize_refuses_a_missing_or_short_key(monkeypatch: pytest.MonkeyPatch) -> None:
    frame = pd.DataFrame({"u": ["a"]})
    monkeypatch.delenv("IMPACT_PSEUDONYM_KEY", raising=False)
    with pytest.raises(ParameterError, match="IMPACT_PSEUDONYM_KEY"):
        pseudonymize(frame, ["u"])
    monkeypatch.setenv("IMPACT_PSEUDONYM_KEY", "short")
    with pytest.raises(ParameterError, match="5 bytes; use at least 16"):
        pseudonymize(frame, ["u"])
    monkeypatch.setenv("IMPACT_PSEUDONYM_KEY", KEY)
    with pytest.raises(ParameterError, match=r"no column\(s\) \['agent'\]"):
        pseudonymize(frame, ["agent"])


def segments() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "team_id": ["T1", "T2", "T3", "T4"],
            "agents": np.array([40, 9, 10, 25], dtype="int64"),
            "mean_handle_time": [12.0, 30.5, 14.0, 11.0],
            "lift": [-0.2, -0.9, -0.1, -0.15],
        }
    )


def test_segments_under_ten_units_are_blanked_with_a_partner() -> None:
    out = suppress_small(segments(), "agents")
    assert out.suppressed.tolist() == [False, True, True, False]  # T2 (9) and the next, T3 (10)
    assert out.team_id.tolist() == ["T1", "T2", "T3", "T4"]  # keys stay visible
    hidden = out.loc[out.suppressed, ["agents", "mean_handle_time", "lift"]]
    assert hidden.isna().all().all()
    shown = out.loc[~out.suppressed]
    assert shown.agents.tolist() == [40.0, 25.0]
    assert shown.lift.tolist() == [-0.2, -0.15]


def test_no_partner_when_two_segments_are_small_or_complementary_is_off() -> None:
    frame = segments().assign(agents=[40, 9, 3, 25])
    assert suppress_small(frame, "agents").suppressed.tolist() == [False, True, True, False]
    single = suppress_small(segments(), "agents", complementary=False)
    assert single.suppressed.tolist() == [False, True, False, False]
    assert suppress_small(segments(), "agents", minimum=5).suppressed.tolist() == [False] * 4


def test_suppress_small_on_an_engine_table_of_real_segments() -> None:
    events = simulate(n_agents=60, n_teams=6, n_weeks=12, seed=5).events
    # Agents per (team, AI used): AI users are few per team, so their cells are small.
    table = impact.as_table(events)
    per = table.group_by(["team_id", "ai_used"]).aggregate(
        agents=table.agent_id.nunique(), mean_handle_time=table.handle_time_minutes.mean()
    )
    expected = per.execute().sort_values(["team_id", "ai_used"]).reset_index(drop=True)
    small = expected.agents < 10
    assert 2 <= small.sum() < len(expected)  # some cells small, some not
    out = suppress_small(per, "agents", minimum=10).execute()
    out = out.sort_values(["team_id", "ai_used"]).reset_index(drop=True)
    assert out.suppressed.tolist() == small.tolist()
    assert out.loc[small, ["agents", "mean_handle_time"]].isna().all().all()
    assert (
        out.loc[~small, "agents"].tolist() == expected.loc[~small, "agents"].astype(float).tolist()
    )
    assert out.loc[~small, "mean_handle_time"].tolist() == pytest.approx(
        expected.loc[~small, "mean_handle_time"].tolist()
    )


def test_suppress_small_rejects_bad_arguments() -> None:
    with pytest.raises(ParameterError, match="minimum must be a positive whole number"):
        suppress_small(segments(), "agents", minimum=0)
    with pytest.raises(ParameterError, match="no count column 'units'"):
        suppress_small(segments(), "units")
    with pytest.raises(ParameterError, match="already has a column 'suppressed'"):
        suppress_small(segments().assign(suppressed=False), "agents")
