"""`zoo tune` on a real registry: trials recorded, the best registered and named by its run."""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import json

import numpy as np
import pandas as pd
from zootest import one_line_error, zoo

from zoo import Registry


def test_tune_registers_the_best_with_every_trial(cancer_csv, registry_path, read_artifact):
    result = zoo("tune", "lightgbm.classifier", cancer_csv, "--target", "target", "--trials", "4",
                 "--cv", "3", "--name", "cancer", "--param", "n_jobs=1",
                 "--space", "n_estimators=int:5:30", "--space", "num_leaves=int:3:15", "--json")
    out = json.loads(result.stdout)
    version = out["version"]
    assert version["ref"] == "cancer:1" and version["tags"]["tune_run"] == out["run"]
    assert out["run"] in version["description"]
    assert {"trials.json", "conformal.json", "evaluation.json", "roc_curve.png"} <= set(version["artifacts"])
    assert version["metrics"]["cv_roc_auc"] == out["best"]["mean"]
    assert {"accuracy", "roc_auc"} <= set(version["metrics"])  # held-out rows
    with Registry(registry_path) as reg:
        trials = read_artifact(reg, version, "trials.json")
    assert trials["run"] == out["run"] and len(trials["trials"]) == 4
    assert all(len(t["scores"]) == 3 for t in trials["trials"])
    best = max(trials["trials"], key=lambda t: t["mean"])
    assert best["number"] == trials["best"] and best["params"]["n_jobs"] == 1
    assert {k: version["params"][k] for k in best["params"]} == best["params"]


def test_tune_with_a_time_column_holds_out_the_latest_rows(tmp_path, registry_path, read_artifact):
    rng = np.random.default_rng(0)
    n = 400
    day = pd.date_range("2024-01-01", periods=n // 4, freq="D").repeat(4)
    x = rng.normal(size=(n, 3))
    df = pd.DataFrame(x, columns=["a", "b", "c"]).assign(day=day.astype(str),
                                                         y=x[:, 0] * 2 + rng.normal(size=n))
    path = tmp_path / "series.csv"
    df.sample(frac=1.0, random_state=0).to_csv(path, index=False)  # rows out of time order
    result = zoo("tune", "xgboost.regressor", path, "--target", "y", "--name", "series",
                 "--time-column", "day", "--trials", "3", "--cv", "3", "--search", "random",
                 "--param", "n_jobs=1", "--param", "n_estimators=10", "--test-size", "0.25", "--json")
    version = json.loads(result.stdout)["version"]
    assert version["metadata"]["feature_names"] == ["a", "b", "c"]  # the time column is not a feature
    with Registry(registry_path) as reg:
        record = read_artifact(reg, version, "conformal.json")
        trials = read_artifact(reg, version, "trials.json")
    assert record["split"]["kind"] == "time holdout" and record["split"]["rows"] == 100
    assert trials["strategy"] == "time" and trials["time_column"] == "day"


def test_tune_errors_are_one_line(cancer_csv):
    def error(component, *extra):
        args = ("tune", component, cancer_csv, "--target", "target", "--name", "t", *extra)
        return one_line_error(zoo(*args, ok=False))

    assert "declares no search space" in error("sklearn.ridge")
    assert "--strategy time needs --time-column" in error("xgboost.classifier", "--strategy", "time")
    assert "unknown metric 'rmse'" in error("xgboost.classifier", "--metric", "rmse")
    assert "not a range" in error("xgboost.classifier", "--space", "depth")
