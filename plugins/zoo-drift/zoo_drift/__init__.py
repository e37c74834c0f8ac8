"""Zoo plugin: drift tests built on numpy and scipy only, and the ``zoo drift`` command.

This is the entry module, imported whenever the ``zoo`` CLI starts, so it imports no
numpy, pandas or scipy: the test classes load them only when they fit or test, and
``commands`` only inside the command.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from zoo import hookimpl


@hookimpl
def register_drift_tests(register: Callable[[type], None]) -> None:
    """Register zoo-drift's tests; ``drift.auto`` is the default of ``zoo drift``."""
    from zoo_drift.components import TESTS

    for cls in TESTS:
        register(cls)


@hookimpl
def register_commands(cli: Any) -> None:
    """Add ``zoo drift``."""
    from zoo_drift.commands import COMMANDS

    for command in COMMANDS:
        cli.add_command(command)
