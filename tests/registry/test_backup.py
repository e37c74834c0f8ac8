"""Online backup: a consistent copy taken while another process keeps writing."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from zoo import Registry
from zoo.errors import ZooError

WORKER = Path(__file__).parent / "workers" / "crash_worker.py"


def test_backup_while_a_writer_is_busy(tmp_path):
    path, acks = tmp_path / "live.db", tmp_path / "acks.jsonl"
    writer = subprocess.Popen([sys.executable, str(WORKER), str(path), str(acks), "mixed", "sql", "0", "1"],
                              stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 60
        while (not acks.exists() or len(acks.read_text().splitlines()) < 30) and time.time() < deadline:
            time.sleep(0.05)
        acknowledged = [json.loads(line) for line in acks.read_text().splitlines()]
        backups = []
        with Registry(path) as reg:
            for i in range(3):  # several backups, each racing the writer
                backups.append(reg.backup(tmp_path / f"copy{i}" / "backup.db"))
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.communicate(timeout=30)
    # A delete acknowledged after we read the acks may have run before a snapshot.
    deleted = {json.loads(line)["version"] for line in acks.read_text().splitlines()
               if json.loads(line)["op"] == "delete"}
    for result in backups:
        copy = Path(result["path"])
        with sqlite3.connect(copy) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        with Registry(copy) as restored:
            report = restored.verify()
            assert report["corrupted"] == [] and report["missing"] == [] and report["orphans"] == []
            present = {v["version"] for v in restored.versions(where="name = 'm'")}
            for a in acknowledged:  # everything acknowledged before the backup began is in it
                if a["op"] == "register" and a["version"] not in deleted:
                    assert a["version"] in present
            assert restored.load(f"m:{max(present)}") is not None
    assert backups[-1]["versions"] >= backups[0]["versions"] > 0


def test_backup_refuses_an_existing_target(reg, fitted, tmp_path):
    reg.register("m", fitted)
    first = reg.backup(tmp_path / "b" / "copy.db")
    assert first["versions"] == 1 and first["artifacts"] == 1
    with pytest.raises(ZooError, match="already exists"):
        reg.backup(tmp_path / "b" / "copy.db")
    with pytest.raises(ZooError, match="another file"):
        reg.backup(reg.path)


def test_backup_of_a_store_missing_an_artifact_fails_cleanly(reg, fitted, tmp_path):
    """Every attempt finds the file missing; the last one holds the write lock. It must end
    with a one-line error and leave no partial copy (it once hung here)."""
    sha = reg.register("m", fitted)["artifact_sha256"]
    reg.artifacts.path(sha).unlink()
    with pytest.raises(ZooError, match="missing"):
        reg.backup(tmp_path / "b" / "copy.db")
    assert not (tmp_path / "b" / "copy.db").exists()
    assert not (tmp_path / "b" / "copy-artifacts").exists()
