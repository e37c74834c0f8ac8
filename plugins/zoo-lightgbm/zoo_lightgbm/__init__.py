"""Zoo plugin: LightGBM classifiers and regressors, saved as LightGBM's own model text.

This is the plugin's entry module, imported whenever the ``zoo`` CLI starts, so it
imports neither lightgbm nor numpy: ``models`` loads them only when a model is fitted or
loaded.
"""

from __future__ import annotations

from collections.abc import Callable

from zoo import hookimpl


@hookimpl
def register_predictors(register: Callable[[type], None]) -> None:
    """Register the LightGBM classifier, regressor and quantile regressor."""
    from zoo_lightgbm.models import PREDICTORS

    for cls in PREDICTORS:
        register(cls)
