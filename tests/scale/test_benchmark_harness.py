"""The benchmark harness: calls sharing a child process keep their own time and peak memory.

``make bench`` runs each side's calls in one fresh process per round (imports, data loading
and JIT warm-ups are paid once per side, not once per call). These tests check what that
must not lose: every call's result, its own timing, and a peak memory that is the call's,
not the process's, when several calls share it.
"""

from __future__ import annotations

from typing import Any

import pytest

import benchmarks as bench
from benchmarks import __main__ as runner

PANEL = "benchmarks.did:panel"


def test_a_session_measures_each_call_peak_memory_apart() -> None:
    big, small = bench.session(
        [bench.Call(PANEL, {"n_units": 200_000}), bench.Call(PANEL, {"n_units": 500})]
    )
    # 200k units x 26 periods x 5 columns of 8 bytes: 208 MB for the frame alone.
    assert big.peak_rss_mib - small.peak_rss_mib > 150
    assert "[5200000 rows x 5 columns]" in big.value
    assert "[13000 rows x 5 columns]" in small.value
    assert big.seconds > small.seconds > 0
    assert bench.TIMELINE[-1]["calls"] == 2  # calls, not distinct targets


def test_a_single_call_gets_its_process_peak() -> None:
    (alone,) = bench.session([bench.Call(PANEL, {"n_units": 200_000})])
    assert alone.peak_rss_mib > 250
    last = bench.TIMELINE[-1]
    assert (last["child"], last["calls"]) == ("panel", 1)
    assert last["wall_s"] >= alone.seconds


def test_alternate_starts_a_process_per_side_and_round_and_keeps_each_calls_best(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    order: list[str] = []
    started: list[int] = []
    times = iter([3.0, 2.0, 1.0, 4.0])

    class FakeWorker:
        def __init__(self) -> None:
            started.append(len(order))

        def run(self, call: bench.Call) -> bench.Isolated:
            order.append(call.target)
            return bench.Isolated(call.kwargs, next(times), 10.0)

        def close(self) -> float:
            return 0.0

    monkeypatch.setattr(bench, "Worker", FakeWorker)
    runs = bench.alternate(
        {"theirs": [bench.Call("m:theirs", {"k": 1})], "ours": [bench.Call("m:ours", {"k": 2})]},
        rounds=2,
    )
    assert order == ["m:theirs", "m:ours", "m:theirs", "m:ours"]
    assert started == [0, 1, 2, 3]  # a fresh process per side and round
    assert runs["theirs"][0].seconds == 1.0  # rounds 1 and 2 gave 3.0 and 1.0
    assert runs["ours"][0].seconds == 2.0  # 2.0 and 4.0
    assert runs["ours"][0].value == {"k": 2}


def test_a_worker_runs_calls_on_request_and_ignores_what_libraries_print() -> None:
    worker = bench.Worker()
    try:
        first = worker.run(bench.Call("benchmarks.did:panel", {"n_units": 300}))
        # scan() of a missing dataset would generate it: use a call that prints instead
        second = worker.run(bench.Call("builtins:print", {"end": ""}))
    finally:
        peak = worker.close()
    assert "[7800 rows x 5 columns]" in first.value
    assert second.value is None
    assert peak >= first.peak_rss_mib > 0


def test_a_failing_call_names_its_target() -> None:
    with pytest.raises(RuntimeError, match=r"benchmarks.did:no_such_function failed"):
        bench.session([bench.Call("benchmarks.did:no_such_function")])


def test_the_results_page_says_where_the_time_went() -> None:
    timeline: list[dict[str, Any]] = [
        {"data": "events_10000000", "wall_s": 60.0},
        {"child": "floor, scan", "calls": 4, "wall_s": 20.0},
        {"child": "ours", "calls": 3, "wall_s": 15.0},
    ]
    spent = runner._time_spent("ab", 100.0, timeline)
    assert spent == {
        "module": "ab",
        "wall_s": 100.0,
        "data_s": 60.0,
        "children": 2,
        "children_s": 35.0,
        "rest_s": 5.0,
        "slowest": "floor, scan 20 s; ours 15 s",
        "timeline": timeline,
    }
    meta = {"started": "2026-12-01 12:00", "wall_s": 100.0, "full": True, "time": [spent]}
    page = runner.markdown([], {"nproc": 2}, meta)
    assert "## Where the time went" in page
    assert "| ab | 100.00 | 60.00 | 2 | 35.00 | 5.00 | floor, scan 20 s; ours 15 s |" in page


def test_a_failing_call_reports_the_whole_traceback() -> None:
    with pytest.raises(RuntimeError) as caught:
        bench.session([bench.Call("benchmarks.did:prepare", {"n_units": "many"})])
    assert "TypeError" in str(caught.value)  # the last line of the child's traceback
