"""LightGBM predictors on the native ``lightgbm.train`` API, saved as LightGBM model text.

lightgbm and numpy are imported inside methods: the catalogue reads these classes' names,
docstrings and signatures without loading either. Parameters use the names of
lightgbm's scikit-learn wrapper (``n_estimators``, ``num_leaves``, ``min_child_samples``,
``subsample``, ...) with its defaults, except ``n_jobs`` (2: the library's default of
every core busy-waits on a shared machine) and ``random_state`` (0, so training is
reproducible). ``deterministic=True`` is always set, so the same data and parameters
give the same trees.

The booster is trained on a plain float array: zoo matches columns by name before the
booster sees them, and LightGBM rejects feature names holding JSON punctuation. The
model text stores every number with 17 significant digits, so a loaded model predicts
the same bits as the booster it was saved from.

Besides the ``BaseMLModel`` methods, every model here has ``decision_function(X)`` (the
raw score) and ``contributions(X)`` (TreeSHAP: per-feature contributions plus a last bias
column, summing to the raw score), which ``zoo explain`` uses.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from zoo import BaseMLModel, DataError, IntegrityError

_QUANTILE_FORMAT = "zoo-lightgbm-quantile/1"
#: ``lgb.train``'s name for each parameter (the scikit-learn wrapper's names are ours).
_NATIVE = {"learning_rate": "learning_rate", "num_leaves": "num_leaves", "max_depth": "max_depth",
           "min_child_samples": "min_data_in_leaf", "min_child_weight": "min_sum_hessian_in_leaf",
           "min_split_gain": "min_gain_to_split", "subsample": "bagging_fraction",
           "subsample_freq": "bagging_freq", "colsample_bytree": "feature_fraction", "reg_alpha": "lambda_l1",
           "reg_lambda": "lambda_l2", "max_bin": "max_bin", "n_jobs": "num_threads", "random_state": "seed"}


class LightGBMModel(BaseMLModel):
    """A gradient-boosted tree ensemble trained with LightGBM, saved as model text.

    Capabilities: ``zoo.SearchSpace`` (``search_space()``: the ranges ``zoo tune`` searches)
    and ``zoo.Contributions`` (``contributions(X)``: TreeSHAP in raw-score space, summing to
    ``decision_function(X)``, the raw score). Subclasses add their task's parameters and say
    which objective they train.
    """

    #: Missing values (NaN) are routed down each split's learned default branch.
    allow_missing = True
    artifact_format = "lightgbm-text"

    def __init__(self, n_estimators=100, learning_rate=0.1, num_leaves=31, max_depth=-1,
                 min_child_samples=20, min_child_weight=1e-3, min_split_gain=0.0, subsample=1.0,
                 subsample_freq=0, colsample_bytree=1.0, reg_alpha=0.0, reg_lambda=0.0,
                 max_bin=255, n_jobs=2, random_state=0):
        self.store_params(locals())

    @classmethod
    def search_space(cls) -> dict[str, dict[str, Any]]:
        """Ranges ``zoo tune`` searches when the user gives none."""
        return {
            "n_estimators": {"type": "int", "low": 50, "high": 500, "log": True},
            "learning_rate": {"type": "float", "low": 0.01, "high": 0.3, "log": True},
            "num_leaves": {"type": "int", "low": 7, "high": 127, "log": True},
            "min_child_samples": {"type": "int", "low": 5, "high": 100, "log": True},
            "subsample": {"type": "float", "low": 0.5, "high": 1.0},
            "subsample_freq": {"type": "choice", "choices": [0, 1]},
            "colsample_bytree": {"type": "float", "low": 0.5, "high": 1.0},
            "reg_lambda": {"type": "float", "low": 1e-3, "high": 10.0, "log": True},
        }

    # --- what subclasses define ---

    def _objective(self) -> dict[str, Any]:
        raise NotImplementedError

    def _target(self, y: Any) -> Any:
        return y.to_numpy(dtype="float64")  # fit has checked that a regressor's target is numeric

    # --- fitting and predicting ---

    def _train(self, X: Any, target: Any, objective: dict[str, Any]) -> Any:
        import lightgbm as lgb

        from zoo.data import categorical_columns

        params = {native: getattr(self, name) for name, native in _NATIVE.items()}
        params.update(deterministic=True, verbosity=-1, **objective)
        # Category columns arrive as level indices (NaN when missing): LightGBM splits on them
        # as categories when told which they are.
        categories = categorical_columns(getattr(self, "input_schema_", None))
        data = lgb.Dataset(_array(X), label=target, params={"verbosity": -1, "max_bin": self.max_bin},
                           categorical_feature=categories or "auto")
        return lgb.train(params, data, num_boost_round=int(self.n_estimators))

    def _fit(self, X: Any, y: Any) -> None:
        self.booster_ = self._train(X, self._target(y), self._objective())

    def _raw(self, X: Any, **kwargs: Any) -> Any:
        return self.booster_.predict(_array(X), num_threads=self.n_jobs, **kwargs)

    def decision_function(self, X: Any) -> Any:
        """The raw score (log-odds for classifiers): ``(n,)``, or ``(n, k)`` for k classes."""
        return self._raw(self._check(X), raw_score=True)

    def contributions(self, X: Any) -> Any:
        """TreeSHAP contributions in raw-score space: ``(n, p + 1)``, last column the bias.

        For k classes the shape is ``(n, k, p + 1)``. Each row sums to ``decision_function``.
        """
        out = self._raw(self._check(X), pred_contrib=True)
        k = getattr(self, "classes_", ())
        if len(k) > 2:
            return out.reshape(out.shape[0], len(k), -1)
        return out

    # --- persistence ---

    @property
    def metadata(self) -> dict[str, Any]:
        return {**super().metadata, "params": self.get_params()}

    def save(self, path: str | Path) -> None:
        """Write the booster to ``path`` as LightGBM model text (never pickle)."""
        self.check_fitted()
        Path(path).write_text(self.booster_.model_to_string(), encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path, metadata: dict[str, Any] | None = None) -> LightGBMModel:
        """Rebuild a fitted model from ``save``'s model text, refusing anything else."""
        model = cls._blank(metadata)
        model.booster_ = _booster(_read_text(path), path, cls._accepts)
        model.expect_features(model.booster_.num_feature(), metadata, path)
        if not metadata:  # a file from outside zoo (zoo register): its own names and classes
            import numpy as np

            names = model.booster_.feature_name()
            if names and not all(n == f"Column_{i}" for i, n in enumerate(names)):
                model.feature_names_in_ = np.asarray(names, dtype=object)
            if cls.task == "classification":
                model.classes_ = np.arange(max(2, model.booster_.num_model_per_iteration()))
        return model

    @classmethod
    def _accepts(cls, objective: str) -> bool:
        """Whether a saved objective (e.g. ``binary``) belongs to this component."""
        raise NotImplementedError

    @classmethod
    def _blank(cls, metadata: dict[str, Any] | None) -> LightGBMModel:
        known = cls.param_defaults()
        return cls(**{k: v for k, v in (metadata or {}).get("params", {}).items() if k in known})



class LightGBMClassifierModel(LightGBMModel):
    """LightGBM gradient-boosted trees classifier (binary or multiclass), saved as model text."""

    component = "lightgbm.classifier"
    task = "classification"

    def _target(self, y: Any) -> Any:
        import numpy as np

        return np.searchsorted(self.classes_, y.to_numpy()).astype(np.float64)

    def _objective(self) -> dict[str, Any]:
        if len(self.classes_) == 2:
            return {"objective": "binary"}
        return {"objective": "multiclass", "num_class": len(self.classes_)}

    @classmethod
    def _accepts(cls, objective: str) -> bool:
        return objective in ("binary", "multiclass")

    def _predict_proba(self, X: Any) -> Any:
        import numpy as np

        proba = self._raw(X)
        if proba.ndim == 1:
            return np.column_stack([1.0 - proba, proba])
        return proba


#: Objectives a regressor may not train: they belong to the classifier or quantile models.
_NOT_REGRESSION = {"binary", "multiclass", "multiclassova", "softmax", "ovr", "ova", "quantile",
                   "lambdarank", "rank_xendcg", "cross_entropy", "xentropy",
                   "cross_entropy_lambda", "xentlambda"}


class LightGBMRegressorModel(LightGBMModel):
    """LightGBM gradient-boosted trees regressor, saved as model text."""

    component = "lightgbm.regressor"
    task = "regression"

    def __init__(self, objective="regression", n_estimators=100, learning_rate=0.1, num_leaves=31,
                 max_depth=-1, min_child_samples=20, min_child_weight=1e-3, min_split_gain=0.0,
                 subsample=1.0, subsample_freq=0, colsample_bytree=1.0, reg_alpha=0.0,
                 reg_lambda=0.0, max_bin=255, n_jobs=2, random_state=0):
        self.store_params(locals())

    def _objective(self) -> dict[str, Any]:
        if self.objective in _NOT_REGRESSION:
            raise DataError(f"objective {self.objective!r} is not a regression objective here; "
                            "use lightgbm.classifier or lightgbm.quantile_regressor")
        return {"objective": self.objective}

    @classmethod
    def _accepts(cls, objective: str) -> bool:
        return objective not in _NOT_REGRESSION

    def _predict(self, X: Any) -> Any:
        return self._raw(X)


class LightGBMQuantileRegressorModel(LightGBMModel):
    """LightGBM regressor of the median plus a lower and upper quantile (for CQR intervals).

    Three boosters fit the quantiles ``(1 - coverage) / 2``, 0.5 and ``(1 + coverage) / 2``;
    ``predict`` returns the median and ``predict_quantiles`` the band (``zoo.QuantilePredictor``),
    which ``zoo predict --interval`` conformalizes. Saved as JSON holding the three model texts.
    """

    component = "lightgbm.quantile_regressor"
    task = "regression"
    artifact_format = "lightgbm-text-json"

    def __init__(self, coverage=0.9, n_estimators=100, learning_rate=0.1, num_leaves=31,
                 max_depth=-1, min_child_samples=20, min_child_weight=1e-3, min_split_gain=0.0,
                 subsample=1.0, subsample_freq=0, colsample_bytree=1.0, reg_alpha=0.0,
                 reg_lambda=0.0, max_bin=255, n_jobs=2, random_state=0):
        self.store_params(locals())

    def _quantiles(self) -> list[float]:
        if not 0.0 < float(self.coverage) < 1.0:
            raise DataError(f"coverage must be between 0 and 1, got {self.coverage}")
        low = (1.0 - float(self.coverage)) / 2.0
        return [low, 0.5, 1.0 - low]

    def _fit(self, X: Any, y: Any) -> None:
        target = self._target(y)
        self.boosters_ = [self._train(X, target, {"objective": "quantile", "alpha": q})
                          for q in self._quantiles()]
        self.booster_ = self.boosters_[1]  # the median: what predict, explain and contributions use

    @classmethod
    def _accepts(cls, objective: str) -> bool:
        return objective == "quantile"

    def _predict(self, X: Any) -> Any:
        return self._raw(X)

    def predict_quantiles(self, X: Any) -> Any:
        """``(n, 2)``: the lower and upper quantile per row (sorted, so they never cross)."""
        import numpy as np

        arr = _array(self._check(X))
        low, high = (self.boosters_[i].predict(arr, num_threads=self.n_jobs) for i in (0, 2))
        return np.sort(np.column_stack([low, high]), axis=1)

    def save(self, path: str | Path) -> None:
        """Write the three boosters' model texts to ``path`` in one JSON document."""
        self.check_fitted()
        doc = {"format": _QUANTILE_FORMAT, "quantiles": self._quantiles(),
               "models": [b.model_to_string() for b in self.boosters_]}
        Path(path).write_text(json.dumps(doc), encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path, metadata: dict[str, Any] | None = None) -> LightGBMModel:
        """Rebuild a fitted model from ``save``'s JSON, refusing anything else."""
        try:
            doc = json.loads(_read_text(path))
        except ValueError:
            doc = None
        if not isinstance(doc, dict) or doc.get("format") != _QUANTILE_FORMAT or not (
            isinstance(doc.get("models"), list) and len(doc["models"]) == 3
            and all(isinstance(m, str) for m in doc["models"])
        ):
            raise IntegrityError(f"refusing to load {path}: not a {cls.component} artifact")
        model = cls._blank(metadata)
        model.boosters_ = [_booster(text, path, cls._accepts) for text in doc["models"]]
        model.booster_ = model.boosters_[1]
        model.expect_features(model.booster_.num_feature(), metadata, path)
        return model


def _read_text(path: str | Path) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise IntegrityError(f"refusing to load {path}: not LightGBM model text") from None


def _booster(text: str, path: str | Path, accepts: Any) -> Any:
    """A booster from model text whose objective ``accepts`` allows."""
    import lightgbm as lgb

    # Check the header before handing the text to the parser: it must be a tree model
    # of the right objective.
    header = text[:20_000].splitlines()
    objective = next((line.split("=", 1)[1].split()[0] for line in header
                      if line.startswith("objective=") and "=" in line and line.split("=", 1)[1]),
                     None)
    if not header or header[0].strip() != "tree" or objective is None:
        raise IntegrityError(f"refusing to load {path}: not LightGBM model text")
    if not accepts(objective):
        raise IntegrityError(f"refusing to load {path}: it holds a LightGBM {objective} model, "
                             "which this component does not save")
    from zoo_lightgbm.validate import check_model_text

    check_model_text(text)  # crafted trees never reach LightGBM's C++ (validate.py)
    try:
        return lgb.Booster(model_str=text)
    except lgb.basic.LightGBMError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "unreadable"
        raise IntegrityError(f"refusing to load {path}: not LightGBM model text ({first})") from None


def adopt(obj: Any) -> LightGBMModel | None:
    """The component wrapping a LightGBM model fitted outside zoo (an ``LGBMModel`` or a
    ``Booster``), chosen by its objective; else None."""
    import lightgbm as lgb
    import numpy as np

    if isinstance(obj, lgb.LGBMModel):
        if not getattr(obj, "fitted_", False):
            raise DataError("cannot register this LightGBM model: it is not fitted (call fit first)")
        booster = obj.booster_
    elif isinstance(obj, lgb.Booster):
        booster = obj
    else:
        return None
    if booster.pandas_categorical:
        raise DataError("cannot register a LightGBM model trained on pandas categories: its "
                        "category codes live in the training DataFrame; train it with zoo train")
    text = booster.model_to_string()
    objective = next((line.split("=", 1)[1].split()[0] for line in text[:20_000].splitlines()
                      if line.startswith("objective=")), "")
    cls = next((c for c in (LightGBMClassifierModel, LightGBMRegressorModel)
                if c._accepts(objective)), None)
    if cls is None:
        raise DataError(f"cannot register a LightGBM {objective or 'unknown'} model: zoo adopts "
                        "binary, multiclass and regression models")
    model = cls._blank(None)
    if cls is LightGBMRegressorModel:
        model.objective = objective
    model.n_estimators = booster.current_iteration()
    model.booster_ = _booster(text, "the model", cls._accepts)  # a copy, as load makes it
    names = booster.feature_name()
    if isinstance(obj, lgb.LGBMModel) and getattr(obj, "feature_names_in_", None) is not None:
        names = list(obj.feature_names_in_)
    model.feature_names_in_ = np.asarray(names, dtype=object)
    if cls.task == "classification":
        classes = getattr(obj, "classes_", None)
        n_class = max(2, booster.num_model_per_iteration())
        model.classes_ = np.asarray(classes if classes is not None else np.arange(n_class))
    return model


def _array(X: Any) -> Any:
    """A float array of an aligned DataFrame: a view when its columns are already floats."""
    import numpy as np

    return X.to_numpy(dtype=np.float64, copy=False)


#: Every predictor this plugin registers.
PREDICTORS = (LightGBMClassifierModel, LightGBMRegressorModel, LightGBMQuantileRegressorModel)
