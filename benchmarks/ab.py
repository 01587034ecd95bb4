"""A/B analysis of 10M events against the one GROUP BY it cannot avoid.

Ours: ``impact.ab_test`` on the Parquet events joined to the assignments (every fifth agent
treated, see :func:`benchmarks.assignments`): the engine scan to per-unit sums, then Welch /
delta method / CUPED, diagnostics and the Effect. Baseline (the floor): one DuckDB
``GROUP BY agent_id, arm`` over the same join computing each unit's count and sum, with the
test done by hand in scipy on that small table, which also checks that ours agrees. A bare scan
(``count, sum``) is reported in the notes. Target: within 1.5x of the floor.
"""

from __future__ import annotations

from typing import Any

import benchmarks as bench

TARGET_RATIO = 1.5
OUTCOME = "handle_time_minutes"
CASES = {
    "A/B mean per agent (Welch)": {"metric": "mean"},
    "A/B handle time per ticket (ratio, delta method)": {"metric": "ratio"},
    "A/B ratio + CUPED (pre-period from the same events)": {
        "metric": "ratio",
        "pre_period": "assignment",
    },
}


def _pilot(n_events: int, *, keep_pre: bool) -> Any:
    import impact

    return impact.with_assignments(
        impact.as_table(bench.events(n_events)),
        bench.assignments(n_events),
        since_assignment=not keep_pre,
    )


def ours(n_events: int, case: str) -> dict[str, float]:
    """The full estimator; returns its estimate and standard error."""
    import impact

    options = CASES[case]
    effect = impact.ab_test(_pilot(n_events, keep_pre="pre_period" in options), OUTCOME, **options)
    return {"estimate": effect.estimate, "std_error": effect.std_error}


def floor(n_events: int, case: str) -> dict[str, float]:
    """One DuckDB GROUP BY unit over the same join, then the same test by hand in numpy/scipy."""
    import duckdb
    import numpy as np

    events = bench.parquet_glob(bench.events(n_events))
    assignments = str(bench.assignments(n_events))
    pre = "pre_period" in CASES[case]
    window = "" if pre else "WHERE e.started_at >= a.assigned_at"
    query = f"""
        SELECT e.agent_id, a.arm, (e.started_at >= a.assigned_at) AS post,
               count(*) AS n, sum(e.{OUTCOME}) AS s
        FROM read_parquet('{events}') e JOIN read_parquet('{assignments}') a USING (agent_id)
        {window} GROUP BY ALL
    """  # noqa: S608 (our own constants and file paths)
    units = duckdb.connect().sql(query).df()
    post = units[units.post].set_index("agent_id")
    arm = post.arm == "treatment"
    if CASES[case]["metric"] == "mean":
        y = post.s / post.n
        t, c = y[arm], y[~arm]
        vt, vc = t.var() / len(t), c.var() / len(c)
        return {"estimate": float(t.mean() - c.mean()), "std_error": float(np.sqrt(vt + vc))}

    def lin(s: Any, n: Any) -> tuple[Any, float]:
        r = s.sum() / n.sum()
        return (s - r * n) / n.mean(), r

    parts = {}
    for label, rows in (("t", arm), ("c", ~arm)):
        parts[label] = lin(post.s[rows], post.n[rows])
    if not pre:
        (lt, rt), (lc, rc) = parts["t"], parts["c"]
        se = np.sqrt(lt.var() / len(lt) + lc.var() / len(lc))
        return {"estimate": float(rt - rc), "std_error": float(se)}
    before = units[~units.post].set_index("agent_id").reindex(post.index).fillna(0.0)
    ly, _ = lin(post.s, post.n)
    lx, rx = lin(before.s, before.n)
    theta = np.cov(ly, lx)[0, 1] / lx.var()
    means, variances = {}, {}
    for label, rows in (("t", arm), ("c", ~arm)):
        y_l, y_r = lin(post.s[rows], post.n[rows])
        x_l, x_r = lin(before.s[rows], before.n[rows])
        means[label] = y_r - theta * (x_r - rx)
        variances[label] = (y_l - theta * x_l).var() / rows.sum()
    se = np.sqrt(variances["t"] + variances["c"])
    return {"estimate": float(means["t"] - means["c"]), "std_error": float(se)}


def scan(n_events: int) -> int:
    """The bare scan: count and sum of the outcome."""
    import duckdb

    glob = bench.parquet_glob(bench.events(n_events))
    sql = f"SELECT count(*), sum({OUTCOME}) FROM read_parquet('{glob}')"  # noqa: S608
    row = duckdb.connect().sql(sql)
    return int(row.fetchone()[0])  # type: ignore[index]


def measure(n_events: int, case: str, scan_s: float, *, repeat: int = 3) -> dict[str, Any]:
    base = bench.isolated("benchmarks.ab:floor", repeat=repeat, n_events=n_events, case=case)
    mine = bench.isolated("benchmarks.ab:ours", repeat=repeat, n_events=n_events, case=case)
    rel = {k: abs(mine.value[k] - base.value[k]) / abs(base.value[k]) for k in base.value}
    return bench.row(
        case,
        n_events=n_events,
        ours_s=mine.seconds,
        baseline="one DuckDB GROUP BY agent_id, arm (count, sum) + the test by hand",
        baseline_s=base.seconds,
        target=f"<= {TARGET_RATIO:g}x the GROUP BY floor",
        max_ratio=TARGET_RATIO,
        agree=max(rel.values()) < 1e-6,
        agreement="estimate and SE equal to "
        + ", ".join(f"{k} {v:.1e}" for k, v in rel.items())
        + " (relative)",
        peak_rss_mib=mine.peak_rss_mib,
        notes=f"bare scan {scan_s:.2f} s; floor peak RSS {base.peak_rss_mib:.0f} MiB",
    )


def run() -> list[dict[str, Any]]:
    """Every case on 10M events (``BENCH_EVENTS`` to change)."""
    n_events = bench.n_events_default()
    bench.assignments(n_events)  # generate outside the timed processes
    scan_s = bench.isolated("benchmarks.ab:scan", repeat=2, n_events=n_events).seconds
    return [measure(n_events, case, scan_s) for case in CASES]
