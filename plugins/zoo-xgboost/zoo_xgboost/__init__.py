"""Zoo plugin: XGBoost gradient-boosted trees (``xgboost.classifier``, ``xgboost.regressor``
and ``xgboost.quantile_regressor``), saved in XGBoost's own UBJSON format, never pickled.

``zoo`` imports this entry module on every start, so xgboost and numpy wait in ``models``
until a model is fitted or loaded.
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


@hookimpl
def adopt_model(obj: object) -> object:
    """Wrap an ``XGBClassifier``, ``XGBRegressor`` or ``Booster`` fitted outside zoo."""
    import sys

    if "xgboost" not in sys.modules:  # cannot be an xgboost model: answer without importing it
        return None
    from zoo_xgboost.models import adopt

    return adopt(obj)
