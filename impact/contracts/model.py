"""What a contract says, as plain frozen values: columns with types and roles, and row rules.

`load_contract` finds an ODCS v3 YAML file by name or path and compiles it (see
:mod:`impact.contracts.odcs`) into a :class:`Contract`. Nothing here touches data.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import ibis.expr.datatypes as dt

from impact.errors import ParameterError

#: The semantic roles a column can play (docs/data-model.md).
ROLES = (
    "id",
    "unit",
    "cluster",
    "time",
    "arm",
    "exposure",
    "outcome",
    "cost",
    "segment",
    "covariate",
    "experiment",
    "rollout_time",
)

LogicalType = Literal["string", "integer", "number", "boolean", "timestamp", "date"]
RuleKind = Literal[
    "not_null", "allowed", "missing", "pattern", "range", "finite", "compare", "unique"
]
Unit = Literal["rows", "percent"]

#: The engine type each logical type is checked against and cast to.
DTYPES: dict[str, dt.DataType] = {
    "string": dt.string,
    "integer": dt.int64,
    "number": dt.float64,
    "boolean": dt.boolean,
    "timestamp": dt.Timestamp(timezone="UTC"),
    "date": dt.date,
}

#: Comparison operators a range or cross-column rule may use, and their negation.
NEGATION = {">=": "<", ">": "<=", "<=": ">", "<": ">=", "==": "!=", "!=": "=="}

_ENV_DIR = "IMPACT_CONTRACTS_DIR"
_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True, slots=True)
class Column:
    """One column of a contract: its type, nullability and semantic role."""

    name: str
    logical_type: LogicalType
    required: bool = False
    unique: bool = False
    primary_key: bool = False
    role: str | None = None
    description: str = ""
    physical_type: str | None = None

    @property
    def dtype(self) -> dt.DataType:
        """The engine type valid rows carry for this column (timestamps are UTC)."""
        return DTYPES[self.logical_type]


@dataclass(frozen=True, slots=True)
class Rule:
    """One row rule: each row passes it or breaks it, and breaking rows are quarantined.

    A rule breaking in no more than its tolerance (`max_failed` rows or percent of rows, from
    the ODCS operator, 0 by default) still passes, but its rows are quarantined all the same.
    """

    kind: RuleKind
    columns: tuple[str, ...]
    #: "range" and "compare": one of ``>=, >, <=, <, ==, !=``.
    op: str | None = None
    #: "range": the bound; "allowed"/"missing": a tuple of values; "pattern": a regex;
    #: "compare": unused (the right-hand column is ``columns[1]``).
    value: Any = None
    max_failed: float = 0
    strict: bool = False  # True for ``mustBeLessThan``: failures must stay below max_failed
    unit: Unit = "rows"
    label: str | None = None  # a name the contract gave the rule

    @property
    def column(self) -> str:
        """The column(s) the rule is about, as shown in summaries."""
        return ", ".join(self.columns)

    @property
    def name(self) -> str:
        """A readable, self-describing name, e.g. ``handle_time_minutes <= 1440``."""
        if self.label:
            return self.label
        first = self.columns[0]
        match self.kind:
            case "not_null":
                return f"{first} not null"
            case "allowed":
                return f"{first} in {_format_set(self.value)}"
            case "missing":
                return f"{first} not in {_format_set(self.value)}"
            case "pattern":
                return f"{first} matches {self.value}"
            case "range":
                return f"{first} {self.op} {_format_value(self.value)}"
            case "finite":
                return f"{first} finite"
            case "compare":
                return f"{first} {self.op} {self.columns[1]}"
            case "unique":
                return f"duplicate {_format_key(self.columns)}"
        raise AssertionError(self.kind)  # pragma: no cover

    @property
    def breach(self) -> str:
        """What a breaking row looks like, completing "N row(s) ...": ``have csat > 5``."""
        first = self.columns[0]
        match self.kind:
            case "not_null":
                return f"have {first} null"
            case "allowed":
                return f"have {first} not in {_format_set(self.value)}"
            case "missing":
                return f"have {first} missing ({_format_set(self.value)})"
            case "pattern":
                return f"have {first} not matching {self.value}"
            case "range":
                return f"have {first} {NEGATION[str(self.op)]} {_format_value(self.value)}"
            case "finite":
                return f"have {first} NaN or infinite"
            case "compare":
                return f"have {first} {NEGATION[str(self.op)]} {self.columns[1]}"
            case "unique":
                key = _format_key(self.columns)
                return f"repeat the {key} of a row kept as valid"
        raise AssertionError(self.kind)  # pragma: no cover

    def passed(self, n_failed: int, n_rows: int) -> bool:
        """Whether `n_failed` breaking rows out of `n_rows` are within the rule's tolerance."""
        amount = n_failed if self.unit == "rows" else 100.0 * n_failed / max(n_rows, 1)
        return amount < self.max_failed if self.strict else amount <= self.max_failed


@dataclass(frozen=True, slots=True)
class Contract:
    """A compiled data contract: the columns of one table and the rules its rows obey.

    Example:
        >>> events = load_contract("workflow_events")
        >>> events.columns_with_role("unit"), events.role_of("csat")
        (('agent_id',), 'outcome')
    """

    name: str
    version: str
    owner: str | None
    columns: tuple[Column, ...]
    rules: tuple[Rule, ...]
    description: str = ""
    source: Path | None = None
    #: Quality entries impact does not execute (SQL, other engines), for reports to mention.
    unenforced: tuple[str, ...] = ()

    @property
    def column_names(self) -> tuple[str, ...]:
        """The contract's column names, in contract order."""
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> Column:
        """The column called `name`; `KeyError` naming the contract's columns otherwise."""
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(f"{self.name} has no column {name!r}; it has {list(self.column_names)}")

    def columns_with_role(self, role: str) -> tuple[str, ...]:
        """Names of the columns playing `role` (see :data:`ROLES`), in contract order."""
        return tuple(c.name for c in self.columns if c.role == role)

    def role_of(self, column: str) -> str | None:
        """The semantic role of `column`, or None when it has none or is not in the contract."""
        return next((c.role for c in self.columns if c.name == column), None)


def contract_dirs() -> tuple[Path, ...]:
    """Where bare contract names are looked up, first match wins.

    In order: the folder(s) in the ``IMPACT_CONTRACTS_DIR`` environment variable
    (``os.pathsep``-separated), ``./data_contracts`` under the working directory, the copy
    bundled in a built wheel (``impact/_bundled/data_contracts``), and the repository's
    ``data_contracts/`` next to the ``impact/`` package.
    """
    package = Path(__file__).resolve().parents[1]
    env = [Path(p) for p in os.environ.get(_ENV_DIR, "").split(os.pathsep) if p]
    candidates = [
        *env,
        Path.cwd() / "data_contracts",
        package / "_bundled" / "data_contracts",
        package.parent / "data_contracts",
    ]
    seen: list[Path] = []
    for folder in candidates:
        if folder not in seen:
            seen.append(folder)
    return tuple(seen)


def available_contracts() -> dict[str, Path]:
    """Every contract name findable by :func:`load_contract`, with the file it resolves to.

    Example:
        >>> sorted(available_contracts())[:2]
        ['agents', 'assignments']
    """
    found: dict[str, Path] = {}
    for folder in contract_dirs():
        if not folder.is_dir():
            continue
        for suffix in _SUFFIXES:
            for path in sorted(folder.glob(f"*{suffix}")):
                found.setdefault(path.name.removesuffix(suffix), path)
    return found


def resolve_contract(name_or_path: str | os.PathLike[str]) -> Path:
    """The file a contract name or path refers to.

    A path (anything with a folder part or a ``.yaml``/``.yml`` suffix) must exist; a bare name
    is looked up in :func:`contract_dirs`. An unknown name raises
    :class:`~impact.errors.ParameterError` (a `ValueError`) listing the names that exist.
    """
    if not isinstance(name_or_path, (str, os.PathLike)):
        raise TypeError(
            "contract must be a name (e.g. 'workflow_events') or a path to an ODCS YAML file; "
            f"got {type(name_or_path).__name__} {name_or_path!r}"
        )
    text = os.fspath(name_or_path)
    path = Path(text)
    looks_like_path = (
        isinstance(name_or_path, os.PathLike)
        or path.suffix.lower() in _SUFFIXES
        or len(path.parts) > 1
    )
    if looks_like_path:
        if not path.is_file():
            raise FileNotFoundError(f"no contract file at {path}")
        return path
    for folder in contract_dirs():
        for suffix in _SUFFIXES:
            candidate = folder / f"{text}{suffix}"
            if candidate.is_file():
                return candidate
    names = sorted(available_contracts())
    searched = ", ".join(str(d) for d in contract_dirs())
    raise ParameterError(
        f"unknown contract {text!r}; available: {', '.join(names) or '(none)'}. "
        f"Pass a path to an ODCS YAML file, or put {text}.yaml in one of: {searched}"
    )


def load_contract(name_or_path: str | os.PathLike[str]) -> Contract:
    """Load and compile a data contract from a bundled name or an ODCS v3 YAML path.

    The YAML is read safely (no Python objects) and parsed with the
    ``open-data-contract-standard`` models before compiling.

    Args:
        name_or_path: a contract name such as ``"workflow_events"`` (see
            :func:`contract_dirs` for where names are looked up) or a path to a YAML file.

    Raises:
        ParameterError: unknown name (the message lists the available ones), or a contract
            impact cannot compile (the message says which entry and why). It is a
            `ValueError`, and the CLI turns it into exit code 2.
        FileNotFoundError: a path that does not exist.
        TypeError: `name_or_path` is neither a string nor a path.

    Example:
        >>> contract = load_contract("workflow_events")
        >>> contract.name, contract.version
        ('workflow_events', '1.0.0')
        >>> contract.columns_with_role("outcome")[:2]
        ('handle_time_minutes', 'resolved')
    """
    from impact.contracts.odcs import parse_file

    return parse_file(resolve_contract(name_or_path))


def _format_value(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _format_set(values: Any) -> str:
    return "{" + ", ".join("null" if v is None else _format_value(v) for v in values) + "}"


def _format_key(columns: tuple[str, ...]) -> str:
    return columns[0] if len(columns) == 1 else "(" + ", ".join(columns) + ")"
