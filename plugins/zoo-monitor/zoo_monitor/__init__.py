"""Zoo plugin: monitors for deployed versions.

- ``batch_predicted``: every batch scored by ``zoo predict``, ``zoo detect`` or a model from
  ``Registry.load`` is summarised (rows, latency, prediction sketch, missing rates) and stored
  in the plugin's ``batches`` table (``zoo_monitor.store``);
- the ``monitor.health`` component: drift against the version's reference sample and
  performance against its validation metrics, folded into a health score from 0 to 100;
- commands ``zoo monitor``, ``zoo alerts`` and ``zoo batches``;
- its tables, ``batches`` and ``alerts``, through ``register_migrations``.

This is the plugin's entry module, imported whenever the ``zoo`` CLI starts, so it imports
neither numpy nor pandas: the modules it names load them when they run.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable
from typing import Any

from zoo import hookimpl


@hookimpl
def register_monitors(register: Callable[[type], None]) -> None:
    """Register ``monitor.health``."""
    from zoo_monitor.health import HealthMonitor

    register(HealthMonitor)


@hookimpl
def register_commands(cli: Any) -> None:
    """Add ``zoo monitor``, ``zoo alerts`` and ``zoo batches``."""
    from zoo_monitor.commands import COMMANDS

    for command in COMMANDS:
        cli.add_command(command)


@hookimpl
def register_migrations(register: Callable[[str, Any], None]) -> None:
    """Create the ``batches`` and ``alerts`` tables (``zoo_monitor.store.MIGRATIONS``)."""
    from zoo_monitor.store import MIGRATIONS

    for name, statements in MIGRATIONS.items():
        register(name, statements)


@hookimpl
def batch_predicted(registry: Any, version: dict[str, Any] | None, inputs: Any, predictions: Any,
                    seconds: float) -> None:
    """Store a summary of the batch with the version that scored it.

    Skipped for a model that is not a registered version, and for one whose registry was
    closed (``with Registry(...) as reg: model = reg.load(ref)`` then scoring outside the
    block). A model scoring in another thread than the one that opened its registry records
    through a connection of that thread's own. A batch that cannot be recorded otherwise
    (the version was deleted meanwhile, the registry stays locked) is reported as a warning:
    scoring has already succeeded, and monitoring must never make it fail.
    """
    if version is None or registry is None or not hasattr(registry, "write"):
        return
    import sqlite3

    from zoo import ZooError
    from zoo_monitor.batches import record

    source = _source()
    try:
        try:
            record(registry, version, inputs, predictions, seconds, source)
        except sqlite3.ProgrammingError as exc:
            if "thread" not in str(exc):
                return  # a closed registry: its owner is done with it
            record(_thread_registry(registry), version, inputs, predictions, seconds, source)
    except (ZooError, sqlite3.Error) as exc:
        warnings.warn(f"zoo-monitor did not record a batch of {version.get('ref')}: "
                      f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}", stacklevel=2)


_local = threading.local()


def _thread_registry(registry: Any) -> Any:
    """This thread's own connection to ``registry``'s file (sqlite3 connections stay in the
    thread that made them); kept for the thread's lifetime."""
    opened = getattr(_local, "registries", None)
    if opened is None:
        opened = _local.registries = {}
    if registry.path not in opened:
        from zoo import ZooError

        if not registry.path.exists():  # never create a registry as a side effect of scoring
            raise ZooError(f"the registry {registry.path} is gone")
        opened[registry.path] = type(registry)(registry.path)
    return opened[registry.path]


def _source() -> str:
    """``zoo <command>`` when a CLI command scored the batch, else ``python``."""
    import sys

    click = sys.modules.get("click")  # not imported at all: certainly not inside a command
    ctx = click.get_current_context(silent=True) if click is not None else None
    return f"zoo {ctx.info_name}" if ctx is not None and ctx.parent is not None else "python"
