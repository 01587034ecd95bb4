"""The five bundled ODCS contracts: valid ODCS v3, every column typed and given a role."""

from __future__ import annotations

import json
import shutil
from importlib import resources
from pathlib import Path

import pytest
import yaml
from open_data_contract_standard.model import OpenDataContractStandard

from impact.contracts import ROLES, available_contracts, load_contract

REPO = Path(__file__).resolve().parents[2]
BUNDLED = ("workflow_events", "assignments", "rollouts", "agents", "assumptions")

# docs/data-model.md, column -> role (ended_at has none there; the contract calls it a time).
ROLES_IN_DOCS = {
    "workflow_events": {
        "event_id": "id",
        "agent_id": "unit",
        "team_id": "cluster",
        "workflow": "segment",
        "region": "segment",
        "started_at": "time",
        "ended_at": "time",
        "ai_used": "exposure",
        "ai_model": "segment",
        "handle_time_minutes": "outcome",
        "resolved": "outcome",
        "escalated": "outcome",
        "reopened": "outcome",
        "csat": "outcome",
        "compute_cost_usd": "cost",
        "review_minutes": "cost",
        "correction_minutes": "cost",
    },
    "assignments": {
        "experiment_id": "experiment",
        "agent_id": "unit",
        "arm": "arm",
        "assigned_at": "time",
    },
    "rollouts": {"team_id": "cluster", "rollout_at": "rollout_time"},
    "agents": {
        "agent_id": "unit",
        "team_id": "cluster",
        "region": "segment",
        "tenure_months": "covariate",
        "design": "segment",
    },
}


def odcs_json_schema() -> dict:
    """The JSON schema shipped with open-data-contract-standard (its own loader is deprecated)."""
    text = resources.files("open_data_contract_standard").joinpath("schema.json").read_text()
    return json.loads(text)


@pytest.mark.parametrize("name", BUNDLED)
def test_bundled_contract_parses_with_odcs(name: str) -> None:
    doc = OpenDataContractStandard.from_file(str(REPO / "data_contracts" / f"{name}.yaml"))
    assert doc.kind == "DataContract"
    assert doc.apiVersion in ("v3.0.2", "v3.1.0")
    assert doc.name == name
    assert doc.version == "1.0.0"
    assert doc.status == "active"
    assert doc.domain
    assert doc.team is not None and doc.support
    assert doc.description is not None
    assert doc.description.purpose and doc.description.usage and doc.description.limitations
    assert doc.schema_ is not None and len(doc.schema_) == 1
    for prop in doc.schema_[0].properties or []:
        assert prop.logicalType in {"string", "integer", "number", "boolean", "timestamp", "date"}
        assert prop.physicalType and prop.description
        assert prop.required is not None


@pytest.mark.parametrize("name", BUNDLED)
def test_bundled_contract_matches_the_odcs_json_schema(name: str) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema = odcs_json_schema()
    document = yaml.safe_load((REPO / "data_contracts" / f"{name}.yaml").read_text())
    errors = list(jsonschema.Draft201909Validator(schema).iter_errors(document))
    assert [e.message for e in errors] == []


def test_the_json_schema_check_catches_a_broken_contract() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema = odcs_json_schema()
    document = yaml.safe_load((REPO / "data_contracts" / "agents.yaml").read_text())
    document["schema"][0]["properties"][3]["logicalTypeOptions"]["minimum"] = "zero"
    assert len(list(jsonschema.Draft201909Validator(schema).iter_errors(document))) >= 1


@pytest.mark.parametrize("name", BUNDLED)
def test_every_column_has_a_known_role(name: str) -> None:
    contract = load_contract(name)
    assert contract.name == name and contract.version == "1.0.0"
    assert contract.owner
    assert [c.name for c in contract.columns if c.role not in ROLES] == []
    assert contract.unenforced == ()


@pytest.mark.parametrize("name", sorted(ROLES_IN_DOCS))
def test_roles_follow_the_data_model(name: str) -> None:
    contract = load_contract(name)
    assert {c.name: c.role for c in contract.columns} == ROLES_IN_DOCS[name]


def test_roles_are_queryable() -> None:
    events = load_contract("workflow_events")
    assert events.columns_with_role("unit") == ("agent_id",)
    assert events.columns_with_role("cost") == (
        "compute_cost_usd",
        "review_minutes",
        "correction_minutes",
    )
    assert events.role_of("ai_used") == "exposure"
    assert events.role_of("no_such_column") is None
    assert events.column("csat").logical_type == "integer"
    with pytest.raises(KeyError, match="has no column"):
        events.column("nope")


def test_workflow_events_rules_are_compiled_from_the_yaml() -> None:
    names = [r.name for r in load_contract("workflow_events").rules]
    for expected in (
        "event_id not null",
        "duplicate event_id",
        "workflow in {billing, technical, account, returns}",
        "region in {AMER, EMEA, APAC}",
        "ai_model in {small, large}",
        "handle_time_minutes >= 0",
        "handle_time_minutes <= 1440",
        "handle_time_minutes finite",
        "csat >= 1",
        "csat <= 5",
        "compute_cost_usd >= 0",
        "review_minutes >= 0",
        "correction_minutes >= 0",
        "ended_at >= started_at",
    ):
        assert expected in names
    assert "ai_model not null" not in names and "csat not null" not in names
    assert len(names) == len(set(names)) == 31


def test_composite_key_and_cross_column_rules() -> None:
    assignments = load_contract("assignments")
    keys = [r.columns for r in assignments.rules if r.kind == "unique"]
    assert keys == [("experiment_id", "agent_id")]
    assumptions = load_contract("assumptions")
    compares = [(r.name, r.columns, r.op) for r in assumptions.rules if r.kind == "compare"]
    assert compares == [
        ("value >= low", ("value", "low"), ">="),
        ("value <= high", ("value", "high"), "<="),
    ]


def test_unknown_name_lists_the_available_ones() -> None:
    with pytest.raises(ValueError, match="unknown contract 'events'") as info:
        load_contract("events")
    for name in BUNDLED:
        assert name in str(info.value)
    assert set(BUNDLED) <= set(available_contracts())


def test_a_path_loads_directly(tmp_path: Path) -> None:
    copy = tmp_path / "mine.yaml"
    shutil.copy(REPO / "data_contracts" / "rollouts.yaml", copy)
    assert load_contract(copy).name == "rollouts"
    assert load_contract(str(copy)).name == "rollouts"
    with pytest.raises(FileNotFoundError):
        load_contract(tmp_path / "missing.yaml")


def _copy_with_version(folder: Path, version: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    text = (REPO / "data_contracts" / "rollouts.yaml").read_text()
    (folder / "rollouts.yaml").write_text(text.replace("version: 1.0.0", f"version: {version}"))


def test_env_dir_then_cwd_then_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("IMPACT_CONTRACTS_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    assert load_contract("rollouts").version == "1.0.0"  # the repository's copy
    _copy_with_version(tmp_path / "data_contracts", "2.0.0")
    assert load_contract("rollouts").version == "2.0.0"  # ./data_contracts wins over it
    _copy_with_version(tmp_path / "env", "3.0.0")
    monkeypatch.setenv("IMPACT_CONTRACTS_DIR", str(tmp_path / "env"))
    assert load_contract("rollouts").version == "3.0.0"  # the env var wins over both


def test_a_file_that_is_not_a_contract_is_a_value_error(tmp_path: Path) -> None:
    path = tmp_path / "list.yaml"
    path.write_text("- just\n- a list\n")
    with pytest.raises(ValueError, match="expected an ODCS data contract"):
        load_contract(path)
    path.write_text("kind: DataContract\nunknownTopLevel: 1\n")
    with pytest.raises(ValueError, match="not a valid ODCS v3 data contract"):
        load_contract(path)


def test_yaml_is_loaded_safely(tmp_path: Path) -> None:
    path = tmp_path / "evil.yaml"
    path.write_text("name: !!python/object/apply:os.system ['echo hacked']\n")
    with pytest.raises(ValueError, match="not valid YAML"):
        load_contract(path)
