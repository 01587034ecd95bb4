"""Data contracts: ODCS v3 YAML compiled to Ibis predicates, so any table can be validated.

``validate(source, contract)`` returns the valid rows, a quarantine with the broken rule per
row, and a count per rule; a structural breach (missing column, wrong type, unparseable
timestamp) raises one :class:`~impact.errors.ContractError` listing every breach. Each
contract column also declares its semantic role (unit, cluster, time, arm, outcome, cost, ...).
"""

from impact.contracts.model import (
    ROLES,
    Column,
    Contract,
    Rule,
    available_contracts,
    contract_dirs,
    load_contract,
)
from impact.contracts.validate import (
    RULES_COLUMN,
    Validation,
    conform,
    require_columns,
    validate,
)

__all__ = [
    "ROLES",
    "RULES_COLUMN",
    "Column",
    "Contract",
    "Rule",
    "Validation",
    "available_contracts",
    "conform",
    "contract_dirs",
    "load_contract",
    "require_columns",
    "validate",
]
