"""registry/monitoring.py: batches, alerts with cooldown, experiments and their outcomes."""

from __future__ import annotations

import math
import sqlite3

import pytest

from zoo.errors import NotFoundError, ZooError


@pytest.fixture
def two_versions(reg, fitted, other_fitted):
    reg.register("m", fitted)
    reg.register("m", other_fitted)
    reg.set_alias("m", "champion", 1)
    return reg


def test_batches_are_scoped_by_version_or_model_newest_first(two_versions):
    reg = two_versions
    reg.record_batch("m@champion", 10, 0.5, {"mean": 0.25})
    reg.record_batch("m:2", 20, 0.25, {"mean": 0.5}, source="cli")
    reg.record_batch("m:1", 30, 0.125, {"mean": float("nan")})
    assert [b["rows"] for b in reg.batches("m:1")] == [30, 10]
    assert [b["rows"] for b in reg.batches(model="m")] == [30, 20, 10]
    assert [b["ref"] for b in reg.batches()] == ["m:1", "m:2", "m:1"]
    newest = reg.batches("m:1", limit=1)[0]
    assert newest["source"] == "python" and math.isnan(newest["summary"]["mean"])
    with pytest.raises(ZooError, match="not both"):
        reg.batches("m:1", model="m")


def test_a_summary_that_is_not_json_is_refused_without_a_write(two_versions):
    reg = two_versions
    with pytest.raises(ZooError, match="not JSON-able"):
        reg.record_batch("m:1", 1, 0.1, {"x": object()})
    with pytest.raises(NotFoundError, match="no version 9"):
        reg.record_batch("m:9", 1, 0.1, {})
    assert reg.batches() == []


def test_alert_cooldown_suppresses_repeats_but_not_escalations(two_versions):
    reg = two_versions
    first = reg.raise_alert("m:1", "drift", "MEDIUM", "3 features drifted", {"features": 3})
    assert first["raised"] and first["details"] == {"features": 3}
    again = reg.raise_alert("m:1", "drift", "low", "2 features drifted")
    assert not again["raised"] and again["id"] == first["id"]  # the alert that suppressed it
    worse = reg.raise_alert("m:1", "drift", "CRITICAL", "all features drifted")
    assert worse["raised"] and worse["severity"] == "CRITICAL"
    # Another check, or another version, has its own cooldown.
    assert reg.raise_alert("m:1", "performance", "LOW", "auc fell")["raised"]
    assert reg.raise_alert("m:2", "drift", "LOW", "1 feature drifted")["raised"]
    # With no cooldown every alert is kept.
    assert reg.raise_alert("m:1", "drift", "LOW", "again", cooldown=0)["raised"]
    assert [a["message"] for a in reg.alerts("m:1")] == [
        "again", "auc fell", "all features drifted", "3 features drifted"]
    assert [a["severity"] for a in reg.alerts(model="m", min_severity="high")] == ["CRITICAL"]
    assert len(reg.alerts(limit=2)) == 2


def test_alert_input_is_checked(two_versions):
    reg = two_versions
    with pytest.raises(ZooError, match="unknown severity 'SEVERE'"):
        reg.raise_alert("m:1", "drift", "severe", "x")
    with pytest.raises(ZooError, match="cooldown"):
        reg.raise_alert("m:1", "drift", "LOW", "x", cooldown=-1)
    with pytest.raises(ZooError, match="unknown severity"):
        reg.alerts(min_severity="urgent")
    assert reg.alerts() == []


def test_batches_and_alerts_go_with_their_version(two_versions):
    reg = two_versions
    reg.record_batch("m:1", 1, 0.1, {})
    reg.raise_alert("m:1", "drift", "LOW", "x")
    reg.record_batch("m:2", 2, 0.1, {})
    reg.delete("m:1")
    assert [b["ref"] for b in reg.batches()] == ["m:2"] and reg.alerts() == []
    with sqlite3.connect(reg.path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM alerts").fetchone() == (0,)


def test_experiment_lifecycle_and_outcome_totals(two_versions):
    reg = two_versions
    config = {"arms": {"A": "m:1", "B": "m:2"}, "split": {"A": 0.5, "B": 0.5}}
    started = reg.create_experiment("exp-1", config)
    assert started["status"] == "running" and started["totals"] == {}
    assert reg.record_outcomes("exp-1", [("A", "u1", 1), ("A", "u2", 0), ("B", "u3", 3.0)]) == 3
    totals = reg.experiment("exp-1")["totals"]
    assert totals == {"A": {"n": 2, "sum": 1.0, "sum_sq": 1.0}, "B": {"n": 1, "sum": 3.0, "sum_sq": 9.0}}
    assert [o["unit"] for o in reg.outcomes("exp-1")] == ["u1", "u2", "u3"]
    moved = reg.update_experiment("exp-1", config={**config, "split": {"A": 0.2, "B": 0.8}},
                                  status="stopped")
    assert moved["config"]["split"] == {"A": 0.2, "B": 0.8} and moved["status"] == "stopped"
    assert [e["name"] for e in reg.experiments()] == ["exp-1"]
    actions = [a["action"] for a in reg.audit()]
    assert "create_experiment" in actions and "experiment_stopped" in actions
    reg.delete_experiment("exp-1")
    assert reg.experiments() == []


def test_experiment_input_is_checked_without_a_write(two_versions):
    reg = two_versions
    reg.create_experiment("e", {"arms": {"A": "m:1", "B": "m:2"}})
    with pytest.raises(ZooError, match="exists"):
        reg.create_experiment("e", {})
    with pytest.raises(ZooError, match="invalid experiment name"):
        reg.create_experiment("bad name!", {})
    with pytest.raises(ZooError, match="no arm 'C'"):
        reg.record_outcomes("e", [("A", "u", 1.0), ("C", "u", 1.0)])
    with pytest.raises(ZooError, match="finite"):
        reg.record_outcomes("e", [("A", "u", float("inf"))])
    with pytest.raises(NotFoundError, match="no experiment named 'f'"):
        reg.record_outcomes("f", [("A", "u", 1.0)])
    with pytest.raises(ZooError, match="status"):
        reg.update_experiment("e", status="paused")
    assert reg.experiment("e")["totals"] == {}
