"""Report parameters are checked against what the notebook declares, before any kernel starts.

Papermill only logs a warning for a parameter the notebook does not declare; here it is an
error, and values are checked against the type of the notebook's default.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from impact.errors import ParameterError
from impact.runs.config import read_yaml

_TYPES: dict[str, tuple[type, ...]] = {
    "str": (str,),
    "int": (int,),
    "float": (float, int),
    "bool": (bool,),
}
_TRUE, _FALSE = {"true", "yes", "1", "on"}, {"false", "no", "0", "off"}
_SECRET_WORDS = {"password", "passwd", "secret", "credential", "credentials", "apikey"}
_SECRET_ENDINGS = ("token", "api_key", "access_key", "private_key")  # not "token_price"


def declared_parameters(notebook: Path) -> dict[str, str]:
    """``{name: type name}`` from the notebook's cell tagged ``parameters``.

    Papermill infers a type only from an annotation; our notebooks declare plain literals
    (``confidence = 0.95``), so the type is that of the default value.
    """
    import papermill

    declared = papermill.inspect_notebook(str(notebook))
    if not declared:
        raise ParameterError(f"{notebook.name} has no cell tagged 'parameters'")
    return {name: _type_of(info) for name, info in declared.items()}


def declared_defaults(notebook: Path) -> dict[str, Any]:
    """``{name: default}`` of the notebook's parameters, for those whose default is a literal.

    The runner fingerprints the input files a run reads; a path left at its default is read
    too, so it is fingerprinted like one passed explicitly.
    """
    import papermill

    defaults = {}
    for name, info in papermill.inspect_notebook(str(notebook)).items():
        try:
            defaults[name] = ast.literal_eval(str(info.get("default")))
        except (ValueError, SyntaxError):
            continue  # an expression, not a literal: nothing to fingerprint
    return defaults


def _type_of(info: Mapping[str, Any]) -> str:
    annotated = str(info.get("inferred_type_name") or "None")
    if annotated != "None":
        return annotated
    try:
        return type(ast.literal_eval(str(info.get("default")))).__name__
    except (ValueError, SyntaxError):
        return "None"


def coerce(name: str, value: Any, type_name: str) -> Any:
    """`value` as the declared type; strings from the command line are parsed."""
    expected = _TYPES.get(type_name)
    if expected is None:  # None or a type we do not police: pass literals through
        return value
    if isinstance(value, str) and type_name != "str":
        text = value.strip()
        try:
            if type_name == "bool":
                if text.lower() in _TRUE | _FALSE:
                    return text.lower() in _TRUE
                raise ValueError(text)
            return int(text) if type_name == "int" else float(text)
        except ValueError:
            raise ParameterError(f"parameter {name!r} expects {type_name}, got {value!r}") from None
    if isinstance(value, bool) and type_name != "bool":
        raise ParameterError(f"parameter {name!r} expects {type_name}, got a boolean {value!r}")
    if not isinstance(value, expected):
        raise ParameterError(
            f"parameter {name!r} expects {type_name}, got {type(value).__name__} {value!r}"
        )
    return float(value) if type_name == "float" else value


def check_parameters(notebook: Path, params: Mapping[str, Any]) -> dict[str, Any]:
    """`params` coerced to the declared types; unknown names raise ParameterError.

    A parameter named like a credential (``password``, ``token``, ``api_key``, ...) is refused
    whatever the notebook declares: parameters are written to every manifest, so secrets come
    from the environment instead.
    """
    if secret := sorted(name for name in params if _looks_like_credential(str(name))):
        raise ParameterError(
            f"parameter(s) {secret} look like credentials; parameters are written to every run "
            "manifest, so read secrets from the environment inside the notebook instead"
        )
    declared = declared_parameters(notebook)
    if unknown := sorted(set(params) - set(declared)):
        raise ParameterError(
            f"{notebook.name} declares no parameter {unknown}; it has {sorted(declared)}"
        )
    return {name: coerce(name, value, declared[name]) for name, value in params.items()}


def _looks_like_credential(name: str) -> bool:
    words = name.lower().replace("-", "_").split("_")
    return bool(_SECRET_WORDS & set(words)) or "_".join(words).endswith(_SECRET_ENDINGS)


def parse_assignments(pairs: tuple[str, ...]) -> dict[str, str]:
    """``("k=v", ...)`` from the command line as a dict; values stay strings until coerced."""
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ParameterError(f"--param expects NAME=VALUE, got {pair!r}")
        out[key.strip()] = value
    return out


def load_params_file(path: Path) -> dict[str, Any]:
    """Parameters from a YAML mapping (loaded safely; broken YAML is a ParameterError)."""
    data = read_yaml(path)
    if not isinstance(data, dict):
        raise ParameterError(f"{path}: expected a mapping of parameter names to values")
    return data
