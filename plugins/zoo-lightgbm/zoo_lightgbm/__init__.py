"""Zoo plugin: LightGBM classifiers and regressors, saved as LightGBM's own model text.

The entry module: it stays light (no lightgbm, no numpy), since ``zoo --help`` imports it.
"""

from __future__ import annotations

from collections.abc import Callable

from zoo import hookimpl


@hookimpl
def register_predictors(register: Callable[[type], None]) -> None:
    """Register ``lightgbm.classifier``, ``lightgbm.regressor`` and ``lightgbm.quantile_regressor``
    (``zoo_lightgbm.models`` imports lightgbm only when one is fitted or loaded)."""
    from zoo_lightgbm import models

    for cls in models.PREDICTORS:
        register(cls)


@hookimpl
def adopt_model(obj: object) -> object:
    """Wrap an ``LGBMClassifier``, ``LGBMRegressor`` or ``Booster`` fitted outside zoo."""
    import sys

    if "lightgbm" not in sys.modules:  # cannot be a LightGBM model: answer without importing it
        return None
    from zoo_lightgbm.models import adopt

    return adopt(obj)
