"""`zoo compare` on real registries: significance for clearly different models, none for
identical ones, and a recommendation."""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import json

import pandas as pd
from zootest import one_line_error, zoo


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


def test_compare_warns_about_extra_columns_once_and_its_ci_agrees_with_p(register, cancer_csv, tmp_path):
    df = pd.read_csv(cancer_csv)
    register("cancer", "zoo.baseline_classifier", df, "target")
    register("cancer", "xgboost.classifier", df, "target", n_estimators=5, n_jobs=1)
    extra = tmp_path / "extra.csv"
    df.assign(note="x").to_csv(extra, index=False)
    result = zoo("compare", "cancer:1", "cancer:2", extra, "--target", "target", "--bootstrap", "200")
    assert result.output.count("ignoring column") == 1  # both models warned; said once
    text = " ".join(result.output.split())
    assert "excludes 0 exactly when p < 0.05" in text and "p < 0.005)" in text  # not "p = 0"
    report = json.loads(zoo("compare", "cancer:1", "cancer:2", extra, "--target", "target", "--json",
                            "--bootstrap", "200").stdout)
    for t in report["metrics"].values():
        assert (t["low"] > 0 or t["high"] < 0) == t["significant"]
