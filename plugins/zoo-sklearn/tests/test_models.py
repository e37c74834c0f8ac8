"""Tests for zoo_sklearn: every component fits, validates, saves and loads; artifacts with
untrusted or foreign content are refused; the entry module stays light."""

import os

# OpenMP busy-waiting makes HistGradientBoosting 10-50x slower on a loaded machine;
# it must be set before scikit-learn loads OpenMP.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import functools
import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest
import skops.io
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris
from sklearn.linear_model import Ridge
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer
from zoo_sklearn.models import (
    PREDICTORS,
    TRUSTED_TYPES,
    RandomForestRegressorModel,
    RidgeModel,
)

import zoo.plugins
from zoo.catalogue import build_catalogue
from zoo.errors import IntegrityError

# Small models keep the whole run to a few seconds.
SMALL = {
    "sklearn.random_forest_classifier": {"n_estimators": 20},
    "sklearn.random_forest_regressor": {"n_estimators": 30, "min_samples_leaf": 5},
    "sklearn.hist_gradient_boosting_classifier": {"max_iter": 30},
    "sklearn.hist_gradient_boosting_regressor": {"max_iter": 30},
}
# One non-default value per component, for the get/set_params tests.
OTHER = {
    "sklearn.logistic_regression": {"C": 0.5},
    "sklearn.random_forest_classifier": {"max_depth": 3},
    "sklearn.hist_gradient_boosting_classifier": {"learning_rate": 0.2},
    "sklearn.random_forest_regressor": {"min_samples_leaf": 3},
    "sklearn.hist_gradient_boosting_regressor": {"l2_regularization": 1.0},
    "sklearn.ridge": {"alpha": 10.0},
    "sklearn.linear_regression": {"fit_intercept": False},
}
# Where our defaults differ from scikit-learn's, on purpose.
OVERRIDDEN_DEFAULTS = {"random_state": 0}
OVERRIDDEN_BY_COMPONENT = {"sklearn.logistic_regression": {"max_iter": 1000}}

CASES = [
    pytest.param(cls, data, id=f"{cls.component.removeprefix('sklearn.')}-{data}")
    for cls in PREDICTORS
    for data in (("binary", "multiclass") if cls.task == "classification" else ("regression",))
]
BY_COMPONENT = [pytest.param(cls, id=cls.component) for cls in PREDICTORS]


@functools.cache
def dataset(name):
    """(X_train, X_test, y_train, y_test) from a dataset bundled with scikit-learn."""
    if name == "binary":
        bunch = load_breast_cancer(as_frame=True)
        y = bunch.target
    elif name == "multiclass":
        bunch = load_iris(as_frame=True)
        # String labels check that classes survive fit, save and load as themselves.
        y = pd.Series(bunch.target_names[bunch.target], name="species")
    else:
        bunch = load_diabetes(as_frame=True)
        y = bunch.target
    stratify = None if name == "regression" else y
    return train_test_split(bunch.data, y, test_size=0.3, random_state=0, stratify=stratify)


@functools.cache
def fitted(cls, data):
    X_train, _, y_train, _ = dataset(data)
    return cls(**SMALL.get(cls.component, {})).fit(X_train, y_train)


def first_dataset(cls):
    return "binary" if cls.task == "classification" else "regression"


@pytest.mark.parametrize(("cls", "data"), CASES)
def test_fit_predict_and_validate(cls, data):
    model = fitted(cls, data)
    _, X_test, _, y_test = dataset(data)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. "X does not have valid feature names"
        pred = model.predict(X_test)
        scores = model.validate(X_test, y_test)
        proba = model.predict_proba(X_test) if cls.task == "classification" else None

    assert len(pred) == len(X_test)
    if cls.task == "classification":
        assert set(pred) <= set(model.classes_)
        assert list(model.classes_) == sorted(set(y_test))
        assert proba.shape == (len(X_test), len(model.classes_))
        np.testing.assert_allclose(proba.sum(axis=1), 1.0)
        # Columns follow classes_: the most probable column is the predicted label.
        assert np.array_equal(model.classes_[proba.argmax(axis=1)], pred)
        assert set(scores) == {"accuracy", "roc_auc", "f1", "log_loss"}
        floor = 0.9 if data == "binary" else 0.85
        assert scores["accuracy"] > floor, scores
        assert scores["f1"] > floor, scores
        assert scores["roc_auc"] > 0.95, scores
        assert 0 < scores["log_loss"] < 0.5, scores
    else:
        assert set(scores) == {"rmse", "mae", "r2"}
        # diabetes is noisy: linear models reach about 0.4 on this split.
        assert scores["r2"] > 0.2, scores
        assert 0 < scores["mae"] <= scores["rmse"] < float(np.std(y_test)), scores


def test_regressors_have_no_predict_proba():
    with pytest.raises(AttributeError, match="regression"):
        fitted(RidgeModel, "regression").predict_proba(dataset("regression")[1])


@pytest.mark.parametrize(("cls", "data"), CASES)
def test_save_load_reproduces_predictions(cls, data, tmp_path):
    model = fitted(cls, data)
    _, X_test, _, _ = dataset(data)
    path = tmp_path / "model.skops"
    model.save(path)

    loaded = cls.load(path, model.metadata)

    assert np.array_equal(loaded.predict(X_test), model.predict(X_test))
    if cls.task == "classification":
        assert np.array_equal(loaded.predict_proba(X_test), model.predict_proba(X_test))
    assert loaded.get_params() == model.get_params()
    assert loaded.metadata == model.metadata
    # Without metadata the estimator still knows its columns and classes.
    bare = cls.load(path)
    assert bare.feature_names == model.feature_names
    assert np.array_equal(bare.predict(X_test), model.predict(X_test))


def test_trusted_types_are_exactly_what_the_estimators_need(tmp_path):
    needed = set()
    for cls in PREDICTORS:
        path = tmp_path / f"{cls.component}.skops"
        fitted(cls, first_dataset(cls)).save(path)
        needed |= set(skops.io.get_untrusted_types(file=path))
    assert needed == set(TRUSTED_TYPES)


def _identity(X):
    return X


@pytest.mark.parametrize(
    ("estimator", "untrusted"),
    [
        pytest.param(make_pipeline(FunctionTransformer(eval), Ridge()), "builtins.eval",
                     id="builtin"),
        pytest.param(Ridge(alpha=functools.partial(float, "1")), "functools.partial",
                     id="partial"),
        pytest.param(make_pipeline(FunctionTransformer(_identity), Ridge()), "._identity",
                     id="function"),
    ],
)
def test_untrusted_type_is_refused(estimator, untrusted, tmp_path):
    path = tmp_path / "evil.skops"
    skops.io.dump(estimator, path)
    with pytest.raises(IntegrityError, match="untrusted type") as caught:
        RidgeModel.load(path, {})
    message = str(caught.value)
    assert untrusted in message
    assert "\n" not in message


def test_another_estimator_is_refused(tmp_path):
    path = tmp_path / "forest.skops"
    fitted(RandomForestRegressorModel, "regression").save(path)
    with pytest.raises(IntegrityError, match="holds a RandomForestRegressor"):
        RidgeModel.load(path, {})


def test_a_file_that_is_not_skops_is_refused(tmp_path):
    path = tmp_path / "model.skops"
    path.write_bytes(b"\x80\x04not a zip file")
    with pytest.raises(IntegrityError, match="not a skops file"):
        RidgeModel.load(path, {})


def test_save_before_fit_raises(tmp_path):
    with pytest.raises(RuntimeError, match="not fitted"):
        RidgeModel().save(tmp_path / "model.skops")


@pytest.mark.parametrize("cls", BY_COMPONENT)
def test_training_is_reproducible(cls):
    data = first_dataset(cls)
    X_train, X_test, y_train, _ = dataset(data)
    again = cls(**SMALL.get(cls.component, {})).fit(X_train, y_train)
    assert np.array_equal(again.predict(X_test), fitted(cls, data).predict(X_test))


@pytest.mark.parametrize("cls", BY_COMPONENT)
def test_get_set_params_round_trip(cls):
    model = cls()
    assert model.get_params() == cls.param_defaults()
    model.set_params(**OTHER[cls.component])
    params = model.get_params()
    assert params == {**cls.param_defaults(), **OTHER[cls.component]}
    assert cls(**params).get_params() == params
    with pytest.raises(ValueError, match="no parameter 'nope'"):
        model.set_params(nope=1)


@pytest.mark.parametrize("cls", BY_COMPONENT)
def test_params_reach_the_estimator_with_sklearns_defaults(cls):
    model = cls(**OTHER[cls.component])
    core = cls._core(model._make_estimator())
    assert {k: core.get_params()[k] for k in model.get_params()} == model.get_params()
    sklearn_defaults = type(core)().get_params()
    for name, default in cls.param_defaults().items():
        overridden = {**OVERRIDDEN_DEFAULTS, **OVERRIDDEN_BY_COMPONENT.get(cls.component, {})}
        expected = overridden.get(name, sklearn_defaults[name])
        assert default == expected, f"{cls.component}.{name}"


def test_entry_module_imports_no_heavy_library():
    code = (
        "import zoo_sklearn\n"
        "zoo_sklearn.register_predictors(lambda cls: (cls.description(), cls.param_defaults()))"
    )
    result = subprocess.run([sys.executable, "-X", "importtime", "-c", code],
                            capture_output=True, text=True, check=True)
    imported = [line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines()
                if line.startswith("import time:")]
    heavy = [m for m in imported if m.split(".")[0] in {"sklearn", "skops", "numpy", "pandas"}]
    assert heavy == []


def test_plugin_registers_every_component_in_the_catalogue(monkeypatch):
    # Needs the plugin installed: pip install -e plugins/zoo-sklearn
    monkeypatch.setenv("ZOO_LOAD_PLUGINS", "sklearn")
    monkeypatch.setenv("ZOO_STRICT_PLUGINS", "1")
    zoo.plugins.reset()
    try:
        plugins = zoo.plugins.get_plugins()
        assert "sklearn" in plugins.infos, "install the plugin: pip install -e plugins/zoo-sklearn"
        assert plugins.infos["sklearn"].error is None
        catalogue = build_catalogue(plugins)
    finally:
        zoo.plugins.reset()

    for cls in PREDICTORS:
        info = catalogue.get(cls.component, kind="predictor")
        assert info.cls is cls
        assert (info.plugin, info.plugin_version) == ("sklearn", "0.1.0")
        assert info.artifact_format == "skops"
        assert info.task == cls.task
        assert info.description == cls.description() != ""
        assert info.params == cls.param_defaults()
    assert catalogue.conflicts == []
