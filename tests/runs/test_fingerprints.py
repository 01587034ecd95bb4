"""Which files count as a run's inputs: what the idempotence key and the manifest see."""

from __future__ import annotations

from pathlib import Path

from impact.runs.runner import _input_fingerprints


def test_files_named_inside_a_yaml_input_are_inputs_too(tmp_path: Path) -> None:
    (tmp_path / "assumptions").mkdir()
    register = tmp_path / "assumptions" / "claims.yaml"
    register.write_text("version: '1'\n")
    (tmp_path / "portfolio.yaml").write_text(
        "use_cases:\n  claims:\n    register: assumptions/claims.yaml\n    events: sample:events\n"
    )
    params = {"portfolio_path": "portfolio.yaml", "outcome": "handle_time_minutes"}
    before = _input_fingerprints(tmp_path, params)
    assert sorted(before) == ["portfolio_path", "portfolio_path>assumptions/claims.yaml"]
    register.write_text("version: '2'\n")
    after = _input_fingerprints(tmp_path, params)
    assert after["portfolio_path"] == before["portfolio_path"]
    assert (
        after["portfolio_path>assumptions/claims.yaml"]
        != before["portfolio_path>assumptions/claims.yaml"]
    )


def test_a_yaml_input_that_does_not_parse_is_still_fingerprinted(tmp_path: Path) -> None:
    (tmp_path / "broken.yaml").write_text("a: [unclosed\n")
    assert list(_input_fingerprints(tmp_path, {"p": "broken.yaml"})) == ["p"]
