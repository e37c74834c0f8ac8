"""Tests for zoo_xgboost: every component keeps zoo's contract (the conformance kit: fit,
predict, save and reload to the same bits, in Python and through a real registry) and
learns the kit's data; TreeSHAP contributions add up to the library's own margin; the plugin
works after `zoo install` into a fresh virtual environment; foreign artifacts are refused."""

import os

# OpenMP busy-waiting makes xgboost 10-50x slower on a loaded machine; set before it loads.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import functools
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xgboost as xgb
from sklearn.datasets import load_diabetes
from zoo_xgboost.models import (
    PREDICTORS,
    XGBoostClassifierModel,
    XGBoostQuantileRegressorModel,
    XGBoostRegressorModel,
)

from zoo import DataError, IntegrityError
from zoo.testing import check_install, check_plugin, parametrize_with_checks, predictor_data

PLUGIN = Path(__file__).resolve().parents[1]
SMALL = {"n_estimators": 30, "max_depth": 4, "n_jobs": 1}
FLOORS = {"classification": {"accuracy": 0.6, "roc_auc": 0.85}, "regression": {"r2": 0.5}}


@parametrize_with_checks([(cls, {"params": SMALL, "floors": FLOORS[cls.task]}) for cls in PREDICTORS])
def test_conformance(component, check):
    check(component)


@functools.cache
def fitted(cls, name):
    """``cls`` fitted on the kit's ``name`` data (binary, multiclass or regression), and that data."""
    data = next(d for d in predictor_data(cls.task) if d.name == name)
    return cls(**SMALL).fit(data.X, data.y), data


@functools.cache
def diabetes(cls):
    """``cls`` fitted on the diabetes data bundled with scikit-learn (targets 25-346), and the data."""
    X, y = load_diabetes(return_X_y=True, as_frame=True)
    return cls(**SMALL).fit(X, y), X, y


@pytest.mark.parametrize(("cls", "name", "shape"), [
    (XGBoostClassifierModel, "binary", (60, 5)),
    (XGBoostClassifierModel, "multiclass", (60, 3, 5)),
    (XGBoostRegressorModel, "regression", (60, 5)),
    (XGBoostQuantileRegressorModel, "regression", (60, 3, 5)),  # one set per quantile
])
def test_contributions_add_up_to_the_librarys_own_margin(cls, name, shape):
    model, data = fitted(cls, name)
    contrib, margin = model.contributions(data.new), model.decision_function(data.new)
    assert contrib.shape == shape and np.abs(contrib.sum(axis=-1) - margin).max() < 1e-4
    raw = model.booster_.predict(xgb.DMatrix(data.new.to_numpy()), output_margin=True)
    np.testing.assert_allclose(margin, raw, atol=1e-6)


def test_contributions_match_the_margin_to_float32_precision_on_large_targets():
    # xgboost sums in float32, whose spacing near 300 is 3e-5: an absolute bound would not hold.
    model, X, _ = diabetes(XGBoostRegressorModel)
    margin = model.decision_function(X).astype(np.float64)
    total = model.contributions(X).astype(np.float64).sum(axis=1)
    assert np.max(np.abs(total - margin) / np.abs(margin)) < 1e-6


def test_quantile_regressor_band_holds_the_median_and_roughly_covers():
    model, X, y = diabetes(XGBoostQuantileRegressorModel)
    band, median = model.predict_quantiles(X), model.predict(X)
    assert np.mean((band[:, 0] <= median) & (median <= band[:, 1])) > 0.95
    covered = np.mean((band[:, 0] <= y) & (y <= band[:, 1]))
    assert 0.7 < covered < 1.0  # in-sample and unconformalized: only a sanity check


def test_params_reach_the_booster():
    data = predictor_data("regression")[0]
    model = XGBoostRegressorModel(n_estimators=7, max_depth=2, learning_rate=0.2, n_jobs=1,
                                  objective="reg:absoluteerror").fit(data.X, data.y)
    config = json.loads(model.booster_.save_config())["learner"]
    assert model.booster_.num_boosted_rounds() == 7
    assert config["objective"]["name"] == "reg:absoluteerror"
    assert config["gradient_booster"]["tree_train_param"]["max_depth"] == "2"
    assert float(config["gradient_booster"]["tree_train_param"]["eta"]) == pytest.approx(0.2)


def test_a_classification_objective_is_refused_by_the_regressor():
    with pytest.raises(DataError, match="not a regression objective"):
        XGBoostRegressorModel(objective="binary:logistic").fit(pd.DataFrame({"a": [1.0, 2.0]}), [0.0, 1.0])


def test_the_artifact_is_ubjson_and_foreign_files_are_refused(tmp_path):
    path = tmp_path / "model"
    fitted(XGBoostClassifierModel, "binary")[0].save(path)
    assert path.read_bytes()[:1] == b"{"  # UBJSON opens with an object marker, not a pickle opcode
    with pytest.raises(IntegrityError, match="binary:logistic"):
        XGBoostRegressorModel.load(path, {})
    fitted(XGBoostRegressorModel, "regression")[0].save(path)
    with pytest.raises(IntegrityError, match="reg:squarederror"):
        XGBoostClassifierModel.load(path, {})
    path.write_bytes(b"\x80\x04not a model")
    with pytest.raises(IntegrityError, match="not an XGBoost model"):
        XGBoostRegressorModel.load(path, {})


def test_plugin_registers_every_component_in_the_catalogue():
    # Needs the plugin installed: pip install -e plugins/zoo-xgboost
    entries = check_plugin("xgboost", PREDICTORS, heavy=("xgboost",))
    assert {(e["plugin_version"], e["artifact_format"]) for e in entries} == {("0.1.0", "xgboost-ubj")}


@pytest.mark.slow
def test_zoo_install_into_a_fresh_virtualenv_then_train_and_reload():
    check_install(PLUGIN, "xgboost", XGBoostClassifierModel, {"n_estimators": 10, "n_jobs": 1})
