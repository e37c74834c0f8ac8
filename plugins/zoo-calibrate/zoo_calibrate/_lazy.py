"""numpy, imported on first use.

Building the catalogue (``zoo plugins``, ``zoo components``) imports the modules that
define this plugin's classes, to read their names, docstrings and parameters; it must
not import numpy. The classes' methods use ``np`` freely: the real module is imported
the first time one of its attributes is read, i.e. when something is fitted or loaded.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any


class LazyModule:
    """Stands in for a module until an attribute is first read, then imports it."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._module: ModuleType | None = None

    def __getattr__(self, attr: str) -> Any:
        if self._module is None:
            self._module = importlib.import_module(self._name)
        return getattr(self._module, attr)


numpy: Any = LazyModule("numpy")
