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
    # The encoding step (``_with_encoder``): SimpleImputer's fitted dtype and OneHotEncoder's
    # dtype parameter are numpy dtypes.
    "numpy.dtype",
)
#: HistGradientBoosting with category columns checks its numeric columns with
#: ``functools.partial(check_array, ...)``. A partial can call anything, so these two are
#: trusted only when every partial in the file wraps exactly that function (``_partials_ok``).
PARTIAL_TYPES = ("functools.partial", "sklearn.utils.validation.check_array")


class SklearnModel(BaseMLModel):
    """A scikit-learn estimator behind zoo's predictor interface, saved with skops.

    A subclass names the estimator in ``estimator_class`` and lists its parameters in its
    ``__init__`` under scikit-learn's names (or overrides ``_make_estimator``).
    """

    artifact_format = "skops"
    #: The scikit-learn estimator, as "module.Class", imported when a model is built.
    estimator_class: ClassVar[str] = ""
    #: Whether the estimator takes NaN itself; otherwise a fitted imputer goes in front of it.
    native_missing: ClassVar[bool] = False
    #: Whether the estimator splits on category columns itself (``categorical_features``);
    #: otherwise they are one-hot encoded (up to ``ONE_HOT_LEVELS`` levels) in front of it.
    native_categories: ClassVar[bool] = False

    @property
    def allow_missing(self) -> bool:  # type: ignore[override]
        """NaN is fine for estimators that take it, and for any model with an encoding step
        (fit adds one when the training table has missing values or categories)."""
        estimator = getattr(self, "estimator_", None)
        # A version saved before fit added the encoding step (a bare estimator) keeps refusing NaN.
        return self.native_missing or estimator is None or _encoder(estimator) is not None

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
        from zoo.data import categorical_columns

        # X stays a DataFrame, so the estimator records its column names and
        # predicting with the aligned DataFrame raises no feature-name warning.
        estimator = self._make_estimator()
        schema = getattr(self, "input_schema_", None)
        categories = categorical_columns(schema)
        if self.native_categories:
            # Category columns arrive as level indices; HistGradientBoosting bins at most 255 of
            # them, so a column with more levels is used as an ordered number instead.
            native = {i for i in categories if len(schema[i]["levels"]) <= 255}
            if native:
                estimator.set_params(categorical_features=[i in native for i in range(X.shape[1])])
        elif categories or not self.native_missing:  # the imputer also serves later NaNs
            estimator = _with_encoder(estimator, X, schema)
        self.estimator_ = estimator.fit(X, y)

    def _predict(self, X: Any) -> Any:
        return self.estimator_.predict(X)

    def _predict_proba(self, X: Any) -> Any:
        # The estimator's classes_ and the base class's are both np.unique(y), so the
        # columns already come in the order of self.classes_.
        return self.estimator_.predict_proba(X)

    def save(self, path: str | Path) -> None:
        """Write the fitted estimator to ``path`` in skops format (never pickle)."""
        from zoo_sklearn.trusted import skops_io

        self.check_fitted()
        skops_io().dump(self.estimator_, path)

    @classmethod
    def load(cls, path: str | Path, metadata: dict[str, Any] | None = None) -> SklearnModel:
        """Rebuild a fitted model from ``save``'s file, refusing untrusted or foreign content."""
        estimator = _load_trusted(path)
        model = cls()
        expected = model._make_estimator()
        inner = _estimator_of(estimator)
        if type(inner) is not type(expected) or (
            type(cls._core(inner)) is not type(cls._core(expected))
        ):
            raise IntegrityError(
                f"refusing to load {path}: it holds a {type(inner).__name__}, but "
                f"{cls.component} saves a {type(expected).__name__}"
            )
        model.set_params(**_shared_params(cls._core(inner), model.param_defaults()))
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

    from zoo_sklearn.trusted import skops_io

    skops = skops_io()  # first: importing skops.io.exceptions would import skops.io the slow way
    from skops.io.exceptions import UntrustedTypesFoundException

    from zoo_sklearn.validate import check_archive, check_estimator

    check_archive(path)  # crafted bytes never reach scikit-learn's Cython (validate.py)
    trusted = list(TRUSTED_TYPES)
    try:
        try:
            estimator = skops.load(path, trusted=trusted)
        except UntrustedTypesFoundException:
            # Parsed a second time only for files holding more than the usual types.
            if not (set(skops.get_untrusted_types(file=path)) - set(trusted) <= set(PARTIAL_TYPES)
                    and _partials_ok(path)):
                raise
            trusted += PARTIAL_TYPES
            estimator = skops.load(path, trusted=trusted)
        check_estimator(estimator)
        return estimator
    except UntrustedTypesFoundException:
        untrusted = sorted(set(skops.get_untrusted_types(file=path)) - set(trusted))
        raise IntegrityError(
            f"refusing to load sklearn model from {path}: untrusted type(s) "
            f"{', '.join(untrusted)} in its artifact; only scikit-learn estimator types "
            "are allowed"
        ) from None
    except zipfile.BadZipFile:
        raise IntegrityError(f"refusing to load {path}: it is not a skops file") from None


#: Category columns with at most this many levels are one-hot encoded for estimators without
#: native categories; columns with more are used as their level index (an ordered number).
ONE_HOT_LEVELS = 32
#: The step names of the pipeline ``_with_encoder`` builds, which ``load`` recognises.
_ENCODER, _ESTIMATOR = "zoo_encoder", "zoo_estimator"


def _with_encoder(estimator: Any, X: Any, schema: list[dict[str, Any]] | None) -> Any:
    """``estimator`` behind a ColumnTransformer fitted with it: one-hot encoding of the
    small category columns (unseen levels become all zeros), median imputation with
    missing-value indicators for the rest. All of it is saved in the same skops file."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    kinds = [c["type"] for c in schema] if schema else ["number"] * X.shape[1]
    one_hot = [i for i, c in enumerate(schema or []) if c["type"] == "category"
               and len(c["levels"]) <= ONE_HOT_LEVELS]
    rest = [i for i in range(len(kinds)) if i not in set(one_hot)]
    steps = []
    if one_hot:
        steps.append(("one_hot", OneHotEncoder(handle_unknown="ignore", sparse_output=False), one_hot))
    if rest:
        steps.append(("impute", SimpleImputer(strategy="median", add_indicator=True,
                                              keep_empty_features=True), rest))
    return Pipeline([(_ENCODER, ColumnTransformer(steps)), (_ESTIMATOR, estimator)])


def _encoder(estimator: Any) -> Any:
    """The encoding step ``_with_encoder`` put in front of the estimator, or None."""
    steps = getattr(estimator, "steps", None)
    if steps and len(steps) == 2 and steps[0][0] == _ENCODER and steps[1][0] == _ESTIMATOR:
        return steps[0][1]
    return None


def _estimator_of(estimator: Any) -> Any:
    """The estimator behind an encoding step (or ``estimator`` itself when it has none)."""
    return estimator.steps[1][1] if _encoder(estimator) is not None else estimator


def _partials_ok(path: str | Path) -> bool:
    """Whether every ``functools.partial`` in a skops file wraps ``check_array`` itself, with
    keyword arguments made of plain values (as HistGradientBoosting's preprocessor saves it)."""
    import json
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            schema = json.loads(archive.read("schema.json"))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return False
    partials: list[Any] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("__module__") == "functools" and node.get("__class__") == "partial":
                partials.append(node)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(schema)
    for node in partials:
        content = node.get("content") or {}
        func = content.get("func") or {}
        if (func.get("__module__"), func.get("__class__")) != ("sklearn.utils.validation", "check_array"):
            return False
        if content.get("args", {}).get("content") not in (None, []):
            return False
        if not set((content.get("kwds") or {}).get("content") or {}) <= {"dtype", "ensure_all_finite"}:
            return False
    return bool(partials)


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
    native_missing = True  # scikit-learn's forests route NaN down a learned branch

    def __init__(self, n_estimators=100, criterion="gini", max_depth=None,
                 min_samples_split=2, min_samples_leaf=1, max_features="sqrt",
                 bootstrap=True, class_weight=None, n_jobs=None, random_state=0):
        self.store_params(locals())


class HistGradientBoostingClassifierModel(SklearnModel):
    """Histogram gradient-boosted trees classifier: fast on large tables, handles missing values."""

    component = "sklearn.hist_gradient_boosting_classifier"
    task = "classification"
    estimator_class = "sklearn.ensemble.HistGradientBoostingClassifier"
    native_missing = True
    native_categories = True

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
    native_missing = True  # scikit-learn's forests route NaN down a learned branch

    def __init__(self, n_estimators=100, criterion="squared_error", max_depth=None,
                 min_samples_split=2, min_samples_leaf=1, max_features=1.0,
                 bootstrap=True, n_jobs=None, random_state=0):
        self.store_params(locals())


class HistGradientBoostingRegressorModel(SklearnModel):
    """Histogram gradient-boosted trees regressor: fast on large tables, handles missing values."""

    component = "sklearn.hist_gradient_boosting_regressor"
    task = "regression"
    estimator_class = "sklearn.ensemble.HistGradientBoostingRegressor"
    native_missing = True
    native_categories = True

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


# --- any scikit-learn estimator, e.g. one fitted outside zoo (adopt_model) ---


class _AnyEstimator(SklearnModel):
    """Base of the components that hold any scikit-learn estimator or Pipeline.

    ``zoo train`` builds the class ``estimator`` names (a public scikit-learn class) with its
    defaults; ``adopt`` wraps one already fitted, whose Pipeline may take raw columns (text,
    dates): an adopted model is given its columns selected and ordered but unconverted.
    """

    _check_kind = ""

    def __init__(self, estimator=""):
        self.store_params(locals())

    def _make_estimator(self) -> Any:
        import importlib
        import inspect

        from zoo import DataError

        module, _, name = str(self.estimator).rpartition(".")
        if not module.startswith("sklearn.") or name.startswith("_"):
            raise DataError(f"estimator must name a public scikit-learn class such as "
                            f"{self.param_defaults()['estimator']}, got {self.estimator!r}")
        try:
            cls = getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError):
            raise DataError(f"scikit-learn has no {self.estimator}") from None
        if not inspect.isclass(cls) or _kind(estimator := cls()) != self._check_kind:
            raise DataError(f"{self.estimator} is not a scikit-learn {self._check_kind}")
        return estimator

    @classmethod
    def adopt(cls, estimator: Any) -> _AnyEstimator:
        """Wrap a fitted scikit-learn estimator (or Pipeline) without refitting it."""
        import numpy as np

        from zoo import DataError

        names = getattr(estimator, "feature_names_in_", None)
        if names is None:
            n = getattr(estimator, "n_features_in_", None)
            if n is None:
                raise DataError(f"cannot register this {type(estimator).__name__}: it is not fitted "
                                "(call fit first)")
            names = [f"x{i}" for i in range(int(n))]
        inner = _estimator_of(estimator)  # a file zoo trained: its encoding step is zoo's own
        model = cls(estimator=_public_name(type(inner)))
        model.estimator_ = estimator
        model.feature_names_in_ = np.asarray(names, dtype=object)
        model.raw_input_ = True
        # Columns go to the estimator as given (its own preprocessing reads them), which
        # zoo.data.align does for columns of type "raw".
        model.input_schema_ = [{"name": str(n), "type": "raw", "missing": 0} for n in names]
        if cls.task == "classification":
            model.classes_ = np.asarray(estimator.classes_)
        return model

    @classmethod
    def load(cls, path: str | Path, metadata: dict[str, Any] | None = None) -> SklearnModel:
        """Any estimator skops loads with the trusted types, of this component's kind."""
        estimator = _load_trusted(path)
        if _kind(estimator) != cls._check_kind:
            raise IntegrityError(f"refusing to load {path}: it holds a {type(estimator).__name__}, "
                                 f"not a scikit-learn {cls._check_kind}")
        model = cls.adopt(estimator)
        if _encoder(estimator) is not None or not (metadata or {}).get("raw_input", True):
            model.raw_input_ = False  # trained by zoo: restore_metadata brings its input schema
            del model.input_schema_
        return model

    @property
    def metadata(self) -> dict[str, Any]:
        return {**super().metadata, "raw_input": bool(getattr(self, "raw_input_", False))}

    def _fit(self, X: Any, y: Any) -> None:
        super()._fit(X, y)
        self.raw_input_ = False

    def _check(self, X: Any) -> Any:
        if not getattr(self, "raw_input_", False):
            return super()._check(X)
        from zoo.data import align

        # The estimator does its own preprocessing: hand it the columns as they are.
        return align(X, self.feature_names, keys=self.feature_names)


class SklearnClassifierModel(_AnyEstimator):
    """Any scikit-learn classifier or Pipeline, named by class; fitted ones register from Python."""

    component = "sklearn.classifier"
    task = "classification"
    _check_kind = "classifier"

    def __init__(self, estimator="sklearn.linear_model.LogisticRegression"):
        self.store_params(locals())


class SklearnRegressorModel(_AnyEstimator):
    """Any scikit-learn regressor or Pipeline, named by class; fitted ones register from Python."""

    component = "sklearn.regressor"
    task = "regression"
    _check_kind = "regressor"

    def __init__(self, estimator="sklearn.linear_model.Ridge"):
        self.store_params(locals())


def _public_name(cls: type) -> str:
    """``sklearn.linear_model.LogisticRegression`` rather than its private module's path."""
    import importlib

    public = ".".join(p for p in cls.__module__.split(".") if not p.startswith("_"))
    try:
        if getattr(importlib.import_module(public), cls.__qualname__, None) is cls:
            return f"{public}.{cls.__qualname__}"
    except ImportError:
        pass
    return f"{cls.__module__}.{cls.__qualname__}"


def _kind(estimator: Any) -> str:
    """"classifier", "regressor" or "" for a scikit-learn estimator (a Pipeline: its last step)."""
    from sklearn.base import is_classifier, is_regressor

    try:
        return "classifier" if is_classifier(estimator) else "regressor" if is_regressor(estimator) else ""
    except Exception:  # not an estimator at all (no tags)
        return ""


def adopt(obj: Any) -> SklearnModel | None:
    """The component wrapping a fitted scikit-learn classifier or regressor, else None."""
    if not type(obj).__module__.startswith("sklearn."):
        return None
    kind = _kind(obj)
    if kind == "classifier":
        return SklearnClassifierModel.adopt(obj)
    if kind == "regressor":
        return SklearnRegressorModel.adopt(obj)
    return None


#: Every predictor this plugin registers.
PREDICTORS = (
    LogisticRegressionModel,
    RandomForestClassifierModel,
    HistGradientBoostingClassifierModel,
    RandomForestRegressorModel,
    HistGradientBoostingRegressorModel,
    RidgeModel,
    LinearRegressionModel,
    SklearnClassifierModel,
    SklearnRegressorModel,
)
