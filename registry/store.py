"""The model registry: versions of fitted components in one SQLite file, their artifacts in
a content-addressed directory beside it (``<db dir>/<db stem>-artifacts/``).

Refs name a version: ``"fraud"`` (latest), ``"fraud:3"``, ``"fraud@champion"``.

Writes are short ``BEGIN IMMEDIATE`` transactions retried on "database is locked", so
many processes can register into one file at once (WAL mode lets readers carry on).
Artifact files are written before the rows that reference them and unlinked only after
the rows are gone: a crash leaves at most an orphan file, which ``verify`` reports.
"""

from __future__ import annotations

import difflib
import json
import os
import random
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from zoo_registry import migrations
from zoo_registry.artifacts import ArtifactStore
from zoo_registry.query import compile_order_by, compile_where
from zoo_registry.rows import (
    MAX_VERSION,
    alias_moved,
    check_alias,
    check_key,
    check_name,
    checked_keys,
    decode_param,
    encode_data,
    encode_metric,
    encode_param,
    extra_artifacts,
    grouped,
    parse_ref,
    record_audit,
    timestamp,
    to_json,
    version_number,
)

from zoo.errors import NotFoundError, ZooError

T = TypeVar("T")

BUSY_TIMEOUT_MS = 30_000
#: Extra attempts after SQLite gave up waiting for the write lock.
BUSY_RETRIES = 5
#: zoo gc leaves orphan files younger than this: they may belong to a write in progress.
GC_GRACE_SECONDS = 900



class Store:
    """Versions, aliases, tags, lineage and artifacts in one SQLite file; a context manager
    closing it. Storage only: it is handed component records and files, never builds a model
    and fires no event (``zoo.Registry`` adds those on top)."""

    #: True when this user cannot write the file (set when it is opened): reads work, writes
    #: fail with one line.
    read_only: bool = False

    def __init__(self, path: str | Path | None = None) -> None:
        """Open (creating if needed) the registry at ``path``.

        ``None`` means ``$ZOO_REGISTRY``, else ``registry.db`` in the user data directory.
        Pending schema migrations are applied.
        """
        if path is None:
            path = os.environ.get("ZOO_REGISTRY") or _default_path()
        self.path = Path(path).expanduser().absolute()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.artifacts = ArtifactStore(self.path.parent / f"{self.path.stem}-artifacts")
        self._conn = self._connect()

    def _connect(self) -> sqlite3.Connection:
        # Read-only access (a read-only file, folder or mount, a file of another user): reads
        # work, nothing is switched or migrated, and every write fails with one line.
        self.read_only = not _writable(self.path)
        try:
            # isolation_level=None: we issue BEGIN/COMMIT ourselves.
            conn = (_open_read_only(self.path) if self.read_only else
                    sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None))
        except sqlite3.Error as exc:
            raise ZooError(f"cannot open the registry {self.path}: {exc}; "
                           "check the path and its permissions") from None
        try:
            conn.row_factory = sqlite3.Row
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            conn.execute("PRAGMA foreign_keys = ON")
            if self.read_only:
                conn.execute("PRAGMA query_only = ON")
            # Before anything is written: never turn someone else's database into a registry.
            if not _is_registry_or_empty(conn):
                raise ZooError(f"{self.path} is an SQLite database but not a zoo registry; "
                               "point --registry or $ZOO_REGISTRY at a registry file (left unchanged)")
            if self.read_only:
                if not migrations.applied(conn):
                    raise ZooError(f"{self.path} is empty and read-only: there is no registry to "
                                   "read; point --registry at a registry file")
            else:
                # In WAL mode NORMAL syncs at checkpoints, not at every commit: a killed process
                # loses nothing and the file is never corrupted; a power cut may roll back the
                # last commits (artifacts are fsynced before their rows, so a rolled-back row
                # leaves at most an orphan file for zoo gc). ZOO_SYNC=full syncs every commit.
                sync = "FULL" if os.environ.get("ZOO_SYNC", "").lower() == "full" else "NORMAL"
                conn.execute(f"PRAGMA synchronous = {sync}")
                self._retry_busy(lambda: conn.execute("PRAGMA journal_mode = WAL").fetchone())
                if migrations.pending(conn):
                    self._retry_busy(lambda: migrations.apply(self.path))
            unknown = [n for n in migrations.applied(conn) if n not in migrations.MIGRATION_NAMES]
            if unknown:
                raise ZooError(f"the registry {self.path} was upgraded by a newer zoo "
                               f"(schema step {unknown[0]}); upgrade zoo to use it")
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise ZooError(f"{self.path} is not a usable zoo registry ({exc}); "
                           "point --registry or $ZOO_REGISTRY at another file") from None
        except BaseException:
            conn.close()
            raise
        return conn

    def check_writable(self) -> None:
        """A one-line error if this registry was opened read-only (every write path asks
        this before it stores a byte)."""
        if self.read_only:
            raise ZooError(f"the registry {self.path} is read-only here (its file, folder or disk "
                           "cannot be written by this user): reading works; to change it, use an "
                           "account that may write there, or work on a copy (zoo backup)")

    def migrate(self, set_name: str, steps: dict[str, tuple[str, ...]]) -> list[str]:
        """Apply a plugin's own schema steps (name -> SQL statements, in order) once each,
        recorded under ``set_name``; returns the names applied now. Never edit a released
        step: add a new one. Tables should reference ``versions(id) ON DELETE CASCADE``."""
        names = tuple(steps)
        if self.read_only or not migrations.pending(self._conn, set_name, names):
            return []  # read-only: a plugin's missing tables fail its own reads, in one line
        return self._retry_busy(lambda: migrations.apply(self.path, set_name, steps))

    def close(self) -> None:
        """Close the database connection (idempotent)."""
        self._conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.path)!r})"

    # --- writing ---

    def add_version(
        self,
        name: str,
        component: dict[str, Any],
        save: Callable[[Path], None],
        *,
        params: dict[str, Any] | None = None,
        metrics: dict[str, float] | None = None,
        tags: dict[str, str] | None = None,
        data: dict[str, Any] | None = None,
        parents: list[str] | None = None,
        relation: str = "parent",
        description: str | None = None,
        artifacts: dict[str, str | Path] | None = None,
    ) -> dict[str, Any]:
        """Store the next version of model ``name``; returns the version as ``get`` does.

        ``component`` describes what was fitted (``COMPONENT_FIELDS``: name, kind, task,
        plugin, plugin_version, artifact_format, metadata); ``save(path)`` writes its artifact
        file. ``data`` is a fingerprint (sha256, rows, schema); ``parents`` are refs recorded
        in the lineage with ``relation``; ``artifacts`` are extra files by name.
        """
        # Everything that can be refused is checked before a byte is written.
        self.check_writable()
        check_name(name, "model name")
        info = _component_record(component)
        param_rows = [(k, *encode_param(v)) for k, v in checked_keys(params or {}, "param")]
        metric_rows = [(k, encode_metric(k, v)) for k, v in checked_keys(metrics, "metric")]
        tag_rows = [(k, str(v)) for k, v in checked_keys(tags, "tag")]
        data_sha, data_rows, data_schema = encode_data(data)
        metadata = to_json(info["metadata"], f"the metadata of {info['name']}")
        check_key(relation, "lineage relation")
        extra_files = extra_artifacts(artifacts)
        parent_refs = list(dict.fromkeys(parents or []))
        with self.read() as conn:
            for ref in parent_refs:
                self.resolve(conn, ref)

        # Artifacts first: a crash from here on leaves an orphan file, never a row pointing
        # at a missing file. The model saves straight into the store's staging area.
        stored = {"model": self.artifacts.put_written(save)}
        stored |= {n: self.artifacts.put_file(p) for n, p in extra_files.items()}

        def insert(conn: sqlite3.Connection) -> int:
            for artifact, (sha, _) in list(stored.items()):
                # A concurrent delete may have unlinked an identical file meanwhile;
                # it does so holding the write lock, which we now hold. A second save
                # may not give the same bytes, so the row takes whatever it stored.
                if not self.artifacts.exists(sha):
                    stored[artifact] = (self.artifacts.put_written(save) if artifact == "model"
                                        else self.artifacts.put_file(extra_files[artifact]))
            lineage = []
            for ref in parent_refs:
                parent = self.resolve(conn, ref)
                lineage.append((parent["id"], f"{parent['name']}:{parent['version']}"))
            now = timestamp()
            model_id, number = _allocate_version(conn, name, stored["model"][0], now)
            conn.executemany(
                "INSERT OR IGNORE INTO artifacts (sha256, size, created_at) VALUES (?, ?, ?)",
                [(sha, size, now) for sha, size in stored.values()],
            )
            version_id = conn.execute(
                """INSERT INTO versions (model_id, version, component, kind, task, plugin,
                       plugin_version, artifact_sha256, artifact_format, metadata,
                       data_sha256, data_rows, data_schema, description, created_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                [model_id, number, info["name"], info["kind"], info["task"], info["plugin"],
                 info["plugin_version"], stored["model"][0], info["artifact_format"], metadata,
                 data_sha, data_rows, data_schema, description, now],
            ).lastrowid
            conn.executemany(
                "INSERT INTO params (version_id, key, value, type) VALUES (?, ?, ?, ?)",
                [(version_id, *row) for row in param_rows],
            )
            conn.executemany("INSERT INTO metrics (version_id, key, value) VALUES (?, ?, ?)",
                             [(version_id, *row) for row in metric_rows])
            conn.executemany(
                "INSERT INTO version_tags (version_id, key, value) VALUES (?, ?, ?)",
                [(version_id, *row) for row in tag_rows],
            )
            conn.executemany(
                "INSERT INTO version_artifacts (version_id, name, sha256) VALUES (?, ?, ?)",
                [(version_id, n, sha) for n, (sha, _) in stored.items()],
            )
            conn.executemany(
                """INSERT INTO lineage (version_id, parent_version_id, parent_ref, relation)
                   VALUES (?, ?, ?, ?)""",
                [(version_id, pid, pref, relation) for pid, pref in lineage],
            )
            record_audit(conn, "register", name, number, {
                "component": info["name"], "plugin": info["plugin"],
                "artifact_sha256": stored["model"][0],
            })
            # Read back in the same transaction: once committed, the version is acknowledged
            # even if another process deletes it a moment later.
            return self._by_ids(conn, [version_id])[0]

        return self.write(insert)

    def set_alias(self, name: str, alias: str, version: int) -> dict[str, Any]:
        """Point ``name@alias`` at ``version``, creating or moving it; the move is recorded."""
        check_alias(alias)

        def move(conn: sqlite3.Connection) -> dict[str, Any]:
            target = self.resolve(conn, f"{name}:{version_number(version)}")
            current = conn.execute(
                """SELECT v.version FROM aliases a JOIN versions v ON v.id = a.version_id
                   WHERE a.model_id = ? AND a.alias = ?""", [target["model_id"], alias],
            ).fetchone()
            previous = current["version"] if current else None
            result = {"name": name, "alias": alias, "version": target["version"],
                      "ref": f"{name}:{target['version']}", "previous": previous}
            if previous == target["version"]:
                return result
            now = timestamp()
            conn.execute(
                """INSERT INTO aliases (model_id, alias, version_id, updated_at)
                   VALUES (?, ?, ?, ?) ON CONFLICT (model_id, alias) DO UPDATE
                   SET version_id = excluded.version_id, updated_at = excluded.updated_at""",
                [target["model_id"], alias, target["id"], now],
            )
            alias_moved(conn, target["model_id"], alias, previous, target["version"], now)
            record_audit(conn, "set_alias", name, target["version"], {"alias": alias, "from": previous})
            return result

        return self.write(move)

    def remove_alias(self, name: str, alias: str) -> None:
        """Remove ``name@alias``; the removal is recorded in its history."""

        def remove(conn: sqlite3.Connection) -> None:
            row = self.resolve(conn, f"{name}@{alias}")
            conn.execute("DELETE FROM aliases WHERE model_id = ? AND alias = ?",
                         [row["model_id"], alias])
            now = timestamp()
            alias_moved(conn, row["model_id"], alias, row["version"], None, now)
            record_audit(conn, "remove_alias", name, row["version"], {"alias": alias})

        self.write(remove)

    def tag(self, ref: str, tags: dict[str, str | None]) -> None:
        """Set tags on a model (bare ``name``) or on a version (``name:3``, ``name@x``).

        A value of ``None`` removes that tag.
        """
        name, number, alias = parse_ref(ref)
        pairs = [(k, None if v is None else str(v)) for k, v in checked_keys(tags, "tag")]
        if not pairs:
            return

        def apply(conn: sqlite3.Connection) -> None:
            if number is None and alias is None:
                model_id = owner_id = self._model_row(conn, name)["id"]
                table, owner, version = "model_tags", "model_id", None
            else:
                row = self.resolve(conn, ref)
                model_id, owner_id, version = row["model_id"], row["id"], row["version"]
                table, owner = "version_tags", "version_id"
            for key, value in pairs:
                if value is None:
                    conn.execute(f"DELETE FROM {table} WHERE {owner} = ? AND key = ?",
                                 [owner_id, key])
                else:
                    conn.execute(
                        f"""INSERT INTO {table} ({owner}, key, value) VALUES (?, ?, ?)
                            ON CONFLICT ({owner}, key) DO UPDATE SET value = excluded.value""",
                        [owner_id, key, value],
                    )
            conn.execute("UPDATE models SET updated_at = ? WHERE id = ?", [timestamp(), model_id])
            record_audit(conn, "tag_model" if version is None else "tag_version", name, version,
                   {"tags": dict(pairs)})

        self.write(apply)

    def delete(self, ref: str, *, force: bool = False,
               references: Callable[[dict[str, Any]], list[str]] | None = None) -> dict[str, Any]:
        """Delete a whole model (bare ``name``) or one version; returns what was deleted.

        A version that holds an alias, is a lineage parent of a version that stays, or is
        referred to by what ``references(version)`` reports (plugins' tables, asked inside
        the same write transaction) is kept unless ``force``; ``unlinked`` in the result
        says what a forced delete cut. Aliases pointing at deleted versions go (recorded in
        their history); a child's lineage keeps the parent's ref, marked deleted. Artifact
        files no other version uses are unlinked after the rows are committed.
        """
        name, number, alias = parse_ref(ref)
        whole_model = number is None and alias is None

        def remove(conn: sqlite3.Connection) -> dict[str, Any]:
            model = self._model_row(conn, name)
            if whole_model:
                rows = conn.execute("SELECT id, version FROM versions WHERE model_id = ? "
                                    "ORDER BY version", [model["id"]]).fetchall()
            else:
                rows = [self.resolve(conn, ref)]
            ids = json.dumps([r["id"] for r in rows])
            aliases = conn.execute(
                """SELECT a.alias, v.version FROM aliases a JOIN versions v ON v.id = a.version_id
                   WHERE a.version_id IN (SELECT value FROM json_each(?)) ORDER BY a.alias""",
                [ids],
            ).fetchall()
            # Checked here, under the write lock: a reference made a moment ago counts.
            held = self._references(conn, rows, ids, references,
                                    [] if whole_model else [f"{name}@{a['alias']}" for a in aliases])
            if held and not force:
                what = f"model {name}" if whole_model else f"{name}:{rows[0]['version']}"
                more = f" and {len(held) - 3} more" if len(held) > 3 else ""
                raise ZooError(f"{what} is still in use ({'; '.join(held[:3])}{more}); delete with "
                               "--force to cut these links, or change them first")
            # Any artifact a deleted version names (its model file may, in registries
            # written before bundles were checked, be listed only in versions).
            shas = [r[0] for r in conn.execute(
                """SELECT sha256 FROM version_artifacts
                   WHERE version_id IN (SELECT value FROM json_each(?1))
                   UNION SELECT artifact_sha256 FROM versions
                   WHERE id IN (SELECT value FROM json_each(?1))""", [ids])]
            now = timestamp()
            if whole_model:
                conn.execute("DELETE FROM models WHERE id = ?", [model["id"]])  # cascades
            else:
                for a in aliases:
                    alias_moved(conn, model["id"], a["alias"], a["version"], None, now)
                conn.execute("DELETE FROM versions WHERE id IN (SELECT value FROM json_each(?))",
                             [ids])
                conn.execute("UPDATE models SET updated_at = ? WHERE id = ?", [now, model["id"]])
            unused = [sha for sha in shas if conn.execute(
                """SELECT 1 FROM version_artifacts WHERE sha256 = ?1
                   UNION ALL SELECT 1 FROM versions WHERE artifact_sha256 = ?1 LIMIT 1""", [sha]
            ).fetchone() is None]
            conn.executemany("DELETE FROM artifacts WHERE sha256 = ?", [(s,) for s in unused])
            result = {
                "model": name,
                "model_deleted": whole_model,
                "versions": [r["version"] for r in rows],
                "refs": [f"{name}:{r['version']}" for r in rows],
                "aliases": [a["alias"] for a in aliases],
                "unlinked": held,
                "artifacts_removed": unused,
            }
            record_audit(conn, "delete_model" if whole_model else "delete_version", name,
                   None if whole_model else rows[0]["version"],
                   {k: result[k] for k in ("refs", "aliases", "unlinked", "artifacts_removed")})
            return result

        result = self.write(remove)
        for sha in result["artifacts_removed"]:
            self._unlink_unreferenced(sha)
        return result

    def _references(self, conn: sqlite3.Connection, rows: list[sqlite3.Row], ids: str,
                    references: Callable[[dict[str, Any]], list[str]] | None,
                    aliases: list[str]) -> list[str]:
        """What would point at nothing once the versions ``ids`` are gone."""
        held = [f"alias {a}" for a in aliases]
        held += [f"lineage parent of {r[0]}:{r[1]}" for r in conn.execute(
            """SELECT DISTINCT mo.name, v.version FROM lineage l JOIN versions v ON v.id = l.version_id
               JOIN models mo ON mo.id = v.model_id
               WHERE l.parent_version_id IN (SELECT value FROM json_each(?1))
                 AND l.version_id NOT IN (SELECT value FROM json_each(?1))
               ORDER BY mo.name, v.version""", [ids])]
        if references is not None and rows:
            for version in self._by_ids(conn, [r["id"] for r in rows]):
                held += [str(item) for item in references(version) or []]
        return held

    def _unlink_unreferenced(self, sha: str) -> None:
        # Under the write lock, so a concurrent register of identical bytes either
        # committed its row first (we keep the file) or re-creates the file after us.
        def unlink(conn: sqlite3.Connection) -> None:
            if conn.execute("SELECT 1 FROM artifacts WHERE sha256 = ?", [sha]).fetchone() is None:
                self.artifacts.remove(sha)

        self.write(unlink)

    # --- reading ---

    def get(self, ref: str) -> dict[str, Any]:
        """The version a ref names: ``"name"`` (latest), ``"name:3"`` or ``"name@alias"``."""
        with self.read() as conn:
            return self._hydrate(conn, [self.resolve(conn, ref)])[0]

    def verified_copy(self, version: dict[str, Any], dest: str | Path,
                      artifact: str = "model") -> Path:
        """Copy a version's artifact (``"model"`` or an extra file's name) to ``dest`` after
        checking its sha256; loaders read this private copy, never the store's file."""
        sha = version["artifact_sha256"] if artifact == "model" else version["artifacts"].get(artifact)
        if sha is None:
            raise NotFoundError(f"{version['ref']} has no artifact {artifact!r}")
        return self.artifacts.copy_verified(sha, Path(dest), version["ref"])

    def read_verified(self, version: dict[str, Any], artifact: str = "model") -> bytes:
        """A version's artifact (``"model"`` or an extra file's name) as bytes, after checking
        its sha256: for files read whole (a JSON record, the reference sample, a model's bytes
        shipped to workers)."""
        import tempfile

        with tempfile.TemporaryDirectory(prefix="zoo-read-") as tmp:
            return self.verified_copy(version, Path(tmp) / "artifact", artifact).read_bytes()

    def models(self, limit: int | None = None, recent_first: bool = False) -> list[dict[str, Any]]:
        """Models with their version count, latest version, aliases and tags: by name, or
        most recently updated first; at most ``limit`` of them (``None`` or 0: all)."""
        order = "mo.updated_at DESC, mo.name" if recent_first else "mo.name"
        if not isinstance(limit, int) or isinstance(limit, bool) or not 0 < limit < 2**62:
            limit = None  # None, 0, negative or beyond SQLite's integers: all
        with self.read() as conn:
            # The page of models first, then their counts and children: a 50-row page of a
            # 1,000-model registry counts 5,000 version entries, not 100,000. Correlated
            # subqueries: MAX is one seek in the (model_id, version) index and COUNT walks
            # only that model's entries; a GROUP BY join was 3x slower at 100k.
            rows = conn.execute(
                f"""SELECT mo.*,
                       (SELECT COUNT(*) FROM versions v WHERE v.model_id = mo.id) AS n_versions,
                       (SELECT MAX(version) FROM versions v WHERE v.model_id = mo.id) AS latest
                   FROM (SELECT * FROM models mo ORDER BY {order} LIMIT ?) mo ORDER BY {order}""",
                [limit or -1],
            ).fetchall()
            ids = json.dumps([r["id"] for r in rows])
            aliases = grouped(conn.execute(
                """SELECT a.model_id, a.alias, v.version FROM aliases a
                   JOIN versions v ON v.id = a.version_id
                   WHERE a.model_id IN (SELECT value FROM json_each(?)) ORDER BY a.alias""", [ids]))
            tags = grouped(conn.execute(
                """SELECT model_id, key, value FROM model_tags
                   WHERE model_id IN (SELECT value FROM json_each(?)) ORDER BY key""", [ids]))
        return [
            {
                "name": r["name"],
                "versions": r["n_versions"],
                "latest": r["latest"],
                "aliases": dict(aliases.get(r["id"], [])),
                "tags": dict(tags.get(r["id"], [])),
                "created_at": r["created_at"],
                "updated_at": r["updated_at"],
                "description": r["description"],
            }
            for r in rows
        ]

    def model_count(self) -> int:
        """How many models the registry holds."""
        with self.read() as conn:
            return conn.execute("SELECT COUNT(*) FROM models").fetchone()[0]

    def schema(self) -> dict[str, list[str]]:
        """The schema steps applied to this registry, oldest first, by migration set ("zoo" for
        the core, a plugin's name for its own tables)."""
        steps: dict[str, list[str]] = {}
        with self.read() as conn:
            for set_name, step in conn.execute(f"SELECT migration_set, name FROM "
                                               f"{migrations.MIGRATIONS_TABLE} ORDER BY rowid"):
                steps.setdefault(set_name, []).append(step)
        return steps

    def versions(
        self,
        name: str | None = None,
        where: str | None = None,
        order_by: str | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """Versions of model ``name`` (of all models when None), filtered and sorted.

        ``where`` and ``order_by`` use the language in ``registry.query``, e.g.
        ``where="metrics.auc > 0.9 and tags.team = 'growth'"``, ``order_by="-metrics.auc"``.
        Default order: name, then version.
        """
        where_sql, params = compile_where(where)
        order_terms, order_params = compile_order_by(order_by)
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int)
                                  or limit < 0):
            raise ZooError(f"limit must be a whole number ≥ 0, got {str(limit)[:40]!r}")
        if limit is not None and limit >= 2**62:  # beyond SQLite's integers: no limit
            limit = None
        sql = f"{_SELECT} WHERE ({where_sql})"
        with self.read() as conn:
            if name is not None:
                sql += " AND v.model_id = ?"
                params.append(self._model_row(conn, name)["id"])
            sql += " ORDER BY " + ", ".join([*order_terms, "mo.name", "v.version"]) + " LIMIT ?"
            params += [*order_params, -1 if limit is None else limit]
            return self._hydrate(conn, conn.execute(sql, params).fetchall())

    def alias_history(self, name: str, alias: str | None = None) -> list[dict[str, Any]]:
        """Every move of the model's aliases (or of one alias), oldest first."""
        with self.read() as conn:
            model = self._model_row(conn, name)
            sql = ("SELECT alias, from_version, to_version, changed_at FROM alias_history "
                   "WHERE model_id = ?")
            params: list[Any] = [model["id"]]
            if alias is not None:
                sql += " AND alias = ?"
                params.append(alias)
            return [dict(r) for r in conn.execute(sql + " ORDER BY id", params)]

    def lineage(self, ref: str) -> dict[str, Any]:
        """The version plus ``parents``: each parent's own lineage with its ``relation``.

        A deleted parent appears as ``{"ref", "relation", "deleted": True}``.
        """
        with self.read() as conn:
            return self._lineage(conn, self.resolve(conn, ref), ())

    def _lineage(self, conn: sqlite3.Connection, row: sqlite3.Row,
                 path: tuple[int, ...]) -> dict[str, Any]:
        node = self._hydrate(conn, [row])[0]
        path = (*path, row["id"])
        parents = []
        for link in conn.execute(
            """SELECT parent_version_id, parent_ref, relation FROM lineage
               WHERE version_id = ? ORDER BY rowid""", [row["id"]]
        ).fetchall():
            pid = link["parent_version_id"]
            if pid is None or pid in path:  # deleted (or, defensively, a cycle)
                parents.append({"ref": link["parent_ref"], "relation": link["relation"],
                                "deleted": pid is None})
                continue
            parent_row = conn.execute(_SELECT + " WHERE v.id = ?", [pid]).fetchone()
            parent = self._lineage(conn, parent_row, path)
            parent["relation"] = link["relation"]
            parents.append(parent)
        node["parents"] = parents
        return node

    def verify(self) -> dict[str, Any]:
        """Re-hash every artifact; report corrupted and missing ones and orphan files."""
        with self.read() as conn:
            shas = [r[0] for r in conn.execute("SELECT sha256 FROM artifacts ORDER BY sha256")]
            refs: dict[str, list[str]] = {}
            for r in conn.execute(
                """SELECT va.sha256, mo.name, v.version, va.name AS artifact
                   FROM version_artifacts va JOIN versions v ON v.id = va.version_id
                   JOIN models mo ON mo.id = v.model_id ORDER BY mo.name, v.version, va.name"""
            ):
                ref = f"{r['name']}:{r['version']}"
                refs.setdefault(r["sha256"], []).append(
                    ref if r["artifact"] == "model" else f"{ref}/{r['artifact']}")
        report: dict[str, Any] = {"checked": len(shas), "ok": 0, "corrupted": [], "missing": [],
                                  "orphans": []}
        for sha in shas:
            entry = {"sha256": sha, "refs": refs.get(sha, [])}
            if not self.artifacts.exists(sha):
                report["missing"].append(entry)
            elif not self.artifacts.verify(sha):
                report["corrupted"].append(entry)
            else:
                report["ok"] += 1
        known = set(shas)
        orphans = [p for p in self.artifacts.iter_files() if self.artifacts.sha_of(p) not in known]
        if orphans or report["missing"] or report["corrupted"]:
            # Writers carried on while we hashed: a file deleted with its version, or stored
            # and committed since the snapshot, is no problem.
            with self.read() as conn:
                now = {r[0] for r in conn.execute("SELECT sha256 FROM artifacts")}
            for problem in ("missing", "corrupted"):
                report[problem] = [e for e in report[problem] if e["sha256"] in now]
            orphans = [p for p in orphans if self.artifacts.sha_of(p) not in now and p.exists()]
        report["orphans"] = [str(p) for p in orphans]
        return report

    def gc(self, dry_run: bool = False, grace_seconds: float = GC_GRACE_SECONDS) -> dict[str, Any]:
        """Remove orphan files (no artifact row refers to them) older than ``grace_seconds``,
        and stale temp files.

        A file stored by a register or import that has not committed yet is an orphan for
        a moment: the grace period leaves it alone, and should a writer take longer, it
        re-checks its files inside its own transaction and stores them again. Runs under the
        write lock, so no writer commits while the files are chosen and removed.
        """

        def collect(conn: sqlite3.Connection) -> dict[str, Any]:
            known = {r[0] for r in conn.execute("SELECT sha256 FROM artifacts")}
            orphans = [p for p in self.artifacts.iter_files()
                       if self.artifacts.sha_of(p) not in known
                       and self.artifacts.age(p) >= grace_seconds]
            size = 0
            for path in orphans:
                try:
                    size += path.stat().st_size
                    if not dry_run:
                        path.unlink()
                except FileNotFoundError:
                    continue
            if orphans and not dry_run:
                record_audit(conn, "gc", None, None, {"removed": len(orphans), "bytes": size})
            return {"removed": [str(p) for p in orphans], "bytes": size, "dry_run": dry_run}

        return self.write(collect)

    def check_outside(self, path: str | Path, what: str) -> Path:
        """``path`` made absolute, or a one-line refusal if writing there would overwrite this
        registry's database (or its WAL, shared-memory or journal file) or land in its
        artifact store."""
        target = Path(path).expanduser().absolute()
        resolved = target.resolve()
        own = {self.path, self.path.resolve()}
        files = {Path(f"{p}{suffix}") for p in own for suffix in ("", "-wal", "-shm", "-journal")}
        roots = {self.artifacts.root.absolute(), self.artifacts.root.resolve()}
        if (target in files or resolved in files
                or any(p == root or root in p.parents for p in (target, resolved) for root in roots)):
            raise ZooError(f"{what} cannot be written to {target}: that is this registry's own "
                           "database or artifact store; write it to another file, outside them")
        return target

    def export(self, refs: list[str], path: str | Path, producer: str = "") -> dict[str, Any]:
        """Write versions to a portable bundle (see ``zoo_registry.bundles``); ``producer``
        names the software that wrote it (e.g. ``zoo 0.2.0``)."""
        from zoo_registry.bundles import export_bundle

        return export_bundle(self, refs, path, producer)

    def import_bundle(self, path: str | Path,
                      check: Callable[[dict[str, Any], Path], None] | None = None,
                      *, move_aliases: bool = False) -> dict[str, Any]:
        """Restore a bundle's versions, verifying every hash first (see ``registry.bundles``).

        ``check(version, model_path)`` is called for each version about to be imported, with
        its manifest record (plus ``ref``) and a private verified copy of its model artifact,
        before any row is written; raising refuses the whole import. Existing aliases move
        only with ``move_aliases``.
        """
        from zoo_registry.bundles import import_bundle

        return import_bundle(self, path, check, move_aliases=move_aliases)

    def backup(self, path: str | Path) -> dict[str, Any]:
        """A consistent copy of this registry at ``path``, taken while writers run."""
        from zoo_registry.backup import backup

        return backup(self, path)

    def audit(self, name: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """The audit log, newest first (of one model when ``name`` is given)."""
        sql = "SELECT id, at, action, model, version, details FROM audit"
        params: list[Any] = []
        if name is not None:
            sql += " WHERE model = ?"
            params.append(name)
        with self.read() as conn:
            rows = conn.execute(sql + " ORDER BY id DESC LIMIT ?",
                                [*params, min(limit, 2**62)]).fetchall()
        return [{**dict(r), "details": json.loads(r["details"]) if r["details"] else None}
                for r in rows]

    # --- internals ---

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """A connection in one read transaction: several queries see one consistent snapshot
        (nested uses share the outer transaction)."""
        conn = self._conn
        if conn.in_transaction:
            yield conn
            return
        conn.execute("BEGIN")
        try:
            yield conn
        finally:
            if conn.in_transaction:
                conn.execute("COMMIT")

    def write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn(conn)`` in one write transaction (``BEGIN IMMEDIATE``), retried as a whole
        if SQLite stays busy; returns what ``fn`` returns. Keep ``fn`` free of side effects
        outside the database: it may run more than once."""
        self.check_writable()
        conn = self._conn

        def attempt() -> T:
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = fn(conn)
                conn.execute("COMMIT")
                return result
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

        return self._retry_busy(attempt)

    def _retry_busy(self, fn: Callable[[], T]) -> T:
        # busy_timeout already waits 30 s for the lock; this covers the cases where
        # SQLite reports busy without waiting (e.g. WAL recovery by another process).
        for attempt in range(BUSY_RETRIES + 1):
            try:
                return fn()
            except sqlite3.OperationalError as exc:
                text = str(exc)
                if "locked" not in text and "busy" not in text:
                    raise
                if attempt == BUSY_RETRIES:
                    raise ZooError(f"the registry {self.path} stayed locked by another process; "
                                   "try again when it has finished") from None
                time.sleep(random.uniform(0.01, 0.05 * 2**attempt))  # jitter de-synchronises
        raise AssertionError("unreachable")

    def _model_row(self, conn: sqlite3.Connection, name: str) -> sqlite3.Row:
        row = conn.execute("SELECT * FROM models WHERE name = ?", [name]).fetchone()
        if row is None:
            names = [r[0] for r in conn.execute("SELECT name FROM models")]
            close = difflib.get_close_matches(name, names, n=1)
            hint = (f"did you mean {close[0]!r}?" if close else
                    "`zoo models` lists them" if names else "the registry is empty")
            raise NotFoundError(f"no model named {name!r}: {hint}")
        return row

    def resolve(self, conn: sqlite3.Connection, ref: str) -> sqlite3.Row:
        """The versions row (plus the model name) a ref names, or a NotFoundError."""
        name, number, alias = parse_ref(ref)
        model = self._model_row(conn, name)
        latest = conn.execute("SELECT MAX(version) FROM versions WHERE model_id = ?",
                              [model["id"]]).fetchone()[0]
        if alias is not None:
            row = conn.execute(
                _SELECT + " JOIN aliases a ON a.version_id = v.id "
                "WHERE a.model_id = ? AND a.alias = ?", [model["id"], alias],
            ).fetchone()
            if row is None:
                known = [r[0] for r in conn.execute(
                    "SELECT alias FROM aliases WHERE model_id = ? ORDER BY alias", [model["id"]])]
                listing = f"aliases: {', '.join(known)}" if known else "it has no aliases"
                raise NotFoundError(f"{name} has no alias {alias!r} ({listing})")
            return row
        if latest is None:
            raise NotFoundError(f"{name} has no versions: register one, or delete the model")
        row = conn.execute(_SELECT + " WHERE v.model_id = ? AND v.version = ?",
                           [model["id"], latest if number is None else number]).fetchone()
        if row is None:
            raise NotFoundError(f"{name} has no version {number} (latest is {latest})")
        return row

    def _by_ids(self, conn: sqlite3.Connection, ids: list[int]) -> list[dict[str, Any]]:
        """Version dicts for version row ids, in the order given."""
        found = {r["id"]: r for r in conn.execute(
            _SELECT + " WHERE v.id IN (SELECT value FROM json_each(?))", [json.dumps(ids)])}
        return self._hydrate(conn, [found[i] for i in ids])

    def _hydrate(self, conn: sqlite3.Connection, rows: list[sqlite3.Row]) -> list[dict[str, Any]]:
        """Version dicts for ``_SELECT`` rows, with their children fetched in one query each."""
        ids = json.dumps([r["id"] for r in rows])

        def children(sql: str) -> dict[int, list[tuple]]:
            return grouped(conn.execute(sql.format(ids="(SELECT value FROM json_each(?))"),
                                         [ids]))

        params = children("SELECT version_id, key, value, type FROM params "
                          "WHERE version_id IN {ids} ORDER BY key")
        metrics = children("SELECT version_id, key, value FROM metrics "
                           "WHERE version_id IN {ids} ORDER BY key")
        tags = children("SELECT version_id, key, value FROM version_tags "
                        "WHERE version_id IN {ids} ORDER BY key")
        aliases = children("SELECT version_id, alias FROM aliases "
                           "WHERE version_id IN {ids} ORDER BY alias")
        files = children("SELECT version_id, name, sha256 FROM version_artifacts "
                         "WHERE version_id IN {ids} ORDER BY name != 'model', name")
        parents = children("SELECT version_id, parent_ref, relation FROM lineage "
                           "WHERE version_id IN {ids} ORDER BY rowid")
        out = []
        for r in rows:
            vid = r["id"]
            out.append({
                "id": vid,
                "name": r["name"],
                "version": r["version"],
                "ref": f"{r['name']}:{r['version']}",
                "component": r["component"],
                "kind": r["kind"],
                "task": r["task"],
                "plugin": r["plugin"],
                "plugin_version": r["plugin_version"],
                "artifact_sha256": r["artifact_sha256"],
                "artifact_format": r["artifact_format"],
                "artifacts": dict(files.get(vid, [])),
                "metadata": json.loads(r["metadata"]),
                "params": {k: decode_param(v, t) for k, v, t in params.get(vid, [])},
                "metrics": {k: float("nan") if v is None else v for k, v in metrics.get(vid, [])},
                "tags": dict(tags.get(vid, [])),
                "aliases": [a for (a,) in aliases.get(vid, [])],
                "data": None if r["data_sha256"] is None else {
                    "sha256": r["data_sha256"],
                    "rows": r["data_rows"],
                    "schema": json.loads(r["data_schema"]) if r["data_schema"] else {},
                },
                "parents": [{"ref": ref, "relation": rel} for ref, rel in parents.get(vid, [])],
                "description": r["description"],
                "created_at": r["created_at"],
            })
        return out


# Every version query starts here, so _hydrate always gets the same columns.
_SELECT = "SELECT v.*, mo.name AS name FROM versions v JOIN models mo ON mo.id = v.model_id"


def _writable(path: Path) -> bool:
    """Whether this process may write the database file and create files beside it (WAL)."""
    if path.exists():
        return os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)
    return os.access(path.parent, os.W_OK)


def _open_read_only(path: Path) -> sqlite3.Connection:
    """A read-only connection, ``mode=ro``; ``immutable`` only when SQLite cannot otherwise
    read a WAL database (no ``-shm`` file it could use), i.e. no process has it open, and
    nothing could, since this user cannot create that file either."""
    if not path.is_file():
        raise ZooError(f"no registry at {path}, and its folder is read-only: point --registry "
                       "at an existing registry file")
    uri = f"{path.as_uri()}?mode=ro"
    conn = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
    try:
        conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
        return conn
    except sqlite3.OperationalError:
        conn.close()
        if Path(f"{path}-shm").exists():
            raise
    return sqlite3.connect(uri + "&immutable=1", uri=True, isolation_level=None)


def _is_registry_or_empty(conn: sqlite3.Connection) -> bool:
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    return not tables or (migrations.MIGRATIONS_TABLE in tables and bool(migrations.applied(conn)))


def _default_path() -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir("zoo")) / "registry.db"




def _allocate_version(conn: sqlite3.Connection, name: str, sha: str, now: str) -> tuple[int, int]:
    """The model's id (creating the row) and its next version number, recorded with ``sha``.

    Numbers come from ``version_numbers``, which outlives deleted versions and deleted
    models: a number is never handed out twice per name, so ``fraud:3`` always means the
    same bytes.
    """
    row = conn.execute("SELECT id, last_version FROM models WHERE name = ?", [name]).fetchone()
    if row is None:
        model_id = conn.execute(
            "INSERT INTO models (name, created_at, updated_at) VALUES (?, ?, ?)", [name, now, now]
        ).lastrowid
        last = 0
    else:
        model_id, last = row["id"], row["last_version"]
    highest = conn.execute(
        """SELECT MAX(COALESCE((SELECT MAX(version) FROM versions WHERE model_id = ?), 0),
                      COALESCE((SELECT MAX(version) FROM version_numbers WHERE name = ?), 0))""",
        [model_id, name]).fetchone()[0]
    number = max(last, highest) + 1
    if number > MAX_VERSION:
        raise ZooError(f"{name} has used every version number up to {MAX_VERSION}; "
                       "register under another name")
    conn.execute("UPDATE models SET last_version = ?, updated_at = ? WHERE id = ?",
                 [number, now, model_id])
    conn.execute("INSERT INTO version_numbers (name, version, artifact_sha256, issued_at) "
                 "VALUES (?, ?, ?, ?)", [name, number, sha, now])
    return model_id, number




#: What ``Store.add_version`` needs to know about the fitted component.
COMPONENT_FIELDS = ("name", "kind", "task", "plugin", "plugin_version", "artifact_format", "metadata")


def _component_record(component: Any) -> dict[str, Any]:
    if not isinstance(component, dict) or any(k not in component for k in COMPONENT_FIELDS):
        raise ZooError(f"a version's component record needs {', '.join(COMPONENT_FIELDS)}; "
                       "register models through zoo.Registry.register")
    return component
