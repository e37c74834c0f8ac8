"""Errors a user can act on. Each message is one line naming the problem and the fix."""

from __future__ import annotations


class ZooError(Exception):
    """Base class: the CLI prints these as one line and exits non-zero, without a traceback."""

    exit_code = 1


class NotFoundError(ZooError):
    """An unknown model, version, alias, component or file."""


class DataError(ZooError):
    """Input data that cannot be used: missing column, wrong type, empty file."""


class IntegrityError(ZooError):
    """An artifact whose bytes no longer match the sha256 the registry recorded."""


class FilterError(ZooError):
    """A ``--where`` / ``--order-by`` expression that does not parse."""


class PluginError(ZooError):
    """A plugin failed to load or register (raised only in strict mode)."""
