"""Zoo plugin: anomaly detectors from PyOD, an ensemble default (``pyod.auto``), all
saved as plain arrays.

This is the plugin's entry module, imported whenever the ``zoo`` CLI starts, so it
imports neither PyOD nor numpy: ``detectors`` loads them only when a detector is fitted
or loaded.
"""

from __future__ import annotations

from collections.abc import Callable

from zoo import hookimpl


@hookimpl
def register_detectors(register: Callable[[type], None]) -> None:
    """Register the PyOD detectors and the ``pyod.auto`` ensemble."""
    from zoo_pyod.detectors import DETECTORS

    for cls in DETECTORS:
        register(cls)
