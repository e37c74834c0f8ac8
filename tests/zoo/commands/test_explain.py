"""`zoo explain` on real registries: native contributions, permutation importance, files."""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import json

import numpy as np
import pandas as pd
from zootest import one_line_error, zoo


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
