"""zoo.registry: the commands that read and curate the registry — ``init``, ``info``,
``models``, ``versions``, ``show``, ``alias``, ``tag``, ``lineage``, ``audit`` (``browse``) and
``verify``, ``gc``, ``delete``, ``export``, ``import``, ``backup``, ``register`` (``admin``).

A built-in plugin like any other: the kernel's CLI is only the skeleton, train and predict.
The command modules are imported when the CLI is built, and import nothing heavy themselves.
"""

from __future__ import annotations

from typing import Any

from zoo import hookimpl


@hookimpl
def register_commands(cli: Any) -> None:
    """Every registry command."""
    from . import admin, browse

    for command in browse.COMMANDS + admin.COMMANDS:
        cli.add_command(command)
