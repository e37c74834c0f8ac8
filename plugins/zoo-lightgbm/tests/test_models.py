"""Tests for zoo_lightgbm: every component keeps zoo's contract (the conformance kit: fit,
predict, save and reload to the same bits, in Python and through a real registry) and
learns the kit's data; TreeSHAP contributions add up to the library's raw score; the quantile
model keeps one booster per quantile; the plugin works after `zoo install` into a fresh
virtual environment; anything but this plugin's model text is refused."""

import os

# OpenMP busy-waiting makes lightgbm 10-50x slower on a loaded machine; set before it loads.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import functools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_diabetes
from zoo_lightgbm.models import (
    PREDICTORS,
    LightGBMClassifierModel,
    LightGBMQuantileRegressorModel,
    LightGBMRegressorModel,
)

from zoo import DataError, IntegrityError
from zoo.testing import check_install, check_plugin, parametrize_with_checks, predictor_data

SMALL = {"n_estimators": 30, "num_leaves": 15, "min_child_samples": 5, "n_jobs": 1}
#: What every model must score on held-out rows of the kit's data (chance: 0.33-0.5 and 0).
LEARNS = {"classification": {"accuracy": 0.6, "roc_auc": 0.85}, "regression": {"r2": 0.5}}
KIT = {name: [d for d in predictor_data(task) if d.name == name][0]
       for task, name in [("classification", "binary"), ("classification", "multiclass"),
                          ("regression", "regression")]}


@parametrize_with_checks([(cls, {"params": SMALL, "floors": LEARNS[cls.task]}) for cls in PREDICTORS])
def test_conformance(component, check):
    check(component)


@functools.cache
def trained(cls, name="regression"):
    return cls(**SMALL).fit(KIT[name].X, KIT[name].y)


@pytest.mark.parametrize(("cls", "name"), [(LightGBMClassifierModel, "binary"),
                                           (LightGBMClassifierModel, "multiclass"),
                                           (LightGBMRegressorModel, "regression"),
                                           (LightGBMQuantileRegressorModel, "regression")])
def test_contributions_sum_to_the_raw_score_of_the_booster(cls, name):
    model, X = trained(cls, name), KIT[name].new
    raw = model.decision_function(X)
    # One set of contributions per class for multiclass; the median's for the quantile model.
    assert model.contributions(X).shape == ((60, 3, 5) if name == "multiclass" else (60, 5))
    assert np.abs(model.contributions(X).sum(axis=-1) - raw).max() < 1e-4
    assert np.array_equal(raw, model.booster_.predict(X.to_numpy(), raw_score=True))


def test_contributions_match_the_raw_score_on_large_targets():
    # Diabetes targets run to ~350; LightGBM sums in float64, so the match is near exact.
    X, y = load_diabetes(return_X_y=True, as_frame=True)
    model = LightGBMRegressorModel(**SMALL).fit(X, y)
    assert np.abs(model.contributions(X).sum(axis=1) - model.decision_function(X)).max() < 1e-9


def test_quantile_regressor_keeps_one_booster_per_quantile_and_its_band_roughly_covers():
    X, y = load_diabetes(return_X_y=True, as_frame=True)
    model = LightGBMQuantileRegressorModel(**SMALL).fit(X, y)
    assert [b.params["alpha"] for b in model.boosters_] == pytest.approx([0.05, 0.5, 0.95])
    assert model.booster_ is model.boosters_[1]
    band, median = model.predict_quantiles(X), model.predict(X)
    assert np.mean((band[:, 0] <= median) & (median <= band[:, 1])) > 0.95
    assert 0.7 < np.mean((band[:, 0] <= y) & (y <= band[:, 1])) < 1.0  # a sanity check only


def test_params_reach_the_booster():
    model = LightGBMRegressorModel(n_estimators=7, num_leaves=5, learning_rate=0.2, n_jobs=1,
                                   objective="huber").fit(KIT["regression"].X, KIT["regression"].y)
    params = model.booster_.params
    assert model.booster_.num_trees() == 7
    assert params["objective"] == "huber" and params["num_leaves"] == 5
    assert params["learning_rate"] == pytest.approx(0.2) and params["num_threads"] == 1
    assert params["deterministic"] is True


def test_the_regressor_refuses_a_classification_objective():
    with pytest.raises(DataError, match="not a regression objective"):
        LightGBMRegressorModel(objective="binary", **SMALL).fit(pd.DataFrame({"a": [1.0, 2.0]}), [0.0, 1.0])


@pytest.mark.parametrize("cls", PREDICTORS)
def test_the_artifact_is_model_text(cls, tmp_path):
    # Model text (or, for the quantile model, JSON holding three model texts), never a pickle.
    trained(cls, "binary" if cls.task == "classification" else "regression").save(tmp_path / "model")
    head = (tmp_path / "model").read_text()[:40]
    assert head.startswith("tree\n") or head.startswith('{"format": "zoo-lightgbm-quantile/1"')


def test_anything_but_this_plugins_model_text_is_refused(tmp_path):
    path = tmp_path / "model"
    for content, cls, message in [
        (b"\x80\x04not a model", LightGBMRegressorModel, "not LightGBM model text"),
        (b"tree\nversion=v4\nobjective=regression\nnonsense", LightGBMRegressorModel,
         "not LightGBM model text"),
        (b"{}", LightGBMQuantileRegressorModel, "not a lightgbm.quantile_regressor artifact"),
    ]:
        path.write_bytes(content)
        with pytest.raises(IntegrityError, match=message):
            cls.load(path, {})
    trained(LightGBMClassifierModel, "binary").save(path)
    with pytest.raises(IntegrityError, match="LightGBM binary model"):
        LightGBMRegressorModel.load(path, {})
    trained(LightGBMRegressorModel).save(path)
    with pytest.raises(IntegrityError, match="LightGBM regression model"):
        LightGBMClassifierModel.load(path, {})


def test_plugin_registers_every_component_in_the_catalogue():
    # Needs the plugin installed: pip install -e plugins/zoo-lightgbm
    entries = check_plugin("lightgbm", PREDICTORS, heavy=("lightgbm",))
    formats = {e["name"]: e["artifact_format"] for e in entries}
    assert {e["plugin_version"] for e in entries} == {"0.1.0"}
    assert formats == {"lightgbm.classifier": "lightgbm-text", "lightgbm.regressor": "lightgbm-text",
                       "lightgbm.quantile_regressor": "lightgbm-text-json"}


@pytest.mark.slow
def test_zoo_install_into_a_fresh_virtualenv_then_train_and_reload():
    plugin = Path(__file__).resolve().parents[1]
    check_install(plugin, "lightgbm", LightGBMClassifierModel, {"n_estimators": 10, "n_jobs": 1})
