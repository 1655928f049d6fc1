"""The errors patron raises on purpose.

Every message names *what* went wrong, *where* (file, column, row, key or field) and
*what was expected*, so the CLI can print it as one line and a user can act on it
without a traceback. ``hint`` is an optional second line: the command or setting that
fixes the problem.
"""

from __future__ import annotations


class PatronError(Exception):
    """Base class of every error patron raises deliberately."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class ConfigError(PatronError):
    """A setting in ``patron.toml`` or a ``PATRON_*`` variable is unknown or invalid."""


class SchemaError(PatronError):
    """Data does not fit the canonical schema (missing columns, wrong types)."""


class SourceError(PatronError):
    """A source cannot be read: missing file, unknown format, bad encoding, unreachable server."""


class ModelError(PatronError):
    """A model cannot be fitted or used on the data given (degenerate data, not fitted)."""


class MissingDependencyError(PatronError):
    """An optional dependency is not installed; the hint names the extra to install."""

    def __init__(self, module: str, extra: str) -> None:
        super().__init__(
            f"the optional dependency {module!r} is not installed",
            hint=f'install it with: pip install "patron[{extra}]"',
        )
        self.module = module
        self.extra = extra


def require(module: str, extra: str):
    """Import an optional dependency or raise ``MissingDependencyError`` naming its extra."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise MissingDependencyError(module, extra) from exc
