"""Zoo: a plugin-based model zoo with a local-first, versioned model registry.

Plugins write ``from zoo import hookimpl`` and subclass the interfaces re-exported here.
This module stays light: importing it loads neither numpy nor pandas.
"""

from zoo.errors import ZooError
from zoo.hookspecs import hookimpl
from zoo.interfaces import BaseMLModel, Calibrator, Component, Detector, DriftTest, Monitor

__version__ = "0.1.0"

__all__ = [
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
