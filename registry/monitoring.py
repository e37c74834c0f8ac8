"""What happens to a version after it ships: scored batches, alerts, online A/B experiments.

``Registry`` inherits these methods; monitors (plugins/zoo-monitor) and A/B tests
(plugins/zoo-ab) write through them so that every write is one transaction with the
registry's locking and retries, and rows go with the version they are about when it is
deleted. A ref here is ``name:3`` / ``name@alias`` / ``name`` (its latest version); listing
methods take ``model=`` for every version of a model.
"""

from __future__ import annotations

import json
import math
import sqlite3
from datetime import datetime, timedelta, timezone
from typing import Any

from zoo_registry.rows import check_name, record_audit, timestamp

from zoo.errors import NotFoundError, ZooError

#: Alert severities, lowest first.
SEVERITIES = ("LOW", "MEDIUM", "HIGH", "CRITICAL")


class MonitoringMixin:
    """Batches, alerts and experiments of a ``Registry`` (which supplies the connection)."""

    # --- batches ---

    def record_batch(self, ref: str, rows: int, seconds: float, summary: dict[str, Any],
                     source: str = "python") -> dict[str, Any]:
        """Store the summary of one scored batch of version ``ref``; returns the stored row."""

        text = _dump(summary, "batch summary")

        def insert(conn: sqlite3.Connection) -> dict[str, Any]:
            version = self.resolve(conn, ref)
            at = timestamp()
            rid = conn.execute(
                "INSERT INTO batches (version_id, at, rows, seconds, source, summary) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [version["id"], at, int(rows), float(seconds), str(source), text],
            ).lastrowid
            return {"id": rid, "ref": f"{version['name']}:{version['version']}", "at": at,
                    "rows": int(rows), "seconds": float(seconds), "source": source,
                    "summary": summary}

        return self.write(insert)

    def batches(self, ref: str | None = None, *, model: str | None = None,
                limit: int = 100) -> list[dict[str, Any]]:
        """Recorded batches, newest first: of version ``ref``, of every version of ``model``, or all."""
        with self.read() as conn:
            where, args = self._scope(conn, ref, model)
            rows = conn.execute(
                "SELECT b.*, mo.name AS name, v.version AS version FROM batches b "
                "JOIN versions v ON v.id = b.version_id JOIN models mo ON mo.id = v.model_id "
                f"{where} ORDER BY b.id DESC LIMIT ?", [*args, int(limit)],
            ).fetchall()
        return [{"id": r["id"], "ref": f"{r['name']}:{r['version']}", "at": r["at"],
                 "rows": r["rows"], "seconds": r["seconds"], "source": r["source"],
                 "summary": json.loads(r["summary"])} for r in rows]

    # --- alerts ---

    def raise_alert(self, ref: str, check: str, severity: str, message: str,
                    details: dict[str, Any] | None = None,
                    cooldown: float = 3600.0) -> dict[str, Any]:
        """Record an alert unless one as severe for the same version and ``check`` was
        raised less than ``cooldown`` seconds ago (a more severe one always goes through).

        Returns the alert with ``raised`` true, or the alert that suppressed it with
        ``raised`` false. The check and the insert share one write transaction, so two
        processes cannot both raise the same alert.
        """
        severity = str(severity).upper()
        if severity not in SEVERITIES:
            raise ZooError(f"unknown severity {severity!r}: use one of {', '.join(SEVERITIES)}")
        if not isinstance(cooldown, (int, float)) or cooldown < 0 or math.isnan(cooldown):
            raise ZooError(f"cooldown must be a number of seconds >= 0, got {cooldown!r}")
        text = _dump(details or {}, "alert details")

        def insert(conn: sqlite3.Connection) -> dict[str, Any]:
            version = self.resolve(conn, ref)
            now = datetime.now(timezone.utc)
            since = (now - timedelta(seconds=cooldown)).isoformat(timespec="microseconds")
            recent = conn.execute(
                'SELECT * FROM alerts WHERE version_id = ? AND "check" = ? AND at > ? '
                "ORDER BY id DESC", [version["id"], check, since],
            ).fetchall()
            rank = SEVERITIES.index(severity)
            for row in recent:
                if SEVERITIES.index(row["severity"]) >= rank:
                    return {**_alert(row, version["name"], version["version"]), "raised": False}
            at = now.isoformat(timespec="microseconds")
            rid = conn.execute(
                'INSERT INTO alerts (version_id, at, "check", severity, message, details) '
                "VALUES (?, ?, ?, ?, ?, ?)", [version["id"], at, check, severity, message, text],
            ).lastrowid
            row = conn.execute("SELECT * FROM alerts WHERE id = ?", [rid]).fetchone()
            return {**_alert(row, version["name"], version["version"]), "raised": True}

        return self.write(insert)

    def alerts(self, ref: str | None = None, *, model: str | None = None,
               min_severity: str = "LOW", limit: int = 100) -> list[dict[str, Any]]:
        """Alerts at or above ``min_severity``, newest first, scoped like ``batches``."""
        min_severity = str(min_severity).upper()
        if min_severity not in SEVERITIES:
            raise ZooError(f"unknown severity {min_severity!r}: use one of {', '.join(SEVERITIES)}")
        allowed = json.dumps(list(SEVERITIES[SEVERITIES.index(min_severity):]))
        with self.read() as conn:
            where, args = self._scope(conn, ref, model)
            where = (where + " AND" if where else "WHERE") + \
                " a.severity IN (SELECT value FROM json_each(?))"
            rows = conn.execute(
                "SELECT a.*, mo.name AS name, v.version AS version FROM alerts a "
                "JOIN versions v ON v.id = a.version_id JOIN models mo ON mo.id = v.model_id "
                f"{where} ORDER BY a.id DESC LIMIT ?", [*args, allowed, int(limit)],
            ).fetchall()
        return [_alert(r, r["name"], r["version"]) for r in rows]

    # --- experiments ---

    def create_experiment(self, name: str, config: dict[str, Any]) -> dict[str, Any]:
        """Start experiment ``name`` with ``config`` (arms, split, mode...); names are unique."""

        check_name(name, "experiment name")
        text = _dump(config, "experiment config")

        def insert(conn: sqlite3.Connection) -> dict[str, Any]:
            if conn.execute("SELECT 1 FROM experiments WHERE name = ?", [name]).fetchone():
                raise ZooError(f"an experiment named {name!r} exists: pick another name, "
                               "or stop and delete it first")
            now = timestamp()
            conn.execute("INSERT INTO experiments (name, config, created_at, updated_at) "
                         "VALUES (?, ?, ?, ?)", [name, text, now, now])
            record_audit(conn, "create_experiment", None, None, {"experiment": name, "config": config})
            return self._experiment(conn, name)

        return self.write(insert)

    def experiment(self, name: str) -> dict[str, Any]:
        """Experiment ``name`` with its config, status and per-arm outcome totals."""
        with self.read() as conn:
            return self._experiment(conn, name)

    def experiments(self) -> list[dict[str, Any]]:
        """Every experiment, newest first."""
        with self.read() as conn:
            names = [r[0] for r in conn.execute("SELECT name FROM experiments ORDER BY id DESC")]
            return [self._experiment(conn, n) for n in names]

    def update_experiment(self, name: str, *, config: dict[str, Any] | None = None,
                          status: str | None = None) -> dict[str, Any]:
        """Replace an experiment's config (e.g. a bandit's new split) and/or set its status."""

        if status is not None and status not in ("running", "stopped"):
            raise ZooError(f"unknown experiment status {status!r}: use running or stopped")
        text = None if config is None else _dump(config, "experiment config")

        def update(conn: sqlite3.Connection) -> dict[str, Any]:
            self._experiment_id(conn, name)
            conn.execute("UPDATE experiments SET config = COALESCE(?, config), "
                         "status = COALESCE(?, status), updated_at = ? WHERE name = ?",
                         [text, status, timestamp(), name])
            if status is not None:
                record_audit(conn, f"experiment_{status}", None, None, {"experiment": name})
            return self._experiment(conn, name)

        return self.write(update)

    def delete_experiment(self, name: str) -> None:
        """Delete an experiment and its outcomes."""

        def remove(conn: sqlite3.Connection) -> None:
            self._experiment_id(conn, name)
            conn.execute("DELETE FROM experiments WHERE name = ?", [name])
            record_audit(conn, "delete_experiment", None, None, {"experiment": name})

        self.write(remove)

    def record_outcomes(self, name: str, outcomes: list[tuple[str, str | None, float]]) -> int:
        """Append ``(arm, unit id, value)`` outcomes to experiment ``name``; returns how many."""

        rows = []
        for arm, unit, value in outcomes:
            value = float(value)
            if math.isnan(value) or math.isinf(value):
                raise ZooError(f"outcome for unit {unit!r} is {value}: outcomes must be finite numbers")
            rows.append((str(arm), None if unit is None else str(unit), value))

        def insert(conn: sqlite3.Connection) -> int:
            eid = self._experiment_id(conn, name)
            arms = set(json.loads(conn.execute("SELECT config FROM experiments WHERE id = ?",
                                               [eid]).fetchone()[0]).get("arms", {}))
            unknown = sorted({arm for arm, _, _ in rows} - arms)
            if arms and unknown:
                raise ZooError(f"experiment {name!r} has no arm {unknown[0]!r}: arms are "
                               f"{', '.join(sorted(arms))}")
            now = timestamp()
            conn.executemany("INSERT INTO outcomes (experiment_id, arm, unit, value, at) "
                             "VALUES (?, ?, ?, ?, ?)", [(eid, a, u, v, now) for a, u, v in rows])
            return len(rows)

        return self.write(insert)

    def outcomes(self, name: str) -> list[dict[str, Any]]:
        """Every outcome of experiment ``name``, oldest first."""
        with self.read() as conn:
            eid = self._experiment_id(conn, name)
            return [dict(r) for r in conn.execute(
                "SELECT arm, unit, value, at FROM outcomes WHERE experiment_id = ? ORDER BY id",
                [eid])]

    # --- internals ---

    def _scope(self, conn: sqlite3.Connection, ref: str | None,
               model: str | None) -> tuple[str, list[Any]]:
        if ref is not None and model is not None:
            raise ZooError("give a version ref or a model name, not both")
        if ref is not None:
            return "WHERE v.id = ?", [self.resolve(conn, ref)["id"]]
        if model is not None:
            return "WHERE v.model_id = ?", [self._model_row(conn, model)["id"]]
        return "", []

    def _experiment_id(self, conn: sqlite3.Connection, name: str) -> int:
        row = conn.execute("SELECT id FROM experiments WHERE name = ?", [name]).fetchone()
        if row is None:
            known = [r[0] for r in conn.execute("SELECT name FROM experiments ORDER BY name")]
            hint = f"experiments: {', '.join(known)}" if known else "there are none yet"
            raise NotFoundError(f"no experiment named {name!r} ({hint})")
        return row[0]

    def _experiment(self, conn: sqlite3.Connection, name: str) -> dict[str, Any]:
        eid = self._experiment_id(conn, name)
        row = conn.execute("SELECT * FROM experiments WHERE id = ?", [eid]).fetchone()
        # Sums and sums of squares are all a mean, a variance and a t-test need.
        totals = {r["arm"]: {"n": r["n"], "sum": r["s"], "sum_sq": r["ss"]} for r in conn.execute(
            "SELECT arm, COUNT(*) AS n, SUM(value) AS s, SUM(value * value) AS ss "
            "FROM outcomes WHERE experiment_id = ? GROUP BY arm ORDER BY arm", [eid])}
        return {"name": row["name"], "config": json.loads(row["config"]), "status": row["status"],
                "created_at": row["created_at"], "updated_at": row["updated_at"], "totals": totals}


def _alert(row: sqlite3.Row, name: str, version: int) -> dict[str, Any]:
    return {"id": row["id"], "ref": f"{name}:{version}", "at": row["at"], "check": row["check"],
            "severity": row["severity"], "message": row["message"],
            "details": json.loads(row["details"]) if row["details"] else {}}


def _dump(value: dict[str, Any], what: str) -> str:
    if not isinstance(value, dict):
        raise ZooError(f"the {what} must be a dict, got {type(value).__name__}")

    def default(obj: Any) -> Any:
        if hasattr(obj, "item"):  # numpy scalars
            return obj.item()
        if hasattr(obj, "tolist"):
            return obj.tolist()
        raise TypeError(type(obj).__name__)

    try:
        return json.dumps(value, default=default)
    except (TypeError, ValueError) as exc:
        raise ZooError(f"the {what} is not JSON-able ({exc}): pass plain numbers, "
                       "strings, lists and dicts") from None
