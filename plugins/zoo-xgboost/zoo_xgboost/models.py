"""XGBoost predictors on the native ``xgboost.train`` API, saved as UBJSON.

xgboost and numpy are imported inside methods: the catalogue reads these classes' names,
docstrings and signatures without loading either. Parameters use the names of xgboost's
scikit-learn wrapper (``n_estimators``, ``learning_rate``, ``reg_lambda``, ...) with its
defaults, except ``n_jobs`` (2: the library's default of every core busy-waits on a
shared machine) and ``random_state`` (0, so training is reproducible).

The booster is trained on a plain float array, without feature names: zoo matches
columns by name before the booster sees them, and xgboost would reject names holding
``[``, ``]`` or ``<``. Predictions go through ``Booster.inplace_predict``, the library's
fastest call, so a loaded model predicts the same bits as the booster it was saved from.

Besides the ``BaseMLModel`` methods, every model here has ``decision_function(X)`` (the
raw margin) and ``contributions(X)`` (TreeSHAP: per-feature contributions plus a last
bias column, summing to the margin), which ``zoo explain`` uses.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from zoo import BaseMLModel, DataError, IntegrityError
from zoo.data import categorical_columns

#: ``xgb.train``'s name for each parameter (the scikit-learn wrapper's names are ours).
_NATIVE = {"max_depth": "max_depth", "learning_rate": "eta", "min_child_weight": "min_child_weight",
           "subsample": "subsample", "colsample_bytree": "colsample_bytree", "reg_lambda": "lambda",
           "reg_alpha": "alpha", "gamma": "gamma", "max_bin": "max_bin", "tree_method": "tree_method",
           "n_jobs": "nthread", "random_state": "seed"}
#: What the booster's saved objective must be for each component, checked on load.
_OBJECTIVES = {
    "xgboost.classifier": {"binary:logistic", "multi:softprob"},
    "xgboost.quantile_regressor": {"reg:quantileerror"},
}


class XGBoostModel(BaseMLModel):
    """A gradient-boosted tree ensemble trained with xgboost, saved as UBJSON.

    Capabilities: ``zoo.SearchSpace`` (``search_space()``: the ranges ``zoo tune`` searches)
    and ``zoo.Contributions`` (``contributions(X)``: TreeSHAP in margin space, summing to
    ``decision_function(X)``, the raw margin). Subclasses add their task's parameters and
    say which objective they train.
    """

    #: Missing values (NaN) are routed down each split's learned default branch.
    allow_missing = True
    artifact_format = "xgboost-ubj"

    def __init__(self, n_estimators=100, max_depth=6, learning_rate=0.3, min_child_weight=1.0,
                 subsample=1.0, colsample_bytree=1.0, reg_lambda=1.0, reg_alpha=0.0, gamma=0.0,
                 max_bin=256, tree_method="hist", n_jobs=2, random_state=0):
        self.store_params(locals())

    @classmethod
    def search_space(cls) -> dict[str, dict[str, Any]]:
        """Ranges ``zoo tune`` searches when the user gives none."""
        return {
            "n_estimators": {"type": "int", "low": 50, "high": 500, "log": True},
            "max_depth": {"type": "int", "low": 2, "high": 10},
            "learning_rate": {"type": "float", "low": 0.01, "high": 0.3, "log": True},
            "min_child_weight": {"type": "float", "low": 0.5, "high": 20.0, "log": True},
            "subsample": {"type": "float", "low": 0.5, "high": 1.0},
            "colsample_bytree": {"type": "float", "low": 0.5, "high": 1.0},
            "reg_lambda": {"type": "float", "low": 1e-3, "high": 10.0, "log": True},
        }

    # --- what subclasses define ---

    def _objective(self, y_codes: Any) -> dict[str, Any]:
        """The objective parameters for training on encoded targets ``y_codes``."""
        raise NotImplementedError

    def _target(self, y: Any) -> Any:
        """The training target as floats (``fit`` has checked a regressor's is numeric)."""
        return y.to_numpy(dtype="float64")

    # --- fitting and predicting ---

    def _fit(self, X: Any, y: Any) -> None:
        import xgboost as xgb

        target = self._target(y)
        params = {native: getattr(self, name) for name, native in _NATIVE.items()}
        params.update(self._objective(target))
        # Category columns arrive as level indices (NaN when missing); xgboost splits on them
        # as categories when told which they are.
        categories = set(categorical_columns(getattr(self, "input_schema_", None)))
        types = ["c" if i in categories else "q" for i in range(X.shape[1])] if categories else None
        dtrain = xgb.DMatrix(_array(X), label=target, nthread=self.n_jobs, feature_types=types,
                             enable_categorical=bool(categories))
        self.booster_ = xgb.train(params, dtrain, num_boost_round=int(self.n_estimators))

    def _raw(self, X: Any, predict_type: str = "value") -> Any:
        return self.booster_.inplace_predict(_array(X), predict_type=predict_type)

    def decision_function(self, X: Any) -> Any:
        """The raw margin (log-odds for classifiers): ``(n,)``, or ``(n, k)`` for k outputs."""
        return self._raw(self._check(X), "margin")

    def contributions(self, X: Any) -> Any:
        """TreeSHAP contributions in margin space: ``(n, p + 1)``, last column the bias.

        For k outputs (multiclass, quantiles) the shape is ``(n, k, p + 1)``. Each row sums
        to ``decision_function``.
        """
        import xgboost as xgb

        matrix = xgb.DMatrix(_array(self._check(X)), nthread=self.n_jobs)
        return self.booster_.predict(matrix, pred_contribs=True)

    # --- persistence ---

    @property
    def metadata(self) -> dict[str, Any]:
        return {**super().metadata, "params": self.get_params()}

    def save(self, path: str | Path) -> None:
        """Write the booster to ``path`` as XGBoost UBJSON (never pickle)."""
        self.check_fitted()
        Path(path).write_bytes(bytes(self.booster_.save_raw(raw_format="ubj")))

    @classmethod
    def load(cls, path: str | Path, metadata: dict[str, Any] | None = None) -> XGBoostModel:
        """Rebuild a fitted model from ``save``'s UBJSON file, refusing anything else."""
        import json

        import xgboost as xgb

        from zoo_xgboost.validate import check_model

        metadata = metadata or {}
        raw = Path(path).read_bytes()
        check_model(raw)  # crafted trees never reach xgboost's C++ (validate.py)
        try:
            booster = xgb.Booster(model_file=bytearray(raw))
            config = json.loads(booster.save_config())
        except xgb.core.XGBoostError as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else "unreadable"
            raise IntegrityError(f"refusing to load {path}: not an XGBoost model ({first})") from None
        objective = config["learner"]["objective"]["name"]
        allowed = _OBJECTIVES.get(cls.component)
        is_classifier_objective = objective.startswith(("binary:", "multi:"))
        if (allowed is not None and objective not in allowed) or (
            allowed is None and (is_classifier_objective or objective == "reg:quantileerror")
        ):
            raise IntegrityError(
                f"refusing to load {path}: it holds an XGBoost {objective} model, which "
                f"{cls.component} does not save"
            )
        known = cls.param_defaults()
        model = cls(**{k: v for k, v in metadata.get("params", {}).items() if k in known})
        model.expect_features(booster.num_features(), metadata, path)
        if not metadata:  # a file from outside zoo (zoo register): its own names and classes
            _outside_file(model, booster, config)
        # The thread count is not part of the saved model; without this xgboost uses every core.
        booster.set_param({"nthread": model.n_jobs})
        model.booster_ = booster
        return model


class XGBoostClassifierModel(XGBoostModel):
    """XGBoost gradient-boosted trees classifier (binary or multiclass), saved as UBJSON."""

    component = "xgboost.classifier"
    task = "classification"

    def _target(self, y: Any) -> Any:
        import numpy as np

        return np.searchsorted(self.classes_, y.to_numpy()).astype(np.float64)

    def _objective(self, y_codes: Any) -> dict[str, Any]:
        if len(self.classes_) == 2:
            return {"objective": "binary:logistic"}
        return {"objective": "multi:softprob", "num_class": len(self.classes_)}

    def _predict_proba(self, X: Any) -> Any:
        import numpy as np

        proba = self._raw(X)
        if proba.ndim == 1:
            return np.column_stack([1.0 - proba, proba])
        return proba


class XGBoostRegressorModel(XGBoostModel):
    """XGBoost gradient-boosted trees regressor, saved as UBJSON."""

    component = "xgboost.regressor"
    task = "regression"

    def __init__(self, objective="reg:squarederror", n_estimators=100, max_depth=6,
                 learning_rate=0.3, min_child_weight=1.0, subsample=1.0, colsample_bytree=1.0,
                 reg_lambda=1.0, reg_alpha=0.0, gamma=0.0, max_bin=256, tree_method="hist",
                 n_jobs=2, random_state=0):
        self.store_params(locals())

    def _objective(self, y_codes: Any) -> dict[str, Any]:
        if str(self.objective).startswith(("binary:", "multi:", "rank:")) or (
            self.objective == "reg:quantileerror"
        ):
            raise DataError(f"objective {self.objective!r} is not a regression objective here; "
                            "use xgboost.classifier or xgboost.quantile_regressor")
        return {"objective": self.objective}

    def _predict(self, X: Any) -> Any:
        return self._raw(X)


class XGBoostQuantileRegressorModel(XGBoostModel):
    """XGBoost regressor of the median plus a lower and upper quantile (for CQR intervals).

    One booster fits the quantiles ``(1 - coverage) / 2``, 0.5 and ``(1 + coverage) / 2``;
    ``predict`` returns the median and ``predict_quantiles`` the band (``zoo.QuantilePredictor``),
    which ``zoo predict --interval`` conformalizes.
    """

    component = "xgboost.quantile_regressor"
    task = "regression"

    def __init__(self, coverage=0.9, n_estimators=100, max_depth=6, learning_rate=0.3,
                 min_child_weight=1.0, subsample=1.0, colsample_bytree=1.0, reg_lambda=1.0,
                 reg_alpha=0.0, gamma=0.0, max_bin=256, tree_method="hist", n_jobs=2,
                 random_state=0):
        self.store_params(locals())

    def _objective(self, y_codes: Any) -> dict[str, Any]:
        if not 0.0 < float(self.coverage) < 1.0:
            raise DataError(f"coverage must be between 0 and 1, got {self.coverage}")
        low = (1.0 - float(self.coverage)) / 2.0
        return {"objective": "reg:quantileerror", "quantile_alpha": [low, 0.5, 1.0 - low]}

    def _predict(self, X: Any) -> Any:
        return self._raw(X)[:, 1]

    def predict_quantiles(self, X: Any) -> Any:
        """``(n, 2)``: the lower and upper quantile per row (sorted, so they never cross)."""
        import numpy as np

        out = self._raw(self._check(X))
        return np.sort(out[:, [0, 2]], axis=1)


def _outside_file(model: XGBoostModel, booster: Any, config: dict[str, Any]) -> None:
    import numpy as np

    if booster.feature_names:
        model.feature_names_in_ = np.asarray(booster.feature_names, dtype=object)
    if model.task == "classification":
        n_class = int(config["learner"]["learner_model_param"].get("num_class", "0") or 0)
        model.classes_ = np.arange(max(2, n_class))


def adopt(obj: Any) -> XGBoostModel | None:
    """The component wrapping an xgboost model fitted outside zoo (``XGBClassifier``,
    ``XGBRegressor`` or a ``Booster``), chosen by its objective; else None."""
    import json

    import numpy as np
    import xgboost as xgb

    booster = obj.get_booster() if isinstance(obj, xgb.XGBModel) else obj
    if not isinstance(booster, xgb.Booster):
        return None
    try:
        booster.num_boosted_rounds()
    except xgb.core.XGBoostError:
        raise DataError("cannot register this xgboost model: it is not fitted (call fit first)") from None
    objective = json.loads(booster.save_config())["learner"]["objective"]["name"]
    cls = XGBoostClassifierModel if objective in _OBJECTIVES["xgboost.classifier"] else None
    if cls is None and objective.startswith("reg:") and objective != "reg:quantileerror":
        cls = XGBoostRegressorModel
    if cls is None:
        raise DataError(f"cannot register an xgboost {objective} model: zoo adopts binary:logistic, "
                        "multi:softprob and reg: regression models")
    if any(t == "c" for t in booster.feature_types or ()):
        raise DataError("cannot register an xgboost model trained on pandas categories: its "
                        "category codes live in the training DataFrame; train it with zoo train")
    # A copy (through the saved bytes, as load does), so later changes to obj do not reach it.
    model = cls(n_estimators=booster.num_boosted_rounds())
    if cls is XGBoostRegressorModel:
        model.objective = objective
    model.booster_ = xgb.Booster(model_file=bytearray(booster.save_raw(raw_format="ubj")))
    model.booster_.set_param({"nthread": model.n_jobs})
    names = booster.feature_names or [f"x{i}" for i in range(booster.num_features())]
    model.feature_names_in_ = np.asarray(names, dtype=object)
    if cls.task == "classification":
        classes = getattr(obj, "classes_", None)
        n_class = max(2, int(json.loads(booster.save_config())["learner"]["learner_model_param"]
                             .get("num_class", "0") or 0))
        model.classes_ = np.asarray(classes if classes is not None else np.arange(n_class))
    return model


def _array(X: Any) -> Any:
    """A float array of an aligned DataFrame: a view when its columns are already floats."""
    import numpy as np

    return X.to_numpy(dtype=np.float64, copy=False)


#: Every predictor this plugin registers.
PREDICTORS = (XGBoostClassifierModel, XGBoostRegressorModel, XGBoostQuantileRegressorModel)
