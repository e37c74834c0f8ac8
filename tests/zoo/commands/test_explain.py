"""`zoo explain` on real registries: native contributions, permutation importance, files."""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from sklearn.datasets import make_friedman1

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
def friedman_csv(tmp_path):
    X, y = make_friedman1(n_samples=600, n_features=6, noise=0.5, random_state=0)
    path = tmp_path / "friedman.csv"
    pd.DataFrame(X, columns=[f"f{i}" for i in range(6)]).assign(y=y).to_csv(path, index=False)
    return path


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
