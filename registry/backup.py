"""Online backups: a consistent copy of a registry (database and artifacts) while writers run.

SQLite's backup API copies the database as of one moment. The artifacts that snapshot
references are then copied beside the new file, each verified by its sha256. A version
deleted after the snapshot may already have lost its file: the backup then starts again
from a fresh snapshot, and the last attempt holds the write lock so it cannot lose the race.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path
from typing import Any

from zoo_registry.artifacts import ArtifactStore

from zoo.errors import IntegrityError, ZooError

ATTEMPTS = 3


def backup(registry: Any, dest: str | Path) -> dict[str, Any]:
    """Copy ``registry`` to the new file ``dest`` (artifacts in ``<dest stem>-artifacts``)."""
    dest = registry.check_outside(dest, "the backup")
    target_store = ArtifactStore(dest.parent / f"{dest.stem}-artifacts")
    if dest.exists() or target_store.root.exists():
        raise ZooError(f"{dest} (or its artifacts folder) already exists; choose a new path")
    dest.parent.mkdir(parents=True, exist_ok=True)
    for attempt in range(1, ATTEMPTS + 1):
        lock = attempt == ATTEMPTS
        source = sqlite3.connect(registry.path, timeout=30, isolation_level=None)
        # The last try holds the write lock on a second connection, so writers (and the
        # unlinking of deleted artifacts) wait until the copy is done. Not on `source`:
        # SQLite refuses to back up from a connection that is writing, and Python's
        # backup() then retries forever.
        holder = sqlite3.connect(registry.path, timeout=30, isolation_level=None) if lock else None
        try:
            if holder is not None:
                holder.execute("BEGIN IMMEDIATE")
            _snapshot(source, dest)
            missing = _copy_artifacts(registry.artifacts, target_store, dest)
        finally:
            if holder is not None:
                holder.execute("ROLLBACK")
                holder.close()
            source.close()
        if not missing:
            with sqlite3.connect(dest) as check:
                versions = check.execute("SELECT COUNT(*) FROM versions").fetchone()[0]
                artifacts = check.execute("SELECT COUNT(*) FROM artifacts").fetchone()[0]
            return {"path": str(dest), "versions": versions, "artifacts": artifacts,
                    "attempts": attempt}
        dest.unlink()
        shutil.rmtree(target_store.root, ignore_errors=True)
        if lock:
            raise IntegrityError(f"artifact {missing[0][:12]} is missing from the registry's store; "
                                 "run zoo verify, then back up again")
    raise AssertionError("unreachable")


def _snapshot(source: sqlite3.Connection, dest: Path) -> None:
    target = sqlite3.connect(dest)
    try:
        source.backup(target)  # all pages in one step: one consistent moment
    finally:
        target.close()


def _copy_artifacts(source: ArtifactStore, target: ArtifactStore, dest: Path) -> list[str]:
    """Copy every artifact the snapshot at ``dest`` references; returns the shas not found."""
    with sqlite3.connect(dest) as conn:
        shas = [r[0] for r in conn.execute("SELECT sha256 FROM artifacts ORDER BY sha256")]
    missing = []
    for sha in shas:
        try:
            with open(source.path(sha), "rb") as src:
                stored, _ = target.put_stream(src)
        except FileNotFoundError:
            missing.append(sha)
            continue
        if stored != sha:
            raise IntegrityError(f"artifact {sha[:12]} is corrupted in the registry's store; "
                                 "run zoo verify before backing up")
    return missing
