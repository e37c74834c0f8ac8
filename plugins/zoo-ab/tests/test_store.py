"""zoo_ab.store: experiments, their outcomes and shadow log, and the tables' migrations (new
registries get them from the plugin; registries made before keep theirs, rows intact)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from zoo_ab import store
from zoo_ab.experiment import Experiment
from zootest import (
    assert_plugin_tables_match_m007,
    enabled_later,
    old_registry,
    table_schema,
)
from zootest import recorded_migrations as recorded

from zoo import NotFoundError, Registry, ZooError

TABLES = ("experiments", "outcomes")
CONFIG = {"arms": {"A": "churn:1", "B": "churn:2"}, "split": {"A": 0.5, "B": 0.5}}


def test_experiment_lifecycle_and_outcome_totals(baseline_registry):
    reg = baseline_registry
    started = store.create_experiment(reg, "exp-1", CONFIG)
    assert started["status"] == "running" and started["totals"] == {}
    assert store.record_outcomes(reg, "exp-1", [("A", "u1", 1), ("A", "u2", 0), ("B", "u3", 3.0)]) == 3
    totals = store.experiment(reg, "exp-1")["totals"]
    assert totals == {"A": {"n": 2, "sum": 1.0, "sum_sq": 1.0}, "B": {"n": 1, "sum": 3.0, "sum_sq": 9.0}}
    assert [o["unit"] for o in store.outcomes(reg, "exp-1")] == ["u1", "u2", "u3"]
    moved = store.update_experiment(reg, "exp-1", config={**CONFIG, "split": {"A": 0.2, "B": 0.8}},
                                    status="stopped")
    assert moved["config"]["split"] == {"A": 0.2, "B": 0.8} and moved["status"] == "stopped"
    assert [e["name"] for e in store.experiments(reg)] == ["exp-1"]
    actions = [a["action"] for a in reg.audit()]
    assert "create_experiment" in actions and "experiment_stopped" in actions
    store.delete_experiment(reg, "exp-1")
    assert store.experiments(reg) == []


def test_experiment_input_is_checked_without_a_write(baseline_registry):
    reg = baseline_registry
    store.create_experiment(reg, "e", CONFIG)
    with pytest.raises(ZooError, match="exists"):
        store.create_experiment(reg, "e", {})
    with pytest.raises(ZooError, match="invalid experiment name"):
        store.create_experiment(reg, "bad name!", {})
    with pytest.raises(ZooError, match="must be a dict"):
        store.create_experiment(reg, "f", ["A", "B"])
    with pytest.raises(ZooError, match="no arm 'C'"):
        store.record_outcomes(reg, "e", [("A", "u", 1.0), ("C", "u", 1.0)])
    with pytest.raises(ZooError, match="finite"):
        store.record_outcomes(reg, "e", [("A", "u", float("inf"))])
    with pytest.raises(NotFoundError, match="no experiment named 'f'"):
        store.record_outcomes(reg, "f", [("A", "u", 1.0)])
    with pytest.raises(ZooError, match="status"):
        store.update_experiment(reg, "e", status="paused")
    assert store.experiment(reg, "e")["totals"] == {}


def test_the_shadow_log_goes_with_its_experiment_not_with_its_versions(baseline_registry):
    reg = baseline_registry
    Experiment.start(reg, "s", CONFIG["arms"], mode="shadow")
    store.record_shadow(reg, "s", "B", "churn:2", 10, 0.5, {"agreement": 0.9})
    store.record_shadow(reg, "s", "B", "churn:2", 30, 0.25, {"agreement": 0.8})
    assert [(b["arm"], b["ref"], b["rows"]) for b in store.shadow_batches(reg, "s")] == [
        ("B", "churn:2", 30), ("B", "churn:2", 10)]
    with pytest.raises(ZooError, match="not JSON-able"):
        store.record_shadow(reg, "s", "B", "churn:2", 1, 0.1, {"x": object()})
    with pytest.raises(NotFoundError, match="no experiment named 't'"):
        store.record_shadow(reg, "t", "B", "churn:2", 1, 0.1, {})
    # Arms name versions by ref text: deleting one keeps the experiment's history whole.
    reg.delete("churn:2", force=True)  # an arm of a running experiment: kept unless forced
    assert len(store.shadow_batches(reg, "s", "B")) == 2
    assert Experiment(reg, "s").shadow_summary()["B"] == {
        "ref": "churn:2", "batches": 2, "rows": 40, "agreement": pytest.approx(0.825), "mean_abs_diff": None}
    store.delete_experiment(reg, "s")
    with sqlite3.connect(reg.path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM shadow_batches").fetchone() == (0,)


# --- migrations ---


def schema(path: Path, tables: tuple[str, ...] = TABLES) -> dict[str, str]:
    """The CREATE statement of each of ``tables`` and of their indexes, by name."""
    return table_schema(path, tables)


def legacy_registry(path: Path) -> None:
    """A registry as zoo wrote it before zoo-ab owned its tables (``zootest.old_registry``: the
    old step m007's experiments and outcomes, two versions of ``churn``), with an experiment
    and its outcomes, inserted as the old registry code did."""
    old_registry(path, "churn")
    config = ('{"arms": {"A": "churn:1", "B": "churn:2"}, "control": "A", "split": {"A": 0.5, "B": 0.5}, '
              '"mode": "split", "salt": "00112233445566778899aabbccddeeff", "outcome": "auto"}')
    conn = sqlite3.connect(path)
    with conn:
        eid = conn.execute("INSERT INTO experiments (name, config, created_at, updated_at) "
                           "VALUES ('old', ?, '2026-11-01T10:00:00+00:00', '2026-11-01T10:00:00+00:00')",
                           [config]).lastrowid
        conn.executemany("INSERT INTO outcomes (experiment_id, arm, unit, value, at) VALUES (?, ?, ?, ?, ?)",
                         [(eid, "A", "u1", 1.0, "2026-11-02T10:00:00+00:00"),
                          (eid, "B", "u2", 0.0, "2026-11-02T10:00:00+00:00"),
                          (eid, "B", "u3", 1.0, "2026-11-02T10:00:00+00:00")])
    conn.close()


def test_a_registry_made_before_zoo_ab_owned_its_tables_keeps_them_and_their_rows(tmp_path):
    path = tmp_path / "old.db"
    legacy_registry(path)
    before = schema(path)
    assert ("zoo", "m007_batches_alerts_experiments") in recorded(path)
    with Registry(path) as reg:  # zoo-ab's step runs: its old tables stay as they are
        assert ("ab", "m001_experiments_outcomes") in recorded(path)
        assert schema(path) == before
        old = store.experiment(reg, "old")
        assert old["status"] == "running" and old["config"]["arms"] == {"A": "churn:1", "B": "churn:2"}
        assert old["totals"] == {"A": {"n": 1, "sum": 1.0, "sum_sq": 1.0},
                                 "B": {"n": 2, "sum": 1.0, "sum_sq": 1.0}}
        assert [(o["arm"], o["unit"]) for o in store.outcomes(reg, "old")] == [
            ("A", "u1"), ("B", "u2"), ("B", "u3")]
        exp = Experiment(reg, "old")  # the experiment carries on where it stopped
        assert exp.record(["u4"], [1], arms=["A"]) == 1 and exp.totals["A"]["n"] == 2
        assert set(schema(path, ("shadow_batches",))) == {"shadow_batches", "shadow_batches_experiment_arm"}
        store.delete_experiment(reg, "old")
        with sqlite3.connect(path) as conn:
            assert conn.execute("SELECT COUNT(*) FROM outcomes").fetchone() == (0,)
    assert [r for r in recorded(path) if r[0] == "ab"] == [("ab", "m001_experiments_outcomes")]


def test_the_plugin_creates_the_tables_m007_created(tmp_path):
    assert_plugin_tables_match_m007(tmp_path, TABLES)


def test_a_registry_made_without_zoo_ab_gets_its_tables_when_it_is_enabled(tmp_path):
    with enabled_later(tmp_path, "ab", (*TABLES, "shadow_batches"), "m001_experiments_outcomes") as reg:
        store.create_experiment(reg, "e", CONFIG)
        assert store.record_outcomes(reg, "e", [("A", "u", 1.0)]) == 1
