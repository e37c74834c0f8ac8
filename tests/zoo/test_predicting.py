"""zoo/predicting.py: prediction tables, and loaded models reporting their scoring calls."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from zoo import Registry, hookimpl
from zoo.default_plugins.baselines import BaselineClassifier
from zoo.predicting import predict_table


class Calls:
    def __init__(self):
        self.seen = []

    @hookimpl
    def batch_predicted(self, registry, version, inputs, predictions, seconds):
        self.seen.append((registry.path, version["ref"], len(inputs), np.shape(predictions), seconds))


@pytest.fixture
def stored(registry_path):
    X = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "b": [0.5, 0.1, 0.9, 0.3]})
    model = BaselineClassifier().fit(X, pd.Series([0, 1, 1, 1]))
    with Registry(registry_path) as reg:
        reg.register("m", model)
        yield reg, X


def test_a_loaded_model_reports_each_outermost_scoring_call(add_plugin, stored):
    reg, X = stored
    calls = Calls()
    add_plugin(calls, "t-calls")
    model = reg.load("m")
    labels = model.predict(X)
    proba = model.predict_proba(X.iloc[:2])
    assert [c[1:4] for c in calls.seen] == [("m:1", 4, np.shape(labels)), ("m:1", 2, np.shape(proba))]
    assert all(c[0] == reg.path and c[4] >= 0 for c in calls.seen)
    # Reporting changes nothing about what the model returns.
    plain = reg.load("m", observed=False)
    assert np.array_equal(plain.predict(X), labels)
    assert len(calls.seen) == 2


def test_predict_table_through_an_observed_model_is_one_batch(add_plugin, stored):
    reg, X = stored
    calls = Calls()
    add_plugin(calls, "t-calls")
    out = predict_table(reg.load("m"), X)
    assert list(out.columns) == ["a", "b", "prediction", "proba_0", "proba_1"]
    # predict and predict_proba inside, reported once with the whole output table
    assert [c[1:4] for c in calls.seen] == [("m:1", 4, (4, 5))]
    pd.testing.assert_frame_equal(out, predict_table(reg.load("m", observed=False), X))


def test_a_loaded_model_can_be_registered_again(stored):
    reg, X = stored
    again = reg.register("copy", reg.load("m"))
    assert np.array_equal(reg.load(again["ref"]).predict_proba(X), reg.load("m").predict_proba(X))


def test_a_failing_listener_does_not_break_prediction(add_plugin, stored):
    reg, X = stored

    class Broken:
        @hookimpl
        def batch_predicted(self):
            raise RuntimeError("listener exploded")

    add_plugin(Broken(), "t-broken")
    with pytest.warns(UserWarning, match="listener exploded"):
        assert len(reg.load("m").predict(X)) == 4
