import numpy as np
import pytest

from zoo import metrics

sk = pytest.importorskip("sklearn.metrics")


def test_binary_metrics_match_scikit_learn():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 500)
    p1 = np.clip(y * 0.3 + rng.random(500) * 0.7, 0, 1)
    p1[:50] = 0.5  # ties
    proba = np.c_[1 - p1, p1]
    out = metrics.classification(y, proba, np.array([0, 1]))
    assert out["accuracy"] == pytest.approx(sk.accuracy_score(y, proba.argmax(1)))
    assert out["roc_auc"] == pytest.approx(sk.roc_auc_score(y, p1))
    assert out["f1"] == pytest.approx(sk.f1_score(y, proba.argmax(1)))
    assert out["log_loss"] == pytest.approx(sk.log_loss(y, proba))


def test_multiclass_metrics_match_scikit_learn():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, 400)
    raw = rng.random((400, 3)) + np.eye(3)[y] * 0.5
    proba = raw / raw.sum(1, keepdims=True)
    labels = np.array(["a", "b", "c"])
    out = metrics.classification(labels[y], proba, labels)
    assert out["roc_auc"] == pytest.approx(sk.roc_auc_score(y, proba, multi_class="ovr", average="macro"))
    assert out["f1"] == pytest.approx(sk.f1_score(y, proba.argmax(1), average="macro"))
    assert out["log_loss"] == pytest.approx(sk.log_loss(y, proba))


def test_regression_metrics_match_scikit_learn():
    rng = np.random.default_rng(2)
    y = rng.normal(size=300)
    pred = y + rng.normal(scale=0.3, size=300)
    out = metrics.regression(y, pred)
    assert out["rmse"] == pytest.approx(np.sqrt(sk.mean_squared_error(y, pred)))
    assert out["mae"] == pytest.approx(sk.mean_absolute_error(y, pred))
    assert out["r2"] == pytest.approx(sk.r2_score(y, pred))


def test_unseen_label_is_an_error():
    with pytest.raises(ValueError, match="not seen at fit"):
        metrics.classification(np.array([0, 2]), np.array([[0.5, 0.5]] * 2), np.array([0, 1]))
