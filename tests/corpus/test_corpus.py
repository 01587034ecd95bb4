"""The bad-input corpus: every public entry point against hostile input, in one table.

Each case names an entry point, builds one broken input from a small clean table, and states the
outcome: either a correct result (asserted numerically against an independent pandas/scipy
computation), or an error of a stated class whose message names the problem. No case may end in
a raw numpy/pandas/Ibis/DuckDB/pyarrow exception or in a silently wrong number: an error must be
an :class:`impact.ImpactError`, or a built-in ``TypeError``/``ValueError``/``KeyError``/
``FileNotFoundError`` raised from inside ``impact`` with a message naming the argument.

A case marked ``bug=...`` documents a real defect; it runs as a strict xfail, so fixing the bug
turns it into an error ("XPASS(strict)") until the marker is dropped.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import re
import shutil
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner, Result
from scipy import stats

import impact
from impact.cli import cli
from impact.datasets import simulate
from impact.errors import ContractError, EstimationError, ImpactError, ParameterError
from impact.runs.config import load_project
from impact.runs.params import load_params_file
from impact.runs.runner import run_report
from impact.runs.schedule import backfill

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "impact"
N_UNITS = 24  # 12 treated, 12 control
EVENTS_PER_UNIT = 4


# -- clean inputs and independent references -------------------------------------------------
@functools.cache
def _ab_events() -> pd.DataFrame:
    rng = np.random.default_rng(20261122)
    rows = []
    for i in range(N_UNITS):
        unit, arm = f"A{i:03d}", "treatment" if i % 2 else "control"
        for k in range(EVENTS_PER_UNIT):
            rows.append(
                {
                    "event_id": f"{unit}-{k}",
                    "agent_id": unit,
                    "arm": arm,
                    "started_at": pd.Timestamp("2026-03-02", tz="UTC") + pd.Timedelta(hours=7 * k),
                    "y": float(rng.normal(12.0 - 1.5 * (arm == "treatment"), 3.0)),
                }
            )
    return pd.DataFrame(rows)


def ab_events(**changes: Any) -> pd.DataFrame:
    """Events of a two-arm test (``event_id, agent_id, arm, started_at, y``), fresh copy."""
    return _ab_events().assign(**changes)


@functools.cache
def _sample() -> Any:
    return simulate(n_agents=40, n_teams=4, n_weeks=4, tickets_per_agent_week=3, seed=1)


def events(**changes: Any) -> pd.DataFrame:
    """A small simulated workflow_events table (~500 rows), fresh copy."""
    return _sample().events.assign(**changes)


def n_events() -> int:
    return len(_sample().events)


def assignments(**changes: Any) -> pd.DataFrame:
    return _sample().assignments.assign(**changes)


def welch_reference(frame: pd.DataFrame, outcome: str = "y") -> tuple[float, float]:
    """(estimate, p) of Welch's test on per-unit means, by pandas + scipy alone."""
    per_unit = frame.groupby(["agent_id", "arm"])[outcome].mean().reset_index()
    treated = per_unit.loc[per_unit.arm == "treatment", outcome].astype("float64")
    control = per_unit.loc[per_unit.arm == "control", outcome].astype("float64")
    result = stats.ttest_ind(treated, control, equal_var=False)
    return float(treated.mean() - control.mean()), float(result.pvalue)


def at(n: int, index: int, bad: Any, good: Any) -> list[Any]:
    """A column of `n` values, `good` everywhere except `bad` at `index` (good may be a list)."""
    values = list(good) if isinstance(good, list | pd.Series | np.ndarray) else [good] * n
    values[index] = bad
    return values


def write(path: Path, data: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, bytes):
        path.write_bytes(data)
    else:
        path.write_text(data, encoding="utf-8")
    return path


def report_project(root: Path, **extra: Any) -> Path:
    """A project at `root` with the bundled A/B report notebook; returns its impact.yaml."""
    (root / "notebooks").mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "notebooks" / "ab_report.ipynb", root / "notebooks")
    report = {"notebook": "notebooks/ab_report.ipynb", "schedule": "0 6 * * MON"}
    config = {"reports": {"ab_report": report | extra}}
    return write(root / "impact.yaml", json.dumps(config))  # JSON is valid YAML


def with_settings(config: Path, **settings: Any) -> Path:
    """`config` (an impact.yaml) with top-level `settings` added."""
    return write(config, json.dumps(json.loads(config.read_text()) | settings))


def invoke(args: list[str], project: Path | None = None) -> Result:
    env = {"IMPACT_PROJECT": str(project)} if project is not None else {}
    return CliRunner().invoke(cli, args, env=env)


# -- expected outcomes -------------------------------------------------------------------------
@dataclass(frozen=True)
class Ok:
    """The call returns; `check` asserts on the result (numerically where there is a number)."""

    check: Callable[[Any], None]


@dataclass(frozen=True)
class Raises:
    """The call raises `error`; its message matches `match` (a regex naming the problem)."""

    error: type[BaseException]
    match: str


def matches_welch(frame: Callable[[], pd.DataFrame], outcome: str = "y") -> Ok:
    def check(effect: Any) -> None:
        estimate, p = welch_reference(frame(), outcome)
        assert effect.estimate == pytest.approx(estimate, rel=1e-9, abs=1e-12)
        assert effect.p_value == pytest.approx(p, rel=1e-6)
        assert effect.ci_low < effect.estimate < effect.ci_high

    return Ok(check)


def equals(expected: Any) -> Ok:
    def check(result: Any) -> None:
        assert result == expected

    return Ok(check)


def validation(valid: int, quarantined: int, rule: str | None = None) -> Ok:
    def check(result: impact.Validation) -> None:
        assert (result.rows_valid, result.rows_quarantined) == (valid, quarantined)
        assert result.rows_checked == valid + quarantined
        if rule is not None:
            broken = result.summary.loc[result.summary.n_failed > 0, "rule"].tolist()
            assert broken == [rule], broken

    return Ok(check)


def cli_exit(code: int, match: str) -> Ok:
    """A CLI call that ends with `code` and a one-line message, never a traceback."""

    def check(result: Result) -> None:
        assert result.exception is None or isinstance(result.exception, SystemExit), (
            f"raw {type(result.exception).__name__}: {result.exception}"
        )
        assert result.exit_code == code, (result.exit_code, result.output)
        assert re.search(match, result.output, flags=re.S), result.output
        assert "Traceback" not in result.output

    return Ok(check)


def _duckdb_file(tmp: Path) -> Path:
    path = tmp / "events.duckdb"
    if not path.exists():
        con = duckdb.connect(str(path))
        con.register("clean", ab_events())
        con.execute("CREATE TABLE ev AS SELECT * FROM clean")
        con.close()
    return path


def _long_csv(replace: dict[int, str]) -> str:
    """A 40,000-row CSV of ``agent_id, arm, y`` with the given data lines replaced.

    Long enough that DuckDB's type and dialect sniffer (a sample) never sees the lines.
    """
    lines = [f"A{i % 24:03d},{'treatment' if i % 2 else 'control'},{i % 7}" for i in range(40_000)]
    for index, line in replace.items():
        lines[index] = line
    return "agent_id,arm,y\n" + "\n".join(lines) + "\n"


def _parts_with_a_corrupt_one(tmp: Path) -> Path:
    """A folder of Parquet parts: one good, one that is not Parquet at all."""
    folder = tmp / "parts"
    folder.mkdir()
    ab_events().to_parquet(folder / "a.parquet")
    write(folder / "b.parquet", "truncated")
    return folder


def _csv(tmp: Path, frame: pd.DataFrame) -> Path:
    path = tmp / "events.csv"
    frame.to_csv(path, index=False)
    return path


def _valid_instants(frame: pd.DataFrame) -> list[str]:
    """The validated started_at instants in UTC (and nothing quarantined)."""
    check = impact.validate(frame, "workflow_events")
    assert check.rows_quarantined == 0, check.report()
    valid = check.valid.select("event_id", "started_at").order_by("event_id").execute()
    return [ts.isoformat() for ts in valid.started_at.dt.tz_convert("UTC")]


def _clean_instants() -> list[str]:
    frame = _sample().events.sort_values("event_id")
    return [ts.isoformat() for ts in frame.started_at.dt.tz_convert("UTC")]


def _assigned_rows() -> int:
    """Events after assignment in the clean sample (assigned_at timezone-aware)."""
    table = impact.with_assignments(impact.as_table(_sample().events), _sample().assignments)
    return int(table.count().execute())


def _same_instants(got: list[str]) -> None:
    assert got == _clean_instants()


def scaled_welch(scale: float) -> Ok:
    """The clean estimate times `scale` (the outcome was multiplied by it)."""

    def check(effect: Any) -> None:
        estimate, p = welch_reference(ab_events())
        assert effect.estimate / scale == pytest.approx(estimate, rel=1e-9)
        assert effect.p_value == pytest.approx(p, rel=1e-6)

    return Ok(check)


@functools.cache
def _panel() -> pd.DataFrame:
    """12 teams x 10 weeks; teams 0-2 roll out in week 3, 3-5 in week 6, 6-11 never."""
    rng = np.random.default_rng(7)
    rows = []
    for i in range(12):
        cohort = 3 if i < 3 else 6 if i < 6 else None
        for week in range(10):
            effect = -1.0 if cohort is not None and week >= cohort else 0.0
            y = 10 + 0.3 * i + 0.1 * week + effect + rng.normal(0, 0.5)
            rows.append({"team_id": f"T{i:02d}", "week": week, "rollout_week": cohort, "y": y})
    return pd.DataFrame(rows)


def panel(**changes: Any) -> pd.DataFrame:
    """A staggered-rollout team x week panel (``team_id, week, rollout_week, y``), fresh copy."""
    return _panel().assign(**changes)


def same_did_as(frame: Callable[[], pd.DataFrame]) -> Ok:
    """The DiD estimate and SE equal those on `frame` (an equivalent clean input)."""

    def check(effect: Any) -> None:
        expected = impact.did(frame(), outcome="y")
        assert effect.estimate == pytest.approx(expected.estimate, rel=1e-9)
        assert effect.std_error == pytest.approx(expected.std_error, rel=1e-9)

    return Ok(check)


@functools.cache
def _units() -> pd.DataFrame:
    rng = np.random.default_rng(8)
    n = 200
    return pd.DataFrame(
        {
            "agent_id": [f"A{i:03d}" for i in range(n)],
            "adopted": rng.random(n) < 0.4,
            "tenure": np.round(rng.normal(24, 6, n)),
            "y": rng.normal(10, 2, n),
        }
    )


def units(**changes: Any) -> pd.DataFrame:
    return _units().assign(**changes)


def match(frame: pd.DataFrame, outcome: str = "y") -> Any:
    return impact.matched_cohort(frame, outcome, treatment="adopted", covariates=["tenure"])


FLOWS = [-1000.0, 300.0, 400.0, 500.0]


def _nf() -> Any:
    import numpy_financial

    return numpy_financial


@functools.cache
def _effect() -> impact.Effect:
    """The A/B effect on handle time in the small sample (a real Effect for the value layer)."""
    pilot = impact.with_assignments(impact.as_table(_sample().events), _sample().assignments)
    return impact.ab_test(pilot, "handle_time_minutes")


@functools.cache
def _register() -> impact.value.Register:
    return impact.value.Register.from_yaml(ROOT / "assumptions" / "ai_assist.yaml")


# -- the corpus --------------------------------------------------------------------------------
def case(id: str, call: Callable[[Path], Any], expect: Ok | Raises, *, bug: str = "") -> Any:
    marks = [pytest.mark.xfail(strict=True, reason=f"BUG: {bug}")] if bug else []
    return pytest.param(call, expect, id=id, marks=marks)


AB = impact.ab_test
N = N_UNITS * EVENTS_PER_UNIT
CASES = [
    # ---- impact.ab_test / ABTest --------------------------------------------------------------
    case("ab/clean", lambda t: AB(ab_events(), "y"), matches_welch(ab_events)),
    case(
        "ab/rows-shuffled",
        lambda t: AB(ab_events().sample(frac=1.0, random_state=3), "y"),
        matches_welch(ab_events),
    ),
    case(
        "ab/nan-outcome-left-out",
        lambda t: AB(ab_events(y=at(N, 5, np.nan, ab_events().y)), "y"),
        matches_welch(lambda: ab_events(y=at(N, 5, np.nan, ab_events().y))),
    ),
    case(
        "ab/inf-outcome",
        lambda t: AB(ab_events(y=at(N, 5, np.inf, ab_events().y)), "y"),
        Raises(EstimationError, r"1 event\(s\) have a NaN or infinite 'y'"),
    ),
    case(
        "ab/numeric-strings-parsed",
        lambda t: AB(ab_events(y=ab_events().y.map(repr)), "y"),
        matches_welch(ab_events),
    ),
    case(
        "ab/string-in-numeric-column",
        lambda t: AB(ab_events(y=at(N, 3, "n/a", ab_events().y.map(repr).tolist())), "y"),
        Raises(EstimationError, r"'y'.*(not numeric|n/a)"),
    ),
    case(
        "ab/mixed-object-column",
        lambda t: AB(ab_events(y=at(N, 3, "n/a", ab_events().y.tolist())), "y"),
        Raises(EstimationError, r"'y' is .*not numeric"),
    ),
    case(
        "ab/timestamp-outcome",
        lambda t: AB(ab_events(y=pd.Timestamp("2026-03-02", tz="UTC")), "y"),
        Raises(EstimationError, r"'y'.*(numeric|timestamp)"),
    ),
    case(
        "ab/yes-no-strings-as-proportion",
        lambda t: AB(
            ab_events(y=np.where(ab_events().y > 11, "yes", "no")), "y", metric="proportion"
        ),
        Raises(EstimationError, r"'y'.*(boolean|numeric)"),
    ),
    case(
        "ab/boolean-outcome-is-a-share",
        lambda t: AB(ab_events(y=ab_events().y > 11), "y"),
        matches_welch(lambda: ab_events(y=(ab_events().y > 11).astype(float))),
    ),
    case(
        "ab/int8-outcome-no-overflow",
        lambda t: AB(
            ab_events(y=np.full(N, 100, dtype="int8") + (np.arange(N) % 5).astype("int8")), "y"
        ),
        matches_welch(lambda: ab_events(y=100.0 + np.arange(N) % 5)),
    ),
    case(
        "ab/int16-outcome-no-overflow",
        lambda t: AB(ab_events(y=(ab_events().y * 2000).astype("int16")), "y"),
        matches_welch(lambda: ab_events(y=(ab_events().y * 2000).astype("int16").astype(float))),
    ),
    case(
        "ab/huge-values-1e300",
        lambda t: AB(ab_events(y=ab_events().y * 1e300), "y"),
        scaled_welch(1e300),
    ),
    case(
        "ab/huge-values-1e150",
        lambda t: AB(ab_events(y=ab_events().y * 1e150), "y"),
        scaled_welch(1e150),
    ),
    case(
        "ab/constant-shift-1e300-collapses",
        lambda t: AB(ab_events(y=ab_events().y + 1e300), "y"),
        Raises(EstimationError, r"zero variance"),
    ),
    case(
        "ab/empty",
        lambda t: AB(ab_events().iloc[:0], "y"),
        Raises(EstimationError, r"events are empty"),
    ),
    case(
        "ab/one-row",
        lambda t: AB(ab_events().iloc[:1], "y"),
        Raises(EstimationError, r"one treatment arm besides 'control', found \[\]"),
    ),
    case(
        "ab/one-unit-per-arm",
        lambda t: AB(ab_events().query("agent_id in ['A000', 'A001']"), "y"),
        Raises(EstimationError, r"has 1 unit\(s\).*at least 2 per arm"),
    ),
    case(
        "ab/zero-variance",
        lambda t: AB(ab_events(y=7.0), "y"),
        Raises(EstimationError, r"zero variance"),
    ),
    case(
        "ab/all-units-treated",
        lambda t: AB(ab_events(arm="treatment"), "y"),
        Raises(EstimationError, r"no unit is in the control arm"),
    ),
    case(
        "ab/unit-in-two-arms",
        lambda t: AB(pd.concat([ab_events(), ab_events().iloc[[0]].assign(arm="treatment")]), "y"),
        Raises(EstimationError, r"1 agent_id value\(s\) appear in more than one arm.*'A000'"),
    ),
    case(
        "ab/duplicated-event-ids-count-twice-per-unit",
        lambda t: AB(pd.concat([ab_events(), ab_events().iloc[:8]]), "y"),
        matches_welch(lambda: pd.concat([ab_events(), ab_events().iloc[:8]])),
    ),
    case(
        "ab/null-arm",
        lambda t: AB(ab_events(arm=at(N, 0, None, ab_events().arm.tolist())), "y"),
        Raises(EstimationError, r"have no arm \(e.g. 'A000'\)"),
    ),
    case(
        "ab/null-unit",
        lambda t: AB(ab_events(agent_id=at(N, 0, None, ab_events().agent_id.tolist())), "y"),
        Raises(EstimationError, r"no 'agent_id'"),
    ),
    case(
        "ab/whitespace-in-arm-label",
        lambda t: AB(ab_events(arm=ab_events().arm.replace("control", "control ")), "y"),
        Raises(EstimationError, r"arms present: \['control ', 'treatment'\]"),
    ),
    case(
        "ab/unicode-and-whitespace-unit-ids",
        lambda t: AB(ab_events(agent_id=" é\u200b" + ab_events().agent_id + "\t"), "y"),
        matches_welch(ab_events),
    ),
    case(
        "ab/missing-outcome",
        lambda t: AB(ab_events(), "handle_time"),
        Raises(EstimationError, r"no column 'handle_time'"),
    ),
    case(
        "ab/missing-arm-column",
        lambda t: AB(ab_events().drop(columns="arm"), "y"),
        Raises(EstimationError, r"no column 'arm'"),
    ),
    case(
        "ab/all-null-outcome",
        lambda t: AB(ab_events(y=np.nan), "y"),
        Raises(EstimationError, r"0 unit\(s\)"),
    ),
    case(
        "ab/confidence-out-of-range",
        lambda t: AB(ab_events(), "y", confidence=1.5),
        Raises(ValueError, r"confidence must lie strictly between 0 and 1"),
    ),
    case(
        "ab/unknown-alternative",
        lambda t: AB(ab_events(), "y", alternative="up"),
        Raises(ValueError, r"alternative must be"),
    ),
    case(
        "ab/unknown-metric",
        lambda t: AB(ab_events(), "y", metric="median"),
        Raises(ParameterError, r"metric must be one of"),
    ),
    case(
        "ab/cap-not-a-quantile",
        lambda t: AB(ab_events(), "y", cap=2),
        Raises(ParameterError, r"cap must be a quantile"),
    ),
    case(
        "ab/missing-covariate",
        lambda t: AB(ab_events(), "y", covariate="tenure"),
        Raises(EstimationError, r"no column 'tenure'"),
    ),
    case(
        "ab/outcome-not-a-name",
        lambda t: AB(ab_events(), 5),
        Raises(TypeError, r"outcome"),
    ),
    case(
        "ab/expected-share-above-one",
        lambda t: AB(ab_events(), "y", expected_share=1.5),
        Raises(ValueError, r"expected_share"),
    ),
    case(
        "ab/expected-share-zero",
        lambda t: AB(ab_events(), "y", expected_share=0.0),
        Raises(ValueError, r"expected_share"),
    ),
    # ---- impact.did (staggered rollout) ------------------------------------------------------
    case(
        "did/rows-shuffled",
        lambda t: impact.did(panel().sample(frac=1.0, random_state=4), outcome="y"),
        same_did_as(panel),
    ),
    case(
        "did/int8-outcome",
        lambda t: impact.did(panel(y=panel().y.round().astype("int8")), outcome="y"),
        same_did_as(lambda: panel(y=panel().y.round())),
    ),
    case(
        "did/numeric-strings",
        lambda t: impact.did(panel(y=panel().y.map(repr)), outcome="y"),
        same_did_as(panel),
    ),
    case(
        "did/missing-outcome",
        lambda t: impact.did(panel(), outcome="z"),
        Raises(EstimationError, r"no column\(s\) \['z'\]"),
    ),
    case(
        "did/duplicated-rows",
        lambda t: impact.did(pd.concat([panel(), panel().iloc[:3]]), outcome="y"),
        Raises(EstimationError, r"3 duplicated team_id x week row\(s\)"),
    ),
    case(
        "did/all-treated-at-once",
        lambda t: impact.did(panel(rollout_week=3), outcome="y"),
        Raises(EstimationError, r"no comparison group"),
    ),
    case(
        "did/never-treated",
        lambda t: impact.did(panel(rollout_week=None), outcome="y"),
        Raises(EstimationError, r"no unit is ever treated"),
    ),
    case(
        "did/empty",
        lambda t: impact.did(panel().iloc[:0], outcome="y"),
        Raises(EstimationError, r"nothing to estimate"),
    ),
    case(
        "did/unknown-method",
        lambda t: impact.did(panel(), outcome="y", method="magic"),
        Raises(ParameterError, r"method must be"),
    ),
    case(
        "did/inf-outcome",
        lambda t: impact.did(panel(y=at(120, 5, np.inf, panel().y)), outcome="y"),
        Raises(EstimationError, r"infinite|finite"),
    ),
    *(
        case(
            f"did/inf-outcome-{method}",
            lambda t, method=method: impact.did(
                panel(y=at(120, 5, np.inf, panel().y)), outcome="y", method=method
            ),
            Raises(EstimationError, r"infinite|finite"),
        )
        for method in ("twfe", "imputation")
    ),
    # ---- impact.matched_cohort ---------------------------------------------------------------
    case(
        "matched_cohort/int8-covariate",
        lambda t: match(units(tenure=units().tenure.clip(-128, 127).astype("int8"))).estimate,
        Ok(
            lambda v: (
                None
                if v == pytest.approx(match(units()).estimate, rel=1e-12)
                else pytest.fail(str(v))
            )
        ),
    ),
    case(
        "matched_cohort/all-treated",
        lambda t: match(units(adopted=True)),
        Raises(EstimationError, r"all 200 unit\(s\) are treated"),
    ),
    case(
        "matched_cohort/constant-covariate",
        lambda t: match(units(tenure=5.0)),
        Raises(EstimationError, r"covariate 'tenure' has no variance"),
    ),
    case(
        "matched_cohort/nan-covariate",
        lambda t: match(units(tenure=at(200, 3, np.nan, units().tenure))),
        Raises(EstimationError, r"1 unit\(s\) have a missing or infinite covariate 'tenure'"),
    ),
    case(
        "matched_cohort/string-outcome",
        lambda t: match(units(y=units().y.astype(str))),
        Raises(EstimationError, r"outcome 'y' must be numeric"),
    ),
    case(
        "matched_cohort/non-binary-treatment",
        lambda t: match(units(adopted=np.arange(200) % 3)),
        Raises(EstimationError, r"'adopted' must be binary"),
    ),
    case(
        "matched_cohort/empty",
        lambda t: match(units().iloc[:0]),
        Raises(EstimationError, r"unit table is empty"),
    ),
    # ---- impact.as_table: files and formats --------------------------------------------------
    case(
        "as_table/list",
        lambda t: impact.as_table([1, 2]),
        Raises(TypeError, r"expected a pandas DataFrame, an Ibis table or a path, got list"),
    ),
    case("as_table/none", lambda t: impact.as_table(None), Raises(TypeError, r"got NoneType")),
    case(
        "as_table/missing-file",
        lambda t: impact.as_table(t / "nope.parquet"),
        Raises(FileNotFoundError, r"no such file or folder: .*nope.parquet"),
    ),
    case(
        "as_table/unsupported-suffix",
        lambda t: impact.as_table(write(t / "e.xlsx", "x")),
        Raises(ValueError, r"cannot read e.xlsx: expected .parquet, .csv or .duckdb"),
    ),
    case(
        "as_table/unknown-sample",
        lambda t: impact.as_table("sample:tickets"),
        Raises(ValueError, r"no sample table 'tickets'"),
    ),
    case(
        "as_table/csv-with-bom",
        lambda t: AB(
            write(t / "bom.csv", b"\xef\xbb\xbf" + ab_events().to_csv(index=False).encode()), "y"
        ),
        matches_welch(ab_events),
    ),
    case(
        "as_table/csv-semicolon",
        lambda t: AB(write(t / "semi.csv", ab_events().to_csv(index=False, sep=";")), "y"),
        matches_welch(ab_events),
    ),
    case(
        "as_table/tsv",
        lambda t: AB(write(t / "tab.tsv", ab_events().to_csv(index=False, sep="\t")), "y"),
        matches_welch(ab_events),
    ),
    case(
        "as_table/csv-pipe",
        lambda t: AB(write(t / "pipe.csv", ab_events().to_csv(index=False, sep="|")), "y"),
        matches_welch(ab_events),
    ),
    case(
        "as_table/csv-header-only",
        lambda t: AB(write(t / "h.csv", "agent_id,arm,y\n"), "y"),
        Raises(EstimationError, r"events are empty"),
    ),
    case(
        "as_table/csv-binary-garbage",
        lambda t: impact.as_table(write(t / "bin.csv", bytes(range(256)) * 8)),
        Raises(ContractError, r"bin.csv.*readable CSV"),
    ),
    case(
        "as_table/csv-decimal-comma",
        lambda t: AB(
            write(
                t / "dc.csv",
                ab_events(y=ab_events().y.map(lambda v: f"{v:.3f}".replace(".", ","))).to_csv(
                    index=False, sep=";"
                ),
            ),
            "y",
        ),
        Raises(ImpactError, r"'y'.*(numeric|0,|decimal)"),
    ),
    case(
        "as_table/csv-ragged-rows",
        lambda t: (
            impact.as_table(
                write(
                    t / "ragged.csv",
                    "agent_id,arm,y\nA1,control,1\nA2,control\nA3,treatment,1,5,6\n",
                )
            )
            .count()
            .execute()
        ),
        Raises(ContractError, r"ragged.csv"),
    ),
    case(
        "as_table/csv-ragged-line-deep-in-file",
        lambda t: impact.as_table(
            write(t / "deep.csv", _long_csv({30_000: "A9,control"})),
        ),
        Raises(ContractError, r"deep.csv.*Line: 30002.*Expected Number of Columns: 3 Found: 2"),
    ),
    case(
        "as_table/csv-title-above-header",
        lambda t: impact.as_table(
            write(t / "title.csv", "exported 2026-03-01\nagent_id,arm,y\nA1,control,1\n")
        ),
        Raises(ContractError, r"title.csv.*header on the first line.*first 1 line"),
    ),
    case(
        "as_table/csv-text-deep-in-number-column",
        lambda t: AB(write(t / "late.csv", _long_csv({30_000: "A9,control,n/a"})), "y"),
        Raises(EstimationError, r"'y'.*n/a"),
    ),
    case(
        "as_table/parquet-garbage",
        lambda t: impact.as_table(write(t / "bad.parquet", "not parquet")),
        Raises(ContractError, r"bad.parquet"),
    ),
    case(
        "as_table/folder-without-parquet",
        lambda t: impact.as_table((t / "empty").mkdir() or t / "empty"),
        Raises(FileNotFoundError, r"no .*parquet.*empty"),
    ),
    case(
        "as_table/parquet-folder-with-a-corrupt-part",
        lambda t: impact.as_table(_parts_with_a_corrupt_one(t)),
        Raises(ContractError, r"parts.*readable Parquet"),
    ),
    case(
        "as_table/duckdb-without-table-name",
        lambda t: impact.as_table(_duckdb_file(t)),
        Raises(ValueError, r"is a database: pass table=NAME"),
    ),
    case(
        "as_table/duckdb-table",
        lambda t: AB(impact.as_table(_duckdb_file(t), table="ev"), "y"),
        matches_welch(ab_events),
    ),
    case(
        "as_table/duckdb-unknown-table",
        lambda t: impact.as_table(_duckdb_file(t), table="events"),
        Raises(KeyError, r"no table 'events'.*ev"),
    ),
    case(
        "as_table/duckdb-garbage-file",
        lambda t: impact.as_table(write(t / "g.duckdb", "garbage"), table="ev"),
        Raises(ContractError, r"g.duckdb"),
    ),
    # ---- impact.validate / impact.load: contracts --------------------------------------------
    case(
        "validate/clean",
        lambda t: impact.validate(events(), "workflow_events"),
        validation(n_events(), 0),
    ),
    case(
        "validate/empty-table",
        lambda t: impact.validate(events().iloc[:0], "workflow_events"),
        validation(0, 0),
    ),
    case(
        "validate/one-row",
        lambda t: impact.validate(events().iloc[:1], "workflow_events"),
        validation(1, 0),
    ),
    case(
        "validate/duplicated-event-ids",
        lambda t: impact.validate(pd.concat([events(), events().iloc[:5]]), "workflow_events"),
        validation(n_events(), 5, "duplicate event_id"),
    ),
    case(
        "validate/unsorted-rows",
        lambda t: impact.validate(events().sample(frac=1.0, random_state=1), "workflow_events"),
        validation(n_events(), 0),
    ),
    case(
        "validate/nan-outcome-is-missing",
        lambda t: impact.validate(
            events(handle_time_minutes=at(n_events(), 7, np.nan, events().handle_time_minutes)),
            "workflow_events",
        ),
        validation(n_events() - 1, 1, "handle_time_minutes not null"),
    ),
    case(
        "validate/inf-outcome",
        lambda t: impact.validate(
            events(handle_time_minutes=at(n_events(), 7, np.inf, events().handle_time_minutes)),
            "workflow_events",
        ),
        validation(n_events() - 1, 1, "handle_time_minutes finite"),
    ),
    case(
        "validate/out-of-range",
        lambda t: impact.validate(
            events(handle_time_minutes=at(n_events(), 7, 1e300, events().handle_time_minutes)),
            "workflow_events",
        ),
        validation(n_events() - 1, 1, "handle_time_minutes <= 1440"),
    ),
    case(
        "validate/ends-before-start",
        lambda t: impact.validate(
            events(
                ended_at=at(
                    n_events(),
                    2,
                    events().started_at.iloc[2] - pd.Timedelta("1min"),
                    events().ended_at,
                )
            ),
            "workflow_events",
        ),
        validation(n_events() - 1, 1, "ended_at >= started_at"),
    ),
    case(
        "validate/whitespace-in-category",
        lambda t: impact.validate(
            events(workflow=at(n_events(), 4, "billing ", events().workflow.tolist())),
            "workflow_events",
        ),
        validation(n_events() - 1, 1, "workflow in {billing, technical, account, returns}"),
    ),
    case(
        "validate/unicode-ids-are-distinct-ids",
        lambda t: impact.validate(
            pd.concat(
                [events(), events().iloc[:3].assign(event_id=lambda f: f.event_id + "\u200b")]
            ),
            "workflow_events",
        ),
        validation(n_events() + 3, 0),
    ),
    case(
        "validate/string-in-numeric-column",
        lambda t: impact.validate(
            events(handle_time_minutes=events().handle_time_minutes.astype(str)), "workflow_events"
        ),
        Raises(ContractError, r"handle_time_minutes\s+wrong type: expected number, got string"),
    ),
    case(
        "validate/yes-no-as-boolean",
        lambda t: impact.validate(
            events(ai_used=events().ai_used.map({True: "yes", False: "no"})), "workflow_events"
        ),
        Raises(ContractError, r"ai_used\s+wrong type: expected boolean"),
    ),
    case(
        "validate/fraction-in-integer-column",
        lambda t: impact.validate(events(csat=3.5), "workflow_events"),
        Raises(ContractError, r"csat\s+not a whole number\s+\d+\s+3.5"),
    ),
    case(
        "validate/int8-columns-accepted",
        lambda t: impact.validate(
            events(csat=np.int8(4), handle_time_minutes=np.int16(30)), "workflow_events"
        ),
        validation(n_events(), 0),
    ),
    case(
        "validate/unparseable-timestamp",
        lambda t: impact.validate(
            events(
                started_at=at(n_events(), 0, "yesterday", events().started_at.astype(str).tolist())
            ),
            "workflow_events",
        ),
        Raises(ContractError, r"started_at\s+unparseable timestamp\s+1\s+yesterday"),
    ),
    case(
        "validate/mixed-time-zones-are-one-instant",
        lambda t: _valid_instants(
            events(started_at=events().started_at.dt.tz_convert("America/New_York"))
        ),
        Ok(_same_instants),
    ),
    case(
        "validate/naive-timestamps-are-utc",
        lambda t: _valid_instants(
            events(
                started_at=events().started_at.dt.tz_localize(None),
                ended_at=events().ended_at.dt.tz_localize(None),
            )
        ),
        Ok(_same_instants),
    ),
    case(
        "validate/iso-strings-with-mixed-offsets",
        lambda t: _valid_instants(
            events(
                started_at=[
                    ts.tz_convert("Asia/Kolkata").isoformat() if i % 2 else ts.isoformat()
                    for i, ts in enumerate(events().started_at)
                ]
            )
        ),
        Ok(_same_instants),
    ),
    case(
        "validate/epoch-and-far-future",
        lambda t: impact.validate(
            events(
                started_at=pd.Timestamp(0, tz="UTC"), ended_at=pd.Timestamp("2262-04-10", tz="UTC")
            ),
            "workflow_events",
        ),
        validation(n_events(), 0),
    ),
    case(
        "validate/unknown-contract",
        lambda t: impact.validate(events(), "workflow_event"),
        Raises(ValueError, r"unknown contract 'workflow_event'; available: .*workflow_events"),
    ),
    case(
        "validate/contract-not-a-name",
        lambda t: impact.validate(events(), 5),
        Raises(TypeError, r"contract"),
    ),
    case(
        "validate/missing-contract-file",
        lambda t: impact.validate(events(), t / "c.yaml"),
        Raises(FileNotFoundError, r"no contract file at .*c.yaml"),
    ),
    case(
        "validate/malformed-yaml-contract",
        lambda t: impact.validate(events(), write(t / "c.yaml", "schema: [1, 2\n")),
        Raises(ValueError, r"c.yaml: not valid YAML"),
    ),
    case(
        "validate/yaml-list-contract",
        lambda t: impact.validate(events(), write(t / "c.yaml", "- 1\n- 2\n")),
        Raises(ValueError, r"expected an ODCS data contract"),
    ),
    case(
        "validate/contract-without-schema",
        lambda t: impact.validate(
            events(), write(t / "c.yaml", "apiVersion: v3.0.0\nkind: DataContract\n")
        ),
        Raises(ValueError, r"one table per contract; found 0 schema objects"),
    ),
    case(
        "validate/contract-does-not-match-data",
        lambda t: impact.validate(assignments(), "workflow_events"),
        Raises(ContractError, r"workflow_events: \d+ check\(s\) failed.*event_id\s+missing column"),
    ),
    case(
        "validate/column-renamed",
        lambda t: impact.validate(
            events().rename(columns={"agent_id": "agentid"}), "workflow_events"
        ),
        Raises(ContractError, r"agent_id\s+missing column.*did you mean 'agentid'"),
    ),
    case(
        "validate/column-mapped",
        lambda t: impact.validate(
            events().rename(columns={"agent_id": "emp_no"}),
            "workflow_events",
            columns={"agent_id": "emp_no"},
        ),
        validation(n_events(), 0),
    ),
    case(
        "validate/mapping-to-absent-column",
        lambda t: impact.validate(events(), "workflow_events", columns={"agent_id": "emp_no"}),
        Raises(ContractError, r"agent_id.*emp_no"),
    ),
    case(
        "validate/mapping-unknown-contract-column",
        lambda t: impact.validate(events(), "workflow_events", columns={"agent": "x"}),
        Raises(ValueError, r"columns= names \['agent'\], which workflow_events does not define"),
    ),
    case(
        "validate/reserved-column",
        lambda t: impact.validate(events(_rules="x"), "workflow_events"),
        Raises(ValueError, r"column '_rules'"),
    ),
    case(
        "load/quarantines-bad-rows",
        lambda t: (
            impact.load(
                events(csat=at(n_events(), 1, 9, events().csat.tolist())),
                contract="workflow_events",
            )
            .count()
            .execute()
        ),
        equals(n_events() - 1),
    ),
    case(
        "load/mapping-without-contract-to-absent-column",
        lambda t: impact.load(events(), columns={"agent_id": "emp_no"}),
        Raises(ValueError, r"emp_no"),
    ),
    case(
        "load/mapping-without-contract",
        lambda t: impact.load(ab_events(), columns={"unit": "agent_id", "y": "y"}).columns,
        equals(("event_id", "unit", "arm", "started_at", "y")),
    ),
    # ---- impact.data helpers -----------------------------------------------------------------
    case(
        "unit_summary/int8-sums-do-not-overflow",
        lambda t: (
            impact.unit_summary(
                impact.as_table(pd.DataFrame({"u": ["a"] * 300, "y": np.full(300, 100, "int8")})),
                unit="u",
                outcomes=["y"],
            )
            .execute()[["y_sum", "y_mean"]]
            .iloc[0]
            .tolist()
        ),
        equals([30000.0, 100.0]),
    ),
    case(
        "unit_summary/int16-sums-do-not-overflow",
        lambda t: (
            impact.unit_summary(
                impact.as_table(
                    pd.DataFrame({"u": ["a"] * 300, "y": np.full(300, 30000, "int16")})
                ),
                unit="u",
                outcomes=["y"],
            )
            .execute()["y_sum"]
            .iloc[0]
        ),
        equals(9_000_000.0),
    ),
    case(
        "unit_summary/huge-values",
        lambda t: (
            impact.unit_summary(
                impact.as_table(pd.DataFrame({"u": ["a", "a"], "y": [1e300, 3e300]})),
                unit="u",
                outcomes=["y"],
            )
            .execute()["y_mean"]
            .iloc[0]
        ),
        Ok(lambda v: None if v == pytest.approx(2e300, rel=1e-12) else pytest.fail(str(v))),
    ),
    case(
        "unit_summary/missing-outcome",
        lambda t: impact.unit_summary(
            impact.as_table(ab_events()), unit="agent_id", outcomes=["z"]
        ),
        Raises(KeyError, r"no column 'z'"),
    ),
    case(
        "unit_summary/missing-unit",
        lambda t: impact.unit_summary(impact.as_table(ab_events()), unit="agent", outcomes=["y"]),
        Raises(KeyError, r"no column 'agent'"),
    ),
    case(
        "unit_summary/string-outcome",
        lambda t: impact.unit_summary(
            impact.as_table(ab_events(y="x")), unit="agent_id", outcomes=["y"]
        ).execute(),
        Raises(TypeError, r"'y'.*numeric"),
    ),
    case(
        "panel/dst-week-is-utc",
        lambda t: (
            impact.panel(
                impact.as_table(
                    pd.DataFrame(
                        {
                            "u": ["a", "a"],
                            "y": [1.0, 2.0],
                            # 00:30 on Monday 30 March in Berlin (CEST) is still Sunday 22:30 UTC.
                            "ts": [
                                pd.Timestamp("2026-03-30 00:30", tz="Europe/Berlin"),
                                pd.Timestamp("2026-03-29 01:30", tz="Europe/Berlin"),
                            ],
                        }
                    )
                ),
                unit="u",
                time="ts",
                outcomes=["y"],
            )
            .execute()[["period", "n_events"]]
            .astype(str)
            .values.tolist()
        ),
        equals([["2026-03-23", "2"]]),
    ),
    case(
        "panel/epoch-and-far-future",
        lambda t: sorted(
            impact.panel(
                impact.as_table(
                    pd.DataFrame(
                        {
                            "u": ["a", "a"],
                            "y": [1.0, 2.0],
                            "ts": [pd.Timestamp(0, tz="UTC"), pd.Timestamp("2262-04-10", tz="UTC")],
                        }
                    )
                ),
                unit="u",
                time="ts",
                outcomes=["y"],
            )
            .execute()["period"]
            .astype(str)
        ),
        equals(["1969-12-29", "2262-04-07"]),
    ),
    case(
        "panel/unsorted-duplicated-timestamps",
        lambda t: (
            impact.panel(
                impact.as_table(
                    ab_events()
                    .sample(frac=1, random_state=2)
                    .pipe(lambda f: pd.concat([f, f.iloc[:4]]))
                ),
                unit="agent_id",
                time="started_at",
                outcomes=["y"],
            )
            .execute()["n_events"]
            .sum()
        ),
        equals(N + 4),
    ),
    case(
        "panel/unknown-period",
        lambda t: impact.panel(
            impact.as_table(ab_events()),
            unit="agent_id",
            time="started_at",
            outcomes=["y"],
            period="year",
        ),
        Raises(ValueError, r"period.*day, week.*month"),
    ),
    case(
        "panel/missing-time-column",
        lambda t: impact.panel(
            impact.as_table(ab_events()), unit="agent_id", time="ts", outcomes=["y"]
        ),
        Raises(KeyError, r"no column 'ts'"),
    ),
    case(
        "panel/string-time-column",
        lambda t: impact.panel(
            impact.as_table(ab_events(started_at="2026-03-02")),
            unit="agent_id",
            time="started_at",
            outcomes=["y"],
        ),
        Raises(TypeError, r"started_at.*timestamp"),
    ),
    case(
        "between/iso-window",
        lambda t: (
            impact.between(
                impact.as_table(ab_events()), "started_at", start="2026-03-02", end="2026-03-02"
            )
            .count()
            .execute()
        ),
        equals(N_UNITS * 4),  # 0h, 7h, 14h, 21h: every event falls on 2 March
    ),
    case(
        "between/non-iso-date",
        lambda t: impact.between(impact.as_table(ab_events()), "started_at", start="03/10/2026"),
        Raises(ValueError, r"start.*ISO"),
    ),
    case(
        "between/sql-in-date",
        lambda t: impact.between(
            impact.as_table(ab_events()), "started_at", start="2026-03-02'; DROP TABLE t; --"
        ),
        Raises(ValueError, r"start.*ISO"),
    ),
    case(
        "between/missing-column",
        lambda t: impact.between(impact.as_table(ab_events()), "ts", start="2026-03-02"),
        Raises(KeyError, r"no column 'ts'"),
    ),
    case(
        "between/date-objects-equal-iso-strings",
        lambda t: (
            impact.between(
                impact.as_table(ab_events()),
                "started_at",
                start=pd.Timestamp("2026-03-02").date(),
                end=pd.Timestamp("2026-03-02").date(),
            )
            .count()
            .execute()
        ),
        equals(N_UNITS * 4),
    ),
    case(
        "between/impossible-date",
        lambda t: impact.between(impact.as_table(ab_events()), "started_at", end="2026-02-30"),
        Raises(ValueError, r"`end` must be an ISO date"),
    ),
    case(
        "with_assignments/unit-in-two-arms",
        lambda t: AB(
            impact.with_assignments(
                impact.as_table(events()),
                pd.concat(
                    [
                        assignments(),
                        assignments()
                        .iloc[[0]]
                        .assign(arm=lambda f: np.where(f.arm == "control", "treatment", "control")),
                    ]
                ),
            ),
            "handle_time_minutes",
        ),
        Raises(EstimationError, r"1 agent_id value\(s\) appear in more than one arm"),
    ),
    case(
        "with_assignments/naive-assigned-at-is-utc",
        lambda t: (
            impact.with_assignments(
                impact.as_table(events()),
                assignments(assigned_at=assignments().assigned_at.dt.tz_localize(None)),
            )
            .count()
            .execute()
        ),
        Ok(lambda n: None if n == _assigned_rows() > 0 else pytest.fail(f"{n} rows")),
    ),
    case(
        "with_assignments/missing-arm-column",
        lambda t: impact.with_assignments(
            impact.as_table(events()), assignments().drop(columns="arm")
        ),
        Raises(ContractError, r"arm"),
    ),
    case(
        "with_assignments/string-assigned-at",
        lambda t: impact.with_assignments(
            impact.as_table(events()), assignments(assigned_at="2026-03-10")
        ),
        Ok(lambda table: None if table.count().execute() > 0 else pytest.fail("no rows")),
    ),
    case(
        "with_assignments/unknown-experiment",
        lambda t: impact.with_assignments(
            impact.as_table(events()), assignments(), experiment="pilot-2025"
        ),
        Raises(ValueError, r"pilot-2025.*pilot-2026"),
    ),
    case(
        "with_assignments/other-unit-name",
        lambda t: (
            impact.with_assignments(
                impact.as_table(events().rename(columns={"agent_id": "emp_no"})),
                assignments().rename(columns={"agent_id": "emp_no"}),
                unit="emp_no",
            )
            .count()
            .execute()
        ),
        Ok(lambda n: None if n == _assigned_rows() > 0 else pytest.fail(f"{n} rows")),
    ),
    case(
        "with_assignments/unparseable-assigned-at",
        lambda t: impact.with_assignments(
            impact.as_table(events()), assignments(assigned_at="next week")
        ),
        Raises(ContractError, r"assigned_at\s+unparseable timestamp\s+\d+\s+next week"),
    ),
    # ---- impact.value ------------------------------------------------------------------------
    case(
        "value/npv-matches-numpy-financial",
        lambda t: float(impact.value.npv(np.array([[-1000.0, 300, 400, 500]]), 0.01)[0]),
        Ok(
            lambda v: (
                None if v == pytest.approx(_nf().npv(0.01, FLOWS), rel=1e-12) else pytest.fail()
            )
        ),
    ),
    case(
        "value/irr-matches-numpy-financial",
        lambda t: impact.value.irr(FLOWS),
        Ok(lambda v: None if v == pytest.approx(_nf().irr(FLOWS), rel=1e-9) else pytest.fail()),
    ),
    case(
        "value/irr-without-a-sign-change-is-nan",
        lambda t: math.isnan(impact.value.irr([-1.0, -2.0])),
        equals(True),
    ),
    case(
        "value/payback-month-never-is-inf",
        lambda t: impact.value.payback_month(np.array([[-5.0, 1.0, 1.0]])).tolist(),
        equals([math.inf]),
    ),
    case(
        "value/payback-same-seed-same-answer",
        lambda t: [
            impact.value.payback(_effect(), costs=_register(), draws=200, seed=4).probability(12)
            for _ in range(2)
        ],
        Ok(lambda p: None if p[0] == p[1] and 0 <= p[0] <= 1 else pytest.fail(str(p))),
    ),
    case(
        "value/payback-too-few-draws",
        lambda t: impact.value.payback(_effect(), costs=_register(), draws=-1),
        Raises(ParameterError, r"draws must be an integer >= 100, got -1"),
    ),
    case(
        "value/payback-seed-as-text",
        lambda t: impact.value.payback(_effect(), costs=_register(), draws=200, seed="x"),
        Raises(ParameterError, r"seed must be a whole number"),
    ),
    case(
        "value/payback-not-an-effect",
        lambda t: impact.value.payback(3.0, costs=_register(), draws=200),
        Raises(TypeError, r"effect must be an impact.Effect"),
    ),
    case(
        "value/payback-without-register",
        lambda t: impact.value.payback(_effect(), costs=None, draws=200),
        Raises(TypeError, r"costs must be an impact.value.Register"),
    ),
    case(
        "value/payback-nan-standard-error",
        lambda t: impact.value.payback(
            dataclasses.replace(_effect(), std_error=math.nan), costs=_register(), draws=200
        ),
        Raises(ParameterError, r"infinite or missing interval"),
    ),
    case(
        "value/payback-probability-of-negative-months",
        lambda t: impact.value.payback(_effect(), costs=_register(), draws=200).probability(-3),
        Raises(ValueError, r"months must be >= 0"),
    ),
    case(
        "value/register-malformed-yaml",
        lambda t: impact.value.Register.from_yaml(write(t / "r.yaml", "a: [1,\n")),
        Raises(ParameterError, r"r.yaml is not valid YAML"),
    ),
    case(
        "value/register-with-python-tag",
        lambda t: impact.value.Register.from_yaml(
            write(t / "r.yaml", "x: !!python/object/apply:os.getcwd []\n")
        ),
        Raises(ParameterError, r"r.yaml is not valid YAML"),
    ),
    case(
        "value/register-missing",
        lambda t: impact.value.Register.from_yaml(t / "nope.yaml"),
        Raises(FileNotFoundError, r"no assumptions register at .*nope.yaml"),
    ),
    case(
        "value/cost-text-in-cost-column",
        lambda t: impact.value.cost_per_outcome(
            impact.as_table(events(compute_cost_usd=events().compute_cost_usd.astype(str))),
            costs=_register(),
        ),
        Raises(TypeError, r"'compute_cost_usd' is string, not numeric"),
    ),
    case(
        "value/cost-negative-cost",
        lambda t: impact.value.cost_per_outcome(
            impact.as_table(events(review_minutes=-1.0)), costs=_register()
        ),
        Raises(EstimationError, rf"{n_events()} event\(s\) have a negative, null or NaN cost"),
    ),
    case(
        "value/cost-empty",
        lambda t: impact.value.cost_per_outcome(
            impact.as_table(events().iloc[:0]), costs=_register()
        ),
        Raises(EstimationError, r"the events are empty"),
    ),
    case(
        "value/cost-by-missing-column",
        lambda t: impact.value.cost_per_outcome(
            impact.as_table(events()), costs=_register(), by=["nope"]
        ),
        Raises(EstimationError, r"needs column\(s\) \['nope'\]"),
    ),
    # ---- the runner and its config -----------------------------------------------------------
    case(
        "config/malformed-yaml",
        lambda t: load_project(write(t / "impact.yaml", "reports: [\n")),
        Raises(ParameterError, r"impact.yaml.*(YAML|yaml)"),
    ),
    case(
        "config/not-a-mapping",
        lambda t: load_project(write(t / "impact.yaml", "- a\n")),
        Raises(ParameterError, r"expected a mapping with a 'reports' section"),
    ),
    case(
        "config/notebook-outside-notebooks",
        lambda t: load_project(
            write(
                t / "impact.yaml",
                json.dumps({"reports": {"r": {"notebook": "notebooks/../../etc/evil.ipynb"}}}),
            )
        ),
        Raises(ParameterError, r"notebooks must be .ipynb files under notebooks/"),
    ),
    case(
        "config/report-name-traversal",
        lambda t: load_project(
            write(
                t / "impact.yaml",
                json.dumps({"reports": {"../../x": {"notebook": "notebooks/a.ipynb"}}}),
            )
        ),
        Raises(ParameterError, r"report name '../../x' must be lower-case"),
    ),
    case(
        "config/invalid-cron",
        lambda t: load_project(report_project(t, schedule="every monday")),
        Raises(ParameterError, r"invalid cron 'every monday'"),
    ),
    case(
        "config/reports-dir-outside-the-project",
        lambda t: load_project(with_settings(report_project(t), reports_dir="reports/../../out")),
        Raises(ParameterError, r"reports_dir 'reports/../../out' must be a folder inside"),
    ),
    case(
        "config/reports-dir-absolute-on-purpose",
        lambda t: load_project(with_settings(report_project(t), reports_dir=str(t / "shared"))),
        Ok(lambda project: None if project.reports_dir.name == "shared" else pytest.fail()),
    ),
    case(
        "run_report/unknown-report",
        lambda t: run_report(load_project(report_project(t)), "payback"),
        Raises(ParameterError, r"no report 'payback'.*ab_report"),
    ),
    case(
        "run_report/unknown-parameter",
        lambda t: run_report(
            load_project(report_project(t)), "ab_report", params={"outcom": "resolved"}
        ),
        Raises(ParameterError, r"declares no parameter \['outcom'\]"),
    ),
    case(
        "run_report/wrong-type",
        lambda t: run_report(
            load_project(report_project(t)),
            "ab_report",
            params={"treatment_share": "0.2; import os"},
        ),
        Raises(ParameterError, r"'treatment_share' expects float"),
    ),
    case(
        "run_report/credential-as-parameter",
        lambda t: run_report(
            load_project(report_project(t)),
            "ab_report",
            params={"warehouse_password": "hunter2"},
        ),
        Raises(ParameterError, r"\['warehouse_password'\] look like credentials"),
    ),
    case(
        "params_file/not-a-mapping",
        lambda t: load_params_file(write(t / "p.yaml", "- 1\n")),
        Raises(ParameterError, r"expected a mapping of parameter names"),
    ),
    case(
        "backfill/empty-range",
        lambda t: backfill(
            load_project(report_project(t)),
            "ab_report",
            start=pd.Timestamp("2026-03-10").date(),
            end=pd.Timestamp("2026-03-01").date(),
        ),
        Raises(ParameterError, r"backfill range is empty"),
    ),
    # ---- the command line --------------------------------------------------------------------
    case(
        "cli/validate-quarantine-exits-3",
        lambda t: invoke(
            [
                "validate",
                str(_csv(t, events(csat=at(n_events(), 0, 9, events().csat.tolist())))),
                "--contract",
                "workflow_events",
            ]
        ),
        cli_exit(3, r"1 quarantined.*csat <= 5"),
    ),
    case(
        "cli/validate-missing-file",
        lambda t: invoke(["validate", str(t / "nope.csv"), "--contract", "workflow_events"]),
        cli_exit(2, r"does not exist"),
    ),
    case(
        "cli/validate-unknown-contract",
        lambda t: invoke(["validate", str(_csv(t, events())), "--contract", "nope"]),
        cli_exit(2, r"unknown contract 'nope'"),
    ),
    case(
        "cli/validate-bad-map",
        lambda t: invoke(
            [
                "validate",
                str(_csv(t, events())),
                "--contract",
                "workflow_events",
                "--map",
                "agent_id",
            ]
        ),
        cli_exit(2, r"expects NAME=VALUE"),
    ),
    case(
        "cli/validate-unsupported-file",
        lambda t: invoke(
            ["validate", str(write(t / "events.xlsx", "x")), "--contract", "workflow_events"]
        ),
        cli_exit(2, r"cannot read events.xlsx"),
    ),
    case(
        "cli/validate-duckdb-table",
        lambda t: invoke(
            ["validate", str(_duckdb_file(t)), "--table", "nope", "--contract", "workflow_events"]
        ),
        cli_exit(2, r"no table 'nope' in events.duckdb; it has \['ev'\]"),
    ),
    case(
        "cli/validate-ragged-csv-exits-3",
        lambda t: invoke(
            [
                "validate",
                str(write(t / "r.csv", "event_id,agent_id\nE1,A1\nE2\n")),
                "--contract",
                "workflow_events",
            ]
        ),
        cli_exit(3, r"r.csv.*fields"),
    ),
    case(
        "cli/run-unknown-report",
        lambda t: invoke(["run", "nope"], report_project(t).parent),
        cli_exit(2, r"no report 'nope'"),
    ),
    case(
        "cli/run-unknown-param",
        lambda t: invoke(["run", "ab_report", "-p", "x=1"], report_project(t).parent),
        cli_exit(2, r"declares no parameter \['x'\]"),
    ),
    case(
        "cli/run-params-file-with-python-tag",
        lambda t: invoke(
            [
                "run",
                "ab_report",
                "--params",
                str(write(t / "p.yaml", "outcome: !!python/object/apply:os.getcwd []\n")),
            ],
            report_project(t).parent,
        ),
        cli_exit(2, r"p.yaml"),
    ),
    case(
        "cli/list-without-project",
        lambda t: invoke(["list"], t / "no-project"),
        cli_exit(2, r"holds no impact.yaml"),
    ),
    case(
        "cli/run-due-bad-now",
        lambda t: invoke(["run-due", "--now", "yesterday"], report_project(t).parent),
        cli_exit(2, r"Invalid value for '--now'"),
    ),
    case(
        "cli/backfill-empty-range",
        lambda t: invoke(
            ["backfill", "ab_report", "--from", "2026-03-10", "--to", "2026-03-01"],
            report_project(t).parent,
        ),
        cli_exit(2, r"backfill range is empty"),
    ),
    case(
        "cli/sample-data-negative-agents",
        lambda t: invoke(["sample-data", str(t / "out"), "--agents", "-5"]),
        cli_exit(2, r"agents"),
    ),
    case(
        "cli/sample-data-fewer-agents-than-teams",
        lambda t: invoke(["sample-data", str(t / "out"), "--agents", "5"]),
        cli_exit(2, r"n_teams <= n_agents"),
    ),
]


# -- the test ----------------------------------------------------------------------------------
def _raised_inside_impact(exc: BaseException) -> bool:
    frames = traceback.extract_tb(exc.__traceback__)
    return bool(frames) and Path(frames[-1].filename).resolve().is_relative_to(PACKAGE)


@pytest.mark.parametrize(("call", "expect"), CASES)
def test_hostile_input(call: Callable[[Path], Any], expect: Ok | Raises, tmp_path: Path) -> None:
    if isinstance(expect, Ok):
        expect.check(call(tmp_path))
        return
    with pytest.raises(BaseException) as info:  # the class is checked below
        call(tmp_path)
    exc = info.value
    assert isinstance(exc, expect.error), f"raw {type(exc).__module__}.{type(exc).__name__}: {exc}"
    if not isinstance(exc, ImpactError):
        assert type(exc).__module__ == "builtins", type(exc)
        assert _raised_inside_impact(exc), f"{type(exc).__name__} raised outside impact: {exc}"
    assert re.search(expect.match, str(exc), flags=re.S), str(exc)


def test_corpus_is_large_and_covers_every_entry_point() -> None:
    ids = [p.id for p in CASES]
    assert len(ids) == len(set(ids)) and len(ids) >= 60
    families = {i.split("/")[0] for i in ids}
    assert families >= {
        "ab",
        "as_table",
        "validate",
        "load",
        "unit_summary",
        "panel",
        "value",
        "between",
        "with_assignments",
        "config",
        "run_report",
        "backfill",
        "cli",
    }


def test_load_quarantines_exactly_what_validate_does_and_says_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """DESIGN decision 4 through impact.load: bad rows leave the table, never silently."""
    frame = pd.concat(
        [events(csat=at(n_events(), 1, 9, events().csat.tolist())), events().iloc[2:4]],
        ignore_index=True,
    )
    with caplog.at_level("WARNING", logger="impact.data"):
        loaded = impact.load(frame, contract="workflow_events")
    check = impact.validate(frame, "workflow_events")
    assert (check.rows_valid, check.rows_quarantined) == (n_events() - 1, 3)
    kept = loaded.select("event_id").execute().event_id
    assert sorted(kept) == sorted(check.valid.select("event_id").execute().event_id)
    assert kept.is_unique and len(kept) == n_events() - 1
    (record,) = caplog.records
    message = record.getMessage()
    assert message.startswith(f"workflow_events: 3 of {n_events() + 2} row(s) quarantined (")
    assert "csat <= 5: 1" in message and "duplicate event_id: 2" in message
