"""Every error impact raises on purpose derives from :class:`ImpactError`.

Messages say what is wrong, where, and what to do about it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd


class ImpactError(Exception):
    """Base for every error impact raises on purpose."""

    #: Process exit code the CLI and the runner use for this kind of failure.
    exit_code: int = 2


class ContractError(ImpactError, ValueError):
    """Data break a contract structurally; `failures` has one row per breach.

    The columns of `failures` are ``column, rule, n_rows, example``. The error carries no copy
    of the data beyond one example value per breach.
    """

    exit_code = 3

    def __init__(self, contract: str, failures: pd.DataFrame) -> None:
        self.contract = contract
        self.failures = failures
        table = failures.to_string(index=False)
        super().__init__(f"{contract}: {len(failures)} check(s) failed\n{table}")

    def __reduce__(self):  # keep the error picklable (papermill, multiprocessing)
        return (type(self), (self.contract, self.failures))


class EstimationError(ImpactError):
    """Valid data, impossible estimate (an empty arm, zero variance, a unit in two arms)."""

    exit_code = 4


class ParameterError(ImpactError, ValueError):
    """Bad parameters or configuration: run, report, notebook, contract or call options.

    The runner raises it before any kernel starts; library calls raise it before any scan.
    """

    exit_code = 2


class MissingDependencyError(ImpactError, ImportError):
    """An optional dependency is not installed; the message names the extra to install."""

    exit_code = 2
