"""Run every benchmark module in a fresh process; write RESULTS.md and JSON of the ratios.

Usage: ``python -m benchmarks [module ...]`` (default: every module in this folder, the
scheduled report last). Every workload runs, the large ones too (100M events, 1M units);
``BENCH_FULL=0`` skips those for a quick look, ``BENCH_EVENTS=N`` changes the default 10M.
The machine's load average is recorded before and after each module (other jobs on a shared
machine slow both sides of a comparison, not always equally).

Each module's ``run()`` returns a list of rows (:func:`benchmarks.row`). A row without its
own peak memory gets its module process's peak RSS. The results page also says where each
module's time went: generating data, child processes, and the rest.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import benchmarks as bench

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
MARKDOWN = HERE / "RESULTS.md"
FIRST = ("validation", "ab", "did", "matching")
LAST = ("report",)


def _modules(names: list[str]) -> list[str]:
    found = {p.stem for p in HERE.glob("*.py") if not p.stem.startswith("_")}
    unknown = sorted(set(names) - found)
    if unknown:
        raise SystemExit(f"no benchmark module(s) {unknown}; have {sorted(found)}")
    if names:
        return names
    middle = sorted(found - set(FIRST) - set(LAST))
    return [m for m in (*FIRST, *middle, *LAST) if m in found]


def _rows(module: str, result: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"module": module, **r} for r in result]


def _child_module(name: str, out: str) -> int:
    result = importlib.import_module(f"benchmarks.{name}").run()
    Path(out).write_text(json.dumps({"result": result, "timeline": bench.TIMELINE}, default=str))
    return 0


def _load() -> str:
    """The 1, 5 and 15 minute load averages."""
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


def _time_spent(name: str, wall: float, timeline: list[dict[str, Any]]) -> dict[str, Any]:
    """Where a module's wall time went: data generation, child processes, the rest."""
    data = sum(t["wall_s"] for t in timeline if "data" in t)
    children = [t for t in timeline if "child" in t]
    in_children = sum(t["wall_s"] for t in children)
    slowest = sorted(children, key=lambda t: -t["wall_s"])[:3]
    return {
        "module": name,
        "wall_s": round(wall, 1),
        "data_s": round(data, 1),
        "children": len(children),
        "children_s": round(in_children, 1),
        "rest_s": round(wall - data - in_children, 1),
        "slowest": "; ".join(f"{t['child']} {t['wall_s']:.0f} s" for t in slowest),
        "timeline": timeline,  # in the JSON only
    }


def _run_module(name: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    out = RESULTS / f".{name}.partial.json"
    load_before = _load()
    started = time.perf_counter()
    status, peak_mib, _, err = bench.spawn(["--module", name, "--out", str(out)])
    wall = time.perf_counter() - started
    if status != 0:
        print(f"{name}: FAILED after {wall:.0f}s\n{err[-3000:]}", file=sys.stderr, flush=True)
        failed = {
            "module": name,
            "workload": name,
            "notes": f"failed: {err.strip().splitlines()[-1] if err.strip() else status}",
            "met": False,
        }
        return [failed], _time_spent(name, wall, [])
    payload = json.loads(out.read_text())
    out.unlink()
    result = payload["result"]
    (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=2, default=str))
    rows = _rows(name, result)
    load_after = _load()
    for r in rows:
        if r.get("peak_rss_mib") is None:
            r["peak_rss_mib"] = round(peak_mib, 1)
        r["module_wall_s"] = round(wall, 1)
        r["load"] = f"{load_before} before, {load_after} after"
    print(
        f"{name}: {len(rows)} row(s) in {wall:.0f}s, peak RSS {peak_mib:.0f} MiB, "
        f"load {load_before} -> {load_after}",
        flush=True,
    )
    return rows, _time_spent(name, wall, payload["timeline"])


def _kept_rows(replaced: set[str]) -> list[dict[str, Any]]:
    """The previous run's rows of every module not in `replaced`."""
    latest = RESULTS / "latest.json"
    if not latest.is_file():
        return []
    previous = json.loads(latest.read_text())
    run = previous["meta"]["started"]
    return [
        {**r, "run": r.get("run", run)} for r in previous["rows"] if r.get("module") not in replaced
    ]


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "**no**"
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value).replace("|", "\\|")


def _time_table(spent: list[dict[str, Any]]) -> list[str]:
    if not spent:
        return []
    lines = [
        "## Where the time went",
        "",
        "Per module: its wall time, the share spent generating the cached data (a fresh "
        "clone only), busy in child processes (each side's imports, data loading and "
        "warm-ups included) and elsewhere (the module's own checks and imports).",
        "",
        "| module | wall (s) | data generated (s) | child processes | in children (s) "
        "| elsewhere (s) | slowest children |",
        "|---|--:|--:|--:|--:|--:|---|",
    ]
    keys = ("module", "wall_s", "data_s", "children", "children_s", "rest_s", "slowest")
    lines += ["| " + " | ".join(_cell(t.get(k)) for k in keys) + " |" for t in spent]
    return [*lines, ""]


def markdown(rows: list[dict[str, Any]], machine: dict[str, Any], meta: dict[str, Any]) -> str:
    """The results page: machine, table of ratios, then what each agreement check compared."""
    lines = [
        "# Benchmark results",
        "",
        "Generated by `make bench` (`python -m benchmarks`); do not edit by hand. Each workload",
        "and its baseline ran side by side in the same run, alternated, each side in a fresh",
        "process per round that runs all of that side's calls (imports and warm-ups once).",
        "Peak RSS is the call's high-water mark of resident memory, its data loading included",
        "(for a call alone in its process, the process's). Ratio = ours / baseline.",
        'Targets missed are profiled, with the proposed fix, in docs/scaling.md ("Measured").',
        "",
        f"Run: {meta['started']} UTC, {meta['wall_s']:.0f} s in total"
        + (
            ", every workload (100M events, 1M units included)"
            if meta["full"]
            else ", quick run (BENCH_FULL=0: no 100M-event or 1M-unit workloads)"
        )
        + (
            f" (modules {', '.join(meta['modules'])}; other rows kept from earlier runs, "
            "see the run column)"
            if meta.get("partial")
            else ""
        )
        + ".",
        "",
        f"Load average (1/5/15 min) at the start {meta.get('load_start', '?')}, at the end "
        f"{meta.get('load_end', '?')}; per module in the notes below. The machine has 2 cores "
        "shared with other jobs, so ratios drift between runs.",
        "",
        "## Machine",
        "",
        "| | |",
        "|---|---|",
        *(f"| {k} | {_cell(v)} |" for k, v in machine.items()),
        "",
        "## Results",
        "",
        "| workload | rows | ours (s) | baseline | baseline (s) | ratio | target | met "
        "| estimates agree | peak RSS (MiB) | run (UTC) |",
        "|---|--:|--:|---|--:|--:|---|---|---|--:|---|",
    ]
    for r in rows:
        cells = [
            r.get("workload"),
            r.get("n_events"),
            r.get("ours_s"),
            r.get("baseline"),
            r.get("baseline_s"),
            r.get("ratio"),
            r.get("target"),
            r.get("met"),
            r.get("agree"),
            r.get("peak_rss_mib"),
            r.get("run"),
        ]
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    lines += ["", *_time_table(meta.get("time", [])), "## Agreement checks and notes", ""]
    for r in rows:
        load = f"load {r['load']}" if r.get("load") else ""
        detail = "; ".join(x for x in (r.get("agreement"), r.get("notes"), load) if x)
        if detail:
            lines.append(f"- **{r.get('workload')}** ({_cell(r.get('n_events'))} rows): {detail}")
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("modules", nargs="*")
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--module", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker is not None:
        bench.run_worker(args.worker)
        return 0
    if args.module:
        return _child_module(args.module, args.out)

    RESULTS.mkdir(exist_ok=True)
    load_start = _load()
    started = time.gmtime()
    clock = time.perf_counter()
    rows: list[dict[str, Any]] = []
    spent: list[dict[str, Any]] = []
    names = _modules(args.modules)
    stamp_text = time.strftime("%Y-%m-%d %H:%M", started)
    for name in names:
        module_rows, module_time = _run_module(name)
        rows += [{**r, "run": stamp_text} for r in module_rows]
        spent.append(module_time)
    if args.modules:  # a partial run updates its modules' rows and keeps the others
        rows = _kept_rows(set(names)) + rows
    meta = {
        "started": stamp_text,
        "wall_s": time.perf_counter() - clock,
        "full": bench.full(),
        "modules": names,
        "partial": bool(args.modules),
        "load_start": load_start,
        "load_end": _load(),
        "time": spent,
    }
    machine = bench.machine()
    stamp = time.strftime("%Y%m%dT%H%M%SZ", started)
    payload = {"meta": meta, "machine": machine, "rows": rows}
    (RESULTS / f"run-{stamp}.json").write_text(json.dumps(payload, indent=2, default=str))
    (RESULTS / "latest.json").write_text(json.dumps(payload, indent=2, default=str))
    MARKDOWN.write_text(markdown(rows, machine, meta))
    print(MARKDOWN.read_text())
    missed = [r["workload"] for r in rows if r.get("met") is False or r.get("agree") is False]
    if missed:
        print(f"targets missed or estimates disagree: {missed} (see {MARKDOWN.name})")
    print(f"python {platform.python_version()}; {meta['wall_s']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
