"""The value layer: what an estimated effect is worth, with its uncertainty.

``payback(effect, costs=Register.from_yaml(...))`` runs the monthly business case (adoption
ramp, build and run costs, discounting) under Monte Carlo over the effect's sampling
distribution and the register's ranges; ``cost_per_outcome`` decomposes cost per outcome with
and without the AI; ``decide`` turns evidence into scale / stabilize / pivot. Every money figure
is a :class:`Value` with its interval.
"""

from impact.value.case import BusinessCase
from impact.value.cashflow import CashFlows, irr, monthly_rate, npv, payback_month
from impact.value.cost import CostPerOutcome, cost_per_outcome
from impact.value.decision import Decision, DecisionRule, Guardrail, NorthStar, decide
from impact.value.money import Value, bare_amounts, bare_columns
from impact.value.montecarlo import Payback, payback
from impact.value.register import Assumption, Register
from impact.value.sensitivity import BreakEven, Sensitivity, break_even, sensitivity

__all__ = [
    "Assumption",
    "BreakEven",
    "BusinessCase",
    "CashFlows",
    "CostPerOutcome",
    "Decision",
    "DecisionRule",
    "Guardrail",
    "NorthStar",
    "Payback",
    "Register",
    "Sensitivity",
    "Value",
    "bare_amounts",
    "bare_columns",
    "break_even",
    "cost_per_outcome",
    "decide",
    "irr",
    "monthly_rate",
    "npv",
    "payback",
    "payback_month",
    "sensitivity",
]
