"""Tests for zoo_sklearn: every component keeps zoo's contract (the conformance kit) and
learns the datasets bundled with scikit-learn; artifacts with untrusted or foreign content
are refused; parameters reach the estimator with scikit-learn's defaults."""

import os

# OpenMP busy-waiting makes HistGradientBoosting 10-50x slower on a loaded machine;
# it must be set before scikit-learn loads OpenMP.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import functools
import warnings

import numpy as np
import pandas as pd
import pytest
import skops.io
from sklearn.base import clone
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

from zoo import IntegrityError
from zoo.testing import check_plugin, parametrize_with_checks

# Small models keep the whole run to a few seconds.
SMALL = {
    "sklearn.random_forest_classifier": {"n_estimators": 20},
    "sklearn.random_forest_regressor": {"n_estimators": 30, "min_samples_leaf": 5},
    "sklearn.hist_gradient_boosting_classifier": {"max_iter": 30},
    "sklearn.hist_gradient_boosting_regressor": {"max_iter": 30},
}
# One non-default value per component, for the parameter tests.
OTHER = {
    "sklearn.logistic_regression": {"C": 0.5},
    "sklearn.random_forest_classifier": {"max_depth": 3},
    "sklearn.hist_gradient_boosting_classifier": {"learning_rate": 0.2},
    "sklearn.random_forest_regressor": {"min_samples_leaf": 3},
    "sklearn.hist_gradient_boosting_regressor": {"l2_regularization": 1.0},
    "sklearn.ridge": {"alpha": 10.0},
    "sklearn.linear_regression": {"fit_intercept": False},
    "sklearn.classifier": {"estimator": "sklearn.tree.DecisionTreeClassifier"},
    "sklearn.regressor": {"estimator": "sklearn.tree.DecisionTreeRegressor"},
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
#: Components whose parameters are scikit-learn's own (not sklearn.classifier/regressor,
#: whose one parameter names the estimator class).
MIRRORING = [pytest.param(cls, id=cls.component) for cls in PREDICTORS
             if "estimator" not in cls.param_defaults()]


@parametrize_with_checks([(cls, {"params": SMALL.get(cls.component, {})}) for cls in PREDICTORS])
def test_conformance(component, check):
    check(component)


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
def test_learns_the_bundled_datasets(cls, data):
    model = fitted(cls, data)
    _, X_test, _, y_test = dataset(data)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. "X does not have valid feature names"
        scores = model.validate(X_test, y_test)
    if cls.task == "classification":
        assert list(model.classes_) == sorted(set(y_test))
        floor = 0.9 if data == "binary" else 0.85
        assert scores["accuracy"] > floor and scores["f1"] > floor, scores
        assert scores["roc_auc"] > 0.95 and 0 < scores["log_loss"] < 0.5, scores
    else:
        # diabetes is noisy: linear models reach about 0.4 on this split.
        assert scores["r2"] > 0.2, scores
        assert 0 < scores["mae"] <= scores["rmse"] < float(np.std(y_test)), scores


@pytest.mark.parametrize("cls", BY_COMPONENT)
def test_a_file_loads_without_its_metadata(cls, tmp_path):
    # The estimator itself knows its columns and classes.
    model = fitted(cls, first_dataset(cls))
    _, X_test, _, _ = dataset(first_dataset(cls))
    model.save(tmp_path / "model.skops")
    bare = cls.load(tmp_path / "model.skops")
    assert bare.feature_names == model.feature_names
    assert np.array_equal(bare.predict(X_test), model.predict(X_test))
    assert bare.get_params() == model.get_params()


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


@pytest.mark.parametrize("cls", MIRRORING)
def test_params_reach_the_estimator_with_sklearns_defaults(cls):
    model = cls(**OTHER[cls.component])
    core = cls._core(model._make_estimator())
    assert {k: core.get_params()[k] for k in model.get_params()} == model.get_params()
    sklearn_defaults = type(core)().get_params()
    for name, default in cls.param_defaults().items():
        overridden = {**OVERRIDDEN_DEFAULTS, **OVERRIDDEN_BY_COMPONENT.get(cls.component, {})}
        expected = overridden.get(name, sklearn_defaults[name])
        assert default == expected, f"{cls.component}.{name}"


def test_clone_and_nested_params_as_in_scikit_learn():
    model = RidgeModel(alpha=3.0)
    copy = clone(model)
    assert type(copy) is RidgeModel and copy is not model and copy.get_params() == model.get_params()
    # A zoo model nested in a scikit-learn meta-estimator: name__param reaches it.
    from sklearn.ensemble import BaggingRegressor

    bag = BaggingRegressor(estimator=model)
    bag.set_params(estimator__alpha=7.0)
    assert bag.get_params(deep=True)["estimator__alpha"] == 7.0 and model.alpha == 7.0


def test_plugin_registers_every_component_in_the_catalogue():
    # Needs the plugin installed: pip install -e plugins/zoo-sklearn
    entries = check_plugin("sklearn", PREDICTORS, heavy=("skops",))
    assert {(e["plugin_version"], e["artifact_format"]) for e in entries} == {("0.1.0", "skops")}
    assert {e["name"]: e["task"] for e in entries} == {cls.component: cls.task for cls in PREDICTORS}
