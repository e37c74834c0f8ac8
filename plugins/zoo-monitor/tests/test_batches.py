"""zoo_monitor.batches and the batch_predicted hook: every scored batch is summarised and
stored with its version, from `zoo predict` and from `Registry.load(ref).predict`."""

import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pytest
import zoo_monitor
from zoo_monitor.batches import QUANTILES, shift, summarise
from zoo_monitor.store import batches as stored_batches

from zoo import Registry


@pytest.fixture
def classifier(register, cancer):
    train_rows, _ = cancer
    return register("cancer", "sklearn.logistic_regression", train_rows, "target")


def test_zoo_predict_records_one_batch_per_chunk(classifier, cancer, tmp_path, registry_path, zoo):
    _, clean = cancer
    data = tmp_path / "clean.csv"
    clean.drop(columns="target").to_csv(data, index=False)
    zoo("predict", "cancer:1", data, "--chunk-rows", 100, "-o", tmp_path / "out.csv")
    with Registry(registry_path) as reg:
        batches = stored_batches(reg, "cancer:1")
    assert [b["rows"] for b in reversed(batches)] == [100, 100, 69]
    assert {b["source"] for b in batches} == {"zoo predict"}
    first = batches[-1]["summary"]
    scored = pd.read_csv(tmp_path / "out.csv").iloc[:100]
    assert first["rows"] == 100 and first["columns"] == 30 and first["missing"] == {}
    assert first["prediction"]["labels"] == {str(k): int(v) for k, v in
                                             scored["prediction"].value_counts().items()}
    assert first["proba_mean"]["1"] == pytest.approx(scored["proba_1"].mean())
    assert first["rows_per_second"] == pytest.approx(100 / first["seconds"])


def test_a_model_loaded_from_python_records_its_scoring_calls(classifier, cancer, registry_path):
    _, clean = cancer
    X = clean.drop(columns="target")
    with Registry(registry_path) as reg:
        model = reg.load("cancer:1")
        labels = model.predict(X)
        proba = model.predict_proba(X.iloc[:50])
        plain = reg.load("cancer:1", observed=False)
        plain.predict(X)  # not observed: not recorded
        batches = stored_batches(reg, "cancer:1")
    assert [b["rows"] for b in batches] == [50, len(X)]
    assert {b["source"] for b in batches} == {"python"}
    newest, oldest = batches[0]["summary"], batches[1]["summary"]
    assert newest["proba_mean"] == pytest.approx({"0": proba[:, 0].mean(), "1": proba[:, 1].mean()})
    assert "prediction" not in newest
    assert oldest["prediction"]["labels"] == {"0": int((labels == 0).sum()), "1": int((labels == 1).sum())}


def test_numeric_predictions_get_a_sketch_and_inputs_their_missing_rates():
    rng = np.random.default_rng(0)
    values = rng.normal(5.0, 2.0, 10_000)
    values[:10] = np.nan
    X = pd.DataFrame({"a": rng.normal(size=10_000), "b": np.where(np.arange(10_000) < 2_500, np.nan, 1.0)})
    summary = summarise({"task": "regression", "kind": "predictor"}, X, values, 0.5)
    sketch = summary["prediction"]
    finite = values[10:]
    assert sketch["count"] == 9_990 and sketch["missing"] == 10
    assert sketch["mean"] == pytest.approx(finite.mean()) and sketch["std"] == pytest.approx(finite.std())
    assert sketch["min"] == finite.min() and sketch["max"] == finite.max()
    assert list(sketch["quantiles"]) == [f"q{q:02d}" for q in QUANTILES]
    assert sketch["quantiles"]["q50"] == pytest.approx(np.median(finite))
    assert summary["missing"] == {"b": 0.25} and summary["columns"] == 2
    assert summary["rows_per_second"] == pytest.approx(20_000)
    # A plain float array names its columns from the version's features.
    arr = X.to_numpy()
    version = {"task": "regression", "metadata": {"feature_names": ["a", "b"]}}
    assert summarise(version, arr, values, 0.5)["missing"] == {"b": 0.25}


def test_detector_batches_record_their_anomaly_rate_or_score_sketch():
    version = {"task": "anomaly", "kind": "detector"}
    X = pd.DataFrame({"a": np.arange(8.0)})
    flags = np.array([0, 1, 0, 0, 0, 0, 1, 0])
    assert summarise(version, X, flags, 0.1)["anomaly_rate"] == 0.25
    scores = np.linspace(0, 1, 8)
    assert summarise(version, X, scores, 0.1)["prediction"]["max"] == 1.0
    table = X.assign(anomaly_score=scores, anomaly=flags)
    summary = summarise(version, X, table, 0.1)
    assert summary["anomaly_rate"] == 0.25 and summary["prediction"]["mean"] == pytest.approx(0.5)


def test_many_labels_keep_the_most_frequent_and_sum_the_rest():
    labels = np.repeat([f"c{i:03d}" for i in range(60)], np.arange(1, 61))
    sketch = summarise({"task": "classification"}, labels[:, None], labels, 1.0)["prediction"]
    assert len(sketch["labels"]) == 51 and sketch["labels"]["c059"] == 60
    assert sketch["labels"]["other"] == sum(range(1, 11)) and sketch["count"] == len(labels)


def test_shift_against_the_reference_predictions():
    reference = {"prediction": {"mean": 10.0, "std": 2.0}}
    assert shift({"prediction": {"mean": 13.0, "std": 2.0}}, reference) == {"kind": "sd", "value": 1.5}
    ref_classes = {"proba_mean": {"0": 0.5, "1": 0.5}}
    assert shift({"proba_mean": {"0": 0.2, "1": 0.8}}, ref_classes)["value"] == pytest.approx(0.3)
    labels = {"prediction": {"labels": {"a": 30, "b": 10}}}
    assert shift(labels, {"prediction": {"labels": {"a": 20, "b": 20}}})["value"] == pytest.approx(0.25)
    assert shift({"anomaly_rate": 0.3}, {"anomaly_rate": 0.1})["value"] == pytest.approx(0.2)
    assert shift({}, reference) is None


def test_the_hook_skips_models_that_are_not_registered_versions(registry_path):
    with Registry(registry_path) as reg:
        zoo_monitor.batch_predicted(reg, None, np.zeros((3, 2)), np.zeros(3), 0.1)
        assert stored_batches(reg) == []


def test_a_batch_that_cannot_be_recorded_warns_and_never_raises(classifier, cancer, registry_path):
    _, clean = cancer
    X = clean.drop(columns="target").iloc[:5]
    reg = Registry(registry_path)
    model = reg.load("cancer:1")
    with Registry(registry_path) as other:
        other.delete("cancer:1")
    with pytest.warns(UserWarning, match="did not record a batch of cancer:1: cancer has no versions"):
        assert len(model.predict(X)) == 5  # the version is gone: scoring still works
    reg.close()


def test_a_model_outliving_its_registry_scores_without_recording_or_warning(classifier, cancer,
                                                                             registry_path):
    X = cancer[1].drop(columns="target").iloc[:5]
    with Registry(registry_path) as reg:
        model = reg.load("cancer:1")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(model.predict(X)) == 5
    with Registry(registry_path) as reg:
        assert stored_batches(reg) == []


def test_scoring_in_another_thread_is_recorded(classifier, cancer, registry_path):
    X = cancer[1].drop(columns="target")
    with Registry(registry_path) as reg:
        model = reg.load("cancer:1")  # its registry's connection belongs to this thread
        with ThreadPoolExecutor(1) as pool:
            sizes = list(pool.map(lambda n: len(model.predict(X.iloc[:n])), [10, 20, 30]))
        assert sizes == [10, 20, 30]
        assert sorted(b["rows"] for b in stored_batches(reg)) == [10, 20, 30]


def test_concurrent_scoring_in_several_threads_records_every_batch(classifier, cancer, registry_path):
    X = cancer[1].drop(columns="target")
    with Registry(registry_path) as reg:
        model = reg.load("cancer:1")
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda n: model.predict(X.iloc[:n]), range(1, 101)))
        assert sorted(b["rows"] for b in stored_batches(reg, limit=200)) == list(range(1, 101))


def test_unseen_levels_and_new_missing_values_are_counted_in_the_batch(tmp_path, registry_path, zoo):
    rng = np.random.default_rng(0)
    train = pd.DataFrame({"plan": rng.choice(["basic", "pro"], 200), "x": rng.normal(size=200)})
    train["churned"] = (train["plan"] == "pro").astype(int)
    train.to_csv(tmp_path / "train.csv", index=False)
    zoo("train", "lightgbm.classifier", tmp_path / "train.csv", "--target", "churned", "--name", "c")
    new = pd.DataFrame({"plan": ["basic", "enterprise", "pro", "enterprise"],
                        "x": [0.1, None, 0.3, 0.2]})
    new.to_csv(tmp_path / "new.csv", index=False)
    zoo("predict", "c:1", tmp_path / "new.csv", "-o", tmp_path / "out.csv")
    with Registry(registry_path) as reg:
        (batch,) = stored_batches(reg, "c:1")
    assert batch["summary"]["unseen_categories"] == 2 and batch["summary"]["new_missing"] == 1
