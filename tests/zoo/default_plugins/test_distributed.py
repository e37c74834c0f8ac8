"""Dask: a real LocalCluster with two worker processes gives exactly the single-process results."""

from __future__ import annotations

import json
import os

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

pytest.importorskip("dask.distributed")

from zoo import Registry  # noqa: E402
from zoo.catalogue import build_catalogue  # noqa: E402
from zoo.cli import cli  # noqa: E402
from zoo.default_plugins.tune import tuning  # noqa: E402
from zoo.default_plugins.tune.distributed import (  # noqa: E402
    DaskEngine,
    dask_client,
    partitions,
    predict_partitions,
)
from zoo.predicting import predict_table  # noqa: E402


@pytest.fixture(scope="module")
def client():
    with dask_client(workers=2) as c:
        yield c


@pytest.fixture
def frame():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(400, 4)), columns=list("abcd"))
    return X.assign(y=(X["a"] - X["b"] > 0).astype(int))


@pytest.mark.slow
def test_partitioned_scoring_equals_one_process_and_loads_once_per_worker(client, frame, tmp_path,
                                                                       registry_path):
    model = build_catalogue().get("sklearn.logistic_regression").create().fit(frame[list("abcd")],
                                                                              frame["y"])
    with Registry(registry_path) as reg:
        version = reg.register("m", model)
        parts = tmp_path / "parts"
        parts.mkdir()
        for i in range(6):
            frame.iloc[i * 60:(i + 1) * 60].reset_index(drop=True).to_parquet(parts / f"part-{i}.parquet")
        files = partitions(str(parts / "*.parquet"))
        out = predict_partitions(client, reg, version, files, tmp_path / "out", chunk_rows=25)
    assert [o["rows"] for o in out] == [60] * 6
    assert len({o["worker_pid"] for o in out}) == 2  # both workers took part
    for f in files:
        expected = predict_table(model, pd.read_parquet(f))
        pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "out" / f.name), expected)
    loaded = client.run(lambda: len(__import__("zoo.default_plugins.tune.distributed",
                                               fromlist=["_LOADED"])._LOADED))
    assert sorted(loaded.values()) == [1, 1]  # each worker loaded the model once for 3 files


@pytest.mark.slow
def test_tuning_on_the_cluster_equals_local_tuning(client, frame):
    info = build_catalogue().get("sklearn.logistic_regression")
    X, y = frame[list("abcd")], frame["y"]
    space = {"C": {"type": "float", "low": 0.01, "high": 10.0, "log": True}}
    fold_list = tuning.folds(len(X), 3, "stratified", labels=y)
    runs = [tuning.tune(info, X, y, space, 6, fold_list, "roc_auc", search="random", seed=3, engine=e)
            for e in ("local", DaskEngine(client))]
    strip = [[{k: t[k] for k in ("params", "scores", "mean")} for t in r.trials] for r in runs]
    assert strip[0] == strip[1] and runs[0].best["params"] == runs[1].best["params"]


@pytest.mark.slow
def test_cli_predict_engine_dask(frame, tmp_path):
    data = tmp_path / "train.csv"
    frame.to_csv(data, index=False)
    runner = CliRunner()
    assert runner.invoke(cli, ["train", "sklearn.logistic_regression", str(data), "--target", "y",
                               "--name", "m"]).exit_code == 0
    parts = tmp_path / "parts"
    parts.mkdir()
    for i in range(2):
        frame.iloc[i * 200:(i + 1) * 200].to_csv(parts / f"p{i}.csv", index=False)
    result = runner.invoke(cli, ["predict", "m", str(parts / "*.csv"), "--engine", "dask", "-o",
                                 str(tmp_path / "scored"), "--json"])
    assert result.exit_code == 0, result.output
    assert sum(p["rows"] for p in json.loads(result.stdout)) == 400
    local = runner.invoke(cli, ["predict", "m", str(parts / "p1.csv"), "-o", str(tmp_path / "local.csv")])
    assert local.exit_code == 0
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "scored" / "p1.csv"),
                                  pd.read_csv(tmp_path / "local.csv"))
    # Intervals on the cluster are the ones one process gives.
    result = runner.invoke(cli, ["predict", "m", str(parts / "*.csv"), "--engine", "dask", "-o",
                                 str(tmp_path / "sets"), "--interval", "0.9"])
    assert result.exit_code == 0, result.output
    assert "prediction sets" in result.output  # the note on what they guarantee
    local = runner.invoke(cli, ["predict", "m", str(parts / "p0.csv"), "-o", str(tmp_path / "sets.csv"),
                                "--interval", "0.9"])
    assert local.exit_code == 0
    sets = pd.read_csv(tmp_path / "sets" / "p0.csv")
    assert {"prediction_set", "set_size"} <= set(sets.columns)
    pd.testing.assert_frame_equal(sets, pd.read_csv(tmp_path / "sets.csv"))
    bad = runner.invoke(cli, ["predict", "m", str(parts / "*.csv"), "--engine", "dask"])
    assert bad.exit_code == 1 and "-o DIRECTORY" in bad.output
    assert os.cpu_count()
