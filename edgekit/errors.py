"""Errors a user can cause. Each carries a one-line message; the CLI turns it into an exit code."""


class EdgekitError(Exception):
    """Base class: a problem with the user's input or environment, not a bug in edgekit."""

    exit_code = 2


class ModelFormatError(EdgekitError):
    """The model file is missing, truncated, corrupt, or of a kind edgekit does not read."""


class UnsupportedModelError(EdgekitError):
    """The model is readable but edgekit cannot run it (operator, dtype, several subgraphs)."""


class CalibrationDataError(EdgekitError):
    """Calibration or input data is missing or does not fit the model."""


class ToolchainError(EdgekitError):
    """A compiler or emulator is missing or failed."""


class PlanError(EdgekitError):
    """No memory plan fits the limits asked for."""


class ValidationMismatch(EdgekitError):
    """Generated code's outputs differ from the reference interpreter."""

    exit_code = 1


class ReferenceUnavailable(EdgekitError):
    """The reference interpreter could not run the model."""
