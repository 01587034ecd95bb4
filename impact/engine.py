"""The engine seam: every input becomes an Ibis table, bound to DuckDB unless told otherwise.

Pandas frames, Parquet/CSV files, DuckDB database files and existing Ibis tables all arrive
here; nothing downstream needs to know which one it got. Aggregation happens in the engine;
only small summaries come back to Python (DESIGN.md decision 1).
"""

from __future__ import annotations

import functools
import hashlib
import os
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import ibis
import ibis.expr.types as ir
import pandas as pd

from impact.errors import ContractError, ParameterError

if TYPE_CHECKING:
    from ibis.backends import BaseBackend


_DEFAULT: BaseBackend | None = None
SAMPLE_PREFIX = "sample:"
#: The environment variable that sets the default connection's DuckDB memory limit, e.g.
#: ``8GB``; ``none`` leaves DuckDB's own default (80% of the machine's memory).
MEMORY_LIMIT_ENV = "IMPACT_DUCKDB_MEMORY_LIMIT"
#: The default cap (or 80% of the machine's memory, if less): DuckDB spills to disk beyond it.
MEMORY_LIMIT_GB = 3


def default_backend() -> BaseBackend:
    """The process-wide in-memory DuckDB connection that pandas inputs and files are bound to.

    Its memory is capped at :func:`memory_limit` (3 GB unless ``IMPACT_DUCKDB_MEMORY_LIMIT``
    says otherwise): the few queries that grow with the number of events (ranking the copies
    of a repeated key, a distinct count beyond ``impact.contracts.keys.LOCAL_KEYS_MAX`` rows)
    then spill to disk instead of taking most of the machine's memory.
    """
    global _DEFAULT
    if _DEFAULT is None:
        limit = memory_limit()
        config = {} if limit is None else {"memory_limit": limit}  # a setting, not SQL text
        try:
            con = ibis.duckdb.connect(**config)
        except duckdb.Error as exc:  # only the limit varies: DuckDB's error in our words
            raise ParameterError(
                f"{MEMORY_LIMIT_ENV}={limit!r} is not a memory size DuckDB reads; use e.g. "
                "'3GB', '500MB' or 'none' (DuckDB's default, 80% of memory)"
            ) from exc
        # Timestamps are UTC throughout; DuckDB would otherwise use the machine's zone.
        con.raw_sql("SET TimeZone = 'UTC'")
        _DEFAULT = con
        # Unbound in-memory tables (ibis.memtable) execute on this same connection.
        ibis.set_backend(_DEFAULT)
    return _DEFAULT


def memory_limit(environ: Mapping[str, str] = os.environ) -> str | None:
    """The default connection's DuckDB memory limit: ``IMPACT_DUCKDB_MEMORY_LIMIT`` if set
    (``none``: DuckDB's own default, returned as None), else 3 GB or 80% of the machine's
    memory, whichever is less.

    Example:
        >>> memory_limit({"IMPACT_DUCKDB_MEMORY_LIMIT": "8GB"})
        '8GB'
        >>> memory_limit({"IMPACT_DUCKDB_MEMORY_LIMIT": "none"}) is None
        True
    """
    value = environ.get(MEMORY_LIMIT_ENV, "").strip()
    if value.lower() == "none":
        return None
    if value:
        return value  # DuckDB reads it (default_backend says so in our words if it cannot)
    megabytes = MEMORY_LIMIT_GB * 1000
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        megabytes = min(megabytes, int(0.8 * total / 1e6))
    except (AttributeError, ValueError, OSError):  # no sysconf (Windows): the fixed cap
        pass
    return f"{megabytes}MB"


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
            if backend.name == "pyspark":  # no temporary tables; a temporary view instead
                return backend.create_view(f"impact_{uuid.uuid4().hex}", ibis.memtable(source))
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
            return _read_parquet(con, path)
        if suffix in {".csv", ".tsv", ".txt"}:
            return _read_csv(con, path)
        if suffix in {".duckdb", ".db"}:
            if table is None:
                raise ValueError(f"{path.name} is a database: pass table=NAME to pick a table")
            return _read_duckdb(path, table)
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
    """Read a CSV strictly: every line has the header's fields, every value its column's type.

    DuckDB sniffs the delimiter, quoting, header and types, and strips a UTF-8 byte-order mark.
    Its sniffer would also skip leading lines that disagree with the rest, taking a later line
    as the header and silently dropping the rows above it, so lines are never skipped here and
    the first line is always the header. Every column is then read once, so that a ragged line
    or a value the sniffed type cannot hold fails now, naming the file, not in a later query.
    """
    if con.name != "duckdb":  # other engines have their own CSV options and errors
        return con.read_csv(str(path))
    import duckdb

    try:
        try:
            table = _strict_csv(con, path)
        except duckdb.ConversionException:
            # A value far down the file does not fit the type sniffed from a sample: sniff the
            # whole file instead, so the column arrives as text and the contract (or the
            # estimator) can say which values are wrong.
            table = _strict_csv(con, path, sample_size=-1)
    except ContractError:
        raise
    except Exception as exc:  # the engine's parse errors are not ours to expose raw
        raise _unreadable(path, "readable CSV", exc) from exc
    return table


def _strict_csv(con: BaseBackend, path: Path, **options: Any) -> ir.Table:
    query = "SELECT SkipRows FROM sniff_csv(?)"  # bound, never formatted: a path is user text
    (skipped,) = con.raw_sql(query, parameters=[str(path)]).fetchone()
    if skipped:
        raise _unreadable(
            path,
            "header on the first line",
            f"the first {skipped} line(s) do not have the fields of the lines below them (a "
            "title above the header, or ragged lines); remove or fix them",
        )
    table = con.read_csv(str(path), header=True, skip=0, **options)
    if len(table.columns) == 1 and (delimiter := _delimiter_in(table.columns[0])):
        # No delimiter made every line agree (ragged lines), so DuckDB read one column whose
        # name holds the real delimiter. Read with it to get the line that does not fit.
        try:
            table = con.read_csv(str(path), header=True, skip=0, delim=delimiter, **options)
        except Exception as exc:
            raise _unreadable(
                path,
                "same number of fields on every line",
                f"the lines disagree on how many {delimiter!r}-separated fields they have",
            ) from exc
    table.aggregate(**{f"n{i}": table[c].count() for i, c in enumerate(table.columns)}).execute()
    return table


def _delimiter_in(header: str) -> str | None:
    return next((d for d in (",", ";", "\t", "|") if d in header), None)


def _read_parquet(con: BaseBackend, path: Path) -> ir.Table:
    """One Parquet file, or every ``*.parquet`` file under a folder, as one table."""
    if path.is_dir():
        if not any(path.rglob("*.parquet")):
            raise FileNotFoundError(f"no .parquet files in the folder {path}")
        pattern = str(path / "**" / "*.parquet")
    else:
        pattern = str(path)
    try:
        table = con.read_parquet(pattern)
        if con.name == "duckdb":
            # The schema comes from one file; counting reads every file's footer (not its
            # data), so a corrupt part fails here, not in the middle of an estimate.
            table.count().execute()
    except Exception as exc:  # a corrupt or truncated file: say which, not the engine's trace
        raise _unreadable(path, "readable Parquet", exc) from exc
    return table


def _read_duckdb(path: Path, table: str) -> ir.Table:
    """Table `table` of the DuckDB database file at `path`, opened read-only."""
    try:
        con = ibis.duckdb.connect(str(path), read_only=True)
        # Tables and views of the default schema (Ibis's list_tables warns on DuckDB 1.5).
        query = "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'"
        tables = [row[0] for row in con.raw_sql(query).fetchall()]
    except Exception as exc:  # not a DuckDB database, or one written by a newer DuckDB
        raise _unreadable(path, "readable DuckDB database", exc) from exc
    if table not in tables:
        raise KeyError(f"no table {table!r} in {path.name}; it has {sorted(tables)}")
    return con.table(table)


def _unreadable(path: Path, rule: str, problem: Exception | str) -> ContractError:
    # The engine's message on one line, without its advice on engine options.
    message = " ".join(str(problem).split()).split(" Possible ")[0]
    failures = pd.DataFrame([{"column": "*", "rule": rule, "n_rows": -1, "example": message[:300]}])
    return ContractError(path.name, failures)


def _memtable_name(frame: pd.DataFrame) -> str:
    return f"impact_{id(frame):x}"


def fingerprint(source: Any) -> str:
    """A short content fingerprint of an input: file bytes for paths, the rows for frames.

    Used in run manifests so two runs on identical inputs are recognisably identical.
    """
    digest = hashlib.sha256()
    if isinstance(source, str) and source.startswith(SAMPLE_PREFIX):
        source = sample_frame(source.removeprefix(SAMPLE_PREFIX))
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
