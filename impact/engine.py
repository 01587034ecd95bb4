"""The engine seam: every input becomes an Ibis table, bound to DuckDB unless told otherwise.

Pandas frames, Parquet/CSV files, DuckDB database files and existing Ibis tables all arrive
here; nothing downstream needs to know which one it got. Aggregation happens in the engine;
only small summaries come back to Python (DESIGN.md decision 1).
"""

from __future__ import annotations

import functools
import hashlib
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from impact.errors import ContractError

if TYPE_CHECKING:
    from ibis.backends import BaseBackend


_DEFAULT: BaseBackend | None = None
SAMPLE_PREFIX = "sample:"


def default_backend() -> BaseBackend:
    """The process-wide in-memory DuckDB connection that pandas inputs and files are bound to."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = ibis.duckdb.connect()
        # Timestamps are UTC throughout; DuckDB would otherwise use the machine's zone.
        _DEFAULT.raw_sql("SET TimeZone = 'UTC'")
        # Unbound in-memory tables (ibis.memtable) execute on this same connection.
        ibis.set_backend(_DEFAULT)
    return _DEFAULT


def as_table(
    source: Any,
    *,
    table: str | None = None,
    backend: BaseBackend | None = None,
) -> ir.Table:
    """Return `source` as an Ibis table without pulling any rows into Python.

    Args:
        source: a pandas DataFrame, an Ibis table, a path to a ``.parquet`` file or folder,
            a ``.csv`` file, or a ``.duckdb`` database (then `table` names the table), or
            ``"sample:events"`` (also assignments, rollouts, agents) for the simulated sample.
        table: table name inside a DuckDB database file.
        backend: an Ibis connection (e.g. Spark) to read files with; DuckDB by default.

    Example:
        >>> import pandas as pd
        >>> as_table(pd.DataFrame({"x": [1, 2]})).count().execute()
        2
    """
    if isinstance(source, ir.Table):
        return source
    if isinstance(source, pd.DataFrame):
        if backend is not None:
            return backend.create_table(_memtable_name(source), source, temp=True)
        default_backend()
        return ibis.memtable(source)
    if isinstance(source, str) and source.startswith(SAMPLE_PREFIX):
        default_backend()
        return ibis.memtable(sample_frame(source.removeprefix(SAMPLE_PREFIX)))
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.exists():
            raise FileNotFoundError(f"no such file or folder: {path}")
        con = backend or default_backend()
        suffix = path.suffix.lower()
        if path.is_dir() or suffix in {".parquet", ".pq"}:
            pattern = str(path / "**" / "*.parquet") if path.is_dir() else str(path)
            return con.read_parquet(pattern)
        if suffix in {".csv", ".tsv", ".txt"}:
            return _read_csv(con, path)
        if suffix in {".duckdb", ".db"}:
            if table is None:
                raise ValueError(f"{path.name} is a database: pass table=NAME to pick a table")
            return ibis.duckdb.connect(str(path), read_only=True).table(table)
        raise ValueError(
            f"cannot read {path.name}: expected .parquet, .csv or .duckdb, or pass an Ibis table"
        )
    raise TypeError(
        f"expected a pandas DataFrame, an Ibis table or a path, got {type(source).__name__}"
    )


@functools.cache
def _sample(seed: int = 0) -> Any:
    from impact.datasets import simulate

    return simulate(seed=seed)


def sample_frame(name: str) -> pd.DataFrame:
    """A table of the default simulated sample (``"sample:events"`` as a source)."""
    tables = ("events", "assignments", "rollouts", "agents")
    if name not in tables:
        raise ValueError(f"no sample table {name!r}; choose one of {list(tables)}")
    return getattr(_sample(), name)


def _read_csv(con: BaseBackend, path: Path) -> ir.Table:
    # DuckDB sniffs delimiter, header and types, and strips a UTF-8 byte-order mark.
    try:
        return con.read_csv(str(path))
    except Exception as exc:  # the engine's parse errors are not ours to expose raw
        failures = pd.DataFrame(
            [{"column": "*", "rule": "readable CSV", "n_rows": -1, "example": str(exc)[:200]}]
        )
        raise ContractError(path.name, failures) from exc


def _memtable_name(frame: pd.DataFrame) -> str:
    return f"impact_{id(frame):x}"


def fingerprint(source: Any) -> str:
    """A short content fingerprint of an input: file bytes for paths, the rows for frames.

    Used in run manifests so two runs on identical inputs are recognisably identical.
    """
    digest = hashlib.sha256()
    if isinstance(source, str) and source.startswith(SAMPLE_PREFIX):
        default_backend()
        return ibis.memtable(sample_frame(source.removeprefix(SAMPLE_PREFIX)))
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            digest.update(file.name.encode())
            with file.open("rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
    elif isinstance(source, pd.DataFrame):
        digest.update(pd.util.hash_pandas_object(source, index=False).values.tobytes())
    else:
        digest.update(repr(source).encode())
    return digest.hexdigest()[:16]
