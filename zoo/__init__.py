"""Zoo: a plugin-based model zoo with a local-first, versioned model registry.

Plugins write ``from zoo import hookimpl`` and subclass the interfaces re-exported here.
This module stays light: importing it loads neither numpy nor pandas.
"""

from zoo.errors import ZooError
from zoo.hookspecs import hookimpl
from zoo.interfaces import BaseMLModel, Calibrator, Component, Detector, DriftTest, Monitor

__version__ = "0.1.0"



def __getattr__(name: str) -> object:
    # Lazy: the registry (sqlite3) and the data helpers load only when a caller asks for them.
    if name == "Registry":
        from zoo.models import Registry

        return Registry
    raise AttributeError(f"module 'zoo' has no attribute {name!r}")


__all__ = [
    "Registry",
    "BaseMLModel",
    "Calibrator",
    "Component",
    "Detector",
    "DriftTest",
    "Monitor",
    "ZooError",
    "__version__",
    "hookimpl",
]
