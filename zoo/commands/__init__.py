"""Commands beyond the registry basics, one module per capability (``detect``, ``explain``,
``calibrate``, ...). Each module adds its commands to ``zoo.cli.cli`` when imported;
``zoo.cli`` imports every module here before plugins add theirs, so a new capability
needs no edit to ``cli.py``. Like ``cli.py``, these modules import heavy libraries only
inside command functions."""

from __future__ import annotations

import importlib
import pkgutil


def load_all() -> None:
    """Import every command module in this package."""
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")
