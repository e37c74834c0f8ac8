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

from zoo.errors import DataError, IntegrityError
from zoo.interfaces import BaseMLModel

_QUANTILE_FORMAT = "zoo-lightgbm-quantile/1"


class LightGBMModel(BaseMLModel):
    """A gradient-boosted tree ensemble trained with LightGBM, saved as model text.

    Subclasses add their task's parameters and say which objective they train.
    """

    #: Missing values (NaN) are routed down each split's learned default branch.
    allow_missing = True
    artifact_format = "lightgbm-text"

    def __init__(self, n_estimators=100, learning_rate=0.1, num_leaves=31, max_depth=-1,
                 min_child_samples=20, min_child_weight=1e-3, min_split_gain=0.0, subsample=1.0,
                 subsample_freq=0, colsample_bytree=1.0, reg_alpha=0.0, reg_lambda=0.0,
                 max_bin=255, n_jobs=2, random_state=0):
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.max_depth = max_depth
        self.min_child_samples = min_child_samples
        self.min_child_weight = min_child_weight
        self.min_split_gain = min_split_gain
        self.subsample = subsample
        self.subsample_freq = subsample_freq
        self.colsample_bytree = colsample_bytree
        self.reg_alpha = reg_alpha
        self.reg_lambda = reg_lambda
        self.max_bin = max_bin
        self.n_jobs = n_jobs
        self.random_state = random_state

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
        import numpy as np

        try:
            return y.to_numpy(dtype=np.float64)
        except (TypeError, ValueError):
            raise DataError(f"target {y.name!r} must be numeric for {self.component}") from None

    # --- fitting and predicting ---

    def _params(self) -> dict[str, Any]:
        return {
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "max_depth": self.max_depth,
            "min_data_in_leaf": self.min_child_samples,
            "min_sum_hessian_in_leaf": self.min_child_weight,
            "min_gain_to_split": self.min_split_gain,
            "bagging_fraction": self.subsample,
            "bagging_freq": self.subsample_freq,
            "feature_fraction": self.colsample_bytree,
            "lambda_l1": self.reg_alpha,
            "lambda_l2": self.reg_lambda,
            "max_bin": self.max_bin,
            "num_threads": self.n_jobs,
            "seed": self.random_state,
            "deterministic": True,
            "verbosity": -1,
        }

    def _train(self, X: Any, target: Any, objective: dict[str, Any]) -> Any:
        import lightgbm as lgb

        params = {**self._params(), **objective}
        data = lgb.Dataset(_array(X), label=target, params={"verbosity": -1, "max_bin": self.max_bin})
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
        if not hasattr(self, "booster_"):
            raise RuntimeError(f"{type(self).__name__} is not fitted: call fit() first")
        Path(path).write_text(self.booster_.model_to_string(), encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path, metadata: dict[str, Any] | None = None) -> LightGBMModel:
        """Rebuild a fitted model from ``save``'s model text, refusing anything else."""
        model = cls._blank(metadata)
        model.booster_ = _booster(_read_text(path), path, cls._accepts)
        model._restore_features(model.booster_.num_feature(), path)
        return model

    @classmethod
    def _accepts(cls, objective: str) -> bool:
        """Whether a saved objective (e.g. ``binary``) belongs to this component."""
        raise NotImplementedError

    @classmethod
    def _blank(cls, metadata: dict[str, Any] | None) -> LightGBMModel:
        metadata = metadata or {}
        known = cls.param_defaults()
        model = cls(**{k: v for k, v in metadata.get("params", {}).items() if k in known})
        model._restore_metadata(metadata)
        return model

    def _restore_features(self, n_features: int, path: str | Path) -> None:
        import numpy as np

        if hasattr(self, "feature_names_in_") and len(self.feature_names_in_) != n_features:
            raise IntegrityError(f"refusing to load {path}: the booster has {n_features} features "
                                 f"but its metadata names {len(self.feature_names_in_)}")
        if not hasattr(self, "feature_names_in_"):
            self.feature_names_in_ = np.asarray([f"x{i}" for i in range(n_features)], dtype=object)


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

    def _predict(self, X: Any) -> Any:
        return self.classes_[self._predict_proba(X).argmax(axis=1)]


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
        super().__init__(n_estimators=n_estimators, learning_rate=learning_rate,
                         num_leaves=num_leaves, max_depth=max_depth,
                         min_child_samples=min_child_samples, min_child_weight=min_child_weight,
                         min_split_gain=min_split_gain, subsample=subsample,
                         subsample_freq=subsample_freq, colsample_bytree=colsample_bytree,
                         reg_alpha=reg_alpha, reg_lambda=reg_lambda, max_bin=max_bin,
                         n_jobs=n_jobs, random_state=random_state)
        self.objective = objective

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
    ``predict`` returns the median and ``predict_quantiles`` the band, which
    ``zoo predict --interval`` conformalizes. Saved as JSON holding the three model texts.
    """

    component = "lightgbm.quantile_regressor"
    task = "regression"
    artifact_format = "lightgbm-text-json"

    def __init__(self, coverage=0.9, n_estimators=100, learning_rate=0.1, num_leaves=31,
                 max_depth=-1, min_child_samples=20, min_child_weight=1e-3, min_split_gain=0.0,
                 subsample=1.0, subsample_freq=0, colsample_bytree=1.0, reg_alpha=0.0,
                 reg_lambda=0.0, max_bin=255, n_jobs=2, random_state=0):
        super().__init__(n_estimators=n_estimators, learning_rate=learning_rate,
                         num_leaves=num_leaves, max_depth=max_depth,
                         min_child_samples=min_child_samples, min_child_weight=min_child_weight,
                         min_split_gain=min_split_gain, subsample=subsample,
                         subsample_freq=subsample_freq, colsample_bytree=colsample_bytree,
                         reg_alpha=reg_alpha, reg_lambda=reg_lambda, max_bin=max_bin,
                         n_jobs=n_jobs, random_state=random_state)
        self.coverage = coverage

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
        if not hasattr(self, "boosters_"):
            raise RuntimeError(f"{type(self).__name__} is not fitted: call fit() first")
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
        model._restore_features(model.booster_.num_feature(), path)
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
    try:
        return lgb.Booster(model_str=text)
    except lgb.basic.LightGBMError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "unreadable"
        raise IntegrityError(f"refusing to load {path}: not LightGBM model text ({first})") from None


def _array(X: Any) -> Any:
    """A float array of an aligned DataFrame: a view when its columns are already floats."""
    import numpy as np

    return X.to_numpy(dtype=np.float64, copy=False)


#: Every predictor this plugin registers.
PREDICTORS = (LightGBMClassifierModel, LightGBMRegressorModel, LightGBMQuantileRegressorModel)
