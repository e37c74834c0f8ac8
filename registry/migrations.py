"""The registry schema, as ordered, named migrations (sqlite-utils ``Migrations``).

Each step runs in its own savepoint together with its record in ``_sqlite_migrations``,
so re-running is a no-op and a failing step leaves no trace. Never edit a released
step: add a new one at the end.

Tables are created with raw SQL because nearly every one needs something
``Table.create()`` cannot express: ON DELETE actions, CHECKs, composite keys,
WITHOUT ROWID, an untyped column, triggers. ``db.execute`` runs one statement and
stays inside the transaction (``executescript`` would commit it). JSON columns
(metadata, data_schema, details) have no ``json_valid`` CHECK: Python writes NaN as
``NaN``, which SQLite's JSON parser rejects.

sqlite_utils is imported only inside ``apply``: it pulls in pandas (0.3 s), and opening
an up-to-date registry never needs it (``pending`` uses plain sqlite3).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

SET_NAME = "zoo"
MIGRATIONS_TABLE = "_sqlite_migrations"

# name -> statements, in the order they are applied.
_STEPS: dict[str, tuple[str, ...]] = {
    "m001_models_versions_artifacts": (
        """CREATE TABLE models (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            description TEXT,
            -- highest version number ever allocated: numbers of deleted versions are never reused
            last_version INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )""",
        """CREATE TABLE artifacts (
            sha256 TEXT PRIMARY KEY CHECK (length(sha256) = 64),
            size INTEGER NOT NULL,
            created_at TEXT NOT NULL
        )""",
        """CREATE TABLE versions (
            id INTEGER PRIMARY KEY,
            model_id INTEGER NOT NULL REFERENCES models(id) ON DELETE CASCADE,
            version INTEGER NOT NULL CHECK (version >= 1),
            component TEXT NOT NULL,
            kind TEXT NOT NULL,
            task TEXT NOT NULL,
            plugin TEXT NOT NULL,
            plugin_version TEXT NOT NULL,
            artifact_sha256 TEXT NOT NULL REFERENCES artifacts(sha256),
            artifact_format TEXT NOT NULL,
            metadata TEXT NOT NULL DEFAULT '{}',
            data_sha256 TEXT,
            data_rows INTEGER,
            data_schema TEXT,
            description TEXT,
            created_at TEXT NOT NULL,
            UNIQUE (model_id, version)
        )""",
        """CREATE TABLE version_artifacts (
            version_id INTEGER NOT NULL REFERENCES versions(id) ON DELETE CASCADE,
            name TEXT NOT NULL,
            sha256 TEXT NOT NULL REFERENCES artifacts(sha256),
            PRIMARY KEY (version_id, name)
        ) WITHOUT ROWID""",
        # Reference counting on delete looks artifacts up by sha256.
        "CREATE INDEX version_artifacts_sha256 ON version_artifacts(sha256)",
    ),
    "m002_params_metrics_tags": (
        # value is untyped on purpose: ints and floats compare numerically, strings stay
        # strings; type remembers what to give back (bool, None, JSON list/dict).
        """CREATE TABLE params (
            version_id INTEGER NOT NULL REFERENCES versions(id) ON DELETE CASCADE,
            key TEXT NOT NULL,
            value,
            type TEXT NOT NULL CHECK (type IN ('str', 'int', 'float', 'bool', 'null', 'json')),
            PRIMARY KEY (version_id, key)
        ) WITHOUT ROWID""",
        "CREATE INDEX params_key_value ON params(key, value)",
        # NULL value stands for NaN (SQLite stores NaN as NULL).
        """CREATE TABLE metrics (
            version_id INTEGER NOT NULL REFERENCES versions(id) ON DELETE CASCADE,
            key TEXT NOT NULL,
            value REAL,
            PRIMARY KEY (version_id, key)
        ) WITHOUT ROWID""",
        "CREATE INDEX metrics_key_value ON metrics(key, value)",
        """CREATE TABLE model_tags (
            model_id INTEGER NOT NULL REFERENCES models(id) ON DELETE CASCADE,
            key TEXT NOT NULL,
            value TEXT NOT NULL,
            PRIMARY KEY (model_id, key)
        ) WITHOUT ROWID""",
        "CREATE INDEX model_tags_key_value ON model_tags(key, value)",
        """CREATE TABLE version_tags (
            version_id INTEGER NOT NULL REFERENCES versions(id) ON DELETE CASCADE,
            key TEXT NOT NULL,
            value TEXT NOT NULL,
            PRIMARY KEY (version_id, key)
        ) WITHOUT ROWID""",
        "CREATE INDEX version_tags_key_value ON version_tags(key, value)",
    ),
    "m003_aliases": (
        """CREATE TABLE aliases (
            model_id INTEGER NOT NULL REFERENCES models(id) ON DELETE CASCADE,
            alias TEXT NOT NULL,
            version_id INTEGER NOT NULL REFERENCES versions(id) ON DELETE CASCADE,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (model_id, alias)
        ) WITHOUT ROWID""",
        "CREATE INDEX aliases_version_id ON aliases(version_id)",
        # Version numbers, not ids: the history outlives the versions it mentions.
        """CREATE TABLE alias_history (
            id INTEGER PRIMARY KEY,
            model_id INTEGER NOT NULL REFERENCES models(id) ON DELETE CASCADE,
            alias TEXT NOT NULL,
            from_version INTEGER,
            to_version INTEGER,
            changed_at TEXT NOT NULL
        )""",
        "CREATE INDEX alias_history_model_alias ON alias_history(model_id, alias, id)",
    ),
    "m004_lineage": (
        # parent_ref keeps the lineage readable after the parent is deleted
        # (parent_version_id then becomes NULL).
        """CREATE TABLE lineage (
            version_id INTEGER NOT NULL REFERENCES versions(id) ON DELETE CASCADE,
            parent_version_id INTEGER REFERENCES versions(id) ON DELETE SET NULL,
            parent_ref TEXT NOT NULL,
            relation TEXT NOT NULL DEFAULT 'parent',
            PRIMARY KEY (version_id, parent_ref)
        )""",
        "CREATE INDEX lineage_parent_version_id ON lineage(parent_version_id)",
    ),
    "m005_audit": (
        # model/version are plain values, not foreign keys: the log outlives what it names.
        """CREATE TABLE audit (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            at TEXT NOT NULL,
            action TEXT NOT NULL,
            model TEXT,
            version INTEGER,
            details TEXT
        )""",
        "CREATE INDEX audit_model ON audit(model, id)",
        """CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
        BEGIN SELECT RAISE(ABORT, 'audit rows are append-only: they cannot be updated'); END""",
        """CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
        BEGIN SELECT RAISE(ABORT, 'audit rows are append-only: they cannot be deleted'); END""",
    ),
    "m006_bundle_imports_created_at": (
        # Provenance of versions restored from a bundle (zoo import): which bundle, when.
        """CREATE TABLE bundle_imports (
            id INTEGER PRIMARY KEY,
            bundle_sha256 TEXT NOT NULL,
            source TEXT,
            imported_at TEXT NOT NULL
        )""",
        """CREATE TABLE version_origins (
            version_id INTEGER PRIMARY KEY REFERENCES versions(id) ON DELETE CASCADE,
            import_id INTEGER NOT NULL REFERENCES bundle_imports(id)
        )""",
        # --where 'created_at > ...' and newest-first listings.
        "CREATE INDEX versions_created_at ON versions(created_at)",
    ),
    # Retired: this step created batches, alerts, experiments and outcomes, tables that now
    # belong to zoo-monitor and zoo-ab, which create them through their own migrations
    # (register_migrations, CREATE TABLE IF NOT EXISTS with the same definitions). Its name
    # stays: registries made before have it recorded (with those tables and their rows,
    # which the plugins take over as they are), and a recorded name zoo does not know
    # means a newer zoo wrote the file.
    "m007_batches_alerts_experiments": (),
    "m008_version_numbers": (
        # Every (model name, version) ever handed out, with the bytes it meant. No foreign
        # key: it outlives the model, so `zoo delete fraud` then `zoo train --name fraud`
        # gets fraud:4, never fraud:1 again, and a bundle cannot bring back fraud:3 with
        # other bytes. artifact_sha256 is NULL where only the number is known.
        """CREATE TABLE version_numbers (
            name TEXT NOT NULL,
            version INTEGER NOT NULL CHECK (version >= 1),
            artifact_sha256 TEXT,
            issued_at TEXT NOT NULL,
            PRIMARY KEY (name, version)
        ) WITHOUT ROWID""",
        """INSERT OR IGNORE INTO version_numbers (name, version, artifact_sha256, issued_at)
           SELECT mo.name, v.version, v.artifact_sha256, v.created_at
           FROM versions v JOIN models mo ON mo.id = v.model_id""",
        # Deleted versions survive in the append-only audit log.
        """INSERT OR IGNORE INTO version_numbers (name, version, artifact_sha256, issued_at)
           SELECT model, version, json_extract(details, '$.artifact_sha256'), at FROM audit
           WHERE action IN ('register', 'import') AND model IS NOT NULL AND version >= 1
             AND json_valid(details)""",
        """INSERT OR IGNORE INTO version_numbers (name, version, artifact_sha256, issued_at)
           SELECT name, last_version, NULL, updated_at FROM models WHERE last_version >= 1""",
    ),
}

#: Every migration, in order of application.
MIGRATION_NAMES: tuple[str, ...] = tuple(_STEPS)


def _migrations(set_name: str, steps: dict[str, tuple[str, ...]]) -> Any:
    from sqlite_utils.migrations import Migrations

    migrations = Migrations(set_name)
    for name, statements in steps.items():
        def step(db: Any, statements: tuple[str, ...] = statements) -> None:
            for sql in statements:
                db.execute(sql)

        migrations(name=name)(step)
    return migrations


def pending(conn: sqlite3.Connection, set_name: str = SET_NAME,
            names: tuple[str, ...] = MIGRATION_NAMES) -> list[str]:
    """Names of ``names`` not yet recorded for ``set_name`` in the database, without sqlite_utils."""
    done = set(applied(conn, set_name))
    return [name for name in names if name not in done]


def applied(conn: sqlite3.Connection, set_name: str = SET_NAME) -> list[str]:
    """Names of the migrations of ``set_name`` recorded in the database, in order of application."""
    try:
        rows = conn.execute(
            f"SELECT name FROM {MIGRATIONS_TABLE} WHERE migration_set = ? ORDER BY rowid",
            [set_name],
        ).fetchall()
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            return []
        raise
    return [row[0] for row in rows]


def apply(path: str | Path, set_name: str = SET_NAME,
          steps: dict[str, tuple[str, ...]] | None = None) -> list[str]:
    """Apply pending migrations of ``set_name`` (the registry's own by default) to the database
    file at ``path``; returns the names applied.

    The whole run holds SQLite's write lock (``BEGIN IMMEDIATE``), so processes opening a
    new registry at the same moment take turns: the first applies, the others find
    nothing left to do. Each step is still its own savepoint with its record.
    """
    import sqlite_utils

    conn = sqlite3.connect(str(path), timeout=30, isolation_level=None)
    try:
        conn.execute("PRAGMA busy_timeout = 30000")
        db = sqlite_utils.Database(conn, execute_plugins=False)
        conn.execute("BEGIN IMMEDIATE")
        try:
            before = set(applied(conn, set_name))
            _migrations(set_name, _STEPS if steps is None else steps).apply(db)
            after = applied(conn, set_name)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
    finally:
        conn.close()
    return [name for name in after if name not in before]
