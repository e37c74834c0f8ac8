"""The component bases: scikit-learn's parameter conventions (nested ``get_params``/``set_params``,
``clone``), loading through ``from_artifact`` (``load`` then ``restore_metadata``), and the
``Detector`` base: the contamination threshold, its ties, and moving it later."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from zoo.default_plugins.baselines import BaselineClassifier
from zoo.errors import DataError, IntegrityError, ZooError
from zoo.interfaces import (
    BaseMLModel,
    Component,
    Detector,
    check_contamination,
    contamination_threshold,
)


class Distance(Detector):
    """Distance from the training mean (a test detector)."""

    component = "t.distance"

    def __init__(self, contamination=0.1):
        self.contamination = contamination

    def _fit(self, X):
        self.mean_ = X.to_numpy().mean(axis=0)

    def _decision_function(self, X):
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


def test_fit_keeps_decision_scores_and_set_contamination_moves_the_threshold():
    X = pd.DataFrame(np.random.default_rng(0).normal(size=(200, 3)), columns=list("abc"))
    model = Distance(contamination=0.1).fit(X)
    assert model.predict(X).sum() == 20
    np.testing.assert_array_equal(model.decision_scores_, model.decision_function(X))
    assert model.set_contamination(0.05).predict(X).sum() == 10 and model.contamination == 0.05
    assert model.metadata == {"task": "anomaly", "feature_names": ["a", "b", "c"],
                              "threshold": model.threshold_, "contamination": 0.05}
    del model.decision_scores_
    with pytest.raises(ZooError, match="kept no training scores"):
        model.set_contamination(0.1)


@pytest.mark.parametrize("value", [0, -0.1, 0.6, "lots", None, float("nan")])
def test_contamination_outside_0_to_half_is_refused(value):
    with pytest.raises(DataError, match="contamination must be above 0 and at most 0.5"):
        check_contamination(value)


def test_missing_values_are_refused_at_fit_and_decision_function():
    X = pd.DataFrame({"a": [1.0, 2.0, np.nan, 4.0], "b": [1.0, 2.0, 3.0, 4.0]})
    with pytest.raises(DataError, match="column 'a' has 1 missing value"):
        Distance().fit(X)
    model = Distance().fit(X.fillna(0))
    with pytest.raises(DataError, match="column 'a' has 1 missing value"):
        model.decision_function(X)


def test_detector_restores_feature_names_threshold_and_contamination_from_metadata():
    X = pd.DataFrame(np.random.default_rng(1).normal(size=(50, 2)), columns=["a", "b"])
    model = Distance(contamination=0.2).fit(X)
    blank = Distance()
    blank.mean_ = model.mean_
    blank.restore_metadata(model.metadata)
    assert list(blank.feature_names_in_) == ["a", "b"]
    assert blank.threshold_ == model.threshold_ and blank.contamination == 0.2
    np.testing.assert_array_equal(blank.predict(X), model.predict(X))
    Distance().restore_metadata(None)  # an old version without metadata: nothing to restore


# --- parameters, as scikit-learn has them ---


class Inner(Component):
    """A component held by another."""

    component = "t.inner"

    def __init__(self, a=1, b="x"):
        self.store_params(locals())


class Outer(Component):
    """A component with a component parameter."""

    component = "t.outer"

    def __init__(self, inner=None, k=2):
        self.store_params(locals())


def test_store_params_keeps_every_argument_unchanged():
    value = object()
    model = Outer(inner=value, k=[1])
    assert model.inner is value and model.k == [1]
    assert model.get_params(deep=False) == {"inner": value, "k": [1]}


def test_get_params_deep_names_a_nested_components_params_with_double_underscores():
    model = Outer(inner=Inner(a=3), k=5)
    assert model.get_params(deep=False) == {"inner": model.inner, "k": 5}
    assert model.get_params() == {"inner": model.inner, "inner__a": 3, "inner__b": "x", "k": 5}


def test_set_params_reaches_nested_components_and_refuses_unknown_names():
    model = Outer(inner=Inner())
    assert model.set_params(inner__a=7, k=1) is model
    assert model.inner.a == 7 and model.k == 1
    with pytest.raises(ValueError, match="no parameter 'zz'"):
        model.set_params(inner__zz=1)
    with pytest.raises(ValueError, match="t.outer has no parameter 'nope'; valid: inner, k"):
        model.set_params(nope=1)
    with pytest.raises(ValueError, match="not a component: it has no parameter 'x'"):
        model.set_params(k__x=1)
    # A new inner component and its parameter in one call: the parameter goes to the new one.
    fresh = Inner()
    model.set_params(inner=fresh, inner__b="y")
    assert model.inner is fresh and fresh.b == "y"
    with pytest.raises(ValueError, match="no parameter 'nope'"):
        model.set_params(k=9, nope=1)
    assert model.k == 1  # a refused call sets nothing


def test_sklearn_clone_copies_parameters_not_fitted_state():
    clone = pytest.importorskip("sklearn.base").clone

    model = Outer(inner=Inner(a=4), k=3)
    model.fitted_ = True
    copy = clone(model)
    assert type(copy) is Outer and copy.k == 3 and not hasattr(copy, "fitted_")
    assert copy.inner is not model.inner and copy.inner.get_params() == {"a": 4, "b": "x"}


def test_a_scikit_learn_estimator_as_a_parameter_is_nested_too():
    Ridge = pytest.importorskip("sklearn.linear_model").Ridge  # noqa: N806 - a class

    model = Outer(inner=Ridge(alpha=2.0))
    assert model.get_params()["inner__alpha"] == 2.0
    model.set_params(inner__alpha=0.5)
    assert model.inner.alpha == 0.5


def test_repr_shows_the_parameters_that_differ_from_their_defaults():
    assert repr(Inner(a=5)) == "Inner(a=5)"
    assert repr(Outer(inner=np.arange(3))) == "Outer(inner=array([0, 1, 2]))"  # arrays compare safely


# --- fitted state and loading ---


def test_check_fitted_needs_an_attribute_ending_in_underscore():
    model = Inner()
    with pytest.raises(RuntimeError, match="Inner is not fitted: call fit"):
        model.check_fitted()
    model.state_ = 1
    model.check_fitted()


def test_from_artifact_is_load_then_restore_metadata(tmp_path):
    X = pd.DataFrame({"a": [0.0, 1, 2, 3], "b": [1.0, 0, 1, 0]})
    model = BaselineClassifier().fit(X, pd.Series(["no", "yes", "yes", "yes"], name="label"))
    model.save(tmp_path / "model.json")
    loaded = BaselineClassifier.from_artifact(tmp_path / "model.json", model.metadata)
    assert list(loaded.feature_names_in_) == ["a", "b"] and list(loaded.classes_) == ["no", "yes"]
    assert loaded.target_name_ == "label"
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    bare = BaselineClassifier.load(tmp_path / "model.json", model.metadata)
    assert not hasattr(bare, "classes_")  # load leaves the metadata to restore_metadata


def test_expect_features_checks_the_count_or_names_them_like_as_frame():
    model = BaseMLModel()
    model.expect_features(3, {"feature_names": ["a", "b", "c"]}, "m.bin")
    assert not hasattr(model, "feature_names_in_")  # restore_metadata sets the real names
    model.expect_features(2, None, "m.bin")
    assert list(model.feature_names_in_) == ["x0", "x1"]
    with pytest.raises(IntegrityError, match="refusing to load m.bin: the model has 2 features but its "
                                             "metadata names 3"):
        model.expect_features(2, {"feature_names": ["a", "b", "c"]}, "m.bin")
