"""User-facing errors: one line on stderr, a non-zero exit, never a traceback (``--debug`` shows it)."""

from __future__ import annotations


class TinyM2NetError(Exception):
    """A failure a user can fix. ``str(err)`` is the one line shown; it names the problem and the fix."""

    exit_code = 1


class UsageError(TinyM2NetError):
    exit_code = 2


class ModelError(TinyM2NetError):
    """The model file is missing, corrupt, float, or uses something we do not support."""


class UnsupportedOpError(ModelError):
    pass


class BoardError(TinyM2NetError):
    pass


class BudgetError(TinyM2NetError):
    """The model does not fit the RAM or flash budget."""


class ToolchainError(TinyM2NetError):
    """A cross compiler, emulator or PlatformIO step is missing or failed."""


class DataError(TinyM2NetError):
    """A data manifest or data file is broken."""


class VerificationError(TinyM2NetError):
    """Device outputs differ from the reference."""
