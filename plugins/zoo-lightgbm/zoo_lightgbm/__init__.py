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
