"""`zoo compare` on real registries: significance for clearly different models, none for
identical ones, and a recommendation."""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import json

import pandas as pd
import pytest
from click.testing import CliRunner
from sklearn.datasets import load_breast_cancer, make_friedman1

from registry import Registry
from zoo.catalogue import build_catalogue
from zoo.cli import cli
from zoo.training import train


def zoo(*args, ok=True):
    """The real `zoo` command in-process; stdout and stderr are both in ``.output``."""
    result = CliRunner().invoke(cli, list(map(str, args)))
    if ok:
        assert result.exit_code == 0, result.output + repr(result.exception)
    return result


def one_line_error(result) -> str:
    """The single `Error:` line of a failed command: non-zero exit, no traceback."""
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    lines = [ln for ln in result.output.splitlines() if ln.startswith("Error:")]
    assert len(lines) == 1, result.output
    return lines[0]


@pytest.fixture
def register(registry_path, tmp_path):
    """``register(name, component, df, target, **params)``: train as `zoo train` does (held-out
    plots and calibration included) and register through the Python API; returns the version."""

    def run(name, component, df, target, **params):
        result = train(build_catalogue().get(component), df, target, params,
                       artifact_dir=tmp_path / f"artifacts-{name}")
        with Registry(registry_path) as reg:
            return reg.register(name, result.model, metrics=result.metrics, data=result.data,
                                artifacts=result.artifacts)

    return run


@pytest.fixture
def cancer_csv(tmp_path):
    path = tmp_path / "cancer.csv"
    load_breast_cancer(as_frame=True).frame.to_csv(path, index=False)
    return path


@pytest.fixture
def friedman_csv(tmp_path):
    X, y = make_friedman1(n_samples=600, n_features=6, noise=0.5, random_state=0)
    path = tmp_path / "friedman.csv"
    pd.DataFrame(X, columns=[f"f{i}" for i in range(6)]).assign(y=y).to_csv(path, index=False)
    return path


def test_clearly_different_models_are_significantly_different(register, cancer_csv):
    df = pd.read_csv(cancer_csv)
    register("cancer", "zoo.baseline_classifier", df, "target")
    register("cancer", "xgboost.classifier", df, "target", n_estimators=20, n_jobs=1)
    result = zoo("compare", "cancer:1", "cancer:2", cancer_csv, "--target", "target", "--json",
                 "--bootstrap", "300")
    report = json.loads(result.stdout)
    assert report["a"] == "cancer:1" and report["b"] == "cancer:2" and report["rows"] == 569
    for key in ("accuracy", "roc_auc", "log_loss"):
        assert report["metrics"][key]["significant"] and report["metrics"][key]["better"] == "b"
    assert report["metrics"]["accuracy"]["test"] == "mcnemar"
    assert report["recommendation"] == "promote"
    table = zoo("compare", "cancer:1", "cancer:2", cancer_csv, "--target", "target", "--bootstrap", "300")
    assert "promote" in table.output and "McNemar" in table.output


def test_identical_models_are_not_significantly_different(register, cancer_csv):
    df = pd.read_csv(cancer_csv)
    register("cancer", "lightgbm.classifier", df, "target", n_estimators=20, n_jobs=1)
    register("cancer", "lightgbm.classifier", df, "target", n_estimators=20, n_jobs=1)
    result = zoo("compare", "cancer:1", "cancer:2", cancer_csv, "--target", "target", "--json",
                 "--bootstrap", "300")
    report = json.loads(result.stdout)
    assert not any(t["significant"] for t in report["metrics"].values())
    assert all(t["p_value"] == 1.0 for t in report["metrics"].values())
    assert report["recommendation"] == "keep"


def test_compare_errors_are_one_line(register, cancer_csv, friedman_csv):
    register("cancer", "zoo.baseline_classifier", pd.read_csv(cancer_csv), "target")
    register("fr", "zoo.baseline_regressor", pd.read_csv(friedman_csv), "y")
    assert "cannot compare a classification model with a regression one" in one_line_error(
        zoo("compare", "cancer", "fr", cancer_csv, "--target", "target", ok=False))
    assert "no column 'label'" in one_line_error(
        zoo("compare", "cancer", "cancer", cancer_csv, "--target", "label", ok=False))
    assert "unknown metric 'auc'" in one_line_error(
        zoo("compare", "cancer", "cancer", cancer_csv, "--target", "target", "--metric", "auc", ok=False))
