"""Explanations: native contributions add up to the raw margin, global importance is their
mean absolute value, and permutation importance finds what any model leans on; and
`zoo explain` on real registries: native contributions, permutation importance, files."""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer, load_wine, make_friedman1
from zootest import one_line_error, zoo

from zoo.catalogue import build_catalogue
from zoo.default_plugins.explain import explain
from zoo.errors import DataError, ZooError


def friedman(n=800):
    X, y = make_friedman1(n_samples=n, n_features=7, noise=0.5, random_state=0)
    # f5 and f6 are pure noise in friedman1: a faithful explanation ranks them last.
    return pd.DataFrame(X, columns=[f"f{i}" for i in range(7)]), pd.Series(y, name="y")


def fitted(component, X, y, **params):
    return build_catalogue().get(component).create(**params).fit(X, y)


@pytest.mark.parametrize("component", ["xgboost.classifier", "lightgbm.classifier"])
@pytest.mark.parametrize("data", ["binary", "multiclass"])
def test_contributions_plus_bias_equal_the_raw_margin(component, data):
    bunch = load_breast_cancer(as_frame=True) if data == "binary" else load_wine(as_frame=True)
    model = fitted(component, bunch.data, bunch.target, n_estimators=20, n_jobs=1)
    result = explain.explain(model, bunch.data)
    assert result["method"] == "contributions"
    values = result["contributions"]
    margin = np.asarray(model.decision_function(bunch.data), dtype=float)
    assert values.shape[-1] == bunch.data.shape[1] + 1
    assert np.abs(values.sum(axis=-1) - margin).max() < 1e-4


@pytest.mark.parametrize("component", ["xgboost.regressor", "lightgbm.regressor"])
def test_global_importance_is_the_mean_absolute_contribution_and_ranks_noise_last(component):
    X, y = friedman()
    model = fitted(component, X, y, n_estimators=50, n_jobs=1)
    result = explain.explain(model, X)
    values = result["contributions"]
    assert np.abs(values.sum(axis=1) - model.decision_function(X)).max() < 1e-4
    by_feature = {r["feature"]: r["importance"] for r in result["importance"]}
    for j, name in enumerate(X.columns):
        assert by_feature[name] == pytest.approx(np.mean(np.abs(values[:, j])))
    assert [r["feature"] for r in result["importance"]][-2:] in (["f5", "f6"], ["f6", "f5"])
    assert result["importance"] == sorted(result["importance"], key=lambda r: -r["importance"])


def test_permutation_importance_for_a_model_without_contributions():
    X, y = friedman()
    model = fitted("sklearn.ridge", X, y)
    assert not explain.has_contributions(model)
    result = explain.explain(model, X, y, n_repeats=3)
    assert result["method"] == "permutation" and result["metric"] == "rmse"
    assert result["contributions"] is None
    top = result["importance"][0]
    assert top["feature"] == "f3"  # friedman1's largest linear term: 10 * x3
    noise = {r["feature"]: r["importance"] for r in result["importance"]}
    assert abs(noise["f5"]) < 0.05 and abs(noise["f6"]) < 0.05 and top["importance"] > 1.0
    assert all(r["std"] is not None and r["std"] >= 0 for r in result["importance"])


def test_permutation_importance_with_a_score_counts_its_fall():
    bunch = load_breast_cancer(as_frame=True)
    model = fitted("sklearn.logistic_regression", bunch.data, bunch.target)
    result = explain.explain(model, bunch.data, bunch.target, method="permutation", metric="accuracy",
                             n_repeats=2)
    assert result["baseline"] > 0.95
    assert result["importance"][0]["importance"] > 0  # shuffling the top feature lowers accuracy


def test_permutation_is_available_for_tree_models_too_and_agrees_on_the_top_feature():
    X, y = friedman()
    model = fitted("lightgbm.regressor", X, y, n_estimators=50, n_jobs=1)
    native = explain.explain(model, X)
    permuted = explain.explain(model, X, y, method="permutation", n_repeats=2)
    assert native["importance"][0]["feature"] == permuted["importance"][0]["feature"] == "f3"


def test_missing_labels_and_unknown_methods_are_one_line_errors():
    X, y = friedman(200)
    ridge = fitted("sklearn.ridge", X, y)
    with pytest.raises(DataError, match="pass --target"):
        explain.explain(ridge, X)
    with pytest.raises(ZooError, match="no native feature contributions"):
        explain.explain(ridge, X, y, method="contributions")
    with pytest.raises(ZooError, match="unknown explanation method"):
        explain.explain(ridge, X, y, method="lime")
    with pytest.raises(ZooError, match="unknown metric 'auc'"):
        explain.explain(ridge, X, y, metric="auc")


def test_contributions_frame_names_features_bias_and_classes():
    bunch = load_wine(as_frame=True)
    model = fitted("xgboost.classifier", bunch.data, bunch.target, n_estimators=5, n_jobs=1)
    result = explain.explain(model, bunch.data)
    frame = explain.contributions_frame(model, result)
    assert frame.shape == (len(bunch.data), 3 * (bunch.data.shape[1] + 1))
    assert frame.columns[0] == f"0:{bunch.data.columns[0]}" and frame.columns[-1] == "2:bias"
    X, y = friedman(200)
    reg = fitted("lightgbm.regressor", X, y, n_estimators=5, n_jobs=1)
    frame = explain.contributions_frame(reg, explain.explain(reg, X))
    assert list(frame.columns) == [*X.columns, "bias"]
    np.testing.assert_allclose(frame.sum(axis=1), reg.decision_function(X))


def test_plot_importance_writes_a_png(tmp_path):
    X, y = friedman(200)
    model = fitted("xgboost.regressor", X, y, n_estimators=5, n_jobs=1)
    path = tmp_path / "top.png"
    explain.plot_importance(explain.explain(model, X), path, top=3)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 5000


# --- zoo explain ---


def test_explain_a_tree_model_with_native_contributions(register, friedman_csv, tmp_path):
    df = pd.read_csv(friedman_csv)
    register("fr", "lightgbm.regressor", df, "y", n_estimators=30, n_jobs=1)
    plot, rows = tmp_path / "top.png", tmp_path / "contrib.csv"
    result = zoo("explain", "fr", friedman_csv, "--target", "y", "--json", "--plot", plot, "-o", rows)
    summary = json.loads(result.stdout)
    assert summary["method"] == "contributions" and summary["rows"] == 600
    assert [r["feature"] for r in summary["importance"]][0] == "f3"
    assert summary["importance"][-1]["feature"] == "f5"  # friedman1: f5 is pure noise
    assert plot.read_bytes()[:4] == b"\x89PNG"
    contrib = pd.read_csv(rows)
    assert list(contrib.columns) == [f"f{i}" for i in range(6)] + ["bias"]
    # Global importance is the mean absolute contribution of the rows written out.
    by_feature = {r["feature"]: r["importance"] for r in summary["importance"]}
    assert np.isclose(contrib["f3"].abs().mean(), by_feature["f3"])


def test_explain_a_model_without_contributions_by_permutation(register, friedman_csv):
    register("lin", "sklearn.ridge", pd.read_csv(friedman_csv), "y")
    result = zoo("explain", "lin", friedman_csv, "--target", "y", "--repeats", "2")
    assert "worsening of rmse when the column is shuffled" in result.output
    first_row = next(line for line in result.output.splitlines() if line.startswith("│ 1"))
    assert "f3" in first_row


def test_explain_errors_are_one_line(register, friedman_csv, tmp_path):
    register("lin", "sklearn.ridge", pd.read_csv(friedman_csv), "y")
    assert "pass --target" in one_line_error(zoo("explain", "lin", friedman_csv, ok=False))
    assert "no column 'label'" in one_line_error(
        zoo("explain", "lin", friedman_csv, "--target", "label", ok=False))
    assert "PNG" in one_line_error(
        zoo("explain", "lin", friedman_csv, "--target", "y", "--plot", tmp_path / "x.jpg", ok=False))
    assert "no model named 'nope'" in one_line_error(zoo("explain", "nope", friedman_csv, ok=False))
