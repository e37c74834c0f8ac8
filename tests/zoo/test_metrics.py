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


def test_calibration_metrics_match_scikit_learn_and_hand_counts():
    from sklearn.calibration import calibration_curve

    rng = np.random.default_rng(2)
    p1 = rng.random(1000)
    y = (rng.random(1000) < p1 ** 1.5).astype(int)  # over-confident in the middle
    proba = np.c_[1 - p1, p1]
    out = metrics.calibration(y, proba, np.array([0, 1]))
    assert out["brier"] == pytest.approx(sk.brier_score_loss(y, p1))
    assert out["log_loss"] == pytest.approx(sk.log_loss(y, proba))
    # The reliability curve is scikit-learn's 15 equal-width bins (empty ones dropped).
    curve = metrics.reliability_curve(y, proba, [0, 1])
    freq, conf = calibration_curve(y, p1, n_bins=15, strategy="uniform")
    np.testing.assert_allclose(curve["frequency"], freq)
    np.testing.assert_allclose(curve["confidence"], conf)
    gaps = np.abs(curve["frequency"] - curve["confidence"])
    assert out["ece"] == pytest.approx(np.sum(curve["count"] * gaps) / 1000)
    assert out["mce"] == pytest.approx(gaps.max())
    # Equal-mass bins: 15 groups of the rows sorted by score.
    order = np.argsort(p1, kind="mergesort")
    adaptive = sum(len(b) * abs(y[b].mean() - p1[b].mean()) for b in np.array_split(order, 15)) / 1000
    assert out["ece_adaptive"] == pytest.approx(adaptive)


def test_multiclass_calibration_is_top_label():
    proba = np.array([[0.7, 0.2, 0.1], [0.6, 0.3, 0.1], [0.1, 0.1, 0.8], [0.2, 0.5, 0.3]])
    labels = np.array(["a", "b", "c"])
    y = labels[[0, 1, 2, 1]]  # top label right, wrong, right, right
    out = metrics.calibration(y, proba, labels, n_bins=10)
    # Bins (0.6, 0.7], (0.5, 0.6], (0.7, 0.8], (0.4, 0.5] hold one row each.
    expected = (abs(1 - 0.7) + abs(0 - 0.6) + abs(1 - 0.8) + abs(1 - 0.5)) / 4
    assert out["ece"] == pytest.approx(expected)
    assert out["mce"] == pytest.approx(0.6)
    assert out["brier"] == pytest.approx(sk.brier_score_loss(np.array([0, 1, 2, 1]), proba))
    with pytest.raises(ValueError, match="shape"):
        metrics.calibration(y, proba[:, :2], labels)
