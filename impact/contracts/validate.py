"""Validate any table against a contract: valid rows, a quarantine with reasons, counts per rule.

The rules run in the engine. Structural checks come first and raise one
:class:`~impact.errors.ContractError`; then every row rule becomes a boolean column, and one
aggregate query returns each rule's failure count. Extra copies of a unique key are counted
apart, exactly (:mod:`impact.contracts.keys`; on DuckDB from sorted 64-bit hashes of the keys,
8 bytes a row). A second query fetches an example row for each rule that failed, and is skipped
on clean data. Only when a key repeats does another query rank those copies, to pick the one
kept and count the rows broken overall. ``valid`` and ``quarantine`` stay lazy Ibis tables
that partition the input: every input row is in exactly one of them.
"""

from __future__ import annotations

import dataclasses
import html
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir
import pandas as pd

from impact.contracts import keys, structure
from impact.contracts.model import Contract, Rule, load_contract
from impact.contracts.rules import orderable, passes
from impact.engine import as_table
from impact.errors import ContractError

#: The quarantine table's extra column: every rule the row broke, joined with "; ".
RULES_COLUMN = "_rules"
_PREFIX = "__impact_"
_BAD = f"{_PREFIX}bad"
_SUMMARY_COLUMNS = ["column", "rule", "n_failed", "passed", "example", "message"]


@dataclass(frozen=True, eq=False)
class Validation:
    """The outcome of checking a table against a contract.

    ``valid`` and ``quarantine`` partition the input rows: ``rows_valid + rows_quarantined ==
    rows_checked``. ``summary`` has one row per rule checked (``column, rule, n_failed, passed,
    example, message``); a rule passes when its failures are within the contract's tolerance
    (none, unless the contract says e.g. ``mustBeLessThan: 5``). Quarantined rows are never
    dropped silently: reports show how many broke each rule. The HTML view (what a report
    renders) has counts only; the examples in ``summary`` and the rows in ``quarantine`` name
    rows (an event id, a value), so they are for analysts, never for a published report.
    """

    contract: str
    version: str
    valid: ir.Table = field(repr=False)
    quarantine: ir.Table = field(repr=False)
    summary: pd.DataFrame = field(repr=False)
    rows_checked: int = 0
    rows_valid: int = 0
    rows_quarantined: int = 0

    @property
    def failures(self) -> pd.DataFrame:
        """The summary rows of rules that failed (beyond their tolerance)."""
        return self.summary.loc[~self.summary["passed"]].reset_index(drop=True)

    @property
    def ok(self) -> bool:
        """True when every rule passed."""
        return bool(self.summary["passed"].all())

    def raise_if_any(self) -> None:
        """Raise :class:`~impact.errors.ContractError` listing every failed rule, if any.

        Example:
            >>> import pandas as pd
            >>> frame = pd.DataFrame({"team_id": ["T1", "T1"], "rollout_at": [None, None]})
            >>> validate(frame, "rollouts").raise_if_any()
            Traceback (most recent call last):
            ...
            impact.errors.ContractError: rollouts: 1 check(s) failed
            ...
        """
        failed = self.failures
        if len(failed):
            table = failed.rename(columns={"n_failed": "n_rows"})[
                ["column", "rule", "n_rows", "example"]
            ]
            raise ContractError(self.contract, table)

    def report(self) -> str:
        """A plain-text account: counts, then one actionable line per rule that broke."""
        lines = [
            f"{self.contract} {self.version}: {self.rows_checked:,} row(s) checked, "
            f"{self.rows_valid:,} valid, {self.rows_quarantined:,} quarantined"
        ]
        for row in self.summary.itertuples():
            if row.n_failed:
                status = "FAIL" if not row.passed else "ok  "
                lines.append(f"  {status} [{row.rule}] {row.message}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready counts (no data values) for run manifests and ``result.json``."""
        return {
            "contract": self.contract,
            "version": self.version,
            "rows_checked": int(self.rows_checked),
            "rows_valid": int(self.rows_valid),
            "rows_quarantined": int(self.rows_quarantined),
            "passed": self.ok,
            "rules": [
                {
                    "column": str(row.column),
                    "rule": str(row.rule),
                    "n_failed": int(row.n_failed),
                    "passed": bool(row.passed),
                }
                for row in self.summary.itertuples()
            ],
        }

    def _repr_html_(self) -> str:
        # This is what a report shows: counts per rule only. Examples name rows (an event id,
        # a unit's value), so they stay in `summary` and `quarantine`, for analysts.
        head = html.escape(self.report().splitlines()[0])
        shown = self.summary[["column", "rule", "n_failed", "passed"]]
        note = "No row is shown here; analysts find them in <code>.quarantine</code>."
        return (
            f"<div class='impact-validation'><p><strong>{head}</strong></p>"
            f"{shown.to_html(index=False, escape=True, na_rep='')}"
            f"<p><small>{note}</small></p></div>"
        )

    def __repr__(self) -> str:
        return (
            f"Validation(contract={self.contract!r}, version={self.version!r}, "
            f"rows_checked={self.rows_checked}, rows_valid={self.rows_valid}, "
            f"rows_quarantined={self.rows_quarantined})"
        )


def validate(
    source: Any,
    contract: str | Path | Contract,
    *,
    columns: Mapping[str, str] | None = None,
) -> Validation:
    """Check `source` against `contract`; return valid rows, quarantined rows and counts.

    Structural breaches (a missing required column, a wrong type, an unparseable timestamp)
    are collected and raised together. Row rules (not null, allowed values, ranges, finite
    numbers, cross-column comparisons, unique keys) quarantine the rows that break them. Of
    rows sharing a unique key exactly one is kept: the first that breaks no other rule, in the
    order of the contract's columns; its copies are quarantined as ``duplicate <key>``.

    Args:
        source: a pandas DataFrame, an Ibis table, or a path (Parquet, CSV, DuckDB).
        contract: a contract name (``"workflow_events"``), a path to an ODCS YAML file, or a
            loaded :class:`~impact.contracts.model.Contract`.
        columns: contract column name -> your column name, e.g. ``{"agent_id": "emp_no"}``.
            Input columns the contract does not name are kept and ignored by the rules.

    Returns:
        A :class:`Validation`. ``valid`` has the input's columns (renamed to the contract's
        names, cast to its types); ``quarantine`` has them plus ``_rules``. Both are lazy:
        each query on them re-applies the rules in the engine, so call ``.cache()`` on one
        you query many times.

    Raises:
        ContractError: the input breaks the contract structurally, or `columns` maps a
            contract column to a column the input does not have.
        ParameterError: unknown contract, or one impact cannot compile (a `ValueError`).
        ValueError: a `columns` mapping that names no contract column or clashes.
        TypeError: `contract` is neither a name, a path nor a Contract.

    Example:
        >>> import pandas as pd
        >>> frame = pd.DataFrame({"team_id": ["T1", "T2", "T2"],
        ...                       "rollout_at": ["2025-03-03", None, None]})
        >>> check = validate(frame, "rollouts")
        >>> check.rows_valid, check.rows_quarantined
        (2, 1)
        >>> check.quarantine.to_pandas()["_rules"].tolist()
        ['duplicate team_id']
    """
    spec = contract if isinstance(contract, Contract) else load_contract(contract)
    mapping = dict(columns or {})
    raw = as_table(source)
    if RULES_COLUMN in raw.columns:
        raise ValueError(
            f"the input has a column {RULES_COLUMN!r}, which the quarantine table uses for its "
            "reasons; rename or drop it first"
        )
    table = _structured(raw, spec, mapping)
    present = set(table.columns)
    rules = tuple(r for r in spec.rules if set(r.columns) <= present)
    flags = {rule: f"{_PREFIX}{i}" for i, rule in enumerate(rules)}
    row_rules = [r for r in rules if r.kind != "unique"]
    key_rules = [r for r in rules if r.kind == "unique"]
    flagged = table.mutate(**{flags[r]: ~passes(r, table) for r in row_rules})
    # Extra copies of a key are counted without a window (keys.repeats). Only when there are
    # some does a second pass rank the copies to pick the one to keep, so clean data, and
    # every later query on `valid`, never pays for sorting the table.
    complete = {f"{flags[r]}_keys": _complete(flagged, r) for r in key_rules}
    checked = row_rules
    counts = _count(_with_bad(flagged, checked, flags), spec, checked, flags, complete)
    extra = [
        keys.repeats(flagged, r.columns, complete=int(counts[f"{flags[r]}_keys"]))
        for r in key_rules
    ]
    if any(extra):
        flagged = _rank_copies(flagged, spec, row_rules, key_rules, flags)
        checked = list(rules)
        # Row rules' counts stand; this pass counts the copies and the rows broken in all.
        counts |= _count(_with_bad(flagged, checked, flags), spec, key_rules, flags)
    flagged = _with_bad(flagged, checked, flags)
    reasons = [ibis.ifelse(flagged[flags[r]], r.name, ibis.null(dt.string)) for r in checked]
    why = ibis.literal("; ").join(reasons) if reasons else ibis.literal("")
    inputs = list(table.columns)
    rows = int(counts["rows"])
    quarantined = int(counts["bad"])
    return Validation(
        contract=spec.name,
        version=spec.version,
        valid=flagged.filter(~flagged[_BAD]).select(*inputs),
        quarantine=flagged.filter(flagged[_BAD]).select(*inputs, **{RULES_COLUMN: why}),
        summary=_summary(rules, flags, counts, rows),
        rows_checked=rows,
        rows_valid=rows - quarantined,
        rows_quarantined=quarantined,
    )


def conform(
    source: Any,
    contract: str | Path | Contract,
    *,
    columns: Mapping[str, str] | None = None,
    only: Iterable[str] | None = None,
) -> ir.Table:
    """`source` with the contract's column names and types, after its structural checks only.

    The first half of :func:`validate`: columns present, types readable, ISO-8601 text and
    naive timestamps as UTC. No row rule runs and no row is quarantined, for inputs whose bad
    rows a later step must see (e.g. a unit assigned to two arms, which the A/B test refuses).

    Args:
        source: a pandas DataFrame, an Ibis table, or a path.
        contract: a contract name, a path to an ODCS YAML file, or a loaded contract.
        columns: contract column name -> your column name, as in :func:`validate`.
        only: check just these contract columns (each then required), e.g. when a step needs
            a few of them.

    Raises:
        ContractError: a column is missing or cannot be read as its contract type.

    Example:
        >>> import pandas as pd
        >>> frame = pd.DataFrame({"team_id": ["T1"], "rollout_at": ["2025-03-03"]})
        >>> conform(frame, "rollouts").rollout_at.type().is_date()
        True
    """
    spec = contract if isinstance(contract, Contract) else load_contract(contract)
    mapping = dict(columns or {})
    if only is not None:
        wanted = set(only)
        if unknown := sorted(wanted - set(spec.column_names)):
            raise ValueError(f"{spec.name} defines no column(s) {unknown}")
        kept = tuple(
            dataclasses.replace(c, required=True) for c in spec.columns if c.name in wanted
        )
        spec = dataclasses.replace(spec, columns=kept, rules=())
    return _structured(as_table(source), spec, mapping)


def require_columns(table: Any, *names: str, what: str = "input") -> None:
    """Raise :class:`~impact.errors.ContractError` naming every one of `names` not in `table`.

    For estimators that need a few columns of any table (pandas or Ibis).

    Example:
        >>> import pandas as pd
        >>> require_columns(pd.DataFrame({"a": [1]}), "a")
    """
    have = set(table.columns)
    if missing := [n for n in names if n not in have]:
        shown = ", ".join(sorted(map(str, have))[:12])
        failures = pd.DataFrame(
            {
                "column": missing,
                "rule": "missing column",
                "n_rows": -1,
                "example": f"available: {shown}",
            }
        )
        raise ContractError(what, failures)


def _structured(raw: ir.Table, spec: Contract, mapping: Mapping[str, str]) -> ir.Table:
    """`raw` renamed by `mapping` and conformed to `spec` (structural breaches raise)."""
    absent = {name for name, theirs in mapping.items() if theirs not in raw.columns}
    return structure.conform(_rename(raw, spec, mapping), spec, mapped=mapping, absent=absent)


def _rename(table: ir.Table, spec: Contract, mapping: Mapping[str, str]) -> ir.Table:
    """Apply ``columns=`` (contract name -> input name); absent inputs are left to `conform`."""
    if unknown := sorted(k for k in mapping if k not in spec.column_names):
        raise ValueError(
            f"columns= names {unknown}, which {spec.name} does not define; its columns are "
            f"{list(spec.column_names)}"
        )
    sources = list(mapping.values())
    if repeated := sorted({s for s in sources if sources.count(s) > 1}):
        raise ValueError(f"columns= maps {repeated} to more than one contract column")
    renames = {new: old for new, old in mapping.items() if old in table.columns and old != new}
    moving = set(renames.values())
    if clashes := [n for n in renames if n in table.columns and n not in moving]:
        raise ValueError(
            f"columns= renames {renames[clashes[0]]!r} to {clashes[0]!r}, but the input already "
            f"has a column {clashes[0]!r}; drop or rename it first"
        )
    return table.rename(renames) if renames else table


def _rank_copies(
    flagged: ir.Table,
    spec: Contract,
    row_rules: Sequence[Rule],
    key_rules: Sequence[Rule],
    flags: Mapping[Rule, str],
) -> ir.Table:
    """Add a flag per unique key: True on every copy of a key but the one kept.

    The kept copy is the first that breaks no other rule, so a broken copy never displaces a
    good one; ties are broken by the contract's columns, then the others, for determinism.
    Only rows whose key repeats are ranked (a semi-join on the repeated keys), so the sort
    touches the copies, not the table.
    """
    broken = f"{_PREFIX}broken"
    flagged = flagged.mutate(**{broken: _any(flagged[flags[r]] for r in row_rules)})
    theirs = [
        c
        for c in (v.get_name() for v in orderable(flagged))
        if c not in spec.column_names and not c.startswith(_PREFIX)
    ]
    ours = [c for c in spec.column_names if c in flagged.columns]
    for rule in key_rules:
        keys = list(rule.columns)
        counted = flagged.group_by(keys).aggregate(**{f"{_PREFIX}n": flagged.count()})
        repeated = counted.filter(counted[f"{_PREFIX}n"] > 1).select(*keys)
        copies = flagged.semi_join(repeated, keys)
        order = [copies[c] for c in (broken, *ours, *theirs)]
        ranked = copies.mutate(**{flags[rule]: ~passes(rule, copies, order_by=order)})
        single = flagged.anti_join(repeated, keys).mutate(**{flags[rule]: ibis.literal(False)})
        flagged = single.union(ranked)
    return flagged.drop(broken)


def _complete(table: ir.Table, rule: Rule) -> ir.Scalar:
    """How many rows have the whole key of `rule` (no NULL part)."""
    return ibis.and_(*(table[c].notnull() for c in rule.columns)).sum()


def _with_bad(table: ir.Table, rules: Sequence[Rule], flags: Mapping[Rule, str]) -> ir.Table:
    """`table` plus a column that is True where any of `rules` broke."""
    return table.mutate(**{_BAD: _any(table[flags[r]] for r in rules)})


def _any(flags: Iterable[ir.BooleanValue]) -> ir.BooleanValue:
    """True where any of `flags` is (False when there are none)."""
    values = list(flags)
    return ibis.or_(*values) if values else ibis.literal(False)


def _identity(spec: Contract, present: set[str]) -> tuple[str, ...]:
    """Columns that name a row in examples: the id role, else the primary or a unique key."""
    for key in (
        spec.columns_with_role("id"),
        tuple(c.name for c in spec.columns if c.primary_key),
        next((r.columns for r in spec.rules if r.kind == "unique"), ()),
    ):
        if key and set(key) <= present:
            return key
    return ()


def _count(
    flagged: ir.Table,
    spec: Contract,
    rules: Sequence[Rule],
    flags: Mapping[Rule, str],
    more: Mapping[str, ir.Scalar] | None = None,
) -> dict[str, Any]:
    """Every rule's failure count, plus totals, in one aggregate query; then one example row
    per rule that failed, in a second query over those rules only.

    Clean data (the usual case) thus pays for the counts alone: each example is a filtered
    ``min`` and an ``argmin`` per shown column, and computing them for all rules (about 60
    filtered aggregates, all NULL on clean data) cost as much as the counts themselves.
    """
    metrics: dict[str, ir.Scalar] = {
        "rows": flagged.count(),
        "bad": flagged[_BAD].sum(),
        **(more or {}),
        **{f"{flags[rule]}_n": flagged[flags[rule]].sum() for rule in rules},
    }
    row = flagged.aggregate(**metrics).to_pyarrow().to_pylist()[0]
    counts: dict[str, Any] = {name: row[name] or 0 for name in metrics}
    failed = [rule for rule in rules if counts[f"{flags[rule]}_n"]]
    for rule in rules:
        counts[f"{flags[rule]}_example"] = None
    if not failed:
        return counts
    ident = _identity(spec, set(flagged.columns))
    examples: dict[str, ir.Scalar] = {}
    shown: dict[str, list[tuple[str, str]]] = {}
    for rule in failed:
        flag = flagged[flags[rule]]
        key = ident[0] if ident else rule.columns[0]
        values = [] if rule.kind == "not_null" else list(rule.columns)
        columns = list(dict.fromkeys([key, *ident, *values]))
        shown[flags[rule]] = []
        for j, column in enumerate(columns):
            name = f"{flags[rule]}_e{j}"
            value = flagged[column]
            if j == 0:
                examples[name] = value.min(where=flag)
            else:  # the same row as the key's minimum
                examples[name] = value.argmin(flagged[key], where=flag)
            shown[flags[rule]].append((column, name))
    found = flagged.aggregate(**examples).to_pyarrow().to_pylist()[0]
    for rule in failed:
        flag = flags[rule]
        parts = [(column, found[name]) for column, name in shown[flag]]
        counts[f"{flag}_example"] = _example(parts, ident)
    return counts


def _example(parts: list[tuple[str, Any]], ident: tuple[str, ...]) -> str | None:
    """``event_id E42: handle_time_minutes=1500``: the row's identity, then the values."""
    names = ", ".join(f"{c} {v}" for c, v in parts if c in ident and v is not None)
    values = ", ".join(f"{c}={_show(v)}" for c, v in parts if c not in ident)
    return ": ".join(part for part in (names, values) if part) or None


def _show(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, float):
        return f"{value:.10g}"
    return str(value)


def _summary(
    rules: Sequence[Rule], flags: Mapping[Rule, str], counts: Mapping[str, Any], rows: int
) -> pd.DataFrame:
    records = []
    for rule in rules:
        n_failed = int(counts.get(f"{flags[rule]}_n", 0))  # unique keys with no copies: 0
        example = counts[f"{flags[rule]}_example"] if n_failed else None
        message = f"{n_failed} row(s) {rule.breach}" if n_failed else ""
        if message and example:
            message += f" (e.g. {example})"
        records.append(
            {
                "column": rule.column,
                "rule": rule.name,
                "n_failed": n_failed,
                "passed": rule.passed(n_failed, rows),
                "example": example,
                "message": message,
            }
        )
    frame = pd.DataFrame(records, columns=_SUMMARY_COLUMNS)
    return frame.astype({"n_failed": "int64", "passed": "bool"})
