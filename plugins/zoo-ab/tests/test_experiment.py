"""Experiments on a real registry: scoring by arm, shadow mode, outcomes, the report's
recommendation and the bandit moving traffic toward a better arm."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from zoo_ab import store
from zoo_ab.experiment import Experiment, ShadowWarning

from zoo import DataError, NotFoundError, Registry, ZooError, build_catalogue, predict_table

ARMS = {"A": "churn@champion", "B": "churn@challenger"}


def test_start_resolves_aliases_to_fixed_versions(baseline_registry):
    exp = Experiment.start(baseline_registry, "fixed", ARMS, split=[90, 10], metric="conversion")
    assert exp.config["arms"] == {"A": "churn:1", "B": "churn:2"}
    assert exp.config["refs"] == ARMS
    assert exp.split == {"A": 0.9, "B": 0.1} and exp.control == "A"
    assert len(exp.config["salt"]) == 32
    baseline_registry.set_alias("churn", "champion", 2)  # moving an alias does not move an arm
    assert Experiment(baseline_registry, "fixed").config["arms"]["A"] == "churn:1"


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"split": [60, 30]}, "sums to 90: it must sum to 100"),
    ({"split": [100, 0]}, "must be a positive number"),
    ({"split": [50, 25, 25]}, "3 shares for 2 arms"),
    ({"mode": "sequential"}, "unknown mode 'sequential'"),
    ({"arms": {"A": "churn:1"}}, "at least two arms"),
    ({"arms": {"A": "churn:1", "B": "churn@champion"}}, "both churn:1"),
    ({"arms": {"A": "churn:1", "B": "churn:9"}}, "churn has no version 9"),
    ({"arms": {"A": "churn:1", "B": "nosuch"}}, "no model named 'nosuch'"),
    ({"arms": {"A": "churn:1", "B=": "churn:2"}}, "arm name 'B=' is not usable"),
])
def test_bad_starts_are_one_line_errors_and_write_nothing(baseline_registry, kwargs, message):
    arguments = {"arms": ARMS, **kwargs}
    with pytest.raises(ZooError, match=message):
        Experiment.start(baseline_registry, "bad", **arguments)
    assert store.experiments(baseline_registry) == []


def test_unknown_experiment_is_not_found(baseline_registry):
    with pytest.raises(NotFoundError, match="no experiment named 'ghost'"):
        Experiment(baseline_registry, "ghost")


def test_predict_scores_each_row_with_its_arms_version(trained_registry_path, new_rows):
    registry = Registry(trained_registry_path)
    exp = Experiment.start(registry, "scored", ARMS, id_column="customer_id")
    new_rows.index = new_rows.index + 100  # the caller's index comes back as it was
    out = exp.predict(new_rows)
    assert list(out.index) == list(new_rows.index)
    assert (out["customer_id"] == new_rows["customer_id"]).all()
    assert (out["arm"].to_numpy() == exp.route(new_rows["customer_id"])).all()
    assert set(out["arm"]) == {"A", "B"}
    for arm, ref in exp.config["arms"].items():
        rows = out["arm"] == arm
        expected = predict_table(registry.load(ref, observed=False),
                                 new_rows.loc[rows].drop(columns="customer_id"))
        assert np.array_equal(out.loc[rows, "proba_1"].to_numpy(), expected["proba_1"].to_numpy())
    assert (exp.predict(new_rows)["arm"] == out["arm"]).all()  # sticky call after call


@pytest.mark.filterwarnings("ignore::zoo.data.ExtraColumnsWarning")  # customer_id is not routed here
def test_predict_without_an_id_column_says_how_to_fix_it(trained_registry_path, new_rows):
    registry = Registry(trained_registry_path)
    exp = Experiment.start(registry, "noid", ARMS)
    with pytest.raises(DataError, match="has no id column: start it with --id-column"):
        exp.predict(new_rows)
    assert set(exp.predict(new_rows, ids=new_rows["customer_id"])["arm"]) == {"A", "B"}
    other = Experiment.start(registry, "wrongid", ARMS, id_column="user")
    with pytest.raises(DataError, match="no id column 'user'"):
        other.predict(new_rows)


def test_shadow_mode_never_changes_the_returned_predictions(trained_registry_path, new_rows):
    registry = Registry(trained_registry_path)
    control = predict_table(registry.load("churn:1", observed=False), new_rows.drop(columns="customer_id"))
    challenger = predict_table(registry.load("churn:2", observed=False), new_rows.drop(columns="customer_id"))
    assert not np.array_equal(control["proba_1"], challenger["proba_1"])  # the arms really differ
    exp = Experiment.start(registry, "shadow", ARMS, mode="shadow", id_column="customer_id")
    out = exp.predict(new_rows)
    assert (out["arm"] == "A").all()
    for column in ("prediction", "proba_0", "proba_1"):
        assert np.array_equal(out[column].to_numpy(), control[column].to_numpy())
    assert list(out.columns) == ["customer_id", *control.columns, "arm"]
    batches = store.shadow_batches(registry, "shadow")
    assert len(batches) == 1 and batches[0]["arm"] == "B" and batches[0]["ref"] == "churn:2"
    assert batches[0]["rows"] == len(new_rows)
    summary = batches[0]["summary"]
    agreement = float(np.mean(control["prediction"].to_numpy() == challenger["prediction"].to_numpy()))
    assert summary["experiment"] == "shadow" and summary["agreement"] == pytest.approx(agreement)
    assert store.shadow_batches(registry, "shadow", "A") == []  # the control is served, not logged
    report = exp.report()
    assert report["shadow"]["B"]["rows"] == len(new_rows)
    assert report["recommendation"]["text"] == "keep A"


def test_a_failing_shadow_arm_warns_and_still_returns_the_control(trained_registry_path, new_rows):
    registry = Registry(trained_registry_path)
    train = new_rows.assign(x9=1.0, label=np.arange(len(new_rows)) % 2)
    needs_x9 = build_catalogue().get("zoo.baseline_classifier").create()
    registry.register("churn", needs_x9.fit(train[["x0", "x9"]], train["label"]))  # churn:3
    exp = Experiment.start(registry, "broken-shadow", {"A": "churn:1", "B": "churn:3"}, mode="shadow",
                           id_column="customer_id")
    with pytest.warns(ShadowWarning, match="shadow arm B \\(churn:3\\) skipped 300 rows: .*'x9'"):
        out = exp.predict(new_rows)
    control = predict_table(registry.load("churn:1", observed=False), new_rows.drop(columns="customer_id"))
    assert np.array_equal(out["proba_1"].to_numpy(), control["proba_1"].to_numpy())
    assert store.shadow_batches(registry, "broken-shadow") == []


def test_stopped_experiments_refuse_to_score_but_take_late_outcomes(baseline_registry):
    exp = Experiment.start(baseline_registry, "done", ARMS, id_column="id")
    exp.stop()
    frame = pd.DataFrame({"id": [1, 2], "x0": [0.0, 1.0], "x1": [0.0, 1.0], "x2": [0.0, 1.0]})
    with pytest.raises(ZooError, match="'done' is stopped and cannot score rows"):
        exp.predict(frame)
    assert exp.record([1, 2], [1, 0]) == 2
    assert Experiment(baseline_registry, "done").status == "stopped"


def test_record_routes_units_and_checks_values(baseline_registry):
    exp = Experiment.start(baseline_registry, "rec", ARMS)
    ids = np.arange(1000)
    assert exp.record(ids, np.ones(1000)) == 1000
    routed = exp.route(ids)
    assert exp.totals["A"]["n"] == int((routed == "A").sum())
    exp.record([1000], [0.0], arms=["B"])  # a new unit: each unit has one outcome
    assert exp.totals["B"]["n"] == int((routed == "B").sum()) + 1
    with pytest.raises(DataError, match="'yes' \\(row 2\\) is not a finite number"):
        exp.record([1, 2], [1, "yes"])
    with pytest.raises(ZooError, match="has no arm 'C'"):
        exp.record([1], [1], arms=["C"])
    with pytest.raises(DataError, match="2 ids and 1 outcome values"):
        exp.record([1, 2], [1])


def test_recording_a_unit_again_changes_nothing_and_a_conflict_needs_update(baseline_registry):
    exp = Experiment.start(baseline_registry, "once", ARMS)
    ids, values = [f"u{i}" for i in range(40)], [1, 0] * 20
    assert exp.record(ids, values, arms=["A", "B"] * 20) == 40
    before = exp.report()
    # The same file again (issue 18: it doubled n and flipped the verdict).
    assert exp.record(ids, values, arms=["A", "B"] * 20) == 0
    assert exp.recorded == {"written": 0, "unchanged": 40}
    assert {a: t["n"] for a, t in exp.totals.items()} == {"A": 20, "B": 20}
    assert exp.report()["arms"] == before["arms"]
    with pytest.raises(ZooError, match=r"unit 'u0': recorded 1 \(arm 'A'\), now 0 .*--update"):
        exp.record(["u0", "new"], [0, 1], arms=["A", "A"])
    assert exp.totals["A"]["n"] == 20  # the refused recording wrote nothing, not even "new"
    with pytest.raises(ZooError, match="unit 'x' has two outcomes in one recording"):
        exp.record(["x", "x"], [0, 1], arms=["A", "A"])
    assert exp.record(["u0"], [0], arms=["A"], update=True) == 1
    assert exp.recorded == {"written": 1, "unchanged": 0}
    assert exp.totals["A"]["n"] == 20 and exp.totals["A"]["sum"] == 19


def test_report_promotes_a_clearly_better_challenger_and_not_an_equal_one(baseline_registry):
    rng = np.random.default_rng(0)
    better = Experiment.start(baseline_registry, "better", ARMS)
    ids = np.arange(20_000)
    arms = better.route(ids)
    rates = np.where(arms == "B", 0.12, 0.08)
    better.record(ids, (rng.random(len(ids)) < rates).astype(int))
    report = better.report()
    assert report["outcome"] == "binary"
    assert report["comparisons"][0]["p_value"] < 1e-6
    assert report["recommendation"]["text"] == "promote B"

    null = Experiment.start(baseline_registry, "null", ARMS)
    null.record(ids, (rng.random(len(ids)) < 0.10).astype(int))
    report = null.report()
    assert report["comparisons"][0]["p_value"] > 0.05
    assert report["recommendation"]["action"] in ("keep", "collect")
    assert report["recommendation"]["text"] != "promote B"


def test_report_asks_for_more_data_below_the_minimum(baseline_registry):
    exp = Experiment.start(baseline_registry, "tiny", ARMS)
    exp.record(range(10), [1, 0, 1, 0, 0, 1, 0, 1, 1, 0])
    report = exp.report()
    assert report["comparisons"][0]["test"] == "permutation"
    assert report["recommendation"]["text"] == "keep collecting"
    assert "too few outcomes" in report["recommendation"]["reason"]


def test_report_on_continuous_outcomes_with_lower_is_better(baseline_registry):
    rng = np.random.default_rng(4)
    exp = Experiment.start(baseline_registry, "latency", ARMS, metric="seconds", higher_is_better=False)
    ids = np.arange(3000)
    arms = exp.route(ids)
    exp.record(ids, np.where(arms == "B", 0.9, 1.0) + rng.normal(0, 0.3, len(ids)))
    report = exp.report()
    assert report["outcome"] == "continuous" and report["comparisons"][0]["test"] == "Welch t"
    assert report["comparisons"][0]["diff"] < 0
    assert report["recommendation"]["text"] == "promote B"


def test_a_modest_effect_asks_for_about_the_right_number_of_units(baseline_registry):
    exp = Experiment.start(baseline_registry, "modest", ARMS)
    # 100 outcomes an arm at 10% and 14%: 7.849 * (0.09 + 0.1204) / 0.04^2 = 1,033 per arm are needed.
    exp.record([f"a{i}" for i in range(100)], [1] * 10 + [0] * 90, arms=["A"] * 100)
    exp.record([f"b{i}" for i in range(100)], [1] * 14 + [0] * 86, arms=["B"] * 100)
    rec = exp.report()["recommendation"]
    assert rec["text"] == "keep collecting"
    assert "need about 940 more units per arm" in rec["reason"]  # 933 more, to two figures


def test_the_bandit_moves_traffic_toward_a_clearly_better_arm(baseline_registry):
    rng = np.random.default_rng(42)
    exp = Experiment.start(baseline_registry, "bandit", ARMS, mode="bandit")
    rates = {"A": 0.08, "B": 0.12}
    shares = [exp.split["B"]]
    for round_ in range(8):
        ids = [f"r{round_}-u{i}" for i in range(500)]  # 500 new visitors each round
        arms = exp.route(ids)
        converted = rng.random(len(ids)) < np.vectorize(rates.get)(arms)
        exp.record(ids, converted.astype(int), arms=arms)
        step = exp.update_bandit()
        shares.append(step["split"]["B"])
    print("B's share by round:", [round(s, 3) for s in shares])
    assert shares[0] == 0.5 and shares[-1] > 0.8
    assert exp.split["A"] >= 0.05  # the floor keeps the loser measured
    reopened = Experiment(baseline_registry, "bandit")
    assert reopened.split == exp.split and len(reopened.config["history"]) == 9
    assert reopened.report()["probability_best"]["B"] > 0.95


def test_a_bandit_step_moves_only_units_near_the_boundary(baseline_registry):
    exp = Experiment.start(baseline_registry, "moves", ARMS, mode="bandit")
    ids = np.arange(50_000)
    before = exp.route(ids)
    exp.record(range(2000), [1] * 300 + [0] * 700 + [1] * 100 + [0] * 900,
               arms=["B"] * 1000 + ["A"] * 1000)
    step = exp.update_bandit()
    after = exp.route(ids)
    moved = before != after
    assert set(before[moved]) == {"A"}  # B got more traffic: only A's units near the boundary moved
    assert abs(float(moved.mean()) - (step["split"]["B"] - 0.5)) < 0.01


def test_update_is_only_for_bandits(baseline_registry):
    exp = Experiment.start(baseline_registry, "fixed-split", ARMS)
    with pytest.raises(ZooError, match="is in split mode: only a bandit moves traffic"):
        exp.update_bandit()
