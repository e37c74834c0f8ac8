"""scikit-learn predictors, each wrapping one estimator and saved with skops.

scikit-learn and skops are imported inside methods: the catalogue reads these classes'
names, docstrings and signatures without loading either. Parameters keep
scikit-learn's names and defaults, except ``random_state`` (0, so training is
reproducible) and ``LogisticRegressionModel.max_iter`` (1000).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from zoo import BaseMLModel, IntegrityError

#: Types these estimators' artifacts hold beyond skops' default trusted list (which
#: already covers scikit-learn's public estimators, numpy arrays and dtypes, and
#: builtin containers), found with ``skops.io.get_untrusted_types`` on each fitted
#: estimator. An artifact needing any other type is refused.
TRUSTED_TYPES = (
    # The node storage of the random forests' decision trees.
    "sklearn.tree._tree.Tree",
    # The node storage of the histogram gradient-boosting trees.
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
)


class SklearnModel(BaseMLModel):
    """A scikit-learn estimator behind zoo's predictor interface, saved with skops.

    A subclass names the estimator in ``estimator_class`` and lists its parameters in its
    ``__init__`` under scikit-learn's names (or overrides ``_make_estimator``).
    """

    artifact_format = "skops"
    #: The scikit-learn estimator, as "module.Class", imported when a model is built.
    estimator_class: ClassVar[str] = ""

    def _make_estimator(self) -> Any:
        """A new, unfitted scikit-learn estimator built from this model's parameters."""
        import importlib

        module, _, name = self.estimator_class.rpartition(".")
        return getattr(importlib.import_module(module), name)(**self.get_params(deep=False))

    @staticmethod
    def _core(estimator: Any) -> Any:
        """The part of ``estimator`` whose parameters this model's parameters mirror."""
        return estimator

    def _fit(self, X: Any, y: Any) -> None:
        # X stays a DataFrame, so the estimator records its column names and
        # predicting with the aligned DataFrame raises no feature-name warning.
        self.estimator_ = self._make_estimator().fit(X, y)

    def _predict(self, X: Any) -> Any:
        return self.estimator_.predict(X)

    def _predict_proba(self, X: Any) -> Any:
        # The estimator's classes_ and the base class's are both np.unique(y), so the
        # columns already come in the order of self.classes_.
        return self.estimator_.predict_proba(X)

    def save(self, path: str | Path) -> None:
        """Write the fitted estimator to ``path`` in skops format (never pickle)."""
        import skops.io

        self.check_fitted()
        skops.io.dump(self.estimator_, path)

    @classmethod
    def load(cls, path: str | Path, metadata: dict[str, Any] | None = None) -> SklearnModel:
        """Rebuild a fitted model from ``save``'s file, refusing untrusted or foreign content."""
        estimator = _load_trusted(path)
        model = cls()
        expected = model._make_estimator()
        if type(estimator) is not type(expected) or (
            type(cls._core(estimator)) is not type(cls._core(expected))
        ):
            raise IntegrityError(
                f"refusing to load {path}: it holds a {type(estimator).__name__}, but "
                f"{cls.component} saves a {type(expected).__name__}"
            )
        model.set_params(**_shared_params(cls._core(estimator), model.param_defaults()))
        model.estimator_ = estimator
        # The estimator knows its columns and classes, so a file loads even without metadata.
        if hasattr(estimator, "feature_names_in_"):
            model.feature_names_in_ = estimator.feature_names_in_
        if cls.task == "classification":
            model.classes_ = estimator.classes_
        return model


def _load_trusted(path: str | Path) -> Any:
    """``skops.io.load`` with ``TRUSTED_TYPES``; refusals become one-line ``IntegrityError``s."""
    import zipfile

    import skops.io
    from skops.io.exceptions import UntrustedTypesFoundException

    try:
        return skops.io.load(path, trusted=list(TRUSTED_TYPES))
    except UntrustedTypesFoundException:
        untrusted = sorted(set(skops.io.get_untrusted_types(file=path)) - set(TRUSTED_TYPES))
        raise IntegrityError(
            f"refusing to load sklearn model from {path}: untrusted type(s) "
            f"{', '.join(untrusted)} in its artifact; only scikit-learn estimator types "
            "are allowed"
        ) from None
    except zipfile.BadZipFile:
        raise IntegrityError(f"refusing to load {path}: it is not a skops file") from None


def _shared_params(estimator: Any, names: dict[str, Any]) -> dict[str, Any]:
    """The estimator's values for the parameters in ``names`` it has."""
    params = estimator.get_params(deep=False)
    return {name: params[name] for name in names if name in params}


# --- classifiers ---


class LogisticRegressionModel(SklearnModel):
    """Logistic regression on standardised features: a fast linear classifier."""

    component = "sklearn.logistic_regression"
    task = "classification"

    def __init__(self, C=1.0, l1_ratio=0.0, solver="lbfgs", class_weight=None,
                 max_iter=1000, tol=1e-4, fit_intercept=True, random_state=0):
        self.store_params(locals())

    def _make_estimator(self) -> Any:
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        # Unscaled features make lbfgs stop at max_iter before it converges.
        return make_pipeline(StandardScaler(), LogisticRegression(**self.get_params(deep=False)))

    @staticmethod
    def _core(estimator: Any) -> Any:
        return estimator[-1]


class RandomForestClassifierModel(SklearnModel):
    """Random forest classifier: bagged decision trees, robust with little tuning."""

    component = "sklearn.random_forest_classifier"
    task = "classification"
    estimator_class = "sklearn.ensemble.RandomForestClassifier"

    def __init__(self, n_estimators=100, criterion="gini", max_depth=None,
                 min_samples_split=2, min_samples_leaf=1, max_features="sqrt",
                 bootstrap=True, class_weight=None, n_jobs=None, random_state=0):
        self.store_params(locals())


class HistGradientBoostingClassifierModel(SklearnModel):
    """Histogram gradient-boosted trees classifier: fast on large tables, handles missing values."""

    component = "sklearn.hist_gradient_boosting_classifier"
    task = "classification"
    estimator_class = "sklearn.ensemble.HistGradientBoostingClassifier"
    allow_missing = True  # native missing-value support

    def __init__(self, learning_rate=0.1, max_iter=100, max_leaf_nodes=31, max_depth=None,
                 min_samples_leaf=20, l2_regularization=0.0, early_stopping="auto",
                 validation_fraction=0.1, n_iter_no_change=10, class_weight=None,
                 random_state=0):
        self.store_params(locals())


# --- regressors ---


class RandomForestRegressorModel(SklearnModel):
    """Random forest regressor: bagged decision trees, robust with little tuning."""

    component = "sklearn.random_forest_regressor"
    task = "regression"
    estimator_class = "sklearn.ensemble.RandomForestRegressor"

    def __init__(self, n_estimators=100, criterion="squared_error", max_depth=None,
                 min_samples_split=2, min_samples_leaf=1, max_features=1.0,
                 bootstrap=True, n_jobs=None, random_state=0):
        self.store_params(locals())


class HistGradientBoostingRegressorModel(SklearnModel):
    """Histogram gradient-boosted trees regressor: fast on large tables, handles missing values."""

    component = "sklearn.hist_gradient_boosting_regressor"
    task = "regression"
    estimator_class = "sklearn.ensemble.HistGradientBoostingRegressor"
    allow_missing = True  # native missing-value support

    def __init__(self, loss="squared_error", quantile=None, learning_rate=0.1, max_iter=100,
                 max_leaf_nodes=31, max_depth=None, min_samples_leaf=20,
                 l2_regularization=0.0, early_stopping="auto", validation_fraction=0.1,
                 n_iter_no_change=10, random_state=0):
        self.store_params(locals())


class RidgeModel(SklearnModel):
    """Ridge regression: least squares with an L2 penalty of strength alpha."""

    component = "sklearn.ridge"
    task = "regression"
    estimator_class = "sklearn.linear_model.Ridge"

    def __init__(self, alpha=1.0, fit_intercept=True, solver="auto", positive=False,
                 random_state=0):
        self.store_params(locals())


class LinearRegressionModel(SklearnModel):
    """Ordinary least squares linear regression."""

    component = "sklearn.linear_regression"
    task = "regression"
    estimator_class = "sklearn.linear_model.LinearRegression"

    def __init__(self, fit_intercept=True, positive=False):
        self.store_params(locals())


#: Every predictor this plugin registers.
PREDICTORS = (
    LogisticRegressionModel,
    RandomForestClassifierModel,
    HistGradientBoostingClassifierModel,
    RandomForestRegressorModel,
    HistGradientBoostingRegressorModel,
    RidgeModel,
    LinearRegressionModel,
)
