"""Zoo: a plugin-based model zoo with a local-first, versioned model registry.

The public API for users and plugins. Plugins write ``from zoo import hookimpl`` and
subclass the interfaces re-exported here; docs/plugins.md lists every name, and the
documented modules beside this one (``zoo.clitools``, ``zoo.data``, ``zoo.drift``,
``zoo.metrics``, ``zoo.testing``). Anything else in ``zoo`` may change without notice.

Importing this module stays light (no numpy, pandas or sqlite): the names below that need
more are loaded on first use.
"""

from zoo.errors import DataError, FilterError, IntegrityError, NotFoundError, PluginError, ZooError
from zoo.hookspecs import hookimpl
from zoo.interfaces import (
    BASES,
    KINDS,
    BaseMLModel,
    Calibrator,
    Component,
    Contributions,
    Detector,
    DriftTest,
    KeyColumns,
    Monitor,
    QuantilePredictor,
    SearchSpace,
    check_contamination,
    contamination_threshold,
)

__version__ = "0.1.0"

# name -> module that defines it, imported on first use.
_LAZY = {
    "Registry": "zoo.models",
    "load_version": "zoo.models",
    "train_and_register": "zoo.models",
    "register_trained": "zoo.models",
    "batch_predicted": "zoo.models",
    "ask_plugins": "zoo.models",
    "predict_table": "zoo.predicting",
    "build_catalogue": "zoo.catalogue",
    "ComponentInfo": "zoo.catalogue",
    "TrainResult": "zoo.training",
    "split": "zoo.training",
    "split_record": "zoo.training",
}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'zoo' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)


__all__ = [
    "BASES",
    "KINDS",
    "BaseMLModel",
    "Calibrator",
    "Component",
    "Contributions",
    "DataError",
    "Detector",
    "DriftTest",
    "FilterError",
    "IntegrityError",
    "KeyColumns",
    "Monitor",
    "NotFoundError",
    "PluginError",
    "QuantilePredictor",
    "SearchSpace",
    "ZooError",
    "__version__",
    "check_contamination",
    "contamination_threshold",
    "hookimpl",
    *_LAZY,
]
