"""zoo-ab's tables in the registry: experiments, their outcomes and their shadow log.

The functions take a ``zoo.Registry`` and use only its public primitives (``read``,
``write``), so every write is one transaction with the registry's locking and retries.
Arms name versions by ref text, not by id: an experiment's history survives the deletion of
a version it compared. Deleting an experiment deletes its outcomes and shadow log.
"""

from __future__ import annotations

import json
import math
import sqlite3
from typing import Any

from zoo_registry.rows import check_name, record_audit, timestamp, to_json

from zoo import NotFoundError, ZooError

#: Schema steps, registered through ``register_migrations``. ``IF NOT EXISTS``: registries
#: made before zoo-ab owned its tables already hold experiments and outcomes (the registry's
#: old step m007 created them, with these very definitions), and keep their rows.
MIGRATIONS: dict[str, tuple[str, ...]] = {
    "m001_experiments_outcomes": (
        """CREATE TABLE IF NOT EXISTS experiments (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            config TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'stopped')),
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )""",
        """CREATE TABLE IF NOT EXISTS outcomes (
            id INTEGER PRIMARY KEY,
            experiment_id INTEGER NOT NULL REFERENCES experiments(id) ON DELETE CASCADE,
            arm TEXT NOT NULL,
            unit TEXT,
            value REAL NOT NULL,
            at TEXT NOT NULL
        )""",
        "CREATE INDEX IF NOT EXISTS outcomes_experiment_arm ON outcomes(experiment_id, arm)",
        # What a shadow arm scored and how far it was from the control, per batch.
        """CREATE TABLE IF NOT EXISTS shadow_batches (
            id INTEGER PRIMARY KEY,
            experiment_id INTEGER NOT NULL REFERENCES experiments(id) ON DELETE CASCADE,
            arm TEXT NOT NULL,
            ref TEXT NOT NULL,
            at TEXT NOT NULL,
            rows INTEGER NOT NULL,
            seconds REAL NOT NULL,
            summary TEXT NOT NULL
        )""",
        "CREATE INDEX IF NOT EXISTS shadow_batches_experiment_arm ON shadow_batches(experiment_id, arm, id)",
    ),
}


# --- experiments ---


def create_experiment(registry: Any, name: str, config: dict[str, Any]) -> dict[str, Any]:
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
        return _experiment(conn, name)

    return registry.write(insert)


def experiment(registry: Any, name: str) -> dict[str, Any]:
    """Experiment ``name`` with its config, status and per-arm outcome totals."""
    with registry.read() as conn:
        return _experiment(conn, name)


def experiments(registry: Any) -> list[dict[str, Any]]:
    """Every experiment, newest first."""
    with registry.read() as conn:
        names = [r[0] for r in conn.execute("SELECT name FROM experiments ORDER BY id DESC")]
        return [_experiment(conn, n) for n in names]


def update_experiment(registry: Any, name: str, *, config: dict[str, Any] | None = None,
                      status: str | None = None) -> dict[str, Any]:
    """Replace an experiment's config (e.g. a bandit's new split) and/or set its status."""
    if status is not None and status not in ("running", "stopped"):
        raise ZooError(f"unknown experiment status {status!r}: use running or stopped")
    text = None if config is None else _dump(config, "experiment config")

    def update(conn: sqlite3.Connection) -> dict[str, Any]:
        _experiment_id(conn, name)
        conn.execute("UPDATE experiments SET config = COALESCE(?, config), "
                     "status = COALESCE(?, status), updated_at = ? WHERE name = ?",
                     [text, status, timestamp(), name])
        if status is not None:
            record_audit(conn, f"experiment_{status}", None, None, {"experiment": name})
        return _experiment(conn, name)

    return registry.write(update)


def delete_experiment(registry: Any, name: str) -> None:
    """Delete an experiment, its outcomes and its shadow log."""

    def remove(conn: sqlite3.Connection) -> None:
        _experiment_id(conn, name)
        conn.execute("DELETE FROM experiments WHERE name = ?", [name])
        record_audit(conn, "delete_experiment", None, None, {"experiment": name})

    registry.write(remove)


# --- outcomes ---


def record_outcomes(registry: Any, name: str, outcomes: list[tuple[str, str | None, float]],
                    update: bool = False) -> int:
    """Record ``(arm, unit id, value)`` outcomes of experiment ``name``, one per unit.

    Idempotent by (experiment, unit): a unit already recorded with the same arm and value
    changes nothing, so recording a file twice counts it once. A different arm or value is
    an error naming the unit, unless ``update`` replaces it. Returns how many outcomes were
    written (new or updated); the units repeated unchanged are the rest.
    """
    checked = []
    for arm, unit, value in outcomes:
        value = float(value)
        if math.isnan(value) or math.isinf(value):
            raise ZooError(f"outcome for unit {unit!r} is {value}: outcomes must be finite numbers")
        if unit is None:
            raise ZooError("every outcome needs a unit id: outcomes are counted once per unit")
        checked.append((str(arm), str(unit), value))

    def insert(conn: sqlite3.Connection) -> int:
        eid = _experiment_id(conn, name)
        arms = set(json.loads(conn.execute("SELECT config FROM experiments WHERE id = ?",
                                           [eid]).fetchone()[0]).get("arms", {}))
        unknown = sorted({arm for arm, _, _ in checked} - arms)
        if arms and unknown:
            raise ZooError(f"experiment {name!r} has no arm {unknown[0]!r}: arms are "
                           f"{', '.join(sorted(arms))}")
        rows: dict[str, tuple[str, float]] = {}
        for arm, unit, value in checked:
            if unit in rows and rows[unit] != (arm, value):
                raise ZooError(f"unit {unit!r} has two outcomes in one recording ({rows[unit][1]:g} in "
                               f"arm {rows[unit][0]!r}, {value:g} in arm {arm!r}): give one per unit")
            rows[unit] = (arm, value)
        known = {}
        for unit, arm, value in conn.execute(
                "SELECT unit, arm, value FROM outcomes WHERE experiment_id = ? AND unit IS NOT NULL "
                "ORDER BY id", [eid]):
            known[unit] = (arm, value)
        new, changed = [], []
        for unit, (arm, value) in rows.items():
            if unit not in known:
                new.append((unit, arm, value))
            elif known[unit] != (arm, value):
                changed.append((unit, arm, value))
        if changed and not update:
            unit, arm, value = changed[0]
            was_arm, was = known[unit]
            raise ZooError(f"{len(changed):,} units already have a different outcome, e.g. unit {unit!r}: "
                           f"recorded {was:g} (arm {was_arm!r}), now {value:g} (arm {arm!r}); "
                           "pass --update to replace them")
        now = timestamp()
        conn.executemany("INSERT INTO outcomes (experiment_id, arm, unit, value, at) "
                         "VALUES (?, ?, ?, ?, ?)", [(eid, a, u, v, now) for u, a, v in new])
        for unit, arm, value in changed:
            # Older registries may hold repeats of a unit: one row stays, with the new value.
            conn.execute("DELETE FROM outcomes WHERE experiment_id = ? AND unit = ? AND id NOT IN "
                         "(SELECT min(id) FROM outcomes WHERE experiment_id = ? AND unit = ?)",
                         [eid, unit, eid, unit])
            conn.execute("UPDATE outcomes SET arm = ?, value = ?, at = ? WHERE experiment_id = ? "
                         "AND unit = ?", [arm, value, now, eid, unit])
        if changed:
            record_audit(conn, "update_outcomes", None, None,
                         {"experiment": name, "units": len(changed)})
        return len(new) + len(changed)

    return registry.write(insert)


def outcomes(registry: Any, name: str) -> list[dict[str, Any]]:
    """Every outcome of experiment ``name``, oldest first."""
    with registry.read() as conn:
        eid = _experiment_id(conn, name)
        return [dict(r) for r in conn.execute(
            "SELECT arm, unit, value, at FROM outcomes WHERE experiment_id = ? ORDER BY id", [eid])]


# --- shadow log ---


def record_shadow(registry: Any, name: str, arm: str, ref: str, rows: int, seconds: float,
                  summary: dict[str, Any]) -> dict[str, Any]:
    """Log one batch a shadow ``arm`` (version ``ref``) of experiment ``name`` scored beside the
    control, with ``summary`` (its agreement with the control); returns the stored row."""
    text = _dump(summary, "shadow summary")

    def insert(conn: sqlite3.Connection) -> dict[str, Any]:
        eid = _experiment_id(conn, name)
        at = timestamp()
        rid = conn.execute(
            "INSERT INTO shadow_batches (experiment_id, arm, ref, at, rows, seconds, summary) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)", [eid, str(arm), str(ref), at, int(rows), float(seconds), text],
        ).lastrowid
        return {"id": rid, "arm": str(arm), "ref": str(ref), "at": at, "rows": int(rows),
                "seconds": float(seconds), "summary": summary}

    return registry.write(insert)


def shadow_batches(registry: Any, name: str, arm: str | None = None) -> list[dict[str, Any]]:
    """The shadow log of experiment ``name`` (of one ``arm`` when given), newest first."""
    with registry.read() as conn:
        eid = _experiment_id(conn, name)
        sql = "SELECT * FROM shadow_batches WHERE experiment_id = ?"
        args: list[Any] = [eid]
        if arm is not None:
            sql += " AND arm = ?"
            args.append(str(arm))
        rows = conn.execute(sql + " ORDER BY id DESC", args).fetchall()
    return [{"id": r["id"], "arm": r["arm"], "ref": r["ref"], "at": r["at"], "rows": r["rows"],
             "seconds": r["seconds"], "summary": json.loads(r["summary"])} for r in rows]


# --- helpers ---


def _experiment_id(conn: sqlite3.Connection, name: str) -> int:
    row = conn.execute("SELECT id FROM experiments WHERE name = ?", [name]).fetchone()
    if row is None:
        known = [r[0] for r in conn.execute("SELECT name FROM experiments ORDER BY name")]
        hint = f"experiments: {', '.join(known)}" if known else "there are none yet"
        raise NotFoundError(f"no experiment named {name!r} ({hint})")
    return row[0]


def _experiment(conn: sqlite3.Connection, name: str) -> dict[str, Any]:
    eid = _experiment_id(conn, name)
    row = conn.execute("SELECT * FROM experiments WHERE id = ?", [eid]).fetchone()
    # Sums and sums of squares are all a mean, a variance and a t-test need.
    totals = {r["arm"]: {"n": r["n"], "sum": r["s"], "sum_sq": r["ss"]} for r in conn.execute(
        "SELECT arm, COUNT(*) AS n, SUM(value) AS s, SUM(value * value) AS ss "
        "FROM outcomes WHERE experiment_id = ? GROUP BY arm ORDER BY arm", [eid])}
    return {"name": row["name"], "config": json.loads(row["config"]), "status": row["status"],
            "created_at": row["created_at"], "updated_at": row["updated_at"], "totals": totals}


def _dump(value: dict[str, Any], what: str) -> str:
    if not isinstance(value, dict):
        raise ZooError(f"the {what} must be a dict, got {type(value).__name__}")
    return to_json(value, f"the {what}")
