"""registry/store.py: the Registry, against real SQLite files and real processes."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from zoo import Registry
from zoo.default_plugins.baselines import BaselineClassifier, BaselineRegressor
from zoo.errors import IntegrityError, NotFoundError, ZooError

ROOT = Path(__file__).resolve().parents[2]


def subprocess_env() -> dict[str, str]:
    # PYTHONPATH: import this checkout whatever the state of the editable install.
    return {**os.environ, "PYTHONPATH": str(ROOT), "ZOO_LOAD_PLUGINS": ""}


# --- registering and loading ---


def test_round_trip_predicts_the_same(reg, fitted, frame):
    version = reg.register("fraud", fitted)
    loaded = reg.load("fraud:1")
    assert type(loaded) is BaselineClassifier
    np.testing.assert_array_equal(loaded.predict(frame), fitted.predict(frame))
    np.testing.assert_array_equal(loaded.predict_proba(frame), fitted.predict_proba(frame))
    assert (loaded.model_name, loaded.model_version) == ("fraud", 1)
    assert version["ref"] == "fraud:1"


def test_register_records_what_the_version_is(reg, fitted, frame, tmp_path):
    from zoo.data import fingerprint

    extra = tmp_path / "roc_curve.png"
    extra.write_bytes(b"\x89PNG not really")
    data = fingerprint(frame)
    v = reg.register("fraud", fitted, metrics={"auc": 0.9, "undefined": float("nan")},
                     params={"depth": 3, "lr": 0.1, "name": "x", "flag": True, "none": None,
                             "layers": [8, 4], "big": 2**70, "np": np.int64(7)},
                     tags={"team": "risk"}, data=data, description="first try",
                     artifacts={"roc_curve.png": extra})
    again = reg.get("fraud")
    assert {k: x for k, x in v.items() if k != "metrics"} == {
        k: x for k, x in again.items() if k != "metrics"}  # NaN != NaN
    assert {k: v[k] for k in ("id", "name", "version", "ref", "component", "kind", "task",
                              "plugin", "plugin_version", "artifact_format", "description")} == {
        "id": 1, "name": "fraud", "version": 1, "ref": "fraud:1",
        "component": "zoo.baseline_classifier", "kind": "predictor", "task": "classification",
        "plugin": "zoo.baselines", "plugin_version": "0.1.0", "artifact_format": "json",
        "description": "first try",
    }
    assert v["params"] == {"depth": 3, "lr": 0.1, "name": "x", "flag": True, "none": None,
                           "layers": [8, 4], "big": 2**70, "np": 7}
    assert v["metrics"]["auc"] == 0.9 and np.isnan(v["metrics"]["undefined"])
    assert v["tags"] == {"team": "risk"}
    assert v["data"] == data
    assert v["metadata"] == fitted.metadata
    assert v["artifacts"] == {"model": v["artifact_sha256"],
                              "roc_curve.png": reg.artifacts.put_file(extra)[0]}
    assert reg.artifacts.verify(v["artifact_sha256"])
    assert v["aliases"] == [] and v["parents"] == []
    assert v["created_at"].endswith("+00:00") and len(v["created_at"]) == 32  # microseconds


def test_params_default_to_get_params(reg, fitted):
    class Tunable(BaselineRegressor):
        component = "test.tunable"

        def __init__(self, alpha=0.5, kernel=None):
            self.alpha = alpha
            self.kernel = kernel

    from zoo.hookspecs import hookimpl
    from zoo.plugins import get_plugins

    class Plugin:
        @hookimpl
        def register_predictors(self, register):
            register(Tunable)

    get_plugins().register(Plugin(), name="test-tunable")
    model = Tunable(alpha=2, kernel=object()).fit(pd.DataFrame({"x": [1.0, 2.0]}), [1.0, 3.0])
    v = reg.register("tuned", model)
    assert v["params"]["alpha"] == 2
    assert v["params"]["kernel"].startswith("<object object")  # not JSON-able: its repr
    assert reg.load("tuned").mean_ == 2.0


def test_versions_are_numbered_per_model_and_never_reused(reg, fitted):
    assert [reg.register("a", fitted)["version"] for _ in range(3)] == [1, 2, 3]
    assert reg.register("b", fitted)["version"] == 1
    reg.delete("a:3")
    assert reg.register("a", fitted)["version"] == 4  # a:3 meant other bytes once


def test_the_connection_uses_wal_and_foreign_keys(reg):
    assert reg._conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert reg._conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert reg._conn.execute("PRAGMA busy_timeout").fetchone()[0] == 30000


def test_default_path_comes_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("ZOO_REGISTRY", str(tmp_path / "env" / "zoo.db"))
    with Registry() as reg:
        assert reg.path == tmp_path / "env" / "zoo.db"
        assert reg.artifacts.root == tmp_path / "env" / "zoo-artifacts"
    assert (tmp_path / "env" / "zoo.db").exists()


def test_version_registered_hook_fires_after_commit(reg, fitted):
    from zoo.hookspecs import hookimpl
    from zoo.plugins import get_plugins

    seen = []

    class Listener:
        @hookimpl
        def version_registered(self, registry, version):
            # Committed: a second connection already sees it.
            with Registry(registry.path) as other:
                seen.append((version["ref"], other.get(version["ref"])["id"]))

    get_plugins().register(Listener(), name="test-listener")
    v = reg.register("fraud", fitted)
    assert seen == [("fraud:1", v["id"])]


def test_importing_registry_stays_light():
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import zoo; zoo.Registry"],
        capture_output=True, text=True, check=True, env=subprocess_env(),
    )
    imported = {line.split("|")[-1].strip() for line in result.stderr.splitlines()}
    assert "zoo_registry.store" in imported
    assert not {"sqlite_utils", "numpy", "pandas"} & imported


# --- refusing bad input without writing anything ---


class Unregistered(BaselineClassifier):
    component = "test.unregistered"


@pytest.mark.parametrize("call, error, message", [
    (lambda r, m: r.register("fraud", Unregistered().fit(*_xy())), NotFoundError,
     "Unregistered is not a registered component"),
    (lambda r, m: r.register("fraud", object()), ZooError, "cannot register a object"),
    (lambda r, m: r.register("bad name", m), ZooError, "invalid model name 'bad name'"),
    (lambda r, m: r.register("-x", m), ZooError, "invalid model name"),
    (lambda r, m: r.register("x" * 129, m), ZooError, "at most 128 characters"),
    (lambda r, m: r.register("fraud", m, metrics={"auc": "high"}), ZooError,
     "metric 'auc' must be a number"),
    (lambda r, m: r.register("fraud", m, tags={"bad key": "x"}), ZooError,
     "invalid tag name 'bad key'"),
    (lambda r, m: r.register("fraud", m, parents=["ghost:1"]), NotFoundError,
     "no model named 'ghost'"),
    (lambda r, m: r.register("fraud", m, parents=["fraud:7"]), NotFoundError,
     "fraud has no version 7 (latest is 1)"),
    (lambda r, m: r.register("fraud", m, data={"rows": 3}), ZooError, "fingerprint"),
    (lambda r, m: r.register("fraud", m, artifacts={"x.png": "/no/such/file"}), NotFoundError,
     "no such file"),
    (lambda r, m: r.register("fraud", m, artifacts={"model": __file__}), ZooError,
     "invalid artifact name 'model'"),
    (lambda r, m: r.set_alias("fraud", "champion", 5), NotFoundError, "no version 5"),
    (lambda r, m: r.set_alias("fraud", "1st", 1), ZooError, "invalid alias '1st'"),
    (lambda r, m: r.remove_alias("fraud", "champion"), NotFoundError,
     "fraud has no alias 'champion' (it has no aliases)"),
    (lambda r, m: r.tag("fraud:2", {"a": "b"}), NotFoundError, "fraud has no version 2"),
    (lambda r, m: r.delete("fraud:2"), NotFoundError, "fraud has no version 2"),
    (lambda r, m: r.delete("frod"), NotFoundError, "did you mean 'fraud'?"),
])
def test_a_refused_call_leaves_the_registry_unchanged(reg, fitted, dump, call, error, message):
    reg.register("fraud", fitted)
    before = dump(reg.path)
    files = sorted(reg.artifacts.iter_files())
    with pytest.raises(error, match=message.replace("(", r"\(").replace(")", r"\)")):
        call(reg, fitted)
    assert dump(reg.path) == before
    assert sorted(reg.artifacts.iter_files()) == files


def _xy():
    return pd.DataFrame({"a": [1.0, 2.0]}), pd.Series([0, 1])


@pytest.mark.parametrize("ref, message", [
    ("frod", "no model named 'frod': did you mean 'fraud'?"),
    ("zzz", "no model named 'zzz': `zoo models` lists them"),
    ("fraud:9", "fraud has no version 9 (latest is 3)"),
    ("fraud@champ", "fraud has no alias 'champ' (aliases: champion, staging)"),
])
def test_unknown_refs_say_what_exists(reg, fitted, ref, message):
    for _ in range(3):
        reg.register("fraud", fitted)
    reg.set_alias("fraud", "champion", 2)
    reg.set_alias("fraud", "staging", 3)
    with pytest.raises(NotFoundError) as err:
        reg.get(ref)
    assert str(err.value) == message


@pytest.mark.parametrize("ref", ["", "a b", "fraud:", "fraud:x", "fraud@", "a:1@b", "fraud:-1"])
def test_malformed_refs_are_refused(reg, ref):
    with pytest.raises(ZooError, match="invalid reference"):
        reg.get(ref)


def test_an_empty_registry_says_so(reg):
    with pytest.raises(NotFoundError, match="the registry is empty"):
        reg.get("fraud")


# --- concurrency ---

WORKER = """
import pathlib, sys, time
import pandas as pd
from zoo import Registry
from zoo.default_plugins.baselines import BaselineClassifier

db, count = sys.argv[1], int(sys.argv[4])
ready, go = pathlib.Path(sys.argv[2]), pathlib.Path(sys.argv[3])
model = BaselineClassifier().fit(pd.DataFrame({"x": [0.0, 1.0, 2.0]}), pd.Series([0, 1, 1]))
ready.touch()
while not go.exists():
    time.sleep(0.005)
with Registry(db) as reg:  # all open a brand-new file at once: migrations race too
    for i in range(count):
        reg.register("shared", model, metrics={"i": i}, tags={"worker": ready.name})
"""


@pytest.mark.slow
def test_eight_processes_register_one_model_at_once(tmp_path):
    db, go = tmp_path / "registry.db", tmp_path / "go"
    procs = [
        subprocess.Popen([sys.executable, "-c", WORKER, str(db), str(tmp_path / f"ready{i}"),
                          str(go), "25"], env=subprocess_env(),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for i in range(8)
    ]
    try:
        deadline = time.monotonic() + 60
        while not all((tmp_path / f"ready{i}").exists() for i in range(8)):
            assert all(p.poll() is None for p in procs), [p.communicate() for p in procs]
            assert time.monotonic() < deadline, "workers did not start"
            time.sleep(0.01)
        go.touch()
        outcomes = [(p.wait(timeout=120), *p.communicate()) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    assert [code for code, _, _ in outcomes] == [0] * 8, outcomes
    assert [err for _, _, err in outcomes] == [""] * 8
    with Registry(db) as reg:
        versions = reg.versions("shared")
        assert [v["version"] for v in versions] == list(range(1, 201))
        assert sorted(v["tags"]["worker"] for v in versions) == sorted(
            f"ready{i}" for i in range(8) for _ in range(25))
        assert len({v["artifact_sha256"] for v in versions}) == 1  # stored once
        assert reg.verify()["ok"] == 1
        assert len(reg.audit("shared", limit=1000)) == 200
    conn = sqlite3.connect(db)
    names = [r[0] for r in conn.execute("SELECT name FROM _sqlite_migrations")]
    conn.close()
    from zoo_registry.migrations import MIGRATION_NAMES

    assert sorted(names) == sorted(MIGRATION_NAMES)


# --- aliases ---


def test_alias_moves_and_its_history(reg, fitted):
    reg.register("m", fitted)
    reg.register("m", fitted)
    assert reg.set_alias("m", "champion", 1)["previous"] is None
    assert reg.get("m@champion")["version"] == 1
    assert reg.set_alias("m", "champion", 2) == {
        "name": "m", "alias": "champion", "version": 2, "ref": "m:2", "previous": 1}
    assert reg.get("m@champion")["version"] == 2
    reg.set_alias("m", "champion", 1)
    assert reg.get("m@champion")["version"] == 1
    reg.set_alias("m", "champion", 1)  # already there: no new history row
    history = reg.alias_history("m", "champion")
    assert [(h["from_version"], h["to_version"]) for h in history] == [(None, 1), (1, 2), (2, 1)]
    assert [h["changed_at"] for h in history] == sorted(h["changed_at"] for h in history)
    assert reg.get("m:1")["aliases"] == ["champion"]
    assert reg.models()[0]["aliases"] == {"champion": 1}
    assert [a["action"] for a in reg.audit("m")][:3] == ["set_alias"] * 3


def test_remove_alias_is_recorded(reg, fitted):
    reg.register("m", fitted)
    reg.set_alias("m", "staging", 1)
    reg.remove_alias("m", "staging")
    with pytest.raises(NotFoundError, match="it has no aliases"):
        reg.get("m@staging")
    assert [(h["alias"], h["from_version"], h["to_version"]) for h in reg.alias_history("m")] \
        == [("staging", None, 1), ("staging", 1, None)]
    assert reg.audit("m")[0]["action"] == "remove_alias"


# --- tags ---


def test_tags_on_models_and_on_versions(reg, fitted):
    reg.register("m", fitted)
    reg.register("m", fitted)
    reg.set_alias("m", "champion", 2)
    reg.tag("m", {"owner": "ana", "domain": "risk"})
    reg.tag("m:1", {"stage": "dev"})
    reg.tag("m@champion", {"stage": "prod"})
    reg.tag("m@champion", {"stage": "canary", "ok": "yes"})  # overwrite one, add one
    assert reg.models()[0]["tags"] == {"domain": "risk", "owner": "ana"}
    assert reg.get("m:1")["tags"] == {"stage": "dev"}
    assert reg.get("m:2")["tags"] == {"ok": "yes", "stage": "canary"}
    reg.tag("m:2", {"ok": None})  # None removes
    assert reg.get("m:2")["tags"] == {"stage": "canary"}
    assert [v["ref"] for v in reg.versions(where="model_tags.owner = 'ana' and "
                                                  "tags.stage = 'canary'")] == ["m:2"]
    actions = [(a["action"], a["version"]) for a in reg.audit("m")]
    assert actions[:5] == [("tag_version", 2), ("tag_version", 2), ("tag_version", 2),
                           ("tag_version", 1), ("tag_model", None)]


# --- listing ---


def test_models_summarises_each_model(reg, fitted):
    reg.register("b", fitted)
    reg.register("a", fitted)
    reg.register("a", fitted)
    reg.set_alias("a", "champion", 1)
    rows = reg.models()
    assert [(m["name"], m["versions"], m["latest"]) for m in rows] == [("a", 2, 2), ("b", 1, 1)]
    assert set(rows[0]) == {"name", "versions", "latest", "aliases", "tags", "created_at",
                            "updated_at", "description"}
    assert rows[0]["updated_at"] >= rows[0]["created_at"]


def test_models_pages_most_recently_updated_first(reg, fitted):
    for name in ("c", "a", "d", "b"):
        reg.register(name, fitted)
    reg.set_alias("c", "champion", 1)
    reg.tag("d", {"owner": "ana"})  # d, then c, are the most recently updated
    page = reg.models(limit=2, recent_first=True)
    assert [m["name"] for m in page] == ["d", "c"]
    assert page[0]["tags"] == {"owner": "ana"} and page[1]["aliases"] == {"champion": 1}
    assert [m["name"] for m in reg.models(limit=3)] == ["a", "b", "c"]
    assert [m["name"] for m in reg.models(limit=0)] == ["a", "b", "c", "d"]
    assert reg.models()[3]["tags"] == {"owner": "ana"}
    assert reg.model_count() == 4


def test_versions_batches_children_correctly(reg, fitted):
    for i in range(30):
        reg.register(f"m{i % 3}", fitted, metrics={"i": i}, tags={"i": str(i)},
                     params={"i": i})
    reg.set_alias("m1", "champion", 4)
    for v in reg.versions():
        i = v["metrics"]["i"]
        assert v["params"] == {"i": i} and v["tags"] == {"i": str(int(i))}
        assert v["name"] == f"m{int(i) % 3}"
        assert v["aliases"] == (["champion"] if v["ref"] == "m1:4" else [])
    assert len(reg.versions(limit=7)) == 7
    with pytest.raises(NotFoundError, match="did you mean 'm1'"):
        reg.versions("m11")


# --- lineage ---


def test_lineage_is_recursive_and_survives_a_deleted_parent(reg, fitted, other_fitted):
    reg.register("base", fitted)
    reg.register("base", fitted)
    reg.set_alias("base", "champion", 2)
    reg.register("tuned", other_fitted, parents=["base@champion"], relation="tuned_by")
    reg.register("calibrated", other_fitted, parents=["tuned", "base:1"],
                 relation="calibrated_from")
    assert reg.get("calibrated")["parents"] == [
        {"ref": "tuned:1", "relation": "calibrated_from"},
        {"ref": "base:1", "relation": "calibrated_from"},
    ]
    tree = reg.lineage("calibrated:1")
    assert tree["ref"] == "calibrated:1"
    tuned, base1 = tree["parents"]
    assert (tuned["ref"], tuned["relation"], tuned["component"]) == (
        "tuned:1", "calibrated_from", "zoo.baseline_classifier")
    assert [(p["ref"], p["relation"]) for p in tuned["parents"]] == [("base:2", "tuned_by")]
    assert tuned["parents"][0]["parents"] == []
    assert base1["ref"] == "base:1"
    reg.delete("base:2", force=True)  # an alias and a lineage child need it
    assert reg.lineage("tuned")["parents"] == [
        {"ref": "base:2", "relation": "tuned_by", "deleted": True}]


# --- deleting ---


def test_delete_a_version_keeps_shared_artifacts(reg, fitted, other_fitted):
    shared = reg.register("m", fitted)["artifact_sha256"]
    reg.register("m", fitted)
    alone = reg.register("m", other_fitted)["artifact_sha256"]
    reg.set_alias("m", "champion", 1)

    deleted = reg.delete("m@champion", force=True)  # it holds an alias
    assert deleted == {"model": "m", "model_deleted": False, "versions": [1], "refs": ["m:1"],
                       "aliases": ["champion"], "unlinked": ["alias m@champion"],
                       "artifacts_removed": []}
    assert reg.artifacts.exists(shared)  # m:2 still uses it
    assert [v["ref"] for v in reg.versions("m")] == ["m:2", "m:3"]
    assert reg.alias_history("m")[-1]["to_version"] is None

    assert reg.delete("m:3")["artifacts_removed"] == [alone]
    assert not reg.artifacts.exists(alone)
    assert reg.verify() == {"checked": 1, "ok": 1, "corrupted": [], "missing": [], "orphans": []}
    assert [a["action"] for a in reg.audit("m", limit=2)] == ["delete_version"] * 2


def test_delete_a_model_keeps_artifacts_other_models_use(reg, fitted, other_fitted):
    shared = reg.register("m", fitted)["artifact_sha256"]
    alone = reg.register("m", other_fitted)["artifact_sha256"]
    reg.register("other", fitted)
    reg.tag("m", {"owner": "ana"})
    reg.set_alias("m", "champion", 2)

    deleted = reg.delete("m")
    assert deleted["model_deleted"] and deleted["refs"] == ["m:1", "m:2"]
    assert deleted["artifacts_removed"] == [alone]
    assert [m["name"] for m in reg.models()] == ["other"]
    assert reg.artifacts.exists(shared) and not reg.artifacts.exists(alone)
    counts = {table: reg._conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
              for table in ("versions", "version_artifacts", "artifacts", "aliases",
                            "alias_history", "model_tags")}
    assert counts == {"versions": 1, "version_artifacts": 1, "artifacts": 1, "aliases": 0,
                      "alias_history": 0, "model_tags": 0}
    assert reg.audit("m")[0]["action"] == "delete_model"

    reg.delete("other")
    assert not reg.artifacts.exists(shared)
    assert list(reg.artifacts.iter_files()) == []
    # A new model of the same name carries on numbering: m:1 meant other bytes once.
    assert reg.register("m", fitted)["version"] == 3


def test_a_model_whose_versions_are_all_deleted_remains(reg, fitted):
    reg.register("m", fitted)
    reg.tag("m", {"owner": "ana"})
    reg.delete("m:1")
    assert reg.models()[0]["versions"] == 0
    with pytest.raises(NotFoundError, match="m has no versions"):
        reg.get("m")
    assert reg.delete("m")["refs"] == []


# --- audit ---


def test_audit_rows_cannot_be_updated_or_deleted(reg, fitted):
    reg.register("m", fitted)
    conn = sqlite3.connect(reg.path)
    try:
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            conn.execute("UPDATE audit SET action = 'nothing happened'")
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            conn.execute("DELETE FROM audit")
        conn.rollback()
    finally:
        conn.close()
    entry = reg.audit()[0]
    assert (entry["action"], entry["model"], entry["version"]) == ("register", "m", 1)
    assert entry["details"]["component"] == "zoo.baseline_classifier"


def test_audit_is_newest_first_and_limited(reg, fitted):
    for name in ("a", "b", "a"):
        reg.register(name, fitted)
    assert [(e["model"], e["version"]) for e in reg.audit()] == [("a", 2), ("b", 1), ("a", 1)]
    assert [(e["model"], e["version"]) for e in reg.audit("a", limit=1)] == [("a", 2)]


# --- integrity ---


def test_a_corrupted_artifact_is_refused_before_loading(reg, fitted):
    v = reg.register("fraud", fitted)
    path = reg.artifacts.path(v["artifact_sha256"])
    # Still valid JSON with other numbers: only the hash can tell.
    path.write_text(path.read_text().replace("0.25", "0.35"))
    with pytest.raises(IntegrityError, match=f"artifact {v['artifact_sha256'][:12]} of "
                                             "fraud:1 is corrupted"):
        reg.load("fraud")
    path.write_bytes(b"\x00 not json at all")  # would fail differently if it were parsed
    with pytest.raises(IntegrityError):
        reg.load("fraud:1")
    report = reg.verify()
    assert report["corrupted"] == [{"sha256": v["artifact_sha256"], "refs": ["fraud:1"]}]
    assert (report["checked"], report["ok"], report["missing"]) == (1, 0, [])


def test_read_verified_returns_the_bytes_and_refuses_changed_ones(reg, fitted, tmp_path):
    extra = tmp_path / "record.json"
    extra.write_text('{"rows": 3}')
    v = reg.register("fraud", fitted, artifacts={"record.json": extra})
    assert reg.read_verified(v, "record.json") == b'{"rows": 3}'
    assert reg.read_verified(v) == reg.artifacts.path(v["artifact_sha256"]).read_bytes()
    reg.artifacts.path(v["artifacts"]["record.json"]).write_text('{"rows": 4}')
    with pytest.raises(IntegrityError, match="of fraud:1 is corrupted"):
        reg.read_verified(v, "record.json")
    with pytest.raises(NotFoundError, match="fraud:1 has no artifact 'nope.json'"):
        reg.read_verified(v, "nope.json")


def test_verify_reports_missing_files_and_orphans(reg, fitted, other_fitted, tmp_path):
    a = reg.register("m", fitted)["artifact_sha256"]
    reg.register("n", fitted)
    extra = tmp_path / "plot.png"
    extra.write_bytes(b"png")
    reg.register("m", other_fitted, artifacts={"plot.png": extra})
    reg.artifacts.path(a).unlink()
    stray = reg.artifacts.root / "notes.txt"
    stray.write_text("someone left this here")
    orphan_sha, _ = reg.artifacts.put_bytes(b"written, then the process crashed")

    report = reg.verify()
    assert report["missing"] == [{"sha256": a, "refs": ["m:1", "n:1"]}]
    assert sorted(report["orphans"]) == sorted([str(stray), str(reg.artifacts.path(orphan_sha))])
    assert report["corrupted"] == []
    assert (report["checked"], report["ok"]) == (3, 2)
    with pytest.raises(NotFoundError, match="is missing"):
        reg.load("m:1")
    assert reg.load("m:2").predict(pd.DataFrame({"a": [1.0], "b": [2.0]}))[0] == 0


def test_a_component_from_a_missing_plugin_cannot_be_loaded(reg, fitted):
    reg.register("m", fitted)
    reg._conn.execute("UPDATE versions SET component = 'gone.model', plugin = 'zoo-gone'")
    with pytest.raises(NotFoundError, match="needs component gone.model from plugin 'zoo-gone'"):
        reg.load("m")


# --- issue 17: every write re-checks what it depends on; refs and numbers stay meaningful ---


def test_a_version_deleted_right_after_its_commit_is_still_acknowledged(reg, fitted, monkeypatch):
    """register commits, then another process deletes the version before register could read
    it back: the caller still gets the version it committed, and version_registered fires."""
    from zoo.hookspecs import hookimpl
    from zoo.plugins import get_plugins

    heard = []

    class Listener:
        @hookimpl
        def version_registered(self, version):
            heard.append(version["ref"])

    get_plugins().register(Listener(), name="test-listener")
    real_write = reg.write

    def write_then_delete(fn):
        result = real_write(fn)
        with Registry(reg.path) as other:
            other.delete("fraud:1")
        return result

    monkeypatch.setattr(reg, "write", write_then_delete)
    version = reg.register("fraud", fitted)
    assert (version["ref"], version["component"]) == ("fraud:1", "zoo.baseline_classifier")
    assert heard == ["fraud:1"]


def test_numbers_are_never_reused_even_after_the_model_is_deleted(reg, fitted, tmp_path):
    for _ in range(3):
        reg.register("fraud", fitted)
    reg.delete("fraud")
    assert reg.register("fraud", fitted)["version"] == 4
    with Registry(reg.path) as again:  # the mark is in the file, not in this process
        again.delete("fraud")
        assert again.register("fraud", fitted)["version"] == 5


def test_the_schema_step_keeps_numbers_of_models_deleted_before_it(tmp_path, fitted):
    """A registry from before version_numbers: what it handed out (audit) stays taken."""
    import shutil

    shutil.copytree(Path(__file__).parent / "data" / "schema-v1", tmp_path / "old")
    with Registry(tmp_path / "old" / "registry.db") as reg:
        assert [v["version"] for v in reg.versions("price")] == [2]  # price:1 deleted long ago
        reg.delete("price")
        assert reg.register("price", fitted)["version"] == 3
        reg.delete("fraud", force=True)
        assert reg.register("fraud", fitted)["version"] == 4


@pytest.mark.parametrize("ref", ["fraud:99999999999999999999", "fraud:" + "9" * 5000,
                                 "fraud:2147483648"])
def test_a_huge_version_number_is_not_found_in_one_line(reg, fitted, ref):
    reg.register("fraud", fitted)
    with pytest.raises(NotFoundError, match="fraud has no version .*: versions go up to 2147483647"):
        reg.get(ref)
    with pytest.raises(ZooError, match="versions are whole numbers from 1 to 2147483647"):
        reg.set_alias("fraud", "champion", 2**63 - 1)


def test_a_version_in_use_is_kept_unless_forced(reg, fitted, other_fitted, dump):
    reg.register("base", fitted)
    reg.register("base", other_fitted)
    reg.register("tuned", fitted, parents=["base:1"])
    reg.set_alias("base", "champion", 2)
    before = dump(reg.path)
    with pytest.raises(ZooError, match=r"base:2 is still in use \(alias base@champion\).*--force"):
        reg.delete("base@champion")
    with pytest.raises(ZooError, match=r"base:1 is still in use \(lineage parent of tuned:1\)"):
        reg.delete("base:1")
    with pytest.raises(ZooError, match=r"model base is still in use \(lineage parent of tuned:1\)"):
        reg.delete("base")  # its own aliases go with it; the other model's lineage does not
    assert dump(reg.path) == before
    forced = reg.delete("base:1", force=True)
    assert forced["unlinked"] == ["lineage parent of tuned:1"]
    assert reg.lineage("tuned:1")["parents"] == [{"ref": "base:1", "relation": "parent",
                                                   "deleted": True}]
    assert reg.audit("base", limit=1)[0]["details"]["unlinked"] == ["lineage parent of tuned:1"]
    assert reg.delete("base")["refs"] == ["base:2"]  # only its own alias held it


def test_gc_leaves_young_orphans_to_the_writers_that_stored_them(reg, fitted):
    reg.register("fraud", fitted)
    young = reg.artifacts.root / "ab" / ("ab" + "1" * 62)
    old = reg.artifacts.root / "cd" / ("cd" + "2" * 62)
    for path in (young, old):
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(b"stored by a write that has not committed yet")
    os.utime(old, (time.time() - 3600, time.time() - 3600))
    assert reg.gc()["removed"] == [str(old)]
    assert young.exists()
    assert reg.gc(grace_seconds=0)["removed"] == [str(young)]


def test_an_sqlite_file_that_is_not_a_registry_is_left_unchanged(tmp_path, dump):
    path = tmp_path / "app.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
    before, size = dump(path), path.stat().st_size
    with pytest.raises(ZooError, match="is an SQLite database but not a zoo registry"):
        Registry(path)
    assert dump(path) == before and path.stat().st_size == size
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["app.db"]


READ_ONLY_WORKER = """
import json, sys
from click.testing import CliRunner
from zoo.cli import cli
registry, data, bundle, scored = sys.argv[1:5]
out = {}
for name, args in [("models", ["models"]), ("show", ["show", "m@champion", "--json"]),
                   ("versions", ["versions", "m", "--where", "version >= 1"]),
                   ("predict", ["predict", "m", data, "-o", scored]),
                   ("export", ["export", "m", "-o", bundle]),
                   ("tag", ["tag", "m:1", "a=b"]), ("alias", ["alias", "m", "1", "x"]),
                   ("delete", ["delete", "m:1", "--yes"]), ("gc", ["gc"]),
                   ("train", ["train", "zoo.baseline_classifier", data, "--target", "y", "--name", "m",
                             "--test-size", "0"]),
                   ("import", ["import", bundle])]:
    result = CliRunner().invoke(cli, ["--registry", registry, *args])
    out[name] = [result.exit_code, result.output]
print(json.dumps(out))
"""


def run_read_only(folder: Path, args: list[str]) -> subprocess.CompletedProcess:
    """Run ``python -c READ_ONLY_WORKER args`` with ``folder`` read-only: a read-only bind mount
    in a mount namespace of its own when running as root (root ignores file modes), else
    file modes."""
    command = [sys.executable, "-c", READ_ONLY_WORKER, *args]
    if os.geteuid() == 0:
        mount = (f"mount --bind {folder} {folder} && mount -o remount,bind,ro {folder} "
                 '&& exec "$@"')
        probe = subprocess.run(["unshare", "-m", "sh", "-c", mount, "sh", "true"], capture_output=True)
        if probe.returncode:
            pytest.skip(f"cannot make a read-only mount here: {probe.stderr.decode()[:200]}")
        return subprocess.run(["unshare", "-m", "sh", "-c", mount, "sh", *command],
                              capture_output=True, text=True, env=subprocess_env(), timeout=300)
    modes = {p: p.stat().st_mode for p in [folder, *folder.rglob("*")]}
    for p in modes:
        p.chmod(modes[p] & ~0o222)
    try:
        return subprocess.run(command, capture_output=True, text=True, env=subprocess_env(), timeout=300)
    finally:
        for p, mode in modes.items():
            p.chmod(mode)


def test_a_read_only_registry_reads_and_refuses_writes_in_one_line(tmp_path, fitted, dump):
    import hashlib

    folder = tmp_path / "ro"
    with Registry(folder / "registry.db") as reg:
        reg.register("m", fitted)
        reg.set_alias("m", "champion", 1)
    data = tmp_path / "d.csv"
    pd.DataFrame({"a": [1.0, 2.0], "b": [0.5, 0.2], "y": [0, 1]}).to_csv(data, index=False)
    files = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.rglob("*") if p.is_file()}
    proc = run_read_only(folder, [str(folder / "registry.db"), str(data), str(tmp_path / "m.zoo"),
                                  str(tmp_path / "scored.csv")])
    assert proc.returncode == 0, proc.stderr
    out = {name: (code, text) for name, (code, text) in json.loads(proc.stdout).items()}
    for name in ("models", "show", "versions", "predict", "export"):
        assert out[name][0] == 0, (name, out[name])
    assert json.loads(out["show"][1])["version"] == 1
    assert pd.read_csv(tmp_path / "scored.csv")["proba_1"].tolist() == [0.75, 0.75]
    for name in ("tag", "alias", "delete", "gc", "train", "import"):
        code, text = out[name]
        errors = [line for line in text.splitlines() if line.startswith("Error:")]
        assert code == 1 and len(errors) == 1 and "is read-only here" in errors[0], (name, text)
        assert "Traceback" not in text
    # Nothing changed, and no WAL or shared-memory file appeared.
    assert {p: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in folder.rglob("*") if p.is_file()} == files


def test_a_version_naming_another_versions_model_file_keeps_it_alive(reg, fitted, other_fitted):
    """Registries that imported an unchecked bundle may hold a version whose model file is
    listed only on another version: deleting that owner keeps the file (it used to fail
    with a FOREIGN KEY error) and the borrower still loads."""
    owner = reg.register("owner", fitted)
    reg.register("borrower", other_fitted)
    with sqlite3.connect(reg.path) as conn:
        conn.execute("UPDATE versions SET artifact_sha256 = ? WHERE id = 2", [owner["artifact_sha256"]])
    assert reg.delete("owner")["artifacts_removed"] == []
    assert reg.artifacts.exists(owner["artifact_sha256"])
    assert type(reg.load("borrower")) is BaselineClassifier
