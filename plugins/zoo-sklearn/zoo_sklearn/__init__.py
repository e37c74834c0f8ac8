"""Zoo plugin: scikit-learn classifiers and regressors, saved with skops.

This is the plugin's entry module, imported whenever the ``zoo`` CLI starts, so it
imports neither scikit-learn nor skops: ``models`` loads them only when a model is fitted
or loaded.
"""

from __future__ import annotations

from collections.abc import Callable

from zoo import hookimpl


@hookimpl
def register_predictors(register: Callable[[type], None]) -> None:
    """Register the scikit-learn classifiers and regressors."""
    from zoo_sklearn.models import PREDICTORS

    for cls in PREDICTORS:
        register(cls)


@hookimpl
def adopt_model(obj: object) -> object:
    """Wrap a scikit-learn classifier or regressor (or Pipeline) fitted outside zoo."""
    import sys

    if "sklearn" not in sys.modules:  # not one of scikit-learn's: answer without importing it
        return None
    from zoo_sklearn.models import adopt

    return adopt(obj)
