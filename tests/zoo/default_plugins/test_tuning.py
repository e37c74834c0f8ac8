"""Tuning: search spaces, cross-validation folds (time-series folds never validate on the
past), and the trial loop with random and Bayesian search."""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.datasets import load_breast_cancer

from zoo.catalogue import build_catalogue
from zoo.default_plugins.tune import tuning
from zoo.errors import DataError, ZooError


@settings(max_examples=200, deadline=None)
@given(times=st.lists(st.integers(0, 40), min_size=12, max_size=120), k=st.integers(2, 5))
def test_time_series_folds_never_validate_on_rows_earlier_than_training_rows(times, k):
    times = np.array(times)
    try:
        fold_list = tuning.time_series_folds(times, k)
    except DataError as exc:  # too few distinct times: refused in one line, never a wrong fold
        assert "time-series folds" in str(exc)
        return
    assert len(fold_list) == k
    seen_validation = set()
    for i, (train, val) in enumerate(fold_list):
        assert len(train) and len(val)
        assert times[train].max() < times[val].min()  # strictly in the past: ties never straddle
        assert set(train).isdisjoint(val)
        if i:  # expanding window: each fold trains on everything before its validation block
            assert set(fold_list[i - 1][0]) | set(fold_list[i - 1][1]) == set(train)
        seen_validation |= set(val)
    assert len(seen_validation) == sum(len(v) for _, v in fold_list)


def test_time_series_folds_follow_the_time_column_not_the_row_order():
    rng = np.random.default_rng(0)
    times = rng.permutation(100)  # rows shuffled in time
    for train, val in tuning.time_series_folds(times, 4):
        assert times[train].max() < times[val].min()
    assert [len(v) for _, v in tuning.time_series_folds(np.arange(100), 4)] == [20, 20, 20, 20]


def test_time_holdout_keeps_the_latest_rows_and_never_splits_a_timestamp():
    times = np.array([1, 1, 2, 2, 3, 3, 3, 4, 4, 5])
    train, test = tuning.time_holdout(times, 0.25)
    assert times[train].max() < times[test].min()
    assert list(times[test]) == [4, 4, 5]


def test_parse_times_reads_numbers_and_dates():
    dates = tuning.parse_times(pd.Series(["2024-01-03", "2024-01-01", "2024-01-02"]), "day")
    assert list(np.argsort(dates)) == [1, 2, 0]
    assert list(tuning.parse_times(pd.Series([3, 1, 2]), "t")) == [3.0, 1.0, 2.0]
    with pytest.raises(DataError, match="neither numbers nor dates"):
        tuning.parse_times(pd.Series(["soon", "later"]), "t")


@pytest.mark.parametrize("strategy", ["kfold", "stratified"])
def test_kfold_and_stratified_folds_partition_the_rows(strategy):
    labels = np.array([0] * 70 + [1] * 30)
    fold_list = tuning.folds(100, 5, strategy, labels=labels, seed=1)
    validation = np.concatenate([v for _, v in fold_list])
    assert sorted(validation) == list(range(100))
    for train, val in fold_list:
        assert set(train).isdisjoint(val) and len(train) + len(val) == 100
        assert 19 <= len(val) <= 21
        if strategy == "stratified":
            assert (labels[val] == 1).sum() == 6  # 30% of each fold, as in the whole


def test_folds_refuse_what_they_cannot_do():
    with pytest.raises(DataError, match="at least 2"):
        tuning.folds(10, 1, "kfold")
    with pytest.raises(DataError, match="--time-column"):
        tuning.folds(10, 3, "time")
    with pytest.raises(DataError, match="too few"):
        tuning.time_series_folds(np.array([1, 1, 1, 2]), 3)


def test_parse_space_and_random_samples_stay_in_range():
    space = tuning.parse_space(["depth=int:2:4", "lr=float:0.001:0.1:log", "crit=choice:gini,entropy,3"])
    assert space["crit"] == {"type": "choice", "choices": ["gini", "entropy", 3]}
    rng = np.random.default_rng(0)
    samples = [tuning.sample_random(space, rng) for _ in range(300)]
    assert {s["depth"] for s in samples} == {2, 3, 4}
    assert all(0.001 <= s["lr"] <= 0.1 for s in samples)
    assert np.median([s["lr"] for s in samples]) < 0.03  # log-uniform: median near 0.01
    for bad in ["depth", "depth=int:5", "depth=int:a:b", "lr=float:0:1:log", "x=list:1"]:
        with pytest.raises(ZooError):
            tuning.parse_space([bad])


def test_search_space_merges_declared_overrides_and_fixed():
    info = build_catalogue().get("xgboost.classifier")
    space = tuning.search_space(info, tuning.parse_space(["max_depth=int:1:3"]), {"learning_rate": 0.1})
    assert space["max_depth"] == {"type": "int", "low": 1, "high": 3, "log": False}
    assert "learning_rate" not in space and "n_estimators" in space
    with pytest.raises(ZooError, match="declares no search space"):
        tuning.search_space(build_catalogue().get("sklearn.ridge"))
    with pytest.raises(ZooError, match="no parameter 'depth'"):
        tuning.search_space(info, tuning.parse_space(["depth=int:1:3"]))


@pytest.fixture(scope="module")
def cancer():
    bunch = load_breast_cancer(as_frame=True)
    return bunch.data, bunch.target


@pytest.mark.parametrize("search", ["random", "bayes"])
def test_tune_records_every_trial_and_picks_the_best(search, cancer):
    X, y = cancer
    info = build_catalogue().get("lightgbm.classifier")
    space = tuning.parse_space(["n_estimators=int:5:30", "num_leaves=int:3:15"])
    fold_list = tuning.folds(len(X), 3, "stratified", labels=y)
    seen = []
    result = tuning.tune(info, X, y, space, 6, fold_list, "roc_auc", search=search,
                         fixed={"n_jobs": 1}, on_trial=lambda t, r: seen.append(t["number"]))
    assert seen == list(range(6)) and len(result.trials) == 6
    for trial in result.trials:
        assert trial["state"] == "complete" and len(trial["scores"]) == 3
        assert trial["mean"] == pytest.approx(np.mean(trial["scores"]))
        assert 5 <= trial["params"]["n_estimators"] <= 30 and trial["params"]["n_jobs"] == 1
    assert result.best["mean"] == max(t["mean"] for t in result.trials)
    assert result.direction == "maximize"


def test_a_loss_is_minimized_and_failed_trials_are_recorded(cancer):
    X, y = cancer
    info = build_catalogue().get("sklearn.logistic_regression")
    # C <= 0 makes scikit-learn raise: those trials fail, the run goes on.
    space = {"C": {"type": "choice", "choices": [-1.0, 0.01, 1.0]}}
    fold_list = tuning.folds(len(X), 3, "kfold")
    result = tuning.tune(info, X, y, space, 6, fold_list, "log_loss", search="random", seed=3)
    states = {t["params"]["C"]: t["state"] for t in result.trials}
    assert states.get(-1.0, "failed") == "failed" and "failed" in states.values()
    failed = next(t for t in result.trials if t["state"] == "failed")
    assert failed["error"] and failed["mean"] is None
    assert result.direction == "minimize"
    assert result.best["mean"] == min(t["mean"] for t in result.trials if t["state"] == "complete")


def test_every_trial_failing_is_one_error(cancer):
    X, y = cancer
    info = build_catalogue().get("sklearn.logistic_regression")
    fold_list = tuning.folds(len(X), 2, "kfold")
    with pytest.raises(ZooError, match="every one of 2 trials failed"):
        tuning.tune(info, X, y, {"C": {"type": "choice", "choices": [-1.0]}}, 2, fold_list, "log_loss",
                    search="random")


def test_engines_are_a_seam_with_one_local_engine():
    assert set(tuning.ENGINES) == {"local"}
    engine = tuning.LocalEngine()
    assert engine.map(lambda p: [p["x"] * 2.0], [{"x": 1}, {"x": 2}]) == [[2.0], [4.0]]
