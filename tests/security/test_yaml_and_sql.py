"""Static and live checks that no YAML is loaded unsafely and no user string becomes SQL.

Static: every ``yaml.load`` call in ``impact/`` names a loader that builds plain data only, and
no ``raw_sql``/``sql`` call is given a formatted string. Live: a ``!!python/object`` tag in a
project config, a contract, a params file or an assumptions register is refused without running
anything, and quotes and semicolons in contract values, column names and table names stay data.
"""

from __future__ import annotations

import ast
import importlib
import json
from pathlib import Path

import pandas as pd
import pytest
import yaml
from yaml.constructor import FullConstructor, SafeConstructor

import impact
from impact.engine import default_backend
from impact.runs.config import load_project
from impact.runs.params import load_params_file
from impact.value.register import Register

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "impact"
UNSAFE_YAML = {"unsafe_load", "full_load", "load_all", "unsafe_load_all", "full_load_all"}


def _calls(path: Path) -> list[ast.Call]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return [node for node in ast.walk(tree) if isinstance(node, ast.Call)]


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "_bundled" not in p.parts)


def _module_name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts)


def test_every_yaml_load_uses_a_safe_loader() -> None:
    checked = 0
    for path in _modules():
        for call in _calls(path):
            func = call.func
            if not (
                isinstance(func, ast.Attribute)
                and isinstance(func.value, ast.Name)
                and func.value.id == "yaml"
            ):
                continue
            assert func.attr not in UNSAFE_YAML, f"{path}:{call.lineno}: yaml.{func.attr}"
            if func.attr != "load":
                continue
            loader = next((k.value for k in call.keywords if k.arg == "Loader"), None)
            assert isinstance(loader, ast.Name), f"{path}:{call.lineno}: yaml.load without Loader"
            cls = getattr(importlib.import_module(_module_name(path)), loader.id)
            # FullConstructor subclasses SafeConstructor but builds Python objects: exclude it.
            assert issubclass(cls, SafeConstructor), f"{path}:{call.lineno}: {cls}"
            assert not issubclass(cls, FullConstructor), f"{path}:{call.lineno}: {cls}"
            checked += 1
    assert checked >= 2  # contracts/odcs.py and value/register.py today


def _formats(node: ast.AST) -> bool:
    """True when `node` interpolates values into text (f-string, %, .format, str())."""
    for sub in ast.walk(node):
        if isinstance(sub, ast.JoinedStr) and any(
            isinstance(v, ast.FormattedValue) for v in sub.values
        ):
            return True
        if isinstance(sub, ast.BinOp) and isinstance(sub.op, ast.Mod):
            return True
        if isinstance(sub, ast.Call) and getattr(sub.func, "attr", "") == "format":
            return True
        if isinstance(sub, ast.Call) and getattr(sub.func, "id", "") == "str":
            return True
    return False


def test_no_formatted_string_reaches_sql() -> None:
    """SQL text is constant; values go through bound ``?`` parameters or Ibis expressions."""
    offenders = []
    for path in _modules():
        for call in _calls(path):
            name = getattr(call.func, "attr", getattr(call.func, "id", ""))
            if name in {"raw_sql", "sql", "execute", "executescript", "query"} and any(
                _formats(arg) for arg in call.args[:1]
            ):
                offenders.append(f"{path.relative_to(ROOT)}:{call.lineno}")
    assert not offenders, f"SQL built from formatted strings: {offenders}"


PYTHON_TAG = "!!python/object/apply:os.system ['touch {sentinel}']"


def _sentinel(tmp_path: Path) -> Path:
    return tmp_path / "pwned"


def test_python_tag_in_project_config_is_refused(tmp_path: Path) -> None:
    sentinel = _sentinel(tmp_path)
    config = tmp_path / "impact.yaml"
    config.write_text("reports: " + PYTHON_TAG.format(sentinel=sentinel) + "\n")
    with pytest.raises((yaml.YAMLError, impact.ParameterError), match="python/object"):
        load_project(config)
    assert not sentinel.exists()


def test_python_tag_in_contract_is_refused(tmp_path: Path) -> None:
    sentinel = _sentinel(tmp_path)
    contract = tmp_path / "evil.yaml"
    contract.write_text("name: " + PYTHON_TAG.format(sentinel=sentinel) + "\n")
    with pytest.raises(ValueError, match=r"not valid YAML.*python/object"):
        impact.load_contract(contract)
    assert not sentinel.exists()


def test_python_tag_in_params_file_is_refused(tmp_path: Path) -> None:
    sentinel = _sentinel(tmp_path)
    params = tmp_path / "params.yaml"
    params.write_text("outcome: " + PYTHON_TAG.format(sentinel=sentinel) + "\n")
    with pytest.raises((yaml.YAMLError, impact.ParameterError), match="python/object"):
        load_params_file(params)
    assert not sentinel.exists()


def test_python_tag_in_assumptions_register_is_refused(tmp_path: Path) -> None:
    sentinel = _sentinel(tmp_path)
    register = tmp_path / "register.yaml"
    original = (ROOT / "assumptions" / "ai_assist.yaml").read_text(encoding="utf-8")
    register.write_text(original + "\nextra: " + PYTHON_TAG.format(sentinel=sentinel) + "\n")
    with pytest.raises(impact.ParameterError, match=r"not valid YAML.*python/object"):
        Register.from_yaml(register)
    assert not sentinel.exists()


HOSTILE = "x'); DROP TABLE victim; --"


def _victim_alive() -> int:
    return int(default_backend().table("victim").count().execute())


@pytest.fixture
def victim() -> None:
    """A table in the default engine that an injection would drop."""
    default_backend().create_table("victim", pd.DataFrame({"a": [1, 2, 3]}), overwrite=True)


def test_quotes_in_contract_values_and_column_names_stay_data(tmp_path: Path, victim: None) -> None:
    column = 'team"; DROP TABLE victim; --'
    contract = {
        "apiVersion": "v3.0.2",
        "kind": "DataContract",
        "id": "urn:test:hostile",
        "name": "hostile",
        "version": "1.0.0",
        "status": "active",
        "schema": [
            {
                "name": "hostile",
                "properties": [
                    {
                        "name": column,
                        "logicalType": "string",
                        "required": True,
                        "quality": [
                            {
                                "type": "library",
                                "metric": "invalidValues",
                                "arguments": {"validValues": [HOSTILE, "ok"]},
                            },
                            {
                                "type": "library",
                                "metric": "invalidValues",
                                "arguments": {"pattern": "^[^;]*'\\)|ok|x"},
                            },
                        ],
                    }
                ],
            }
        ],
    }
    path = tmp_path / "hostile.yaml"
    path.write_text(json.dumps(contract))
    frame = pd.DataFrame({column: [HOSTILE, "ok", "other'; --", None]})
    check = impact.validate(frame, path)
    assert (check.rows_valid, check.rows_quarantined) == (2, 2)
    valid = check.valid.execute()[column].tolist()
    assert valid == [HOSTILE, "ok"]
    assert _victim_alive() == 3


def test_hostile_table_name_in_a_duckdb_file_is_not_executed(tmp_path: Path) -> None:
    import duckdb

    path = tmp_path / "db.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE ev AS SELECT 1 AS a")
    con.close()
    with pytest.raises(Exception, match="DROP TABLE ev"):  # a lookup failure, nothing ran
        impact.as_table(path, table="ev; DROP TABLE ev; --")
    assert int(impact.as_table(path, table="ev").count().execute()) == 1


def test_hostile_column_name_in_aggregation_stays_a_name(victim: None) -> None:
    column = 'y"); DROP TABLE victim; --'
    frame = pd.DataFrame({"u": ["a", "a", "b"], column: [1.0, 3.0, 5.0]})
    out = impact.unit_summary(impact.as_table(frame), unit="u", outcomes=[column]).execute()
    assert out.sort_values("u")[f"{column}_mean"].tolist() == [2.0, 5.0]
    assert _victim_alive() == 3
