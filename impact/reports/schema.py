"""The schema of ``result.json``: headline numbers machines can rely on.

Every report payload is checked against ``result.schema.json`` (JSON Schema draft 7) when the
notebook builds it, so a run whose numbers do not fit (a money figure without its interval, an
unknown recommendation) fails in its own cell and is never published. The check uses
fastjsonschema (compiled once, fast to import; nbformat depends on it already).
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

SCHEMA_PATH = Path(__file__).with_name("result.schema.json")


@functools.cache
def result_schema() -> dict[str, Any]:
    """The JSON Schema of ``result.json``."""
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


@functools.cache
def _validator() -> Any:
    import fastjsonschema

    return fastjsonschema.compile(result_schema())


def validate_result(payload: Mapping[str, Any]) -> None:
    """Raise ValueError saying where `payload` breaks the result schema.

    Example:
        >>> validate_result({"schema_version": 2})
        Traceback (most recent call last):
        ...
        ValueError: result.json breaks its schema: data must contain ['data_quality', 'effects', 'facts', 'headline', 'headline_numbers', 'title'] properties
    """  # noqa: E501
    import fastjsonschema

    try:
        _validator()(dict(payload))
    except fastjsonschema.JsonSchemaValueException as exc:
        raise ValueError(f"result.json breaks its schema: {exc.message}") from None


def json_safe(value: Any) -> Any:
    """`value` with NaN and infinities as None (strict JSON has neither), recursively.

    Example:
        >>> json_safe({"a": float("inf"), "b": [1.0, float("nan")]})
        {'a': None, 'b': [1.0, None]}
    """
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str):  # numpy scalars
        return json_safe(value.item())
    return value


__all__ = ["SCHEMA_PATH", "json_safe", "result_schema", "validate_result"]
