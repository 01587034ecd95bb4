"""The assumptions register: every business number behind a money figure, with its range.

Finance edits one YAML file (``assumptions/ai_assist.yaml``): labour rates, token prices, value
per outcome, build and run costs, adoption, discount rate and horizon. Each assumption has a
point value, a plausible range with a distribution, a source, an owner and a review date. The
file has a `version` that every report shows, with a content hash so two reports built on
different numbers can never look alike.

The name is *register*, not *ledger*: a ledger records what was spent (a time series of
costs); a register lists what we assume. DESIGN.md's sketch called it ``Ledger``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

import numpy as np
import pandas as pd
import yaml

from impact.errors import ParameterError

Distribution = Literal["fixed", "uniform", "triangular", "normal", "lognormal"]
DISTRIBUTIONS = ("fixed", "uniform", "triangular", "normal", "lognormal")
CATEGORIES = ("labour", "compute", "value", "build", "run", "finance", "adoption")
#: Register file formats this version of impact reads.
FORMATS = (1,)
#: Categories whose figures are costs or prices: never negative.
_NON_NEGATIVE = ("labour", "compute", "value", "build", "run", "adoption")
_Z95 = 1.959963984540054  # normal and lognormal ranges are read as central 95% intervals
_TAILS = 4.0  # normal/lognormal draws beyond 4 SD are treated as impossible (P ~ 6e-5)
_FIELDS = ("value", "low", "high", "distribution", "unit", "category", "source", "owner", "as_of")


@dataclass(frozen=True, slots=True)
class Assumption:
    """One business assumption: a point value and a plausible range [low, high].

    `distribution` says how Monte Carlo samples it: ``fixed`` (always `value`), ``uniform``
    (between low and high), ``triangular`` (low, mode `value`, high), ``normal`` (mean `value`,
    [low, high] its central 95% interval) or ``lognormal`` (median `value`, likewise).

    Example:
        >>> a = Assumption("labour_usd_per_hour", 38.0, 32.0, 45.0, "triangular",
        ...                unit="usd_per_hour", category="labour")
        >>> a.sample(np.random.default_rng(0), 3).round(2).tolist()
        [39.25, 36.59, 33.79]
    """

    name: str
    value: float
    low: float
    high: float
    distribution: Distribution = "fixed"
    unit: str = ""
    category: str = "value"
    source: str | None = None
    owner: str | None = None
    as_of: dt.date | None = None

    def __post_init__(self) -> None:
        problems = _problems(self)
        if problems:
            raise ParameterError(f"assumption {self.name!r}: " + "; ".join(problems))

    @property
    def uncertain(self) -> bool:
        """True when the range has width (the assumption can move the answer)."""
        return self.distribution != "fixed" and self.high > self.low

    @property
    def support(self) -> tuple[float, float]:
        """The range draws fall in: [low, high] for bounded distributions, four standard
        deviations either side for normal and lognormal (all but ~6e-5 of the draws)."""
        if not self.uncertain or self.distribution in ("uniform", "triangular"):
            return (self.low, self.high) if self.uncertain else (self.value, self.value)
        if self.distribution == "normal":
            sd = _normal_sd(self)
            return self.value - _TAILS * sd, self.value + _TAILS * sd
        sigma = _lognormal_sigma(self)
        return self.value * math.exp(-_TAILS * sigma), self.value * math.exp(_TAILS * sigma)

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """`n` draws from the assumption's distribution (float64)."""
        if not self.uncertain:
            return np.full(n, self.value)
        if self.distribution == "uniform":
            return rng.uniform(self.low, self.high, n)
        if self.distribution == "triangular":
            return rng.triangular(self.low, self.value, self.high, n)
        if self.distribution == "normal":
            draws = rng.normal(self.value, _normal_sd(self), n)
            # A cost or price never goes negative; the check on the range keeps this tail
            # below ~3e-5, so clipping it changes nothing a report shows.
            return np.maximum(draws, 0.0) if self.category in _NON_NEGATIVE else draws
        return self.value * np.exp(rng.normal(0.0, _lognormal_sigma(self), n))

    def to_dict(self) -> dict[str, Any]:
        """One row of the flattened register (the `assumptions` data contract's columns)."""
        return {
            "name": self.name,
            "value": self.value,
            "low": self.low,
            "high": self.high,
            "distribution": self.distribution,
            "unit": self.unit,
            "category": self.category,
            "source": self.source,
            "owner": self.owner,
            "as_of": self.as_of,
        }


def _normal_sd(a: Assumption) -> float:
    return max(a.value - a.low, a.high - a.value) / _Z95


def _lognormal_sigma(a: Assumption) -> float:
    return max(math.log(a.value / a.low), math.log(a.high / a.value)) / _Z95


def _problems(a: Assumption) -> list[str]:
    out = []
    numbers = {"value": a.value, "low": a.low, "high": a.high}
    for key, number in numbers.items():
        if not isinstance(number, (int, float)) or isinstance(number, bool):
            return [f"{key} must be a number, got {number!r}"]
        if not math.isfinite(number):
            out.append(f"{key} must be finite, got {number}")
    if out:
        return out
    if not a.low <= a.value <= a.high:
        out.append(f"needs low <= value <= high, got {a.low} <= {a.value} <= {a.high}")
    if a.distribution not in DISTRIBUTIONS:
        out.append(f"distribution {a.distribution!r} is not one of {list(DISTRIBUTIONS)}")
    if a.category not in CATEGORIES:
        out.append(f"category {a.category!r} is not one of {list(CATEGORIES)}")
    if a.category in _NON_NEGATIVE and a.low < 0:
        out.append(
            f"is a {a.category} figure and cannot be negative (low = {a.low}); costs and prices "
            "are entered as positive amounts, the model knows which side they are on"
        )
    if a.distribution == "lognormal" and a.low <= 0:
        out.append(f"a lognormal range needs low > 0, got {a.low}")
    if (
        a.distribution == "normal"
        and a.category in _NON_NEGATIVE
        and a.uncertain
        and (lowest := a.value - _TAILS * _normal_sd(a)) < 0
    ):
        out.append(
            f"is a {a.category} figure, but a normal distribution with range [{a.low}, "
            f"{a.high}] draws negative values (its 4-SD low end is {lowest:.4g}); use "
            "lognormal or triangular for a skewed range"
        )
    return out


class _UniqueKeyLoader(yaml.SafeLoader):
    """yaml.safe_load keeps the last of two equal keys silently; a register must not."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if key in seen:
            raise ParameterError(
                f"the register names {key!r} twice (line {key_node.start_mark.line + 1}); "
                "each assumption must appear once"
            )
        seen.add(key)
    return loader.construct_mapping(node)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


@dataclass(frozen=True, slots=True, eq=False)
class Register:
    """The assumptions register: named assumptions, a version and a content hash.

    Example:
        >>> reg = Register.from_yaml("assumptions/ai_assist.yaml")
        >>> reg["labour_usd_per_hour"].unit, reg.version
        ('usd_per_hour', '2026.03.1')
        >>> len(reg.content_hash)
        12
    """

    assumptions: Mapping[str, Assumption]
    version: str
    title: str = ""
    start_date: dt.date | None = None
    decision: Mapping[str, Any] = field(default_factory=dict)
    path: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "assumptions", MappingProxyType(dict(self.assumptions)))
        object.__setattr__(self, "decision", MappingProxyType(dict(self.decision)))
        if not str(self.version).strip():
            raise ParameterError("the register has no version; add `version: ...` at the top")

    # -- reading ---------------------------------------------------------------------------
    @classmethod
    def from_yaml(
        cls, path: str | Path, *, contract: bool = True, version: str | None = None
    ) -> Register:
        """Read and check a register file (format 1; see docs/value.md).

        With `contract` (the default) the flattened register is also checked against the
        ``assumptions`` data contract, so the file and the contract can never drift apart.
        `version` pins the register a report was approved with: a file at another version is
        an error, so a scheduled report never silently runs on numbers nobody signed off.
        """
        path = _locate(Path(path))
        try:
            # A SafeLoader subclass: exactly as safe as yaml.safe_load, but refuses repeated keys.
            raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader)
        except yaml.YAMLError as exc:
            raise ParameterError(f"{path.name} is not valid YAML: {exc}") from exc
        register = cls.from_dict(raw, path=str(path))
        if version is not None and register.version != str(version):
            raise ParameterError(
                f"{path.name} is register version {register.version!r}, but version "
                f"{str(version)!r} was asked for; update the pinned version after review, or "
                "restore the approved file"
            )
        return register.validate() if contract else register

    @classmethod
    def from_dict(cls, raw: Any, *, path: str | None = None) -> Register:
        """Build a register from the parsed YAML mapping; every problem is reported at once."""
        where = path or "the register"
        if not isinstance(raw, Mapping):
            raise ParameterError(f"{where}: expected a mapping with version and assumptions")
        fmt = raw.get("format")
        if fmt not in FORMATS:
            raise ParameterError(
                f"{where}: register format {fmt!r} is unknown; this impact reads format(s) "
                f"{list(FORMATS)}. Add `format: 1` or upgrade impact."
            )
        version = raw.get("version")
        if version is None or not str(version).strip():
            raise ParameterError(
                f"{where}: the register has no version; add e.g. `version: 2026.03.1` so "
                "reports can say which numbers they used"
            )
        if isinstance(version, float):
            # YAML reads `version: 1.10` as the number 1.1: two registers would share a label.
            raise ParameterError(
                f"{where}: version {version!r} was read as a number, so it may not be what the "
                'file says (1.10 reads as 1.1); quote it as intended, e.g. `version: "1.10"`'
            )
        entries = raw.get("assumptions")
        if not isinstance(entries, Mapping) or not entries:
            raise ParameterError(f"{where}: `assumptions` must map names to their figures")
        assumptions, problems = {}, []
        for name, entry in entries.items():
            try:
                assumptions[str(name)] = _assumption(str(name), entry)
            except ParameterError as exc:
                problems.append(str(exc))
        if problems:
            raise ParameterError(
                f"{where}: {len(problems)} assumption(s) are invalid:\n  " + "\n  ".join(problems)
            )
        start = raw.get("start_date")
        return cls(
            assumptions=assumptions,
            version=str(version),
            title=str(raw.get("title", "")),
            start_date=_date(start, "start_date") if start is not None else None,
            decision=raw.get("decision") or {},
            path=path,
        )

    # -- access ----------------------------------------------------------------------------
    def __getitem__(self, name: str) -> Assumption:
        try:
            return self.assumptions[name]
        except KeyError:
            raise ParameterError(
                f"the register has no assumption {name!r}; it has {sorted(self.assumptions)}"
            ) from None

    def __contains__(self, name: object) -> bool:
        return name in self.assumptions

    def require(self, names: Iterable[str], *, purpose: str = "this calculation") -> None:
        """Raise one ParameterError listing every name in `names` the register lacks."""
        missing = [n for n in names if n not in self.assumptions]
        if missing:
            raise ParameterError(
                f"the register (version {self.version}) lacks {len(missing)} assumption(s) "
                f"needed for {purpose}: {missing}. Add them to "
                f"{Path(self.path).name if self.path else 'the register'} (see docs/value.md)."
            )

    def values(self) -> dict[str, float]:
        """Point values by name."""
        return {name: a.value for name, a in self.assumptions.items()}

    def by_category(self, category: str) -> list[Assumption]:
        """The assumptions of one category, in file order."""
        return [a for a in self.assumptions.values() if a.category == category]

    def sample(self, rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
        """`n` joint draws (independent across assumptions), in file order for reproducibility."""
        return {name: a.sample(rng, n) for name, a in self.assumptions.items()}

    def with_values(self, **values: float) -> Register:
        """A copy with some point values changed (the range widens to include them)."""
        changed = dict(self.assumptions)
        for name, number in values.items():
            a = self[name]
            number = float(number)
            changed[name] = replace(
                a, value=number, low=min(a.low, number), high=max(a.high, number)
            )
        return replace(self, assumptions=changed)

    # -- identity --------------------------------------------------------------------------
    @property
    def content_hash(self) -> str:
        """12 hex digits of SHA-256 over the register's content (not its file formatting)."""
        content = {
            "version": self.version,
            "start_date": str(self.start_date),
            "assumptions": [a.to_dict() for a in self.assumptions.values()],
            "decision": self.decision,
        }
        text = json.dumps(content, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    @property
    def label(self) -> str:
        """``"register 2026.03.1 (sha 1a2b3c4d5e6f)"``: what reports print."""
        return f"register {self.version} (sha {self.content_hash})"

    # -- output ----------------------------------------------------------------------------
    def to_frame(self) -> pd.DataFrame:
        """The flattened register, one row per assumption (the `assumptions` contract)."""
        frame = pd.DataFrame([a.to_dict() for a in self.assumptions.values()])
        return frame.astype({"value": "float64", "low": "float64", "high": "float64"})

    def validate(self) -> Register:
        """Check the flattened register against the `assumptions` data contract; return self."""
        from impact.contracts import validate

        frame = self.to_frame().assign(as_of=lambda f: pd.to_datetime(f.as_of).dt.date)
        validate(frame, "assumptions").raise_if_any()
        return self

    def _repr_html_(self) -> str:
        shown = self.to_frame()[
            ["name", "value", "low", "high", "distribution", "unit", "source", "owner", "as_of"]
        ]
        title = html.escape(f"{self.title or 'Assumptions'}: {self.label}")
        return (
            f"<div class='impact-register'><strong>{title}</strong>"
            f"{shown.to_html(index=False, na_rep='')}</div>"
        )

    def __repr__(self) -> str:
        return f"<Register {self.title!r} {self.label}, {len(self.assumptions)} assumptions>"


def _locate(path: Path) -> Path:
    """`path` as given, else relative to the project root (notebooks run from notebooks/)."""
    if path.exists():
        return path
    root = Path(__file__).resolve().parents[2]
    if not path.is_absolute() and (root / path).exists():
        return root / path
    raise FileNotFoundError(f"no assumptions register at {path} (nor at {root / path})")


def _assumption(name: str, entry: Any) -> Assumption:
    if isinstance(entry, (int, float)) and not isinstance(entry, bool):
        entry = {"value": entry}
    if not isinstance(entry, Mapping):
        raise ParameterError(f"assumption {name!r}: expected a mapping with value, low, high")
    unknown = sorted(set(entry) - set(_FIELDS))
    if unknown:
        raise ParameterError(f"assumption {name!r}: unknown field(s) {unknown}; use {_FIELDS}")
    if "value" not in entry:
        raise ParameterError(f"assumption {name!r}: has no value")
    value = entry["value"]
    distribution = entry.get("distribution", "fixed")
    low, high = entry.get("low", value), entry.get("high", value)
    if distribution not in DISTRIBUTIONS:
        raise ParameterError(
            f"assumption {name!r}: distribution {distribution!r} is not one of "
            f"{list(DISTRIBUTIONS)}"
        )
    if distribution != "fixed" and ("low" not in entry or "high" not in entry):
        raise ParameterError(f"assumption {name!r}: a {distribution} assumption needs low and high")
    as_of = entry.get("as_of")
    return Assumption(
        name=name,
        value=_number(value),
        low=_number(low),
        high=_number(high),
        distribution=distribution,
        unit=str(entry.get("unit", "")),
        category=str(entry.get("category", "value")),
        source=entry.get("source"),
        owner=entry.get("owner"),
        as_of=_date(as_of, f"{name}.as_of") if as_of else None,
    )


def _number(x: Any) -> Any:
    # Integers from YAML become floats; anything else is left for the check to name.
    return float(x) if isinstance(x, int) and not isinstance(x, bool) else x


def _date(x: Any, where: str) -> dt.date:
    if isinstance(x, dt.date):
        return x
    try:
        return dt.date.fromisoformat(str(x))
    except ValueError:
        raise ParameterError(f"{where}: expected an ISO date like 2026-03-01, got {x!r}") from None
