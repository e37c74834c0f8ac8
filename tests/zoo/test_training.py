import numpy as np
import pandas as pd
import pytest

from zoo.catalogue import build_catalogue
from zoo.errors import DataError
from zoo.training import split, train


def test_split_is_disjoint_complete_stratified_and_seeded():
    labels = np.array([0] * 80 + [1] * 20)
    tr, te = split(100, 0.2, seed=3, labels=labels)
    assert set(tr).isdisjoint(te) and len(tr) + len(te) == 100
    assert (labels[te] == 1).sum() == 4  # 20% of each class
    tr2, te2 = split(100, 0.2, seed=3, labels=labels)
    assert np.array_equal(te, te2)
    assert not np.array_equal(te, split(100, 0.2, seed=4, labels=labels)[1])


def test_split_rejects_bad_sizes():
    with pytest.raises(DataError, match="test-size"):
        split(10, 1.5, 0)
    with pytest.raises(DataError, match="too few"):
        split(1, 0.2, 0)


def test_train_records_metrics_and_fingerprint():
    df = pd.DataFrame({"x": np.arange(40.0), "y": [0, 1] * 20})
    info = build_catalogue().get("zoo.baseline_classifier")
    result = train(info, df, "y", test_size=0.25)
    assert result.n_train == 30 and result.n_test == 10
    assert result.metrics["accuracy"] == pytest.approx(0.5)
    assert result.data["rows"] == 40


def test_train_names_a_missing_target():
    info = build_catalogue().get("zoo.baseline_regressor")
    with pytest.raises(DataError, match="no column 'label'"):
        train(info, pd.DataFrame({"x": [1.0, 2.0]}), "label")


def test_a_class_with_one_row_stays_in_training():
    labels = np.array([0, 0, 0, 0, 1, 1, 1, 1, 2])
    for seed in range(20):
        tr, te = split(len(labels), 0.3, seed, labels)
        assert 8 in tr and set(labels[te]) <= set(labels[tr])
