"""Zoo plugin: XGBoost classifiers and regressors, saved in XGBoost's own UBJSON format.

This is the plugin's entry module, imported whenever the ``zoo`` CLI starts, so it
imports neither xgboost nor numpy: ``models`` loads them only when a model is fitted or
loaded.
"""

from __future__ import annotations

from collections.abc import Callable

from zoo import hookimpl


@hookimpl
def register_predictors(register: Callable[[type], None]) -> None:
    """Register the XGBoost classifier, regressor and quantile regressor."""
    from zoo_xgboost.models import PREDICTORS

    for cls in PREDICTORS:
        register(cls)
