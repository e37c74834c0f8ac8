"""The base interfaces every component implements: predictors, detectors, calibrators,
drift tests and monitors.

They follow scikit-learn's conventions: ``__init__`` only stores its keyword arguments,
``get_params``/``set_params`` come from the ``__init__`` signature, fitted state ends in
``_`` and ``fit`` returns ``self``. A subclass declares class attributes ``component``
(its qualified catalogue name, e.g. ``"sklearn.random_forest_classifier"``) and ``task``;
the first line of its docstring is its description in the catalogue. A version is loaded
with ``from_artifact``: the subclass's ``load``, then the base class's ``restore_metadata``.
``zoo.testing.check_component`` checks that a subclass keeps all of this.

Nothing here imports numpy or pandas at module level, so plugins can import these
classes from their entry module without slowing ``zoo --help``.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable

#: Every kind of component, in the order listings show them (``BASES`` maps each to its class).
KINDS = ("predictor", "detector", "calibrator", "drift_test", "monitor")
_PARAM_DEFAULTS: dict[type, dict[str, Any]] = {}


class Component:
    """Common base: parameters, catalogue metadata and persistence.

    Parameters follow scikit-learn: ``get_params(deep=True)`` also lists a nested
    component's parameters as ``name__param``, ``set_params(name__param=...)`` sets them,
    and ``sklearn.base.clone`` works on any component whose ``__init__`` only stores its
    arguments. ``zoo.testing.check_component`` checks all of it.
    """

    kind: ClassVar[str] = ""
    component: ClassVar[str] = ""
    task: ClassVar[str] = ""
    #: The artifact format ``save`` writes, shown in the catalogue ("skops", "xgboost-ubj", ...).
    artifact_format: ClassVar[str] = ""

    @classmethod
    def param_defaults(cls) -> dict[str, Any]:
        """The ``__init__`` keyword arguments and their defaults."""
        # Reading a signature is slow (~0.2 ms) and get_params runs on every registration.
        if cls not in _PARAM_DEFAULTS:
            params = {}
            for name, p in inspect.signature(cls.__init__).parameters.items():
                if name == "self" or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                    continue
                params[name] = None if p.default is p.empty else p.default
            _PARAM_DEFAULTS[cls] = params
        return dict(_PARAM_DEFAULTS[cls])

    @classmethod
    def description(cls) -> str:
        """First line of the class docstring."""
        doc = inspect.getdoc(cls) or ""
        return doc.strip().splitlines()[0] if doc.strip() else ""

    def store_params(self, values: dict[str, Any]) -> None:
        """Keep each ``__init__`` argument as the attribute of the same name, unchanged.

        An ``__init__`` calls ``self.store_params(locals())`` as its only statement: the
        same as writing ``self.name = name`` for every parameter, which is all scikit-learn
        lets an ``__init__`` do (validation belongs in ``fit``).
        """
        for name in self.param_defaults():
            setattr(self, name, values[name])

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Current values of the ``__init__`` parameters; with ``deep``, a parameter that is
        itself a component (or a scikit-learn estimator) adds its own as ``name__param``."""
        params = {name: getattr(self, name) for name in self.param_defaults()}
        if deep:
            for name, value in list(params.items()):
                if hasattr(value, "get_params") and not isinstance(value, type):
                    params.update({f"{name}__{k}": v for k, v in value.get_params(deep=True).items()})
        return params

    def set_params(self, **params: Any) -> Component:
        """Set parameters by name, a nested one as ``name__param``; returns ``self``.

        An unknown name raises ``ValueError`` naming the valid ones; nothing is set then.
        """
        valid = self.param_defaults()
        nested: dict[str, dict[str, Any]] = {}
        for key in params:
            name, nest, sub = key.partition("__")
            if name not in valid:
                raise ValueError(
                    f"{self.component or type(self).__name__} has no parameter {name!r}; "
                    f"valid: {', '.join(sorted(valid)) or 'none'}"
                )
            if nest:
                inner = params.get(name, getattr(self, name))  # a new inner component is set first
                if not hasattr(inner, "set_params") or isinstance(inner, type):
                    raise ValueError(f"{self.component or type(self).__name__}.{name} is "
                                     f"{inner!r}, not a component: it has no parameter {sub!r}")
                nested.setdefault(name, {})[sub] = params[key]
        for key, value in params.items():
            if "__" not in key:
                setattr(self, key, value)
        for name, inner_params in nested.items():
            getattr(self, name).set_params(**inner_params)
        return self

    def __repr__(self) -> str:
        defaults = self.param_defaults()
        changed = {k: v for k, v in self.get_params(deep=False).items() if not _same(v, defaults.get(k))}
        args = ", ".join(f"{k}={v!r}" for k, v in changed.items())
        return f"{type(self).__name__}({args})"

    def check_fitted(self) -> None:
        """Raise ``RuntimeError`` saying to call ``fit`` unless the component has fitted state
        (an attribute whose name ends in ``_``); ``save`` and scoring methods start with it."""
        if not any(k.endswith("_") and not k.startswith("_") for k in vars(self)):
            raise RuntimeError(f"{type(self).__name__} is not fitted: call fit() first")

    # --- persistence: one artifact file plus a JSON-able metadata dict ---

    @property
    def metadata(self) -> dict[str, Any]:
        """JSON-able fitted metadata the registry stores beside the artifact."""
        return {}

    def save(self, path: str | Path) -> None:
        """Write the fitted component to one file at ``path`` in a format that cannot run code."""
        raise NotImplementedError(f"{type(self).__name__} does not implement save()")

    @classmethod
    def load(cls, path: str | Path, metadata: dict[str, Any] | None = None) -> Component:
        """Rebuild a fitted component from ``save``'s file; ``metadata`` is what ``metadata``
        returned at save time (after a trip through JSON), for checks and parameters.

        Do not restore the metadata here: ``from_artifact`` calls ``restore_metadata`` next.
        """
        raise NotImplementedError(f"{cls.__name__} does not implement load()")

    def restore_metadata(self, metadata: dict[str, Any] | None) -> None:
        """Set what ``metadata`` recorded (feature names, classes, ...) on a loaded component.

        ``from_artifact`` calls it right after ``load``; a base class that records metadata
        restores it here, so plugins need not.
        """

    @classmethod
    def from_artifact(cls, path: str | Path, metadata: dict[str, Any] | None = None) -> Component:
        """``load`` then ``restore_metadata``: a fitted component from its file and metadata,
        as the registry loads every version (and a component loads the ones it holds)."""
        model = cls.load(path, metadata)
        model.restore_metadata(metadata)
        return model


class BaseMLModel(Component):
    """A predictor: a classifier or a regressor trained on a table with a target column.

    Subclasses implement ``_fit(X, y)``, ``_predict(X)`` (a classifier may leave it: the
    most probable class of ``_predict_proba(X)``), and for classifiers ``_predict_proba(X)``
    (columns in the order of ``classes_``), plus ``save``/``load``. The public methods here
    take a DataFrame, check its columns against the ones seen at fit, and keep the metadata
    the registry needs; ``restore_metadata`` puts it back on a loaded model.
    """

    kind = "predictor"
    task = "classification"  # or "regression"

    #: Whether the model accepts missing values (NaN) in its features; inf is never accepted.
    allow_missing: ClassVar[bool] = False

    #: Set by the registry when a version is loaded; ``None`` for a fresh model.
    model_name: str | None = None
    model_version: int | None = None

    @property
    def feature_names(self) -> list[str]:
        """Columns seen at fit, in order."""
        return list(getattr(self, "feature_names_in_", []))

    @property
    def metadata(self) -> dict[str, Any]:
        meta: dict[str, Any] = {"task": self.task, "feature_names": self.feature_names}
        if getattr(self, "input_schema_", None):
            meta["input_schema"] = self.input_schema_
        if hasattr(self, "classes_"):
            meta["classes"] = [_plain(c) for c in self.classes_]
        if hasattr(self, "target_name_"):
            meta["target"] = self.target_name_
        return meta

    def restore_metadata(self, metadata: dict[str, Any] | None) -> None:
        import numpy as np

        metadata = metadata or {}
        if "feature_names" in metadata:
            self.feature_names_in_ = np.asarray(metadata["feature_names"], dtype=object)
        if "classes" in metadata:
            self.classes_ = np.asarray(metadata["classes"])
        if "target" in metadata:
            self.target_name_ = metadata["target"]
        if metadata.get("input_schema"):
            self.input_schema_ = metadata["input_schema"]

    def expect_features(self, n_features: int, metadata: dict[str, Any] | None, source: Any) -> None:
        """For a ``load`` whose file knows how many columns it takes but not their names (a
        booster trained on an array): check that ``metadata`` names ``n_features`` of them
        (an ``IntegrityError`` naming ``source`` otherwise), or, loaded without metadata,
        call them ``x0``, ``x1``, ... as ``zoo.data.as_frame`` names an array's columns."""
        import numpy as np

        from zoo.errors import IntegrityError

        names = (metadata or {}).get("feature_names")
        if names is None:
            self.feature_names_in_ = np.asarray([f"x{i}" for i in range(n_features)], dtype=object)
        elif len(names) != n_features:
            raise IntegrityError(f"refusing to load {source}: the model has {n_features} features "
                                 f"but its metadata names {len(names)}")

    def fit(self, X: Any, y: Any) -> BaseMLModel:
        """Fit on feature table ``X`` and target ``y``; returns ``self``."""
        import numpy as np

        from zoo.data import DataError, as_target, check_values, typed_frame

        X, self.input_schema_ = typed_frame(X)  # categories, dates, booleans become floats
        X = check_values(X, self.allow_missing, self.component)
        y = as_target(y, len(X), numeric=self.task == "regression")
        self.feature_names_in_ = X.columns.to_numpy(dtype=object)
        self.target_name_ = str(y.name) if y.name is not None else "target"
        if self.task == "classification":
            values = y.to_numpy()
            if values.dtype.kind == "f" and not np.all(values == np.round(values)):
                example = values[values != np.round(values)][0]
                raise DataError(f"target {self.target_name_!r} has continuous values (e.g. {example}); "
                                "a classifier needs class labels: use a regressor or bin the target")
            self.classes_ = np.unique(values)
            if len(self.classes_) < 2:
                raise DataError(f"target {self.target_name_!r} has a single class "
                                f"({_plain(self.classes_[0])!r}); a classifier needs at least two")
        self._fit(X, y)
        return self

    def predict(self, X: Any) -> Any:
        """Predicted class labels or values, one per row."""
        return self._predict(self._check(X))

    def predict_proba(self, X: Any) -> Any:
        """Class probabilities, one column per entry of ``classes_`` (classifiers only)."""
        if self.task != "classification":
            raise AttributeError(f"{self.component} is a {self.task} model: it has no predict_proba")
        return self._predict_proba(self._check(X))

    def validate(self, X: Any, y: Any) -> dict[str, float]:
        """Score on labelled data: accuracy, ROC-AUC, F1 and log loss, or RMSE, MAE and R²."""
        from zoo import metrics
        from zoo.data import as_target

        X = self._check(X)
        y = as_target(y, len(X), numeric=self.task == "regression").to_numpy()
        if self.task == "classification":
            return metrics.classification(y, self._predict_proba(X), self.classes_)
        return metrics.regression(y, self._predict(X))

    def _check(self, X: Any) -> Any:
        from zoo.data import align, check_values, encode

        if not hasattr(self, "feature_names_in_"):
            raise RuntimeError(f"{type(self).__name__} is not fitted: call fit() first")
        schema = getattr(self, "input_schema_", None)
        X = encode(align(X, self.feature_names, schema=schema), schema)
        return check_values(X, self.allow_missing, self.component)

    # --- what a plugin implements ---

    def _fit(self, X: Any, y: Any) -> None:
        raise NotImplementedError

    def _predict(self, X: Any) -> Any:
        """A classifier's labels default to the most probable class of ``_predict_proba``."""
        if self.task != "classification":
            raise NotImplementedError
        import numpy as np

        return np.asarray(self.classes_)[np.argmax(self._predict_proba(X), axis=1)]

    def _predict_proba(self, X: Any) -> Any:
        raise NotImplementedError


class Detector(Component):
    """An unsupervised anomaly detector, named after PyOD's ``BaseDetector``.

    ``decision_function(X)`` is the anomaly score of each row, higher for more anomalous
    rows. ``fit`` keeps the training rows' scores as ``decision_scores_`` and learns
    ``threshold_`` so that a ``contamination`` share of them lie above it; ``predict``
    returns 1 for rows scoring above the threshold, else 0. Unlike PyOD, training rows are
    scored through the same ``decision_function`` as new rows, so a row scores the same
    either way (for nearest-neighbour detectors a training row is its own neighbour: we
    accept that rather than score training rows differently from new ones).
    ``set_contamination`` moves the threshold later, from ``decision_scores_``.

    Subclasses implement ``_fit(X)`` and ``_decision_function(X)`` on checked DataFrames,
    plus ``save``/``load``; the feature names, threshold and contamination are kept in
    ``metadata`` and restored by ``restore_metadata``.
    """

    kind = "detector"
    task = "anomaly"

    #: Whether the detector accepts missing values (NaN); inf is never accepted.
    allow_missing: ClassVar[bool] = False

    @property
    def metadata(self) -> dict[str, Any]:
        meta: dict[str, Any] = {"task": self.task,
                                "feature_names": list(getattr(self, "feature_names_in_", []))}
        if getattr(self, "input_schema_", None):
            meta["input_schema"] = self.input_schema_
        if hasattr(self, "threshold_"):
            meta["threshold"] = self.threshold_
            meta["contamination"] = getattr(self, "contamination", None)
        return meta

    def restore_metadata(self, metadata: dict[str, Any] | None) -> None:
        import numpy as np

        metadata = metadata or {}
        if "feature_names" in metadata:
            self.feature_names_in_ = np.asarray(metadata["feature_names"], dtype=object)
        if metadata.get("threshold") is not None:
            self.threshold_ = float(metadata["threshold"])
        if metadata.get("input_schema"):
            self.input_schema_ = metadata["input_schema"]
        if metadata.get("contamination") is not None and "contamination" in self.param_defaults():
            self.contamination = metadata["contamination"]

    def fit(self, X: Any, y: Any = None) -> Detector:
        """Fit on ``X`` (labels are ignored) and learn the contamination threshold."""
        import numpy as np

        from zoo.data import check_values, typed_frame

        contamination = check_contamination(getattr(self, "contamination", 0.1))
        X, self.input_schema_ = typed_frame(X)
        X = check_values(X, self.allow_missing, self.component)
        self.feature_names_in_ = X.columns.to_numpy(dtype=object)
        self._fit(X)
        self.decision_scores_ = np.asarray(self._decision_function(X), dtype=float)
        self.threshold_ = contamination_threshold(self.decision_scores_, contamination)
        return self

    def set_contamination(self, contamination: float) -> Detector:
        """Move ``threshold_`` so a ``contamination`` share of the training rows score above it."""
        if getattr(self, "decision_scores_", None) is None:
            from zoo.errors import ZooError

            raise ZooError(f"{self.component} kept no training scores, so its threshold cannot "
                           "move; retrain it with the contamination you want")
        self.contamination = check_contamination(contamination)
        self.threshold_ = contamination_threshold(self.decision_scores_, self.contamination)
        return self

    def decision_function(self, X: Any) -> Any:
        """Anomaly score per row (a float array), higher means more anomalous."""
        return self._decision_function(self._check(X))

    def predict(self, X: Any) -> Any:
        """1 for rows scoring above ``threshold_``, else 0."""
        return (self.decision_function(X) > self.threshold_).astype(int)

    def explain(self, X: Any) -> Any:
        """Each feature's share of each row's anomaly score (rows x features)."""
        raise NotImplementedError(f"{self.component} does not explain its scores")

    def _check(self, X: Any) -> Any:
        from zoo.data import align, check_values, encode

        if not hasattr(self, "feature_names_in_"):
            raise RuntimeError(f"{type(self).__name__} is not fitted: call fit() first")
        schema = getattr(self, "input_schema_", None)
        X = encode(align(X, list(self.feature_names_in_), schema=schema), schema)
        return check_values(X, self.allow_missing, self.component)

    def _fit(self, X: Any) -> None:
        raise NotImplementedError

    def _decision_function(self, X: Any) -> Any:
        raise NotImplementedError


def check_contamination(contamination: Any) -> float:
    """``contamination`` as a float above 0 and at most 0.5, or a one-line ``DataError``."""
    from zoo.errors import DataError

    try:
        value = float(contamination)
    except (TypeError, ValueError):
        value = float("nan")
    if not 0.0 < value <= 0.5:
        raise DataError(f"contamination must be above 0 and at most 0.5 (the expected share of "
                        f"anomalies), got {contamination!r}")
    return value


def contamination_threshold(scores: Any, contamination: float) -> float:
    """The threshold above which ``round(contamination * n)`` of ``scores`` lie.

    It sits halfway between the last unflagged and the first flagged score. When scores
    tie across the cut no threshold can split them, so it takes the cut whose flagged
    count is closest to the target (the smaller one on a draw).
    """
    import numpy as np

    values = np.sort(np.asarray(scores, dtype=float))
    n = len(values)
    if n == 0:
        raise ValueError("no scores to learn a threshold from")
    target = int(round(contamination * n))
    unique = np.unique(values)
    # Flagging the rows above unique[i] flags this many.
    above = n - np.searchsorted(values, unique, side="right")
    i = int(np.argmin(np.abs(above - target) * 2 + (above > target)))
    if i + 1 >= len(unique):
        return float(unique[i])
    low, high = float(unique[i]), float(unique[i + 1])
    middle = low + (high - low) / 2
    return middle if low <= middle < high else low


class Calibrator(Component):
    """Maps a classifier's scores to calibrated probabilities.

    Scores are probabilities: for a binary model a 1-D array of P(class 1), for a
    multiclass model an (n, k) array whose rows sum to 1. ``y`` holds class indices
    (0/1, or 0..k-1 in the order of the score columns). ``transform`` returns the same
    shape as its input.
    """

    kind = "calibrator"
    task = "calibration"

    def fit(self, scores: Any, y: Any) -> Calibrator:
        """Learn the mapping from held-out ``scores`` and true class indices ``y``."""
        raise NotImplementedError

    def transform(self, scores: Any) -> Any:
        """Calibrated probabilities for ``scores``, in the same shape."""
        raise NotImplementedError


class DriftTest(Component):
    """Tests whether ``current`` data departs from a ``reference`` sample.

    Both are DataFrames; the reference's columns are the features tested. Implementations
    take ``alpha`` and ``correction`` ("bh" or "bonferroni") parameters and build their
    result with ``zoo.drift.verdict``, so every test's result has the same shape.
    """

    kind = "drift_test"
    task = "drift"

    def fit(self, reference: Any) -> DriftTest:
        """Remember (a summary of) the reference data."""
        raise NotImplementedError

    def test(self, current: Any) -> dict[str, Any]:
        """Per-feature ``statistic``, ``p_value`` and ``drift``, plus an overall ``drift`` verdict."""
        raise NotImplementedError


class Monitor(Component):
    """Watches a deployed version: summarises batches and scores its health."""

    kind = "monitor"
    task = "monitoring"

    def fit(self, reference: Any, predictions: Any = None) -> Monitor:
        """Learn what healthy looks like from reference data (and its predictions)."""
        raise NotImplementedError

    def observe(self, X: Any, predictions: Any, y: Any = None) -> dict[str, Any]:
        """Summarise one batch; returns at least a ``health`` score from 0 to 100."""
        raise NotImplementedError


# --- Optional capabilities: a component has one when it defines the member; zoo checks with
# isinstance(model, Contributions) etc., never by probing names in each module, and
# zoo.testing checks each one a component has. ---


@runtime_checkable
class Contributions(Protocol):
    """A predictor that explains itself natively (e.g. TreeSHAP): ``contributions(X)`` is an
    ``(n, p + 1)`` array, one column per feature in order plus the bias last, summing to the
    raw margin (``decision_function(X)`` when the model has one); models with k outputs
    (multiclass, several quantiles) may return ``(n, k, p + 1)``. Used by ``zoo explain``."""

    def contributions(self, X: Any) -> Any: ...


@runtime_checkable
class QuantilePredictor(Protocol):
    """A regressor with a quantile objective: ``predict_quantiles(X)`` is an ``(n, 2)`` array of
    the lower and upper quantile (lower <= upper); conformal intervals then adapt to each row (CQR)."""

    def predict_quantiles(self, X: Any) -> Any: ...


@runtime_checkable
class SearchSpace(Protocol):
    """A component class that proposes tuning ranges for ``zoo tune``: ``search_space()`` maps
    some of its ``__init__`` parameters to ``{"type": "int"|"float", "low", "high", "log"}``
    or ``{"type": "choice", "choices": [...]}``."""

    @classmethod
    def search_space(cls) -> dict[str, dict[str, Any]]: ...


@runtime_checkable
class KeyColumns(Protocol):
    """A model that needs columns beyond its features at predict time, used as labels rather
    than numbers (e.g. the group columns of a group-wise calibrated model): ``key_columns``
    names them, and they are among its ``feature_names``."""

    key_columns: tuple[str, ...]


BASES: dict[str, type[Component]] = {
    "predictor": BaseMLModel,
    "detector": Detector,
    "calibrator": Calibrator,
    "drift_test": DriftTest,
    "monitor": Monitor,
}


def _plain(value: Any) -> Any:
    """numpy scalars to Python scalars, for JSON."""
    return value.item() if hasattr(value, "item") else value


def _same(a: Any, b: Any) -> bool:
    """``a == b`` as a bool, False where comparing fails or is ambiguous (arrays)."""
    try:
        return bool(a == b)
    except Exception:
        return False
