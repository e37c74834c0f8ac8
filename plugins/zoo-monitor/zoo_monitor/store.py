"""zoo-monitor's tables in the registry: the batches versions scored and the alerts raised
about them.

The functions take a ``zoo.Registry`` and use only its public primitives (``read``,
``write``, ``resolve``), so every write is one transaction with the registry's locking and
retries. Rows reference ``versions(id) ON DELETE CASCADE``: they go with the version they
are about. A ref here is ``name:3`` / ``name@alias`` / ``name`` (its latest version); listings
take ``model=`` for every version of a model.
"""

from __future__ import annotations

import json
import math
import sqlite3
from datetime import datetime, timedelta, timezone
from typing import Any

from zoo_registry.rows import timestamp, to_json

from zoo import ZooError

#: Alert severities, lowest first.
SEVERITIES = ("LOW", "MEDIUM", "HIGH", "CRITICAL")

#: Schema steps, registered through ``register_migrations``. ``IF NOT EXISTS``: registries
#: made before zoo-monitor owned these tables already hold them (the registry's old step
#: m007 created them, with these very definitions), and keep their rows.
MIGRATIONS: dict[str, tuple[str, ...]] = {
    "m001_batches_alerts": (
        """CREATE TABLE IF NOT EXISTS batches (
            id INTEGER PRIMARY KEY,
            version_id INTEGER NOT NULL REFERENCES versions(id) ON DELETE CASCADE,
            at TEXT NOT NULL,
            rows INTEGER NOT NULL,
            seconds REAL NOT NULL,
            source TEXT NOT NULL,
            summary TEXT NOT NULL
        )""",
        "CREATE INDEX IF NOT EXISTS batches_version_id ON batches(version_id, id)",
        """CREATE TABLE IF NOT EXISTS alerts (
            id INTEGER PRIMARY KEY,
            version_id INTEGER NOT NULL REFERENCES versions(id) ON DELETE CASCADE,
            at TEXT NOT NULL,
            "check" TEXT NOT NULL,
            severity TEXT NOT NULL CHECK (severity IN ('LOW', 'MEDIUM', 'HIGH', 'CRITICAL')),
            message TEXT NOT NULL,
            details TEXT
        )""",
        'CREATE INDEX IF NOT EXISTS alerts_version_check ON alerts(version_id, "check", id)',
        "CREATE INDEX IF NOT EXISTS alerts_at ON alerts(at)",
    ),
}


# --- batches ---


def record_batch(registry: Any, ref: str, rows: int, seconds: float, summary: dict[str, Any],
                 source: str = "python") -> dict[str, Any]:
    """Store the summary of one scored batch of version ``ref``; returns the stored row."""
    text = _dump(summary, "batch summary")

    def insert(conn: sqlite3.Connection) -> dict[str, Any]:
        version = registry.resolve(conn, ref)
        at = timestamp()
        rid = conn.execute(
            "INSERT INTO batches (version_id, at, rows, seconds, source, summary) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [version["id"], at, int(rows), float(seconds), str(source), text],
        ).lastrowid
        return {"id": rid, "ref": f"{version['name']}:{version['version']}", "at": at,
                "rows": int(rows), "seconds": float(seconds), "source": source, "summary": summary}

    return registry.write(insert)


def batches(registry: Any, ref: str | None = None, *, model: str | None = None,
            limit: int = 100) -> list[dict[str, Any]]:
    """Recorded batches, newest first: of version ``ref``, of every version of ``model``, or all."""
    with registry.read() as conn:
        where, args = _scope(registry, conn, ref, model)
        rows = conn.execute(
            "SELECT b.*, mo.name AS name, v.version AS version FROM batches b "
            "JOIN versions v ON v.id = b.version_id JOIN models mo ON mo.id = v.model_id "
            f"{where} ORDER BY b.id DESC LIMIT ?", [*args, int(limit)],
        ).fetchall()
    return [{"id": r["id"], "ref": f"{r['name']}:{r['version']}", "at": r["at"], "rows": r["rows"],
             "seconds": r["seconds"], "source": r["source"], "summary": json.loads(r["summary"])}
            for r in rows]


# --- alerts ---


def raise_alert(registry: Any, ref: str, check: str, severity: str, message: str,
                details: dict[str, Any] | None = None, cooldown: float = 3600.0) -> dict[str, Any]:
    """Record an alert unless one as severe for the same version and ``check`` was raised less
    than ``cooldown`` seconds ago (a more severe one always goes through).

    Returns the alert with ``raised`` true, or the alert that suppressed it with ``raised``
    false. The check and the insert share one write transaction, so two processes cannot
    both raise the same alert.
    """
    severity = _severity(severity)
    if not isinstance(cooldown, (int, float)) or cooldown < 0 or math.isnan(cooldown):
        raise ZooError(f"cooldown must be a number of seconds >= 0, got {cooldown!r}")
    text = _dump(details or {}, "alert details")

    def insert(conn: sqlite3.Connection) -> dict[str, Any]:
        version = registry.resolve(conn, ref)
        now = datetime.now(timezone.utc)
        since = (now - timedelta(seconds=cooldown)).isoformat(timespec="microseconds")
        recent = conn.execute(
            'SELECT * FROM alerts WHERE version_id = ? AND "check" = ? AND at > ? ORDER BY id DESC',
            [version["id"], check, since],
        ).fetchall()
        rank = SEVERITIES.index(severity)
        for row in recent:
            if SEVERITIES.index(row["severity"]) >= rank:
                return {**_alert(row, version["name"], version["version"]), "raised": False}
        rid = conn.execute(
            'INSERT INTO alerts (version_id, at, "check", severity, message, details) '
            "VALUES (?, ?, ?, ?, ?, ?)",
            [version["id"], now.isoformat(timespec="microseconds"), check, severity, message, text],
        ).lastrowid
        row = conn.execute("SELECT * FROM alerts WHERE id = ?", [rid]).fetchone()
        return {**_alert(row, version["name"], version["version"]), "raised": True}

    return registry.write(insert)


def alerts(registry: Any, ref: str | None = None, *, model: str | None = None,
           min_severity: str = "LOW", limit: int = 100) -> list[dict[str, Any]]:
    """Alerts at or above ``min_severity``, newest first, scoped like ``batches``."""
    min_severity = _severity(min_severity)
    allowed = json.dumps(list(SEVERITIES[SEVERITIES.index(min_severity):]))
    with registry.read() as conn:
        where, args = _scope(registry, conn, ref, model)
        where = (where + " AND" if where else "WHERE") + " a.severity IN (SELECT value FROM json_each(?))"
        rows = conn.execute(
            "SELECT a.*, mo.name AS name, v.version AS version FROM alerts a "
            "JOIN versions v ON v.id = a.version_id JOIN models mo ON mo.id = v.model_id "
            f"{where} ORDER BY a.id DESC LIMIT ?", [*args, allowed, int(limit)],
        ).fetchall()
    return [_alert(r, r["name"], r["version"]) for r in rows]


# --- helpers ---


def _scope(registry: Any, conn: sqlite3.Connection, ref: str | None,
           model: str | None) -> tuple[str, list[Any]]:
    if ref is not None and model is not None:
        raise ZooError("give a version ref or a model name, not both")
    if ref is not None:
        return "WHERE v.id = ?", [registry.resolve(conn, ref)["id"]]
    if model is not None:
        row = conn.execute("SELECT id FROM models WHERE name = ?", [model]).fetchone()
        if row is None:
            registry.resolve(conn, model)  # raises the registry's own "no model named ..." error
            raise ZooError(f"invalid model name {model!r}")  # a ref, not a name (e.g. 'm:1')
        return "WHERE v.model_id = ?", [row["id"]]
    return "", []


def _severity(severity: str) -> str:
    upper = str(severity).upper()
    if upper not in SEVERITIES:
        raise ZooError(f"unknown severity {upper!r}: use one of {', '.join(SEVERITIES)}")
    return upper


def _alert(row: sqlite3.Row, name: str, version: int) -> dict[str, Any]:
    return {"id": row["id"], "ref": f"{name}:{version}", "at": row["at"], "check": row["check"],
            "severity": row["severity"], "message": row["message"],
            "details": json.loads(row["details"]) if row["details"] else {}}


def _dump(value: dict[str, Any], what: str) -> str:
    if not isinstance(value, dict):
        raise ZooError(f"the {what} must be a dict, got {type(value).__name__}")
    return to_json(value, f"the {what}")
