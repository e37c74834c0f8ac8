"""registry/migrations.py: the schema as ordered, named, re-runnable steps."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from zoo_registry import migrations

from zoo import Registry
from zoo.errors import ZooError

TABLES = {"models", "versions", "params", "metrics", "model_tags", "version_tags", "aliases",
          "alias_history", "lineage", "artifacts", "version_artifacts", "audit", "version_numbers"}
INDEXES = {"params_key_value", "metrics_key_value", "version_tags_key_value",
           "model_tags_key_value", "aliases_version_id", "version_artifacts_sha256",
           "lineage_parent_version_id", "alias_history_model_alias", "audit_model"}


def names(path, kind: str) -> set[str]:
    conn = sqlite3.connect(path)
    try:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = ?", [kind])}
    finally:
        conn.close()


def recorded(path) -> list[tuple[str, str]]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(
            "SELECT migration_set, name FROM _sqlite_migrations ORDER BY id").fetchall()
    finally:
        conn.close()


def test_apply_on_an_empty_file_creates_every_table(tmp_path):
    path = tmp_path / "empty.db"
    assert migrations.apply(path) == list(migrations.MIGRATION_NAMES)
    assert TABLES | {"_sqlite_migrations"} <= names(path, "table")
    assert INDEXES <= names(path, "index")
    assert {"audit_no_update", "audit_no_delete"} <= names(path, "trigger")


def test_reapplying_changes_nothing(tmp_path, dump):
    path = tmp_path / "registry.db"
    migrations.apply(path)
    before = dump(path)
    assert migrations.apply(path) == []
    with Registry(path):
        pass
    with Registry(path):
        pass
    assert dump(path) == before
    assert recorded(path) == [("zoo", name) for name in migrations.MIGRATION_NAMES]


def test_registry_applies_migrations_when_it_opens_a_new_file(tmp_path):
    path = tmp_path / "sub" / "dir" / "registry.db"
    with Registry(path) as reg:
        assert reg.path == path
        assert reg.artifacts.root == tmp_path / "sub" / "dir" / "registry-artifacts"
    assert [name for _, name in recorded(path)] == list(migrations.MIGRATION_NAMES)
    assert TABLES <= names(path, "table")


def test_pending_lists_only_missing_steps(tmp_path):
    path = tmp_path / "registry.db"
    conn = sqlite3.connect(path)
    assert migrations.pending(conn) == list(migrations.MIGRATION_NAMES)  # no table yet
    migrations.apply(path)
    assert migrations.pending(conn) == []
    conn.close()


def test_migration_names_are_unique_and_ordered():
    assert len(set(migrations.MIGRATION_NAMES)) == len(migrations.MIGRATION_NAMES)
    assert list(migrations.MIGRATION_NAMES) == sorted(migrations.MIGRATION_NAMES)


def test_a_registry_upgraded_by_a_newer_zoo_is_refused(tmp_path):
    path = tmp_path / "registry.db"
    migrations.apply(path)
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("INSERT INTO _sqlite_migrations (migration_set, name, applied_at) "
                     "VALUES ('zoo', 'm999_from_the_future', '2100-01-01')")
    conn.close()
    with pytest.raises(ZooError, match="newer zoo"):
        Registry(path)


def test_a_file_that_is_not_a_database_is_refused(tmp_path):
    path = tmp_path / "registry.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(ZooError, match="not a usable zoo registry"):
        Registry(path)


def test_opening_an_up_to_date_registry_does_not_import_sqlite_utils(tmp_path):
    path = tmp_path / "registry.db"
    migrations.apply(path)
    code = ("import sys; from zoo import Registry; Registry(sys.argv[1]).close(); "
            "print(sorted(m for m in ('sqlite_utils', 'pandas', 'numpy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True,
                         check=True, env=_env()).stdout
    assert out.strip() == "[]"


def _env() -> dict[str, str]:
    import os
    from pathlib import Path

    root = str(Path(__file__).resolve().parents[2])
    return {**os.environ, "PYTHONPATH": root, "ZOO_LOAD_PLUGINS": ""}


def test_a_registry_made_by_the_first_schema_migrates_forward(tmp_path):
    """tests/registry/data/schema-v1 was written by zoo's first schema (m001-m005) and is
    never regenerated: newer code must open it, migrate it and keep every row."""
    import shutil

    from zoo_registry.migrations import MIGRATION_NAMES

    from zoo import Registry

    src = Path(__file__).parent / "data" / "schema-v1"
    shutil.copytree(src, tmp_path / "old")
    path = tmp_path / "old" / "registry.db"
    with sqlite3.connect(path) as conn:
        first = [r[0] for r in conn.execute("SELECT name FROM _sqlite_migrations ORDER BY id")]
    assert first == list(MIGRATION_NAMES[:5])
    with Registry(path) as reg:
        with sqlite3.connect(path) as conn:
            now = [r[0] for r in conn.execute("SELECT name FROM _sqlite_migrations ORDER BY id")]
        assert now == list(MIGRATION_NAMES)  # every newer step applied
        fraud = reg.versions("fraud")
        assert [v["version"] for v in fraud] == [1, 2, 3]
        assert fraud[2]["params"] == {"bootstrap": True, "criterion": "gini", "depth": 4}
        assert fraud[1]["tags"] == {"team": "risk"} and fraud[0]["metrics"]["auc"] == 0.7
        assert reg.get("fraud@champion")["version"] == 3
        assert [(h["from_version"], h["to_version"]) for h in reg.alias_history("fraud", "champion")] == [
            (None, 1), (1, 3)]
        assert [p["ref"] for p in reg.lineage("fraud:3")["parents"]] == ["fraud:2"]
        assert reg.models()[0]["tags"] == {"owner": "ana"}
        assert [v["version"] for v in reg.versions("price")] == [2]
        assert reg.load("fraud:2").predict_proba(pd.DataFrame({"a": [1.0], "b": [2.0]})).tolist() == [
            [0.5, 0.5]]
        assert reg.verify()["corrupted"] == [] and reg.verify()["missing"] == []
        reg.register("price", reg.load("price:2"))
        assert reg.get("price")["version"] == 3  # numbering carries on after the deleted price:1
        assert len(reg.audit()) > 10
