"""Performance suite: `impact` against the fastest hand-written baseline, side by side.

Run it with ``make bench`` (``python -m benchmarks``). Each workload module exposes
``run() -> list[dict]``; the runner (``__main__.py``) runs every module in a fresh Python
process, reads that process's peak memory, and writes ``benchmarks/RESULTS.md`` plus a JSON
copy under ``benchmarks/results/``. A result row has these keys (see :func:`row`):

``workload, n_events, ours_s, baseline, baseline_s, ratio, target, met, agree, agreement,
peak_rss_mib, notes``.

This module holds what the workloads share: the cached synthetic data, timing, running a call
in its own process to measure its peak memory, and the machine description.
"""

from __future__ import annotations

import importlib
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent
DATA_DIR = ROOT / "data"
RESULTS_DIR = ROOT / "results"
EXPERIMENT = "pilot-2026"
#: Every fifth agent (by the number in its id) is in the treatment arm: a 20% share.
TREATMENT_EVERY = 5
#: The simulated world starts 2026-03-02; its pilot begins in week 8.
ASSIGNED_AT = "2026-04-27T00:00:00+00:00"


def n_events_default() -> int:
    """The suite's event count: 10M, or ``BENCH_EVENTS`` (e.g. 1_000_000 for a quick look)."""
    return int(os.environ.get("BENCH_EVENTS", "10000000"))


def full() -> bool:
    """Whether to run the large workloads too (100M events, 1M units): yes, unless
    ``BENCH_FULL=0`` asks for a quick run. ``make bench`` reports every workload."""
    return os.environ.get("BENCH_FULL", "1") not in ("", "0")


BIG_EVENTS = 100_000_000


def events(n_events: int) -> Path:
    """The folder of `n_events` simulated events (Parquet), generated once and cached by size.

    Written aside and renamed into place, so an interrupted run never leaves a partial cache.
    """
    folder = DATA_DIR / f"events_{n_events}"
    if folder.is_dir():
        return folder
    from impact.datasets import write_events_parquet

    partial = DATA_DIR / f"events_{n_events}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    write_events_parquet(partial, n_events=n_events)
    partial.rename(folder)
    return folder


def assignments(n_events: int) -> Path:
    """An assignments file (``experiment_id, agent_id, arm, assigned_at``) for `events(n)`.

    The simulated Parquet carries no arms, so every agent in it is assigned here: every fifth
    agent to treatment, all at the start of the pilot. The arms are unrelated to the AI, so the
    true effect is zero; the benchmark measures speed and agreement, not the effect.
    """
    path = DATA_DIR / f"assignments_{n_events}.parquet"
    if path.is_file():
        return path
    import duckdb
    import pandas as pd

    glob = str(events(n_events) / "*.parquet")
    con = duckdb.connect()
    query = f"SELECT DISTINCT agent_id FROM read_parquet('{glob}') ORDER BY 1"  # noqa: S608
    agents = con.sql(query).df()
    number = agents["agent_id"].str.slice(1).astype("int64")
    frame = pd.DataFrame(
        {
            "experiment_id": EXPERIMENT,
            "agent_id": agents["agent_id"].astype(str),
            "arm": ["treatment" if k % TREATMENT_EVERY == 0 else "control" for k in number],
            "assigned_at": pd.Timestamp(ASSIGNED_AT),
        }
    )
    partial = path.with_suffix(".partial")
    frame.to_parquet(partial, index=False)
    partial.rename(path)
    return path


def parquet_glob(folder: Path) -> str:
    """The glob DuckDB reads a dataset folder with."""
    return str(folder / "*.parquet")


def best_time(call: Callable[[], Any], *, repeat: int = 2) -> tuple[float, Any]:
    """The fastest of `repeat` timed calls (seconds) and the last call's value.

    The first call also warms the operating system's file cache for whatever runs next.
    """
    best, value = math.inf, None
    for _ in range(repeat):
        start = time.perf_counter()
        value = call()
        best = min(best, time.perf_counter() - start)
    return best, value


@dataclass(frozen=True, slots=True)
class Isolated:
    """What a call run in its own process returned, how long it took and its peak memory."""

    value: Any
    seconds: float
    peak_rss_mib: float


def isolated(
    target: str,
    *,
    repeat: int = 1,
    prepare: str | None = None,
    warmup: dict[str, Any] | None = None,
    **kwargs: Any,
) -> Isolated:
    """Run ``module:function(**kwargs)`` in a fresh Python process; time it, read its peak RSS.

    The time is measured inside the child around the call only. Not timed: imports; `prepare`
    (a ``module:function`` called first with the same keyword arguments, e.g. to build the
    data); and a first call with the `warmup` arguments instead (a tiny input), so that lazy
    imports and JIT compilation (pyfixest's numba) stay out of the timing on both sides. The
    peak memory covers the child's whole life, read from that one child's ``wait4`` rusage.
    The function must return something JSON can encode.
    """
    spec = {"target": target, "kwargs": kwargs, "repeat": repeat}
    payload = json.dumps(spec | {"prepare": prepare, "warmup": warmup})
    status, peak_mib, out, err = spawn(["--child", payload])
    if status != 0:
        raise RuntimeError(f"{target} failed in its subprocess:\n{err[-3000:]}")
    result = json.loads(out.strip().splitlines()[-1])
    return Isolated(result["value"], result["seconds"], peak_mib)


def versus(
    ours: str,
    baseline: str,
    *,
    rounds: int = 2,
    repeat: int = 1,
    prepare: str | None = None,
    warmup: dict[str, Any] | None = None,
    **kwargs: Any,
) -> tuple[Isolated, Isolated]:
    """Alternate `baseline` and `ours` (each in a fresh process) `rounds` times; keep the best.

    On a shared machine the load drifts; alternating the two and taking each side's fastest
    time compares them under the same conditions. Peak memory is each side's largest.
    """
    runs: dict[str, list[Isolated]] = {ours: [], baseline: []}
    for _ in range(rounds):
        for target in (baseline, ours):
            runs[target].append(
                isolated(target, repeat=repeat, prepare=prepare, warmup=warmup, **kwargs)
            )

    def best(results: list[Isolated]) -> Isolated:
        fastest = min(results, key=lambda r: r.seconds)
        return Isolated(fastest.value, fastest.seconds, max(r.peak_rss_mib for r in results))

    return best(runs[ours]), best(runs[baseline])


def spawn(args: list[str]) -> tuple[int, float, str, str]:
    """Run ``python -m benchmarks ARGS``; return exit status, peak RSS (MiB), stdout, stderr.

    ``os.wait4`` returns the resource usage of that one child, so each measurement is its own
    (``RUSAGE_CHILDREN`` would be the maximum over every child reaped so far).
    """
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "benchmarks", *args], stdout=out, stderr=err, cwd=ROOT.parent
        )
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        # Linux reports ru_maxrss in KiB.
        return proc.returncode, usage.ru_maxrss / 1024, out.read(), err.read()


def run_child(payload: str) -> None:
    """The child side of :func:`isolated`: call the target, print its value and time as JSON."""
    spec = json.loads(payload)
    if spec.get("prepare"):
        module, name = spec["prepare"].split(":")
        getattr(importlib.import_module(module), name)(**spec["kwargs"])
    module, name = spec["target"].split(":")
    function = getattr(importlib.import_module(module), name)
    if spec.get("warmup"):
        function(**spec["warmup"])
    seconds, value = best_time(lambda: function(**spec["kwargs"]), repeat=spec["repeat"])
    print(json.dumps({"value": value, "seconds": seconds}, default=str))


def row(
    workload: str,
    *,
    n_events: int,
    ours_s: float,
    baseline: str,
    baseline_s: float | None,
    target: str,
    max_ratio: float | None = None,
    agree: bool | None,
    agreement: str,
    peak_rss_mib: float | None = None,
    max_rss_mib: float | None = None,
    max_seconds: float | None = None,
    notes: str = "",
) -> dict[str, Any]:
    """One result row; `met` compares the ratio with `max_ratio`, the memory with its cap
    and our time with `max_seconds` (every one given must hold).

    `n_events` is the workload's size in rows: events, unit-periods of a panel (DiD) or units
    (matching), as the workload's name says.
    """
    ratio = ours_s / baseline_s if baseline_s else None
    met: bool | None = None
    if max_ratio is not None and ratio is not None:
        met = ratio <= max_ratio
    if max_rss_mib is not None and peak_rss_mib is not None:
        met = (met is not False) and peak_rss_mib <= max_rss_mib
    if max_seconds is not None:
        met = (met is not False) and ours_s <= max_seconds
    return {
        "workload": workload,
        "n_events": n_events,
        "ours_s": round(ours_s, 3),
        "baseline": baseline,
        "baseline_s": None if baseline_s is None else round(baseline_s, 3),
        "ratio": None if ratio is None else round(ratio, 3),
        "target": target,
        "met": met,
        "agree": agree,
        "agreement": agreement,
        "peak_rss_mib": None if peak_rss_mib is None else round(peak_rss_mib, 1),
        "notes": notes,
    }


def machine() -> dict[str, Any]:
    """What the numbers were measured on: cores, memory, CPU, and library versions."""
    import duckdb
    import ibis
    import numpy
    import pandas
    import pyarrow
    import scipy
    import statsmodels

    cpu = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory_gib = None
    meminfo = Path("/proc/meminfo")
    if meminfo.is_file():
        total_kib = int(meminfo.read_text().split()[1])
        memory_gib = round(total_kib / 1024**2, 1)
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "memory_gib": memory_gib,
        "os": platform.platform(),
        "python": platform.python_version(),
        "duckdb": duckdb.__version__,
        "ibis": ibis.__version__,
        "pyarrow": pyarrow.__version__,
        "pandas": pandas.__version__,
        "numpy": numpy.__version__,
        "scipy": scipy.__version__,
        "statsmodels": statsmodels.__version__,
    }
