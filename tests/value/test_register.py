"""The assumptions register: reading, checking, identity, sampling."""

from __future__ import annotations

import copy
import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from impact.errors import ContractError, ParameterError
from impact.value import Assumption, Register
from impact.value.case import BusinessCase

from .conftest import FIXED, SAMPLE_REGISTER, effect, register


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "register.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_sample_register_reads_with_version_and_hash(sample_register: Register) -> None:
    assert sample_register.version == "2026.03.1"
    assert sample_register.start_date == dt.date(2026, 7, 1)
    assert len(sample_register.content_hash) == 12
    assert sample_register.content_hash in sample_register.label
    frame = sample_register.to_frame()
    assert list(frame.columns) == [
        "name",
        "value",
        "low",
        "high",
        "distribution",
        "unit",
        "category",
        "source",
        "owner",
        "as_of",
    ]
    assert frame["name"].is_unique and len(frame) == 18
    assert (frame.low <= frame.value).all() and (frame.value <= frame.high).all()
    assert sample_register["labour_usd_per_hour"].value == 38.0


def test_sample_register_passes_the_assumptions_contract(sample_register: Register) -> None:
    assert sample_register.validate() is sample_register


def test_contract_catches_what_a_hand_built_frame_breaks(sample_register: Register) -> None:
    from impact.contracts import validate

    frame = sample_register.to_frame()
    frame.loc[0, "value"] = frame.loc[0, "high"] + 1
    with pytest.raises(ContractError, match="value <= high"):
        validate(frame, "assumptions").raise_if_any()


def test_hash_changes_with_content_not_formatting(tmp_path: Path) -> None:
    text = SAMPLE_REGISTER.read_text()
    reformatted = Register.from_yaml(write(tmp_path, text.replace("value: 38", "value:   38.0")))
    changed = Register.from_yaml(write(tmp_path, text.replace("value: 38", "value: 39")))
    original = Register.from_yaml(SAMPLE_REGISTER)
    assert reformatted.content_hash == original.content_hash
    assert changed.content_hash != original.content_hash


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda r: r.pop("version"), "no version"),
        (lambda r: r.update(format=2), "format 2 is unknown"),
        (lambda r: r.pop("format"), "format None is unknown"),
        (
            lambda r: r["assumptions"]["build_usd"].update(value=-5.0, low=-5.0),
            "build_usd.*cannot be negative",
        ),
        (
            lambda r: r["assumptions"]["labour_usd_per_hour"].update(low=70.0),
            "labour_usd_per_hour.*low <= value <= high",
        ),
        (
            lambda r: r["assumptions"]["labour_usd_per_hour"].update(distribution="beta"),
            "distribution 'beta'",
        ),
        (
            lambda r: r["assumptions"]["labour_usd_per_hour"].update(value="a lot"),
            "value must be a number",
        ),
        (
            lambda r: r["assumptions"]["labour_usd_per_hour"].update(colour="red"),
            r"unknown field\(s\) \['colour'\]",
        ),
        (lambda r: r["assumptions"]["build_usd"].update(as_of="last week"), "ISO date"),
    ],
)
def test_bad_registers_fail_clearly(edit, message: str) -> None:
    raw = copy.deepcopy(FIXED)
    edit(raw)
    with pytest.raises(ParameterError, match=message):
        Register.from_dict(raw)


def test_every_bad_assumption_is_listed_at_once() -> None:
    raw = copy.deepcopy(FIXED)
    raw["assumptions"]["build_usd"].update(value=-1.0, low=-1.0)
    raw["assumptions"]["run_usd_per_month"].update(value=-1.0, low=-1.0)
    with pytest.raises(ParameterError, match=r"2 assumption\(s\) are invalid") as info:
        Register.from_dict(raw)
    assert "build_usd" in str(info.value) and "run_usd_per_month" in str(info.value)


def test_repeated_name_in_yaml_is_an_error(tmp_path: Path) -> None:
    text = (
        "format: 1\nversion: v1\nassumptions:\n  a: {value: 1, category: labour}\n"
        "  a: {value: 2, category: labour}\n"
    )
    with pytest.raises(ParameterError, match=r"names 'a' twice \(line 5\)"):
        Register.from_yaml(write(tmp_path, text))


def test_missing_assumptions_are_listed_together() -> None:
    raw = copy.deepcopy(FIXED)
    del raw["assumptions"]["labour_usd_per_hour"], raw["assumptions"]["horizon_months"]
    with pytest.raises(ParameterError, match="lacks 2 assumption") as info:
        BusinessCase((effect(),), Register.from_dict(raw))
    assert "labour_usd_per_hour" in str(info.value) and "horizon_months" in str(info.value)


@pytest.mark.parametrize("rate", [-0.01, 1.0, 8.0])
def test_discount_rate_out_of_range(rate: float) -> None:
    with pytest.raises(ParameterError, match=r"discount_rate_annual must lie in \[0, 1\)"):
        BusinessCase((effect(),), register(discount_rate_annual=rate))


def test_horizon_must_be_whole_months() -> None:
    with pytest.raises(ParameterError, match="horizon_months must be a fixed whole number"):
        BusinessCase((effect(),), register(horizon_months=12.5))


def test_unknown_assumption_lookup_names_what_exists() -> None:
    with pytest.raises(ParameterError, match=r"no assumption 'labor_rate'.*labour_usd_per_hour"):
        register()["labor_rate"]


def test_with_values_widens_the_range() -> None:
    reg = register().with_values(labour_usd_per_hour=80.0)
    a = reg["labour_usd_per_hour"]
    assert (a.low, a.value, a.high) == (60.0, 80.0, 80.0)
    assert reg.content_hash != register().content_hash


@pytest.mark.parametrize(
    ("distribution", "mean", "sd"),
    [
        ("uniform", 15.0, 10 / np.sqrt(12)),
        ("triangular", (10 + 12 + 20) / 3, np.sqrt((100 + 144 + 400 - 120 - 200 - 240) / 18)),
        ("normal", 12.0, 8 / 1.959963984540054),
    ],
)
def test_sampling_matches_the_distribution(distribution: str, mean: float, sd: float) -> None:
    value = 15.0 if distribution == "uniform" else 12.0
    high = 20.0
    low = 10.0 if distribution != "normal" else 4.0
    # A finance figure may be negative, so a wide normal range is allowed for it.
    a = Assumption("x", value, low, high, distribution, category="finance")
    draws = a.sample(np.random.default_rng(1), 200_000)
    assert draws.mean() == pytest.approx(mean, abs=4 * sd / np.sqrt(200_000))
    assert draws.std() == pytest.approx(sd, rel=0.01)


def test_lognormal_has_its_median_at_the_value_and_range_as_95_percent() -> None:
    a = Assumption("x", 10.0, 5.0, 20.0, "lognormal")
    draws = a.sample(np.random.default_rng(2), 200_000)
    assert np.median(draws) == pytest.approx(10.0, rel=0.01)
    assert np.mean((draws >= 5.0) & (draws <= 20.0)) == pytest.approx(0.95, abs=0.003)


def test_fixed_assumptions_never_move() -> None:
    a = Assumption("x", 3.0, 1.0, 5.0, "fixed")
    assert (a.sample(np.random.default_rng(0), 10) == 3.0).all()


def test_a_normal_range_that_draws_negative_costs_is_refused() -> None:
    with pytest.raises(ParameterError, match="draws negative values"):
        Assumption("run_usd", 100.0, 1.0, 300.0, "normal", unit="usd_per_month", category="run")
    # Far from zero it is fine, and draws never go below zero.
    ok = Assumption("t", 150.0, 135.0, 165.0, "normal", category="adoption")
    assert ok.sample(np.random.default_rng(0), 10_000).min() > 0
    assert ok.support == pytest.approx(
        (150 - 4 * 15 / 1.959963984540054, 150 + 4 * 15 / 1.96), rel=1e-3
    )


def test_shares_and_rates_must_stay_in_range_in_every_draw() -> None:
    raw = copy.deepcopy(FIXED)
    raw["assumptions"]["adoption_max"] |= {"value": 0.9, "low": 0.8, "high": 0.99}
    raw["assumptions"]["adoption_max"]["distribution"] = "normal"
    with pytest.raises(ParameterError, match=r"adoption_max is a share.*draws up to 1.1"):
        BusinessCase((effect(),), Register.from_dict(raw))
    raw = copy.deepcopy(FIXED)
    raw["assumptions"]["discount_rate_annual"] |= {
        "value": 0.02,
        "low": 0.0,
        "high": 0.04,
        "distribution": "normal",
    }
    with pytest.raises(ParameterError, match=r"discount_rate_annual must lie in \[0, 1\)"):
        BusinessCase((effect(),), Register.from_dict(raw))


def test_a_version_read_as_a_number_is_refused() -> None:
    raw = copy.deepcopy(FIXED) | {"version": 1.10}
    with pytest.raises(ParameterError, match=r"read as a number.*quote it"):
        Register.from_dict(raw)
    assert Register.from_dict(copy.deepcopy(FIXED) | {"version": "1.10"}).version == "1.10"


def test_a_pinned_version_must_match_the_file() -> None:
    assert Register.from_yaml(SAMPLE_REGISTER, version="2026.03.1").version == "2026.03.1"
    with pytest.raises(ParameterError, match=r"is register version '2026.03.1', but version"):
        Register.from_yaml(SAMPLE_REGISTER, version="2026.04.1")


def test_wrong_types_are_named() -> None:
    with pytest.raises(TypeError, match=r"costs must be an impact.value.Register"):
        BusinessCase((effect(),), {"labour_usd_per_hour": 60.0})  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"effect must be an impact.Effect or a list"):
        BusinessCase(2.0, register())  # type: ignore[arg-type]
