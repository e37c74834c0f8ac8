"""Tests for zoo_xgboost: every component fits, predicts, explains, saves and reloads to the
same bits, in Python, through a real registry and after `zoo install` into a fresh virtual
environment; foreign artifacts are refused; the entry module stays light."""

import os

# OpenMP busy-waiting makes xgboost 10-50x slower on a loaded machine; set before it loads.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import functools
import json
import subprocess
import sys
import sysconfig
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xgboost as xgb
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris, make_friedman1
from sklearn.model_selection import train_test_split
from zoo_xgboost.models import (
    PREDICTORS,
    XGBoostClassifierModel,
    XGBoostQuantileRegressorModel,
    XGBoostRegressorModel,
)

import zoo.plugins
from zoo import Registry
from zoo.catalogue import build_catalogue
from zoo.errors import DataError, IntegrityError

PLUGIN = Path(__file__).resolve().parents[1]
SMALL = {"n_estimators": 30, "max_depth": 4, "n_jobs": 1}
CASES = [
    pytest.param(XGBoostClassifierModel, "binary", id="classifier-binary"),
    pytest.param(XGBoostClassifierModel, "multiclass", id="classifier-multiclass"),
    pytest.param(XGBoostRegressorModel, "regression", id="regressor"),
    pytest.param(XGBoostQuantileRegressorModel, "regression", id="quantile_regressor"),
]


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
    elif name == "friedman":
        X, y = make_friedman1(n_samples=1000, noise=1.0, random_state=0)
        return train_test_split(pd.DataFrame(X, columns=[f"f{i}" for i in range(10)]), pd.Series(y),
                                test_size=0.3, random_state=0)
    else:
        bunch = load_diabetes(as_frame=True)
        y = bunch.target
    stratify = None if name == "regression" else y
    return train_test_split(bunch.data, y, test_size=0.3, random_state=0, stratify=stratify)


@functools.cache
def fitted(cls, data):
    X_train, _, y_train, _ = dataset(data)
    return cls(**SMALL).fit(X_train, y_train)


def outputs(model, X):
    """Everything a model computes from X, for bit-for-bit comparisons."""
    out = {"predict": model.predict(X), "margin": model.decision_function(X),
           "contributions": model.contributions(X)}
    if model.task == "classification":
        out["proba"] = model.predict_proba(X)
    if hasattr(model, "predict_quantiles"):
        out["quantiles"] = model.predict_quantiles(X)
    return out


def assert_same_bits(a, b):
    assert a.keys() == b.keys()
    for key in a:
        if key != "predict" or a[key].dtype.kind == "f":  # labels may come back as str vs object
            assert a[key].dtype == b[key].dtype, key
        assert np.array_equal(a[key], b[key]), key


@pytest.mark.parametrize(("cls", "data"), CASES)
def test_fit_predict_and_validate(cls, data):
    model = fitted(cls, data)
    _, X_test, _, y_test = dataset(data)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pred = model.predict(X_test)
        scores = model.validate(X_test, y_test)
    assert len(pred) == len(X_test)
    if cls.task == "classification":
        proba = model.predict_proba(X_test)
        assert list(model.classes_) == sorted(set(y_test))
        np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
        assert np.array_equal(model.classes_[proba.argmax(axis=1)], pred)
        assert scores["accuracy"] > 0.9 and scores["roc_auc"] > 0.95, scores
    else:
        # diabetes is noisy: boosted trees reach about 0.3-0.4 on this split.
        assert scores["r2"] > 0.2, scores


@pytest.mark.parametrize(("cls", "data"), CASES)
def test_reload_predicts_the_same_bits(cls, data, tmp_path):
    model = fitted(cls, data)
    _, X_test, _, _ = dataset(data)
    path = tmp_path / "model"
    model.save(path)
    assert path.read_bytes()[:1] == b"{"  # UBJSON opens with an object marker, not a pickle opcode
    loaded = cls.load(path, model.metadata)
    assert_same_bits(outputs(loaded, X_test), outputs(model, X_test))
    assert loaded.get_params() == model.get_params()
    assert loaded.metadata == model.metadata


@pytest.mark.parametrize(("cls", "data"), CASES)
def test_reload_from_a_registry_predicts_the_same_bits(cls, data, tmp_path):
    model = fitted(cls, data)
    _, X_test, _, _ = dataset(data)
    with Registry(tmp_path / "r.db") as reg:
        version = reg.register("m", model)
        loaded = reg.load(version["ref"])
    assert version["artifact_format"] == "xgboost-ubj" and version["plugin"] == "xgboost"
    assert_same_bits(outputs(loaded, X_test), outputs(model, X_test))


CONTRIBUTION_CASES = [
    pytest.param(XGBoostClassifierModel, "binary", id="classifier-binary"),
    pytest.param(XGBoostClassifierModel, "multiclass", id="classifier-multiclass"),
    # friedman1's targets (0-30) rather than diabetes' (25-350): xgboost sums in float32, whose
    # spacing near 300 is 3e-5, so an absolute 1e-4 needs margins of moderate size.
    pytest.param(XGBoostRegressorModel, "friedman", id="regressor"),
    pytest.param(XGBoostQuantileRegressorModel, "friedman", id="quantile_regressor"),
]


@pytest.mark.parametrize(("cls", "data"), CONTRIBUTION_CASES)
def test_contributions_plus_bias_equal_the_raw_margin(cls, data):
    model = fitted(cls, data)
    _, X_test, _, _ = dataset(data)
    contrib = model.contributions(X_test)
    margin = model.decision_function(X_test)
    n, p = X_test.shape
    expected_shape = {"binary": (n, p + 1), "multiclass": (n, 3, p + 1), "friedman": (n, p + 1)}
    if cls is XGBoostQuantileRegressorModel:
        expected_shape["friedman"] = (n, 3, p + 1)  # one set per quantile
    assert contrib.shape == expected_shape[data]
    assert np.abs(contrib.sum(axis=-1) - margin).max() < 1e-4
    # The raw margin is the library's own, on the same booster.
    raw = model.booster_.predict(xgb.DMatrix(X_test.to_numpy()), output_margin=True)
    np.testing.assert_allclose(margin, raw, atol=1e-6)


def test_contributions_match_the_margin_to_float32_precision_on_large_targets():
    model = fitted(XGBoostRegressorModel, "regression")  # diabetes: margins up to ~350
    _, X_test, _, _ = dataset("regression")
    margin = model.decision_function(X_test).astype(np.float64)
    total = model.contributions(X_test).astype(np.float64).sum(axis=1)
    assert np.max(np.abs(total - margin) / np.abs(margin)) < 1e-6


def test_quantile_regressor_band_is_ordered_and_roughly_covers():
    model = fitted(XGBoostQuantileRegressorModel, "regression")
    X_train, _, y_train, _ = dataset("regression")
    band = model.predict_quantiles(X_train)
    assert band.shape == (len(X_train), 2) and np.all(band[:, 0] <= band[:, 1])
    median = model.predict(X_train)
    assert np.mean((band[:, 0] <= median) & (median <= band[:, 1])) > 0.95
    covered = np.mean((band[:, 0] <= y_train) & (y_train <= band[:, 1]))
    assert 0.7 < covered < 1.0  # in-sample and unconformalized: only a sanity check


def test_params_reach_the_booster():
    X_train, _, y_train, _ = dataset("regression")
    model = XGBoostRegressorModel(n_estimators=7, max_depth=2, learning_rate=0.2, n_jobs=1,
                                  objective="reg:absoluteerror").fit(X_train, y_train)
    config = json.loads(model.booster_.save_config())["learner"]
    assert model.booster_.num_boosted_rounds() == 7
    assert config["objective"]["name"] == "reg:absoluteerror"
    assert config["gradient_booster"]["tree_train_param"]["max_depth"] == "2"
    assert float(config["gradient_booster"]["tree_train_param"]["eta"]) == pytest.approx(0.2)


def test_training_is_reproducible():
    X_train, X_test, y_train, _ = dataset("binary")
    again = XGBoostClassifierModel(**SMALL).fit(X_train, y_train)
    first = fitted(XGBoostClassifierModel, "binary")
    assert np.array_equal(again.predict_proba(X_test), first.predict_proba(X_test))


def test_bad_targets_are_one_line_errors():
    X = pd.DataFrame({"a": [1.0, 2.0, 3.0]})
    with pytest.raises(DataError, match="class"):
        XGBoostClassifierModel(**SMALL).fit(X, ["x", "x", "x"])
    with pytest.raises(DataError, match="not a number|must be numeric"):
        XGBoostRegressorModel(**SMALL).fit(X, ["a", "b", "c"])
    with pytest.raises(DataError, match="not a regression objective"):
        XGBoostRegressorModel(objective="binary:logistic", **SMALL).fit(X, [0.0, 1.0, 0.0])


def test_missing_values_are_accepted_in_fit_and_predict():
    X_train, X_test, y_train, _ = dataset("regression")
    holes = X_train.mask(np.random.default_rng(0).random(X_train.shape) < 0.1)
    model = XGBoostRegressorModel(**SMALL).fit(holes, y_train)
    pred = model.predict(X_test.assign(bmi=np.nan))
    assert np.isfinite(pred).all()


def test_a_file_that_is_not_xgboost_is_refused(tmp_path):
    path = tmp_path / "model"
    path.write_bytes(b"\x80\x04not a model")
    with pytest.raises(IntegrityError, match="not an XGBoost model"):
        XGBoostRegressorModel.load(path, {})


def test_another_components_artifact_is_refused(tmp_path):
    path = tmp_path / "model"
    fitted(XGBoostClassifierModel, "binary").save(path)
    with pytest.raises(IntegrityError, match="binary:logistic"):
        XGBoostRegressorModel.load(path, {})
    fitted(XGBoostRegressorModel, "regression").save(path)
    with pytest.raises(IntegrityError, match="reg:squarederror"):
        XGBoostClassifierModel.load(path, {})


def test_save_before_fit_raises(tmp_path):
    with pytest.raises(RuntimeError, match="not fitted"):
        XGBoostRegressorModel().save(tmp_path / "model")


def test_search_space_names_real_parameters():
    for cls in PREDICTORS:
        assert set(cls.search_space()) <= set(cls.param_defaults())


def test_entry_module_imports_no_heavy_library():
    code = (
        "import zoo_xgboost\n"
        "zoo_xgboost.register_predictors(lambda cls: (cls.description(), cls.param_defaults()))"
    )
    result = subprocess.run([sys.executable, "-X", "importtime", "-c", code],
                            capture_output=True, text=True, check=True)
    imported = [line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines()
                if line.startswith("import time:")]
    heavy = [m for m in imported if m.split(".")[0] in {"xgboost", "numpy", "pandas", "scipy"}]
    assert heavy == []


def test_plugin_registers_every_component_in_the_catalogue(monkeypatch):
    # Needs the plugin installed: pip install -e plugins/zoo-xgboost
    monkeypatch.setenv("ZOO_LOAD_PLUGINS", "xgboost")
    monkeypatch.setenv("ZOO_STRICT_PLUGINS", "1")
    zoo.plugins.reset()
    try:
        plugins = zoo.plugins.get_plugins()
        assert "xgboost" in plugins.infos, "install the plugin: pip install -e plugins/zoo-xgboost"
        catalogue = build_catalogue(plugins)
    finally:
        zoo.plugins.reset()
    for cls in PREDICTORS:
        info = catalogue.get(cls.component, kind="predictor")
        assert info.cls is cls and info.artifact_format == "xgboost-ubj"
        assert (info.plugin, info.plugin_version) == ("xgboost", "0.1.0")
        assert info.description == cls.description() != ""
        assert info.params == cls.param_defaults()


def fresh_venv(path: Path) -> Path:
    """A new virtual environment that borrows this one's installed libraries (read-only).

    Its own site-packages comes first on sys.path, so what `zoo install` puts there wins;
    the borrowed path supplies zoo, pip and xgboost without any download.
    """
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
    python = path / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    parent = sysconfig.get_paths()["purelib"]
    Path(purelib, "zoo_borrow_parent.pth").write_text(f"import site; site.addsitedir({parent!r})\n")
    return python


@pytest.mark.slow
def test_zoo_install_into_a_fresh_virtualenv_then_train_and_reload(tmp_path):
    python = fresh_venv(tmp_path / "venv")
    env = {**os.environ, "PIP_NO_INDEX": "1", "PIP_NO_BUILD_ISOLATION": "0",
           "ZOO_REGISTRY": str(tmp_path / "r.db"), "ZOO_STRICT_PLUGINS": "1"}

    def zoo_cmd(*args):
        proc = subprocess.run([str(python), "-m", "zoo", *args], capture_output=True, text=True,
                              env=env, timeout=300)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout

    zoo_cmd("install", str(PLUGIN))
    where = subprocess.run([str(python), "-c", "import zoo_xgboost; print(zoo_xgboost.__file__)"],
                           capture_output=True, text=True, env=env, check=True).stdout
    assert where.startswith(str(tmp_path / "venv"))  # the fresh install, not this environment's
    plugins = {p["name"]: p for p in json.loads(zoo_cmd("plugins", "--json"))["plugins"]}
    assert plugins["xgboost"]["status"] == "ok"
    X_train, X_test, y_train, _ = dataset("multiclass")
    data = tmp_path / "iris.csv"
    X_train.assign(species=y_train).to_csv(data, index=False)
    zoo_cmd("train", "xgboost.classifier", str(data), "--target", "species", "--name", "iris",
            "--param", "n_estimators=10", "--param", "n_jobs=1")
    test = tmp_path / "test.csv"
    X_test.to_csv(test, index=False)
    scored = tmp_path / "scored.parquet"
    zoo_cmd("predict", "iris:1", str(test), "-o", str(scored))
    # Loaded in this process from the same registry, it predicts the same bits.
    predicted = pd.read_parquet(scored)
    with Registry(tmp_path / "r.db") as reg:
        proba = reg.load("iris:1").predict_proba(X_test)
    assert np.array_equal(predicted[[f"proba_{c}" for c in sorted(set(y_train))]].to_numpy(), proba)
