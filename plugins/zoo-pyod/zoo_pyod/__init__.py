"""Zoo plugin: anomaly detectors from PyOD, an ensemble default (``pyod.auto``), all
saved as plain arrays, and the ``zoo detect`` command (tables with a detector, metric
time series against a rolling seasonal baseline).

This is the plugin's entry module, imported whenever the ``zoo`` CLI starts, so it
imports neither PyOD nor numpy: ``detectors`` loads them only when a detector is fitted
or loaded, and ``commands`` only inside the command.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from zoo import hookimpl


@hookimpl
def register_detectors(register: Callable[[type], None]) -> None:
    """Register the PyOD detectors and the ``pyod.auto`` ensemble."""
    from zoo_pyod.detectors import DETECTORS

    for cls in DETECTORS:
        register(cls)


@hookimpl
def register_commands(cli: Any) -> None:
    """Add ``zoo detect``."""
    from zoo_pyod.commands import COMMANDS

    for command in COMMANDS:
        cli.add_command(command)
