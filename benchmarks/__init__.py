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

import contextlib
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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
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
#: Every child process this process started and every dataset it generated, with its wall
#: time (a child's imports and data loading included): the runner's "where the time went".
TIMELINE: list[dict[str, Any]] = []


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
    started = time.perf_counter()
    write_events_parquet(partial, n_events=n_events)
    partial.rename(folder)
    generated(f"events_{n_events}", started)
    return folder


def generated(name: str, started: float) -> None:
    """Note in the :data:`TIMELINE` that data `name` was generated (since `started`)."""
    TIMELINE.append({"data": name, "wall_s": round(time.perf_counter() - started, 2)})


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
    started = time.perf_counter()
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
    generated(path.stem, started)
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
    """What a call run in a child process returned, how long it took and its peak memory."""

    value: Any
    seconds: float
    peak_rss_mib: float


@dataclass(frozen=True, slots=True)
class Call:
    """One timed call for a child process: ``target`` is ``"module:function"``.

    Not timed: `prepare` (a ``module:function`` called first with the same `kwargs`, e.g. to
    load the data) and a first call with the `warmup` arguments instead (a tiny input), so
    that lazy imports and JIT compilation (pyfixest's numba) stay out of the timing on both
    sides. The time is the fastest of `repeat` calls. The function must return something
    JSON can encode.
    """

    target: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    repeat: int = 1
    prepare: str | None = None
    warmup: dict[str, Any] | None = None


class Worker:
    """A fresh Python process that runs :class:`Call` s on request, one at a time.

    Its imports, and the warm-ups of the libraries it has loaded, are paid once however many
    calls it runs. Each call's peak memory is the process's high-water mark of
    resident memory over that call, its `prepare` included, reset before it through
    ``/proc/self/clear_refs`` (Linux); memory an earlier call kept counts against the later
    ones, so it is an upper bound. Results come back on a pipe of their own, so whatever a
    library prints cannot be mistaken for one.
    """

    def __init__(self) -> None:
        read, write = os.pipe()
        self._stderr = tempfile.TemporaryFile("w+")  # noqa: SIM115 (closed in close())
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "benchmarks", "--worker", str(write)],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=self._stderr,
            pass_fds=(write,),
            cwd=ROOT.parent,
            text=True,
        )
        os.close(write)
        self._results = os.fdopen(read)
        self._targets: dict[str, None] = {}
        self._calls = 0
        self._busy = 0.0
        self._peak: float | None = None
        self.stderr = ""  # what the process wrote there, once it has ended

    def run(self, call: Call) -> Isolated:
        """Run `call` in this process; its value, best time and peak memory."""
        assert self._proc.stdin is not None
        self._targets[call.target.split(":")[1]] = None
        self._calls += 1
        started = time.perf_counter()
        try:
            self._proc.stdin.write(json.dumps(asdict(call)) + "\n")
            self._proc.stdin.flush()
            line = self._results.readline()
        except BrokenPipeError:  # the process had already ended
            line = ""
        self._busy += time.perf_counter() - started
        if not line:  # it ended: wait for it, so that its traceback is all written
            self.close()
            raise RuntimeError(f"{call.target} failed in its subprocess:\n{self.stderr[-3000:]}")
        result = json.loads(line)
        return Isolated(result["value"], result["seconds"], result["peak_rss_mib"])

    def close(self) -> float:
        """End the process (again: a no-op); its peak memory over its whole life (MiB), from
        its ``wait4`` rusage (waited-for descendants, such as a notebook kernel, included)."""
        if self._peak is not None:
            return self._peak
        assert self._proc.stdin is not None
        with contextlib.suppress(BrokenPipeError):
            self._proc.stdin.close()
        _, status, usage = os.wait4(self._proc.pid, 0)
        self._proc.returncode = os.waitstatus_to_exitcode(status)
        self._results.close()
        self._stderr.seek(0)
        self.stderr = self._stderr.read()
        self._stderr.close()
        TIMELINE.append(
            {
                "child": ", ".join(self._targets),
                "calls": self._calls,
                "wall_s": round(self._busy, 2),
            }
        )
        self._peak = usage.ru_maxrss / 1024  # Linux reports ru_maxrss in KiB
        return self._peak


def session(calls: Sequence[Call]) -> list[Isolated]:
    """Run `calls` one after another in one fresh :class:`Worker`; a call alone in it gets
    the process's peak memory (its descendants included), several each their own."""
    return alternate({"calls": calls}, rounds=1)["calls"]


def isolated(
    target: str,
    *,
    repeat: int = 1,
    prepare: str | None = None,
    warmup: dict[str, Any] | None = None,
    **kwargs: Any,
) -> Isolated:
    """Run ``module:function(**kwargs)`` alone in a fresh Python process (see :class:`Call`)."""
    return session([Call(target, kwargs, repeat, prepare, warmup)])[0]


def alternate(sides: Mapping[str, Sequence[Call]], *, rounds: int = 2) -> dict[str, list[Isolated]]:
    """Run each side's calls in a fresh :class:`Worker`, the sides in turn, `rounds` times;
    keep each call's fastest time and largest peak memory.

    On a shared machine the load drifts; alternating the sides compares them under the same
    conditions. A side's calls share its worker, so its imports and warm-ups are paid once
    per round. Each worker ends before the next side starts: with the other side's worker
    kept alive (and holding its memory) for all the rounds, our memory-bound workloads ran
    slower in every run that tried it (TWFE on 1M units 5.9-6.1 s instead of 1.8-2.4 s in two
    runs; validation 3.4-3.6x the scan instead of 2.4-2.9x in three). Returns, by side, one
    result per call in the order given.
    """
    runs: dict[str, list[list[Isolated]]] = {name: [] for name in sides}
    peaks: dict[str, float] = {}
    for _ in range(rounds):
        for name, calls in sides.items():
            worker = Worker()
            try:
                runs[name].append([worker.run(c) for c in calls])
            finally:
                peaks[name] = max(peaks.get(name, 0.0), worker.close())

    def best(results: Sequence[Isolated], process_peak: float | None) -> Isolated:
        fastest = min(results, key=lambda r: r.seconds)
        peak = max(r.peak_rss_mib for r in results)
        # A side of one call gets its process's peak, as in session()
        return Isolated(fastest.value, fastest.seconds, max(peak, process_peak or 0.0))

    return {
        name: [
            best(per_call, peaks[name] if len(sides[name]) == 1 else None)
            for per_call in zip(*done, strict=True)
        ]
        for name, done in runs.items()
    }


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
    """`baseline` and `ours`, each in its own process, alternated (:func:`alternate`)."""
    runs = alternate(
        {
            "baseline": [Call(baseline, kwargs, repeat, prepare, warmup)],
            "ours": [Call(ours, kwargs, repeat, prepare, warmup)],
        },
        rounds=rounds,
    )
    return runs["ours"][0], runs["baseline"][0]


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


_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


def _reset_peak() -> None:
    """Reset this process's resident-memory high-water mark (Linux 4.0+). Where that is not
    allowed, the mark keeps the process's peak so far: an upper bound for the next call."""
    with contextlib.suppress(OSError):
        _CLEAR_REFS.write_text("5")


def _peak_mib() -> float:
    """This process's resident-memory high-water mark (``VmHWM``), in MiB."""
    for line in _STATUS.read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM in {_STATUS}: the benchmarks need Linux")


def _run_call(spec: dict[str, Any]) -> dict[str, Any]:
    _reset_peak()
    if spec.get("prepare"):
        module, name = spec["prepare"].split(":")
        getattr(importlib.import_module(module), name)(**spec["kwargs"])
    module, name = spec["target"].split(":")
    function = getattr(importlib.import_module(module), name)
    if spec.get("warmup"):
        function(**spec["warmup"])
    seconds, value = best_time(lambda: function(**spec["kwargs"]), repeat=spec["repeat"])
    return {"value": value, "seconds": seconds, "peak_rss_mib": _peak_mib()}


def run_worker(fd: int) -> None:
    """The child side of :class:`Worker`: a call per line of stdin, its result per line on
    file descriptor `fd`. A call that raises ends the process (the traceback on stderr)."""
    with os.fdopen(fd, "w") as results:
        for line in sys.stdin:
            results.write(json.dumps(_run_call(json.loads(line)), default=str) + "\n")
            results.flush()


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
