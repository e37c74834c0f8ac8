"""A/B and shadow at serve time through zoo-ab's experiments (the serve_route, serve_outcome
and shadow_scored hooks): sticky routing by unit, a shadow scored and logged but never
returned, outcomes recorded once per unit. One server: it reads running experiments anew
every second, so each step starts the experiment it needs."""

from __future__ import annotations

import time

from zoo import Registry

FEATURES = ["x0", "x1", "x2", "x3"]
ROW = {f: 0.3 for f in FEATURES}


def wait_for_experiment(served, name: str) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        answer = served.call("POST", "/v1/models/churn/predict", ROW, headers={"X-Zoo-Unit": "probe"})[1]
        if answer.get("experiment") == name:
            return
        time.sleep(0.3)
    raise AssertionError(f"the server never routed by {name}")


def test_routing_outcomes_and_shadows_through_zoo_ab(start, registry_copy):
    from zoo_ab import Experiment, store

    served = start("churn@champion")
    # No experiment: served as is, and outcomes have nowhere to go.
    assert "experiment" not in served.call("POST", "/v1/models/churn/predict", ROW)[1]
    status, answer = served.call("POST", "/v1/models/churn/outcomes", {"unit": "u1", "value": 1})
    assert status == 409 and "no running experiment" in answer["error"]["message"]

    with Registry(registry_copy) as registry:
        config = Experiment.start(registry, "exp-split", {"A": "churn:1", "B": "churn:2"},
                                  id_column="customer").config
    wait_for_experiment(served, "exp-split")
    arms = {}
    for unit in [f"u{i}" for i in range(12)]:
        status, answer = served.call("POST", "/v1/models/churn/predict", ROW, headers={"X-Zoo-Unit": unit})
        assert status == 200, answer
        assert answer["ref"] == config["arms"][answer["arm"]]
        arms[unit] = answer["arm"]
        again = served.call("POST", "/v1/models/churn/predict", {**ROW, "customer": unit})[1]
        assert again["arm"] == answer["arm"]  # the same unit from a field: the same arm
    with Registry(registry_copy) as registry:
        routed = Experiment(registry, "exp-split").route(list(arms))
    assert dict(zip(arms, routed, strict=True)) == arms  # as `zoo ab` routes them
    assert set(arms.values()) == {"A", "B"}
    # A pinned ref in the URL is served as asked, never rerouted.
    assert "experiment" not in served.call("POST", "/v1/models/churn@champion/predict", ROW,
                                           headers={"X-Zoo-Unit": "u1"})[1]
    # Without a unit the request cannot be routed: a 422 that says how to send one.
    status, answer = served.call("POST", "/v1/models/churn/predict", ROW)
    assert status == 422 and "X-Zoo-Unit" in answer["error"]["message"]
    first = served.call("POST", "/v1/models/churn/outcomes", {"unit": "u1", "value": 1})
    assert first[0] == 200 and first[1]["outcomes"][0]["recorded"] is True
    assert first[1]["outcomes"][0]["arm"] == arms["u1"]
    repeat = served.call("POST", "/v1/models/churn/outcomes", {"outcomes": [{"unit": "u1", "value": 1}]})
    assert repeat[0] == 200 and repeat[1]["outcomes"][0]["recorded"] is False
    assert served.call("POST", "/v1/models/churn/outcomes", {"unit": "u2", "value": "yes"})[0] == 422
    with Registry(registry_copy) as registry:
        totals = Experiment(registry, "exp-split").totals
        assert sum(t["n"] for t in totals.values()) == 1
        Experiment(registry, "exp-split").stop()
        Experiment.start(registry, "exp-shadow", {"A": "churn:1", "B": "churn:2"}, mode="shadow")

    wait_for_experiment(served, "exp-shadow")
    for n in range(6):
        status, answer = served.call("POST", "/v1/models/churn/predict", ROW, headers={"X-Zoo-Unit": f"s{n}"})
        assert status == 200 and answer["ref"] == "churn:1" and answer["arm"] == "A"
    deadline = time.monotonic() + 15
    logged = []
    while time.monotonic() < deadline and sum(b["rows"] for b in logged) < 7:  # 6 and the probe
        time.sleep(0.3)
        with Registry(registry_copy) as registry:
            logged = store.shadow_batches(registry, "exp-shadow", "B")
    assert sum(b["rows"] for b in logged) >= 7
    assert logged[0]["ref"] == "churn:2" and logged[0]["summary"]["source"] == "zoo serve"
    assert 0.0 <= logged[0]["summary"]["agreement"] <= 1.0
