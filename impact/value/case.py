"""A business case: estimated effects, the assumptions register and the ticket volume.

`BusinessCase` checks its inputs once and evaluates the cash-flow model for any set of
assumption values and effect sizes (point values, Monte Carlo draws, sensitivity settings).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from impact.errors import ParameterError
from impact.result import Effect
from impact.value.cashflow import (
    PRICES,
    ArrayLike,
    CashFlows,
    cash_flows,
    check_register,
    value_per_ticket,
)
from impact.value.register import Register


def as_effects(effect: Effect | Sequence[Effect]) -> tuple[Effect, ...]:
    """One or several effects as a tuple, each checked for a usable sampling distribution."""
    if isinstance(effect, Effect):
        effects: tuple[Effect, ...] = (effect,)
    elif isinstance(effect, Sequence) and not isinstance(effect, str):
        effects = tuple(effect)
    else:
        raise TypeError(
            f"effect must be an impact.Effect or a list of them, got {type(effect).__name__}"
        )
    if not effects:
        raise ParameterError("pass at least one Effect (e.g. on handle_time_minutes)")
    seen: set[str] = set()
    for e in effects:
        if not isinstance(e, Effect):
            raise TypeError(f"expected impact.Effect objects, got {type(e).__name__}")
        if e.outcome in seen:
            raise ParameterError(f"two effects on {e.outcome!r}; pass one effect per outcome")
        seen.add(e.outcome)
        if e.outcome not in PRICES:
            raise ParameterError(
                f"no price for outcome {e.outcome!r}; the value layer prices {sorted(PRICES)}"
            )
        bounds = (e.estimate, e.std_error, e.ci_low, e.ci_high)
        if not all(math.isfinite(b) for b in bounds) or not e.std_error > 0:
            raise ParameterError(
                f"the effect on {e.outcome} has an infinite or missing interval (estimate "
                f"{e.estimate}, SE {e.std_error}, CI {e.ci_low} to {e.ci_high}); money figures "
                "need a two-sided interval. Re-estimate with alternative='two-sided'."
            )
    return effects


def check_type(register: object) -> Register:
    """`register` if it is a :class:`Register`, else a TypeError saying how to get one."""
    if not isinstance(register, Register):
        raise TypeError(
            "costs must be an impact.value.Register (Register.from_yaml('assumptions/...yaml')), "
            f"got {type(register).__name__}"
        )
    return register


@dataclass(frozen=True, slots=True, eq=False)
class BusinessCase:
    """Effects x register x volume: evaluates monthly cash flows for any inputs.

    `volume` is tickets per month in scope at full adoption; None reads the register's
    ``tickets_per_month`` (with its range).
    """

    effects: tuple[Effect, ...]
    register: Register
    volume: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "effects", as_effects(self.effects))
        check_type(self.register)
        check_register(self.register, self.outcomes)
        if self.volume is None:
            self.register.require(["tickets_per_month"], purpose="the ticket volume")
        elif not (
            isinstance(self.volume, (int, float))
            and not isinstance(self.volume, bool)
            and math.isfinite(self.volume)
            and self.volume > 0
        ):
            raise ParameterError(
                f"volume must be a positive number of tickets per month, got {self.volume!r}"
            )

    @property
    def outcomes(self) -> tuple[str, ...]:
        return tuple(e.outcome for e in self.effects)

    @property
    def horizon(self) -> int:
        return int(self.register["horizon_months"].value)

    @property
    def build_names(self) -> tuple[str, ...]:
        return tuple(a.name for a in self.register.by_category("build"))

    @property
    def run_names(self) -> tuple[str, ...]:
        return tuple(a.name for a in self.register.by_category("run"))

    def point_effects(self) -> dict[str, float]:
        return {e.outcome: e.estimate for e in self.effects}

    def components(
        self, values: Mapping[str, ArrayLike], effects: Mapping[str, ArrayLike]
    ) -> dict[str, ArrayLike]:
        """Net value per ticket by component (priced effects, minus AI costs)."""
        return value_per_ticket(effects, values)

    def flows(
        self,
        values: Mapping[str, ArrayLike] | None = None,
        effects: Mapping[str, ArrayLike] | None = None,
    ) -> CashFlows:
        """Cash flows at `values` (default: the register's points) and `effects` (estimates)."""
        values = self.register.values() if values is None else values
        effects = self.point_effects() if effects is None else effects
        per_ticket = sum(self.components(values, effects).values())
        volume = values["tickets_per_month"] if self.volume is None else self.volume
        return cash_flows(
            values,
            np.asarray(per_ticket, dtype=np.float64),
            volume=volume,
            build_names=self.build_names,
            run_names=self.run_names,
        )
