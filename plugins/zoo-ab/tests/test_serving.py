"""zoo_ab.serving: what zoo-ab answers `zoo serve` (serve_route, serve_outcome, shadow_scored),
asked through the kernel as the server asks it."""

from __future__ import annotations

import pandas as pd
import pytest
from zoo_ab import Experiment, serving, store

import zoo
from zoo import DataError


@pytest.fixture(autouse=True)
def fresh_cache():
    serving._cache.clear()
    yield
    serving._cache.clear()


def ask(hook: str, **arguments):
    return zoo.ask_plugins(hook, **arguments)


def test_requests_route_as_zoo_ab_predict_routes_and_only_for_their_model(baseline_registry):
    exp = Experiment.start(baseline_registry, "split", ["churn@champion", "churn@challenger"],
                           id_column="customer_id")
    units = [str(i) for i in range(40)]
    arms = exp.route(units)
    for unit, arm in zip(units, arms, strict=True):
        answer = ask("serve_route", registry=baseline_registry, model="churn", unit=unit, fields={})
        assert answer == {"experiment": "split", "arm": arm, "ref": exp.config["arms"][arm], "shadows": {}}
    from_field = ask("serve_route", registry=baseline_registry, model="churn", unit=None,
                     fields={"customer_id": 7})
    assert from_field["arm"] == exp.route(["7"])[0]
    assert ask("serve_route", registry=baseline_registry, model="other", unit="1", fields={}) is None
    with pytest.raises(DataError, match="X-Zoo-Unit header or a field 'customer_id'"):
        ask("serve_route", registry=baseline_registry, model="churn", unit=None, fields={})


def test_a_stopped_experiment_routes_nothing(baseline_registry):
    exp = Experiment.start(baseline_registry, "done", ["churn:1", "churn:2"])
    exp.stop()
    assert ask("serve_route", registry=baseline_registry, model="churn", unit="1", fields={}) is None


def test_shadow_mode_names_the_shadow_and_logs_it(baseline_registry):
    Experiment.start(baseline_registry, "shadow", ["churn:1", "churn:2"], mode="shadow")
    answer = ask("serve_route", registry=baseline_registry, model="churn", unit="u", fields={})
    assert (answer["arm"], answer["ref"], answer["shadows"]) == ("A", "churn:1", {"B": "churn:2"})
    control = pd.DataFrame({"prediction": [0, 1, 1], "proba_0": [0.9, 0.2, 0.4], "proba_1": [0.1, 0.8, 0.6]})
    shadow = pd.DataFrame({"prediction": [0, 1, 0], "proba_0": [0.8, 0.3, 0.6], "proba_1": [0.2, 0.7, 0.4]})
    ask("shadow_scored", registry=baseline_registry, experiment="shadow", arm="B", ref="churn:2",
        control=control, shadow=shadow, seconds=0.01)
    logged = store.shadow_batches(baseline_registry, "shadow", "B")
    assert logged[0]["rows"] == 3 and logged[0]["summary"]["agreement"] == pytest.approx(2 / 3)


def test_outcomes_are_recorded_once_per_unit(baseline_registry):
    Experiment.start(baseline_registry, "out", ["churn:1", "churn:2"])
    first = ask("serve_outcome", registry=baseline_registry, model="churn", unit="u1", value=1.0)
    again = ask("serve_outcome", registry=baseline_registry, model="churn", unit="u1", value=1.0)
    assert first["recorded"] is True and again["recorded"] is False and first["arm"] == again["arm"]
    assert sum(t["n"] for t in Experiment(baseline_registry, "out").totals.values()) == 1
    assert ask("serve_outcome", registry=baseline_registry, model="other", unit="u1", value=1.0) is None
