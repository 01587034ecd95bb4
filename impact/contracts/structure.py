"""Structural checks, run before any row rule: columns present, types readable as the contract's.

Every breach is collected, counted in one aggregate query, and raised together as one
:class:`~impact.errors.ContractError`; on success the table comes back with every contract
column cast to its contract type (timestamps in UTC).

What a column may arrive as, per contract type:

=========  ====================================================================================
string     string; integer (cast to text: ids exported as numbers)
integer    any integer width; a floating/decimal column whose values are all whole numbers
           (pandas stores a nullable integer with NaN as float64)
number     any integer, floating or decimal column
boolean    boolean
timestamp  timestamp, timezone-aware (converted to UTC) or naive (taken as UTC); date
           (midnight UTC); ISO-8601 strings (parsed; a value that does not parse is a breach)
date       date; a timestamp at midnight UTC; ISO-8601 strings (parsed likewise)
=========  ====================================================================================

A column whose values are all NULL passes as any type. Naive timestamps are read as UTC through
the engine's session time zone, which Ibis sets to UTC on DuckDB connections.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir
import pandas as pd

from impact.contracts.model import Column, Contract
from impact.errors import ContractError

_INT64_LIMIT = 2.0**63


@dataclass(frozen=True, slots=True)
class _Reading:
    """How one present column becomes its contract type, and which values cannot."""

    column: str
    cast: ir.Value | None  # None: already the contract type
    failed: ir.BooleanValue | None  # None: every value converts
    rule: str = ""


def conform(
    table: ir.Table,
    contract: Contract,
    *,
    mapped: Mapping[str, str] | None = None,
    absent: Collection[str] = (),
) -> ir.Table:
    """Check `table`'s structure against `contract`; return it with contract types.

    Args:
        table: the input, already renamed to contract column names.
        contract: the contract to check against.
        mapped: the user's ``columns=`` mapping (contract name -> input name), for messages.
        absent: contract columns whose mapping names no input column. They count as missing
            even when the input has a column of the contract's name: the user said that one
            is not it.

    Raises:
        ContractError: one error listing every missing required column, wrong type and
            unparseable value, with a count and an example each.
    """
    mapped = mapped or {}
    missing = [
        c
        for c in contract.columns
        if c.name in absent or (c.required and c.name not in table.columns)
    ]
    readings = [
        _reading(table[c.name], c)
        for c in contract.columns
        if c.name in table.columns and c.name not in absent
    ]
    checked = [r for r in readings if r.failed is not None]
    if missing or checked:
        counts = _count(table, checked)
        failures = [_missing(c, table, contract, mapped, counts["__rows"]) for c in missing] + [
            {
                "column": r.column,
                "rule": r.rule,
                "n_rows": counts[f"__n{i}"],
                "example": _text(counts[f"__e{i}"]),
            }
            for i, r in enumerate(checked)
            if counts[f"__n{i}"]
        ]
        if failures:
            frame = pd.DataFrame(failures, columns=["column", "rule", "n_rows", "example"])
            raise ContractError(contract.name, frame.astype({"n_rows": "int64"}))
    casts = {r.column: r.cast for r in readings if r.cast is not None}
    return table.mutate(**casts) if casts else table


def _reading(value: ir.Value, column: Column) -> _Reading:
    source, target, name = value.type(), column.dtype, column.name
    if source == target:
        return _Reading(name, None, None)
    if source.is_null():
        return _Reading(name, value.cast(target), None)
    kind = column.logical_type
    if kind == "string" and source.is_integer():
        return _Reading(name, value.cast(target), None)
    if kind == "integer":
        if source.is_integer():
            return _Reading(name, value.cast(target), None)
        if source.is_floating() or source.is_decimal():
            fraction = (value % 1) != 0
            if source.is_floating():
                fraction = fraction | value.isnan() | value.isinf()
            failed = value.notnull() & (fraction | (value.abs() >= _INT64_LIMIT))
            return _Reading(name, value.cast(target), failed, "not a whole number")
    if kind == "number" and (source.is_numeric() and not source.is_boolean()):
        return _Reading(name, value.cast(target), None)
    if kind == "timestamp":
        if source.is_timestamp() or source.is_date():
            return _Reading(name, value.cast(target), None)
        if source.is_string():
            parsed = value.try_cast(target)
            return _Reading(
                name, parsed, value.notnull() & parsed.isnull(), "unparseable timestamp"
            )
    if kind == "date":
        if source.is_timestamp():
            utc = value.cast(dt.Timestamp(timezone="UTC"))
            failed = value.notnull() & (utc.truncate("D") != utc)
            return _Reading(name, utc.cast(target), failed, "has a time of day")
        if source.is_string():
            parsed = value.try_cast(target)
            return _Reading(name, parsed, value.notnull() & parsed.isnull(), "unparseable date")
    # Incompatible: every non-null value is a breach. An all-null column still casts cleanly.
    rule = f"wrong type: expected {kind}, got {source}"
    return _Reading(name, value.cast(target), value.notnull(), rule)


def _count(table: ir.Table, checked: list[_Reading]) -> dict[str, Any]:
    """Row count, and per check the breaching rows and one example, in one query."""
    metrics: dict[str, ir.Scalar] = {"__rows": table.count()}
    for i, reading in enumerate(checked):
        if (failed := reading.failed) is not None:  # always, for checked readings
            metrics[f"__n{i}"] = failed.sum()
            metrics[f"__e{i}"] = _example(table[reading.column], failed)
    row = table.aggregate(**metrics).to_pyarrow().to_pylist()[0]
    return {key: (value or 0) if not key.startswith("__e") else value for key, value in row.items()}


def _example(value: ir.Value, where: ir.BooleanValue) -> ir.Scalar:
    kind = value.type()
    if kind.is_numeric() or kind.is_string() or kind.is_temporal() or kind.is_boolean():
        return value.min(where=where)
    return ibis.null(dt.string)  # nested types: no cheap deterministic example


def _missing(
    column: Column,
    table: ir.Table,
    contract: Contract,
    mapped: Mapping[str, str],
    n_rows: int,
) -> dict[str, Any]:
    if column.name in mapped:
        hint = f"columns= maps it to {mapped[column.name]!r}, which the input does not have"
    else:
        spare = [c for c in table.columns if c not in contract.column_names]
        close = difflib.get_close_matches(column.name, spare, n=1, cutoff=0.6)
        if close:
            hint = f"did you mean {close[0]!r}? pass columns={{{column.name!r}: {close[0]!r}}}"
        else:
            shown = ", ".join(spare[:8]) + (", ..." if len(spare) > 8 else "")
            hint = f"map your column with columns={{{column.name!r}: ...}}; input has: {shown}"
    return {"column": column.name, "rule": "missing column", "n_rows": n_rows, "example": hint}


def _text(value: Any) -> str | None:
    return None if value is None else str(value)
