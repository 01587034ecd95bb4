"""How many rows repeat a unique key, exactly, without a hash table of the keys on DuckDB.

A distinct count of ten million string keys builds a hash table of ten million strings: on
DuckDB it took 2.2-2.5 s on 10M events, about as long as all the other rules together. On a DuckDB
connection, the engine instead hashes each complete key to 64 bits, and the hashes come back
in batches (8 bytes a row) into one array, sorted in place. If no two hashes are equal, no key
repeats: equal keys have equal hashes, so this answer is exact. If some hashes are equal, which
in 64 bits means copies (by chance, among 10M distinct keys, about once in 370,000 tables), the
engine's distinct count settles how many rows repeat. Other engines (Spark, warehouses: their
hashes may be 32-bit and their results travel over a network) and keys of more than
:data:`LOCAL_KEYS_MAX` rows (1.6 GB of hashes) always count distinct keys in the engine.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir
import numpy as np
from ibis.common.exceptions import IbisError

#: The most complete keys whose hashes are sorted locally (8 bytes each): 1.6 GB of memory.
LOCAL_KEYS_MAX = 200_000_000
_BATCH_ROWS = 2_000_000


@ibis.udf.scalar.builtin(name="hash")
def _hash(value) -> dt.uint64:  # untyped: DuckDB hashes values of any type
    """DuckDB's 64-bit ``hash()`` (Ibis's own ``hash`` casts it through a bitstring)."""


def repeats(table: ir.Table, columns: Sequence[str], *, complete: int | None = None) -> int:
    """How many rows repeat a key of `columns` already seen; keys with a NULL part never count.

    Args:
        table: any Ibis table with `columns`.
        columns: the key's columns.
        complete: how many rows have the whole key, if already counted (one query fewer).

    Example:
        >>> import pandas as pd
        >>> from impact.engine import as_table
        >>> frame = pd.DataFrame({"id": ["a", "b", "a", None, None]})
        >>> repeats(as_table(frame), ["id"])
        1
    """
    keyed = table.filter(*(table[c].notnull() for c in columns))
    if complete is None:
        complete = int(keyed.count().to_pyarrow().as_py())
    if complete < 2:
        return 0
    if complete <= LOCAL_KEYS_MAX and _on_duckdb(table):
        hashes = _hashes(keyed, columns, complete)
        if hashes is not None and not _any_equal(hashes):
            return 0
    # Both counts from one query, so they describe the same table even if it changed.
    counted = keyed.aggregate(n=keyed.count(), distinct=_key(keyed, columns).nunique())
    row = counted.to_pyarrow().to_pylist()[0]
    return int(row["n"]) - int(row["distinct"])


def _key(table: ir.Table, columns: Sequence[str]) -> ir.Value:
    """The key as one value: its column, or a struct of its columns."""
    if len(columns) == 1:
        return table[columns[0]]
    return ibis.struct({c: table[c] for c in columns})


def _on_duckdb(table: ir.Table) -> bool:
    """True if `table` runs on one DuckDB connection (the local engine)."""
    try:
        return ibis.get_backend(table).name == "duckdb"
    except IbisError:  # no backend, or several: the engine's distinct count
        return False


def _hashes(keyed: ir.Table, columns: Sequence[str], complete: int) -> np.ndarray | None:
    """The 64-bit hash of every complete key, in one array; None if the table changed size
    since it was counted (then the engine's distinct count decides)."""
    out = np.empty(complete, dtype=np.uint64)
    filled = 0
    hashed = keyed.select(h=_hash(_key(keyed, columns)))
    with warnings.catch_warnings():
        # Ibis 12 streams with DuckDB's fetch_record_batch, which DuckDB 1.5 deprecates.
        warnings.filterwarnings("ignore", "fetch_record_batch", DeprecationWarning)
        with hashed.to_pyarrow_batches(chunk_size=_BATCH_ROWS) as batches:
            for batch in batches:
                values = batch.column(0).to_numpy()
                if filled + len(values) > complete:
                    return None
                out[filled : filled + len(values)] = values
                filled += len(values)
    return out if filled == complete else None


def _any_equal(hashes: np.ndarray) -> bool:
    """True if two of `hashes` are equal (sorts them in place)."""
    hashes.sort()
    return bool(np.any(hashes[1:] == hashes[:-1]))
