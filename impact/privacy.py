"""Privacy helpers: keyed pseudonyms for unit identifiers, and small-segment suppression.

Reports carry aggregates only (see docs/trust.md). Two helpers make that safer to do:

- :func:`pseudonymize` replaces identifier columns (agent ids, team ids) by their HMAC-SHA256
  under a secret key taken from an environment variable, computed *in the engine*, so raw ids
  never need to leave the warehouse and the same id always maps to the same pseudonym (joins and
  per-unit statistics still work). Without the key, a pseudonym cannot be reversed or recomputed
  by guessing ids, which a plain unkeyed hash would allow.
- :func:`suppress_small` blanks the figures of segments with fewer than `minimum` units in a
  segment table before it is published, so no figure describes a handful of people.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any, TypeVar

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from impact.engine import as_table
from impact.errors import ParameterError

KEY_ENV = "IMPACT_PSEUDONYM_KEY"
MIN_SEGMENT_UNITS = 10
_MIN_KEY_BYTES = 16
_BLOCK = 64  # SHA-256 block size in bytes (RFC 2104)
SUPPRESSED = "suppressed"

Frame = TypeVar("Frame", pd.DataFrame, ir.Table)


@ibis.udf.scalar.builtin(name="sha256")
def _sha256(value: dt.binary) -> dt.string:  # type: ignore[empty-body]
    """DuckDB's sha256: hex digest of a blob."""


@ibis.udf.scalar.builtin(name="unhex")
def _unhex(value: str) -> dt.binary:  # type: ignore[empty-body]
    """DuckDB's unhex: hex text to a blob."""


@ibis.udf.scalar.builtin(name="concat")
def _join(left: dt.binary, right: dt.binary) -> dt.binary:  # type: ignore[empty-body]
    """Blob concatenation (compiled to ``||``, which keeps blobs blobs)."""


@ibis.udf.scalar.builtin(name="encode")
def _encode(value: str) -> dt.binary:  # type: ignore[empty-body]
    """DuckDB's encode: text to its UTF-8 bytes as a blob."""


def pseudonymize(
    table: Any,
    columns: Sequence[str],
    *,
    key_env: str = KEY_ENV,
    prefix: str = "",
) -> ir.Table:
    """Replace each of `columns` by the HMAC-SHA256 of its value (hex), computed in the engine.

    The key is read from the environment variable `key_env` (never from a config file or an
    argument, so it cannot end up in a manifest or a notebook). Values are hashed as UTF-8
    text (integers as their decimal text); NULL stays NULL. The result equals Python's
    ``hmac.new(key, value.encode(), hashlib.sha256).hexdigest()``, so pseudonyms made in
    different places with the same key agree.

    The two hashes run in DuckDB (its ``sha256``, ``unhex`` and ``encode``); the key's two
    padded blocks are part of the query text, so on a warehouse that keeps query history use
    its own keyed hash and a managed secret instead (SECURITY.md).

    Args:
        table: anything :func:`impact.as_table` accepts; the default engine is DuckDB.
        columns: the identifier columns to replace (e.g. ``["agent_id", "team_id"]``).
        key_env: the environment variable holding the key (at least 16 bytes of UTF-8).
        prefix: text put before each pseudonym (e.g. ``"u_"``), for readability.

    Raises:
        ParameterError: the key variable is unset or too short, or a column is missing.

    Example:
        >>> import os, hmac, hashlib
        >>> import pandas as pd
        >>> os.environ["IMPACT_PSEUDONYM_KEY"] = "a-long-enough-test-key"
        >>> t = pseudonymize(pd.DataFrame({"agent_id": ["A0001"]}), ["agent_id"])
        >>> got = t.execute().agent_id[0]
        >>> got == hmac.new(b"a-long-enough-test-key", b"A0001", hashlib.sha256).hexdigest()
        True
    """
    key = _key(key_env)
    source = as_table(table)
    if isinstance(columns, str):
        columns = [columns]
    if missing := [c for c in columns if c not in source.columns]:
        raise ParameterError(
            f"pseudonymize: no column(s) {missing}; the table has {sorted(source.columns)}"
        )
    # HMAC(K, m) = H((K ^ opad) || H((K ^ ipad) || m)), RFC 2104, with the padded key's two
    # derived blocks computed here and the two hashes in the engine.
    block = key if len(key) <= _BLOCK else bytes.fromhex(_python_sha256(key))
    block = block.ljust(_BLOCK, b"\0")
    inner_pad = _unhex(ibis.literal(bytes(b ^ 0x36 for b in block).hex()))
    outer_pad = _unhex(ibis.literal(bytes(b ^ 0x5C for b in block).hex()))
    replaced = {}
    for name in columns:
        text = source[name].cast("string")
        inner = _sha256(_join(inner_pad, _encode(text)))
        digest = _sha256(_join(outer_pad, _unhex(inner)))
        digest = ibis.literal(prefix) + digest if prefix else digest
        replaced[name] = ibis.ifelse(text.isnull(), ibis.null(dt.string), digest)
    return source.mutate(**replaced)


def suppress_small(
    frame: Frame,
    count_column: str,
    minimum: int = MIN_SEGMENT_UNITS,
    *,
    keys: Sequence[str] = (),
    complementary: bool = True,
) -> Frame:
    """Blank every figure of segments with fewer than `minimum` units; mark them `suppressed`.

    For segment tables that are about to be published (one row per segment: its keys, a unit
    count, figures). In a row whose `count_column` is below `minimum`, every column that is not
    a key becomes missing, the count included (a count of 2 says a lot already), and the column
    ``suppressed`` is True. With `complementary` (the default), if exactly one row would be
    suppressed the next-smallest row is suppressed too, so the hidden one cannot be recovered
    by subtracting the others from a published total.

    Args:
        frame: a pandas DataFrame or an Ibis table of segments (small: aggregates only).
        count_column: the number of distinct units (people) behind each row.
        minimum: the smallest count that may be shown (10 by default).
        keys: the segment columns, left visible (default: every non-numeric column).
        complementary: also suppress a second row when only one would be.

    Example:
        >>> import pandas as pd
        >>> seg = pd.DataFrame({"team": ["T1", "T2", "T3"], "agents": [40, 3, 25],
        ...                     "lift": [-0.2, -0.9, -0.1]})
        >>> suppress_small(seg, "agents")[["team", "agents", "lift", "suppressed"]].values.tolist()
        [['T1', 40.0, -0.2, False], ['T2', nan, nan, True], ['T3', nan, nan, True]]
    """
    if isinstance(minimum, bool) or not isinstance(minimum, int | np.integer) or minimum < 1:
        raise ParameterError(f"minimum must be a positive whole number of units, got {minimum!r}")
    if count_column not in frame.columns:
        raise ParameterError(
            f"suppress_small: no count column {count_column!r}; the table has "
            f"{sorted(frame.columns)}"
        )
    if SUPPRESSED in frame.columns:
        raise ParameterError(f"the table already has a column {SUPPRESSED!r}; rename it first")
    if isinstance(frame, ir.Table):
        # Segment tables are small aggregates: suppress on the materialized rows.
        return ibis.memtable(
            suppress_small(
                frame.execute(), count_column, minimum, keys=keys, complementary=complementary
            )
        )
    counts = pd.to_numeric(frame[count_column], errors="coerce").astype("float64")
    hide = (counts < minimum) | counts.isna()
    if complementary and int(hide.sum()) == 1 and len(frame) > 2:
        hide.loc[counts.where(~hide).idxmin()] = True
    if not keys:
        keys = [
            c
            for c in frame.columns
            if c != count_column and not pd.api.types.is_numeric_dtype(frame[c])
        ]
    if unknown := [k for k in keys if k not in frame.columns]:
        raise ParameterError(f"suppress_small: no key column(s) {unknown}")
    out = frame.copy()
    for column in out.columns:
        if column in keys:
            continue
        values = out[column]
        if pd.api.types.is_bool_dtype(values) or pd.api.types.is_integer_dtype(values):
            values = values.astype("float64")  # integers cannot hold a missing value
        elif not pd.api.types.is_numeric_dtype(values):
            values = values.astype(object)
        out[column] = values.where(~hide)
    out[SUPPRESSED] = hide.to_numpy()
    return out


def _key(env: str) -> bytes:
    value = os.environ.get(env)
    if not value:
        raise ParameterError(
            f"pseudonymize needs a secret key in the environment variable {env}; set it (e.g. "
            "from your secrets manager) to at least 16 random characters"
        )
    key = value.encode("utf-8")
    if len(key) < _MIN_KEY_BYTES:
        raise ParameterError(
            f"the key in {env} is {len(key)} bytes; use at least {_MIN_KEY_BYTES} random bytes"
        )
    return key


def _python_sha256(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()
