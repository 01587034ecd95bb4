"""Compile each row rule to an Ibis boolean expression that is True where a row passes.

The expressions never evaluate to NULL. A NULL value never breaks a value rule (range,
allowed values, pattern, comparison): whether a column may be null is the ``not null`` rule's
business alone, so one bad cell is reported once. For the same reason range and comparison
rules judge finite numbers only; NaN and infinity are the ``finite`` rule's.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from typing import Any

import ibis
import ibis.expr.types as ir

from impact.contracts.model import Rule

_COMPARE: dict[str, Callable[[Any, Any], ir.BooleanValue]] = {
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
    "==": operator.eq,
    "!=": operator.ne,
}


def passes(
    rule: Rule, table: ir.Table, *, order_by: Sequence[ir.Value] | None = None
) -> ir.BooleanValue:
    """True where a row of `table` passes `rule`, never NULL.

    For a ``unique`` rule, the first row of each key (by `order_by`, default: every orderable
    column) passes and its later copies break it; rows with a NULL in the key always pass.

    Example:
        >>> import ibis
        >>> from impact.contracts.model import Rule
        >>> t = ibis.memtable({"x": [1.0, -2.0, None]})
        >>> ok = passes(Rule("range", ("x",), op=">=", value=0), t)
        >>> t.mutate(ok=ok).to_pyarrow().column("ok").to_pylist()
        [True, False, True]
    """
    values = [table[c] for c in rule.columns]
    first = values[0]
    match rule.kind:
        case "not_null":
            return first.notnull()
        case "unique":
            order = list(order_by) if order_by is not None else orderable(table)
            rank = ibis.row_number().over(group_by=values, order_by=order)
            any_null = ibis.or_(*(v.isnull() for v in values))
            return (rank == 0) | any_null
        case "allowed":
            allowed = [v for v in rule.value if v is not None]
            ok = first.isin(allowed) if allowed else first.isnull()
        case "missing":
            present = [v for v in rule.value if v is not None]
            missing = first.isin(present) if present else ibis.literal(False)
            if None in rule.value:
                missing = missing | first.isnull()
            ok = ~missing
        case "pattern":
            ok = first.re_search(str(rule.value))
        case "finite":
            ok = ~(first.isnan() | first.isinf())
        case "range":
            ok = _unjudged(first) | _COMPARE[str(rule.op)](first, rule.value)
        case "compare":
            ok = _unjudged(first) | _unjudged(values[1]) | _COMPARE[str(rule.op)](*values)
        case _:  # pragma: no cover - RuleKind is closed
            raise ValueError(f"unknown rule kind {rule.kind!r}")
    return ok.fill_null(True)


def orderable(table: ir.Table) -> list[ir.Value]:
    """The columns of `table` that can be sorted on, in table order (for deterministic picks)."""
    out = []
    for name, kind in table.schema().items():
        if kind.is_numeric() or kind.is_string() or kind.is_temporal() or kind.is_boolean():
            out.append(table[name])
    return out


def _unjudged(value: ir.Value) -> ir.BooleanValue:
    """True where a value rule has nothing to judge: NULL, or a non-finite float."""
    missing = value.isnull()
    if value.type().is_floating():
        missing = missing | value.isnan() | value.isinf()
    return missing
