"""The ``Detector`` base: the contamination threshold, its ties, and moving it later."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from zoo.errors import DataError, ZooError
from zoo.interfaces import Detector, check_contamination, contamination_threshold


class Distance(Detector):
    """Distance from the training mean (a test detector)."""

    component = "t.distance"

    def __init__(self, contamination=0.1):
        self.contamination = contamination

    def _fit(self, X):
        self.mean_ = X.to_numpy().mean(axis=0)

    def _score(self, X):
        return np.linalg.norm(X.to_numpy() - self.mean_, axis=1)


@pytest.mark.parametrize("n", [7, 10, 99, 100, 101, 1003])
@pytest.mark.parametrize("contamination", [0.01, 0.05, 0.1, 1 / 3, 0.5])
def test_threshold_flags_the_contamination_share_within_one_row(n, contamination):
    scores = np.random.default_rng(n).normal(size=n)
    flagged = int((scores > contamination_threshold(scores, contamination)).sum())
    assert abs(flagged - contamination * n) <= 0.5 + 1e-9


def test_tied_scores_get_the_closest_achievable_share():
    scores = np.array([1, 1, 1, 1, 2, 2, 2, 3, 3, 9.0])
    flagged = {c: int((scores > contamination_threshold(scores, c)).sum()) for c in (0.1, 0.2, 0.3, 0.5)}
    # 2 is out of reach (1 or 3 are): the smaller on a draw; 5 is out of reach (3 or 6): 6 is closer.
    assert flagged == {0.1: 1, 0.2: 1, 0.3: 3, 0.5: 6}


def test_threshold_sits_between_flagged_and_unflagged_scores():
    threshold = contamination_threshold(np.arange(10.0), 0.2)
    assert 7.0 < threshold < 8.0


def test_fit_keeps_training_scores_and_set_contamination_moves_the_threshold():
    X = pd.DataFrame(np.random.default_rng(0).normal(size=(200, 3)), columns=list("abc"))
    model = Distance(contamination=0.1).fit(X)
    assert model.predict(X).sum() == 20
    np.testing.assert_array_equal(model.training_scores_, model.score(X))
    assert model.set_contamination(0.05).predict(X).sum() == 10 and model.contamination == 0.05
    assert model.metadata == {"task": "anomaly", "feature_names": ["a", "b", "c"],
                              "threshold": model.threshold_, "contamination": 0.05}
    del model.training_scores_
    with pytest.raises(ZooError, match="kept no training scores"):
        model.set_contamination(0.1)


@pytest.mark.parametrize("value", [0, -0.1, 0.6, "lots", None, float("nan")])
def test_contamination_outside_0_to_half_is_refused(value):
    with pytest.raises(DataError, match="contamination must be above 0 and at most 0.5"):
        check_contamination(value)


def test_missing_values_are_refused_at_fit_and_score():
    X = pd.DataFrame({"a": [1.0, 2.0, np.nan, 4.0], "b": [1.0, 2.0, 3.0, 4.0]})
    with pytest.raises(DataError, match="column 'a' has 1 missing value"):
        Distance().fit(X)
    model = Distance().fit(X.fillna(0))
    with pytest.raises(DataError, match="column 'a' has 1 missing value"):
        model.score(X)
