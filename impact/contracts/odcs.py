"""Compile an ODCS v3 data contract into a :class:`~impact.contracts.model.Contract`.

What becomes a row rule:

- ``required: true`` and the ``nullValues`` metric: the column is not null;
- ``unique: true``, ``primaryKey`` (composite keys by ``primaryKeyPosition``) and the
  ``duplicateValues`` metric (schema level with ``arguments: {properties: [...]}``): no
  duplicate key;
- ``logicalTypeOptions`` ``minimum``/``maximum``/``exclusiveMinimum``/``exclusiveMaximum``: a
  range (ODCS compares its quality operators to a *count* of rows, so value bounds live here);
- the ``invalidValues`` metric (``validValues``, ``pattern``), ``missingValues``, and ``enum``;
- every ``number`` column: the value is finite (no NaN, no infinity);
- ``type: custom`` entries with ``engine: impact`` and ``implementation: {compare: [left, op,
  right]}``: a cross-column comparison such as ``ended_at >= started_at``.

Quality operators (``mustBe: 0``, ``mustBeLessThan: 5``, ``unit: percent``) set how many
breaking rows a rule tolerates before it counts as failed. ``type: sql`` entries and other
engines' custom entries are never executed (no SQL text from YAML reaches the engine); they
are listed in ``Contract.unenforced``. ``type: text`` entries are documentation.
"""

from __future__ import annotations

import datetime as _dt
import functools
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pydantic
import yaml
from open_data_contract_standard.model import (
    DataQuality,
    OpenDataContractStandard,
    SchemaObject,
    SchemaProperty,
    Team,
)

from impact.contracts.model import DTYPES, NEGATION, Column, Contract, Rule
from impact.errors import ParameterError

# Safe loading only (plain data, no Python objects); the C loader when libyaml is present.
_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_UTC_NAMES = {"utc", "etc/utc", "z", "gmt", "etc/gmt", "zulu"}
_OPERATORS = (
    "mustBe",
    "mustNotBe",
    "mustBeGreaterThan",
    "mustBeGreaterOrEqualTo",
    "mustBeLessThan",
    "mustBeLessOrEqualTo",
    "mustBeBetween",
    "mustNotBeBetween",
)
_RANGE_OPTIONS = {
    "minimum": ">=",
    "exclusiveMinimum": ">",
    "maximum": "<=",
    "exclusiveMaximum": "<",
}


def parse_file(path: Path) -> Contract:
    """Read an ODCS YAML file safely, parse it with the ODCS models, and compile it.

    Compiled contracts are immutable, so they are cached per file and modification time.
    """
    resolved = path.resolve()
    return _parse_cached(resolved, resolved.stat().st_mtime_ns)


@functools.lru_cache(maxsize=64)
def _parse_cached(path: Path, mtime_ns: int) -> Contract:
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_SafeLoader)
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ParameterError(f"{path}: not valid YAML ({exc})") from exc
    if not isinstance(data, dict):
        raise ParameterError(f"{path}: expected an ODCS data contract (a YAML mapping)")
    try:
        doc = OpenDataContractStandard.model_validate(data)
    except pydantic.ValidationError as exc:
        raise ParameterError(f"{path}: not a valid ODCS v3 data contract:\n{exc}") from exc
    return from_odcs(doc, source=path)


def from_odcs(doc: OpenDataContractStandard, *, source: Path | None = None) -> Contract:
    """Compile a parsed ODCS document with exactly one schema object into a Contract."""
    where = str(source or doc.name or "contract")
    if doc.kind not in (None, "DataContract"):
        raise ParameterError(f"{where}: kind is {doc.kind!r}, expected DataContract")
    if doc.apiVersion and not doc.apiVersion.startswith("v3"):
        raise ParameterError(f"{where}: apiVersion {doc.apiVersion} is not ODCS v3")
    objects = doc.schema_ or []
    if len(objects) != 1:
        raise ParameterError(
            f"{where}: impact validates one table per contract; found {len(objects)} schema "
            "objects. Split the contract, one file per table."
        )
    table = objects[0]
    name = doc.name or table.name
    if not name:
        raise ParameterError(f"{where}: the contract has no name")
    compiler = _Compiler(where)
    columns = tuple(compiler.column(prop) for prop in table.properties or [])
    if not columns:
        raise ParameterError(f"{where}: schema object {table.name!r} declares no properties")
    compiler.finish(table, columns)
    return Contract(
        name=name,
        version=str(doc.version or "0"),
        owner=_owner(doc),
        columns=columns,
        rules=tuple(compiler.rules.values()),
        description=(doc.description.purpose or "").strip() if doc.description else "",
        source=source,
        unenforced=tuple(compiler.unenforced),
    )


class _Compiler:
    """Collects rules in contract order, dropping exact repeats (``required`` + nullValues)."""

    def __init__(self, where: str) -> None:
        self.where = where
        self.rules: dict[tuple[Any, ...], Rule] = {}
        self.unenforced: list[str] = []
        self._primary_key: list[tuple[int, int, str]] = []

    def add(self, rule: Rule) -> None:
        key = (rule.kind, rule.columns, rule.op, _hashable(rule.value))
        self.rules.setdefault(key, rule)

    def column(self, prop: SchemaProperty) -> Column:
        if not prop.name:
            raise ParameterError(f"{self.where}: a property has no name")
        where = f"{self.where}: column {prop.name}"
        logical = (prop.logicalType or "").lower()
        if logical not in DTYPES:
            raise ParameterError(
                f"{where}: logicalType {prop.logicalType!r} is not supported; "
                f"use one of {', '.join(DTYPES)}"
            )
        column = Column(
            name=prop.name,
            logical_type=logical,  # type: ignore[arg-type]
            required=bool(prop.required or prop.primaryKey),
            unique=bool(prop.unique),
            primary_key=bool(prop.primaryKey),
            role=_custom(prop.customProperties, "role"),
            description=(prop.description or "").strip(),
            physical_type=prop.physicalType,
        )
        if column.required:
            self.add(Rule("not_null", (column.name,)))
        if column.unique:
            self.add(Rule("unique", (column.name,)))
        if prop.primaryKey:
            position = prop.primaryKeyPosition
            order = position if position is not None and position >= 0 else 1_000_000
            self._primary_key.append((order, len(self._primary_key), column.name))
        if prop.enum:
            values = tuple(e.value for e in prop.enum if e.value is not None)
            self.add(Rule("allowed", (column.name,), value=values))
        self._options(column, prop.logicalTypeOptions or {}, where)
        if logical == "number":
            self.add(Rule("finite", (column.name,)))
        for entry in prop.quality or []:
            self._quality(entry, where, column=column)
        return column

    def finish(self, table: SchemaObject, columns: Sequence[Column]) -> None:
        if key := tuple(name for *_, name in sorted(self._primary_key)):
            self.add(Rule("unique", key))
        where = f"{self.where}: schema {table.name}"
        for entry in table.quality or []:
            self._quality(entry, where, column=None)
        names = {c.name for c in columns}
        for rule in self.rules.values():
            if unknown := [c for c in rule.columns if c not in names]:
                raise ParameterError(
                    f"{self.where}: rule {rule.name!r} refers to {unknown}, which the contract "
                    f"does not declare; its columns are {sorted(names)}"
                )
        labels = [r.name for r in self.rules.values()]
        if repeated := sorted({n for n in labels if labels.count(n) > 1}):
            raise ParameterError(
                f"{self.where}: two rules share the name(s) {repeated}; rename one"
            )

    def _options(self, column: Column, options: dict[str, Any], where: str) -> None:
        if column.logical_type == "timestamp":
            zone = options.get("defaultTimezone")
            if zone is not None and str(zone).lower() not in _UTC_NAMES:
                raise ParameterError(
                    f"{where}: defaultTimezone {zone!r} is not supported; impact takes naive "
                    "timestamps as UTC (convert them, or store them with their offset)"
                )
        for option, op in _RANGE_OPTIONS.items():
            bound = options.get(option)
            if bound is None or isinstance(bound, bool):
                continue  # ODCS 3.0 wrote exclusiveMinimum: true as a flag; handled below
            if options.get(f"exclusive{option.title()}") is True:
                op = {">=": ">", "<=": "<"}[op]
            self.add(Rule("range", (column.name,), op=op, value=_bound(column, bound, where)))
        if column.logical_type == "string":
            if pattern := options.get("pattern"):
                self.add(Rule("pattern", (column.name,), value=str(pattern)))
            for option in ("minLength", "maxLength", "format"):
                if option in options:
                    self.unenforced.append(f"{where}: logicalTypeOptions.{option}")

    def _quality(self, entry: DataQuality, where: str, *, column: Column | None) -> None:
        kind = (entry.type or ("library" if (entry.metric or entry.rule) else "text")).lower()
        label = entry.name
        if kind == "text":
            return
        if kind == "sql":
            self.unenforced.append(
                f"{where}: sql check {label or entry.description or entry.query!r} "
                "(impact never runs SQL text from a contract)"
            )
            return
        if kind == "custom":
            if (entry.engine or "").lower() != "impact":
                self.unenforced.append(f"{where}: custom check for engine {entry.engine!r}")
                return
            left, op, right = _compare(entry.implementation, where)
            self.add(Rule("compare", (left, right), op=op, label=label, **_tolerance(entry, where)))
            return
        if kind != "library":
            raise ParameterError(
                f"{where}: quality type {entry.type!r} is not one of text, library, sql, custom"
            )
        metric = entry.metric or entry.rule
        args = entry.arguments or {}
        tolerance = _tolerance(entry, where)
        if metric == "rowCount":
            self.unenforced.append(f"{where}: rowCount (a table-level count, not a row rule)")
            return
        if metric == "duplicateValues":
            key = tuple(args.get("properties") or ([column.name] if column else []))
            if not key:
                raise ParameterError(
                    f"{where}: duplicateValues at schema level needs arguments.properties"
                )
            self.add(Rule("unique", key, label=label, **tolerance))
            return
        if column is None:
            raise ParameterError(
                f"{where}: metric {metric!r} belongs on a property, not the schema"
            )
        name = column.name
        if metric == "nullValues":
            self.add(Rule("not_null", (name,), label=label, **tolerance))
        elif metric == "missingValues":
            missing = tuple(args.get("missingValues") or [None])
            self.add(Rule("missing", (name,), value=missing, label=label, **tolerance))
        elif metric == "invalidValues":
            valid = args.get("validValues")
            pattern = args.get("pattern")
            if valid is None and pattern is None:
                raise ParameterError(
                    f"{where}: invalidValues needs arguments validValues or pattern"
                )
            if valid is not None:
                values = tuple(v for v in valid if v is not None)
                if column.logical_type == "string" and not all(isinstance(v, str) for v in values):
                    # YAML reads unquoted yes/no/on/off as booleans and 1.0 as a number.
                    raise ParameterError(
                        f"{where}: quote every validValues entry of a string column"
                    )
                self.add(Rule("allowed", (name,), value=values, label=label, **tolerance))
            if pattern is not None:
                self.add(Rule("pattern", (name,), value=str(pattern), **tolerance))
        else:
            raise ParameterError(
                f"{where}: quality metric {metric!r} is not supported; use nullValues, "
                "missingValues, invalidValues, duplicateValues or rowCount"
            )


def _tolerance(entry: DataQuality, where: str) -> dict[str, Any]:
    """How many breaking rows a quality entry allows, from its (single) operator."""
    unit = (entry.unit or "rows").lower()
    if unit not in ("rows", "percent"):
        raise ParameterError(f"{where}: quality unit {entry.unit!r} is not rows or percent")
    given = {op: getattr(entry, op) for op in _OPERATORS if getattr(entry, op) is not None}
    if len(given) > 1:
        raise ParameterError(f"{where}: a quality entry takes one operator, got {sorted(given)}")
    if not given:
        return {"unit": unit}
    op, limit = given.popitem()
    if op == "mustBe" and limit == 0:
        return {"unit": unit}
    if op == "mustBeLessThan":
        return {"max_failed": float(limit), "strict": True, "unit": unit}
    if op == "mustBeLessOrEqualTo":
        return {"max_failed": float(limit), "unit": unit}
    if op == "mustBeBetween" and limit[0] <= 0:
        return {"max_failed": float(limit[1]), "unit": unit}
    raise ParameterError(
        f"{where}: {op}: {limit} cannot bound a count of breaking rows; use mustBe: 0, "
        "mustBeLessThan or mustBeLessOrEqualTo"
    )


def _compare(implementation: Any, where: str) -> tuple[str, str, str]:
    """``{compare: [left, op, right]}`` (a mapping, or the same as YAML text)."""
    spec = yaml.safe_load(implementation) if isinstance(implementation, str) else implementation
    triple = spec.get("compare") if isinstance(spec, dict) and set(spec) == {"compare"} else None
    if (
        not isinstance(triple, list)
        or len(triple) != 3
        or not all(isinstance(part, str) for part in triple)
        or triple[1] not in NEGATION
    ):
        raise ParameterError(
            f"{where}: an impact custom check needs implementation: {{compare: [left, op, "
            f"right]}} with op one of {', '.join(NEGATION)}; got {implementation!r}"
        )
    left, op, right = triple
    return left, op, right


def _bound(column: Column, bound: Any, where: str) -> Any:
    try:
        if column.logical_type in ("integer", "number"):
            return float(bound) if column.logical_type == "number" else int(bound)
        if column.logical_type == "date":
            return bound if isinstance(bound, _dt.date) else _dt.date.fromisoformat(str(bound))
        if column.logical_type == "timestamp":
            moment = (
                bound if isinstance(bound, _dt.datetime) else _dt.datetime.fromisoformat(str(bound))
            )
            if moment.tzinfo is None:
                return moment.replace(tzinfo=_dt.UTC)
            return moment.astimezone(_dt.UTC)
    except (TypeError, ValueError) as exc:
        raise ParameterError(f"{where}: bound {bound!r} is not a {column.logical_type}") from exc
    raise ParameterError(
        f"{where}: a {column.logical_type} column cannot have a minimum or maximum"
    )


def _owner(doc: OpenDataContractStandard) -> str | None:
    team = doc.team
    if isinstance(team, Team) and team.name:
        return team.name
    members = team.members if isinstance(team, Team) else team
    for member in members or []:
        if (member.role or "").lower() == "owner":
            return member.name or member.username
    for member in members or []:
        return member.name or member.username
    for channel in doc.support or []:
        return channel.channel or channel.url
    return None


def _custom(properties: Iterable[Any] | None, key: str) -> str | None:
    for prop in properties or []:
        if prop.property == key and prop.value is not None:
            return str(prop.value)
    return None


def _hashable(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value
