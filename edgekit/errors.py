"""Errors a user can cause, and the exit codes of the ``edgekit`` command.

Each error carries a one-line message; the CLI prints it as ``edgekit: error: ...`` and exits
with the error's ``exit_code``.
"""

from enum import IntEnum


class ExitCode(IntEnum):
    """What ``edgekit`` exits with (listed in ``edgekit --help``)."""

    OK = 0
    MISMATCH = 1
    ERROR = 2
    UNSUPPORTED_OPERATORS = 3
    NOTHING_FITS = 4
    NO_REFERENCE = 5
    INTERRUPTED = 130

    @property
    def meaning(self) -> str:
        return {ExitCode.OK: "success",
                ExitCode.MISMATCH: "an output differs from the reference (validate, profile, deploy)",
                ExitCode.ERROR: "an error: bad input, unsupported model, tool missing or failed, bad arguments",
                ExitCode.UNSUPPORTED_OPERATORS: "inspect: some operators cannot run",
                ExitCode.NOTHING_FITS: "fit: no candidate met the budgets",
                ExitCode.NO_REFERENCE: "no reference interpreter could run the model: nothing to compare with "
                                       "(validate, profile, deploy)",
                ExitCode.INTERRUPTED: "interrupted"}[self]


class EdgekitError(Exception):
    """Base class: a problem with the user's input or environment, not a bug in edgekit."""

    exit_code = ExitCode.ERROR


class ModelFormatError(EdgekitError):
    """The model file is missing, truncated, corrupt, or of a kind edgekit does not read."""


class UnsupportedModelError(EdgekitError):
    """The model is readable but edgekit cannot run it (operator, dtype, several subgraphs)."""


class CalibrationDataError(EdgekitError):
    """Calibration or input data is missing or does not fit the model."""


class ToolchainError(EdgekitError):
    """A compiler or emulator is missing or failed."""


class PlanError(EdgekitError):
    """No memory plan fits the limits asked for; ``best_bytes``: the smallest arena found."""

    def __init__(self, message: str, best_bytes: int | None = None):
        super().__init__(message)
        self.best_bytes = best_bytes


class ValidationMismatch(EdgekitError):
    """Generated code's outputs differ from the reference interpreter."""

    exit_code = ExitCode.MISMATCH


class ReferenceUnavailable(EdgekitError):
    """The reference interpreter could not run the model."""

    exit_code = ExitCode.NO_REFERENCE
