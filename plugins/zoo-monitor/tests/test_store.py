"""zoo_monitor.store: batches, alerts with cooldown, and the tables' migrations (new
registries get them from the plugin; registries made before keep theirs, rows intact)."""

from __future__ import annotations

import math
import sqlite3
from pathlib import Path

import pandas as pd
import pytest
from zoo_monitor import store
from zootest import (
    assert_plugin_tables_match_m007,
    enabled_later,
    old_registry,
    table_schema,
)
from zootest import recorded_migrations as recorded

from zoo import NotFoundError, Registry, ZooError, build_catalogue

TABLES = ("batches", "alerts")


@pytest.fixture
def reg(registry_path):
    """A registry with two versions of model ``m`` (``m@champion`` is ``m:1``)."""
    frame = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "b": [0.5, 0.1, 0.9, 0.3]})
    info = build_catalogue().get("zoo.baseline_classifier")
    with Registry(registry_path) as r:
        for labels in ([0, 1, 1, 1], [0, 0, 0, 1]):
            r.register("m", info.create().fit(frame, pd.Series(labels, name="label")))
        r.set_alias("m", "champion", 1)
        yield r


def test_batches_are_scoped_by_version_or_model_newest_first(reg):
    store.record_batch(reg, "m@champion", 10, 0.5, {"mean": 0.25})
    store.record_batch(reg, "m:2", 20, 0.25, {"mean": 0.5}, source="cli")
    store.record_batch(reg, "m:1", 30, 0.125, {"mean": float("nan")})
    assert [b["rows"] for b in store.batches(reg, "m:1")] == [30, 10]
    assert [b["rows"] for b in store.batches(reg, model="m")] == [30, 20, 10]
    assert [b["ref"] for b in store.batches(reg)] == ["m:1", "m:2", "m:1"]
    newest = store.batches(reg, "m:1", limit=1)[0]
    assert newest["source"] == "python" and math.isnan(newest["summary"]["mean"])
    with pytest.raises(ZooError, match="not both"):
        store.batches(reg, "m:1", model="m")
    with pytest.raises(NotFoundError, match="no model named 'n'"):
        store.batches(reg, model="n")


def test_a_summary_that_is_not_json_is_refused_without_a_write(reg):
    with pytest.raises(ZooError, match="not JSON-able"):
        store.record_batch(reg, "m:1", 1, 0.1, {"x": object()})
    with pytest.raises(NotFoundError, match="no version 9"):
        store.record_batch(reg, "m:9", 1, 0.1, {})
    assert store.batches(reg) == []


def test_alert_cooldown_suppresses_repeats_but_not_escalations(reg):
    first = store.raise_alert(reg, "m:1", "drift", "MEDIUM", "3 features drifted", {"features": 3})
    assert first["raised"] and first["details"] == {"features": 3}
    again = store.raise_alert(reg, "m:1", "drift", "low", "2 features drifted")
    assert not again["raised"] and again["id"] == first["id"]  # the alert that suppressed it
    worse = store.raise_alert(reg, "m:1", "drift", "CRITICAL", "all features drifted")
    assert worse["raised"] and worse["severity"] == "CRITICAL"
    # Another check, or another version, has its own cooldown.
    assert store.raise_alert(reg, "m:1", "performance", "LOW", "auc fell")["raised"]
    assert store.raise_alert(reg, "m:2", "drift", "LOW", "1 feature drifted")["raised"]
    # With no cooldown every alert is kept.
    assert store.raise_alert(reg, "m:1", "drift", "LOW", "again", cooldown=0)["raised"]
    assert [a["message"] for a in store.alerts(reg, "m:1")] == [
        "again", "auc fell", "all features drifted", "3 features drifted"]
    assert [a["severity"] for a in store.alerts(reg, model="m", min_severity="high")] == ["CRITICAL"]
    assert len(store.alerts(reg, limit=2)) == 2


def test_alert_input_is_checked(reg):
    with pytest.raises(ZooError, match="unknown severity 'SEVERE'"):
        store.raise_alert(reg, "m:1", "drift", "severe", "x")
    with pytest.raises(ZooError, match="cooldown"):
        store.raise_alert(reg, "m:1", "drift", "LOW", "x", cooldown=-1)
    with pytest.raises(ZooError, match="unknown severity"):
        store.alerts(reg, min_severity="urgent")
    assert store.alerts(reg) == []


def test_batches_and_alerts_go_with_their_version(reg):
    store.record_batch(reg, "m:1", 1, 0.1, {})
    store.raise_alert(reg, "m:1", "drift", "LOW", "x")
    store.record_batch(reg, "m:2", 2, 0.1, {})
    reg.delete("m:1", force=True)  # it holds an alias: kept unless forced
    assert [b["ref"] for b in store.batches(reg)] == ["m:2"] and store.alerts(reg) == []
    with sqlite3.connect(reg.path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM alerts").fetchone() == (0,)


# --- migrations ---


def schema(path: Path, tables: tuple[str, ...] = TABLES) -> dict[str, str]:
    """The CREATE statement of each of ``tables`` and of their indexes, by name."""
    return table_schema(path, tables)


def legacy_registry(path: Path) -> None:
    """A registry as zoo wrote it before zoo-monitor owned its tables (``zootest.old_registry``:
    the old step m007's batches and alerts, two versions of ``m``), with rows in both tables,
    inserted as the registry's old monitoring code did."""
    old_registry(path, "m")
    conn = sqlite3.connect(path)
    with conn:
        version = {n: conn.execute("SELECT v.id FROM versions v JOIN models mo ON mo.id = v.model_id "
                                   "WHERE mo.name = 'm' AND v.version = ?", [n]).fetchone()[0]
                   for n in (1, 2)}
        conn.executemany("INSERT INTO batches (version_id, at, rows, seconds, source, summary) "
                         "VALUES (?, ?, ?, ?, ?, ?)",
                         [(version[1], "2026-11-01T10:00:00.000000+00:00", 10, 0.5, "python",
                           '{"mean": 0.25}'),
                          (version[2], "2026-11-01T11:00:00.000000+00:00", 20, 0.25, "zoo predict",
                           '{"mean": NaN}')])
        conn.execute('INSERT INTO alerts (version_id, at, "check", severity, message, details) '
                     "VALUES (?, ?, ?, ?, ?, ?)", [version[1], "2026-11-01T12:00:00.000000+00:00",
                                                   "health", "HIGH", "health 35/100", '{"health": 35}'])
    conn.close()


def test_a_registry_made_before_zoo_monitor_owned_its_tables_keeps_them_and_their_rows(tmp_path):
    path = tmp_path / "old.db"
    legacy_registry(path)
    before = schema(path)
    assert ("zoo", "m007_batches_alerts_experiments") in recorded(path)
    assert not any(s == "monitor" for s, _ in recorded(path))
    with Registry(path) as reg:  # zoo-monitor's step runs: its tables exist, nothing changes
        assert ("monitor", "m001_batches_alerts") in recorded(path)
        assert schema(path) == before
        rows = store.batches(reg)
        assert [(b["ref"], b["rows"], b["seconds"], b["source"]) for b in rows] == [
            ("m:2", 20, 0.25, "zoo predict"), ("m:1", 10, 0.5, "python")]
        assert math.isnan(rows[0]["summary"]["mean"]) and rows[1]["summary"] == {"mean": 0.25}
        assert [(a["ref"], a["check"], a["severity"], a["details"]) for a in store.alerts(reg)] == [
            ("m:1", "health", "HIGH", {"health": 35})]
        # The old table takes new rows, cooldown included, and still goes with its version.
        assert not store.raise_alert(reg, "m:1", "health", "LOW", "health 70/100", cooldown=1e9)["raised"]
        store.record_batch(reg, "m:1", 5, 0.1, {})
        reg.delete("m:1")
        assert [b["ref"] for b in store.batches(reg)] == ["m:2"] and store.alerts(reg) == []
    with Registry(path):  # reopening applies nothing more
        pass
    assert [r for r in recorded(path) if r[0] == "monitor"] == [("monitor", "m001_batches_alerts")]


def test_the_plugin_creates_the_tables_m007_created(tmp_path):
    assert_plugin_tables_match_m007(tmp_path, TABLES)


def test_a_registry_made_without_zoo_monitor_gets_its_tables_when_it_is_enabled(tmp_path):
    frame = pd.DataFrame({"a": [1.0, 2.0]})
    with enabled_later(tmp_path, "monitor", TABLES, "m001_batches_alerts") as reg:
        assert ("zoo", "m007_batches_alerts_experiments") in recorded(reg.path)  # the name, kept
        reg.register("m", build_catalogue().get("zoo.baseline_classifier").create().fit(frame, [0, 1]))
        store.record_batch(reg, "m:1", 2, 0.1, {"mean": 0.5})
        assert [b["rows"] for b in store.batches(reg, "m")] == [2]
