"""zoo/models.py ``observe``: a loaded model's scoring calls reach ``batch_predicted`` without
a listener call (a summary and a registry write, for zoo-monitor) per call: the first call
of each method at once, later ones gathered in memory and told once a second, before the
registry is read or closed, and many small ones as one joined batch."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from zoo import Registry, hookimpl
from zoo.default_plugins.baselines import BaselineClassifier
from zoo.models import SEPARATE_CALLS


class Calls:
    def __init__(self):
        self.rows: list[int] = []

    @hookimpl
    def batch_predicted(self, version, inputs, predictions, seconds):
        self.rows.append(len(inputs))


@pytest.fixture
def loaded(add_plugin, registry_path):
    X = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "b": [0.5, 0.1, 0.9, 0.3]})
    calls = Calls()
    add_plugin(calls, "t-observed")
    registry = Registry(registry_path)
    registry.register("m", BaselineClassifier().fit(X, pd.Series([0, 1, 1, 1])))
    yield registry, registry.load("m"), X, calls
    registry.close()


def test_a_loop_of_single_rows_is_told_in_few_batches_before_the_registry_is_read(loaded):
    import time

    registry, model, X, calls = loaded
    start = time.monotonic()
    for k in range(1000):
        model.predict(X.iloc[[k % 4]])
    seconds = time.monotonic() - start
    assert calls.rows[0] == 1  # the first call at once, the rest wait in memory
    registry.get("m")  # reading the registry tells what waits first
    assert sum(calls.rows) == 1000
    # Joined (more than SEPARATE_CALLS waiting): not a listener call per scoring call.
    assert max(calls.rows) > SEPARATE_CALLS
    assert len(calls.rows) <= 2 + (1 + SEPARATE_CALLS) * (1 + int(seconds))


def test_a_few_calls_stay_separate_batches_and_closing_tells_them(loaded, registry_path):
    registry, model, X, calls = loaded
    for n in (1, 2, 3, 4):
        model.predict_proba(X.iloc[:n])
    registry.close()
    assert calls.rows == [1, 2, 3, 4]


def test_waiting_calls_are_told_within_about_a_second_without_a_read(loaded):
    import time

    registry, model, X, calls = loaded
    model.predict(X)
    model.predict(X.iloc[:2])
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and len(calls.rows) < 2:
        time.sleep(0.05)
    assert calls.rows == [4, 2]


def test_joined_batches_keep_rows_and_predictions(loaded):
    from zoo.models import _merged

    _, _, X, _ = loaded
    joined = _merged([(X.iloc[:1], np.array([1]), 0.1), (X.iloc[1:3], np.array([0, 1]), 0.2)])
    assert len(joined[0]) == 3 and joined[1].tolist() == [1, 0, 1] and joined[2] == pytest.approx(0.3)
    assert _merged([(X, np.zeros(4), 0.1), (X, np.zeros((4, 2)), 0.1)]) is None  # shapes disagree
