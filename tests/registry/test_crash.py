"""Crash safety: real processes are SIGKILLed inside register, set_alias, delete and tag, at
line-level kill points chosen at random and at random moments of a busy loop. After every
kill the registry must be consistent: each change whole or absent, no version without its
artifact, every acknowledged write present, and `gc` removes any orphan file."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

WORKER = Path(__file__).parent / "workers" / "crash_worker.py"
OPS = ("register", "set_alias", "delete", "tag", "calibrate")
KILLS_PER_OP = 15
TIMED_KILLS = 15


def run_worker(registry: Path, acks: Path, op: str, kill_at: int, seed: int,
               unit: str = "sql") -> subprocess.CompletedProcess:
    env = {**os.environ, "ZOO_LOAD_PLUGINS": "calibrate"}  # zoo calibrate needs that plugin
    return subprocess.run([sys.executable, str(WORKER), str(registry), str(acks), op, unit,
                           str(kill_at), str(seed)], capture_output=True, text=True, timeout=120, env=env)


def read_acks(acks: Path) -> list[dict]:
    return [json.loads(line) for line in acks.read_text().splitlines()] if acks.exists() else []


def check_consistent(path: Path, acks: list[dict]) -> None:
    from zoo import Registry

    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        # Whole or nothing: every version has all the children its registration wrote,
        # and exactly one audit row per version number ever handed out.
        for table, count in (("metrics", 3), ("params", 2), ("version_tags", None),
                             ("version_artifacts", 1)):
            # Calibrated versions (zoo calibrate) carry other metrics; their rows are whole
            # when their lineage row, written in the same transaction, is there.
            rows = conn.execute(f"SELECT v.id, COUNT(c.version_id) FROM versions v LEFT JOIN {table} c "
                                "ON c.version_id = v.id WHERE v.component = 'zoo.baseline_classifier' "
                                "GROUP BY v.id").fetchall()
            for vid, n in rows:
                assert n == count if count is not None else n >= 1, (table, vid, n)
        for (vid,) in conn.execute("SELECT id FROM versions WHERE component != 'zoo.baseline_classifier'"):
            links = conn.execute("SELECT COUNT(*) FROM lineage WHERE version_id = ?", [vid]).fetchone()[0]
            metrics = conn.execute("SELECT COUNT(*) FROM metrics WHERE version_id = ?", [vid]).fetchone()[0]
            assert links >= 1 and metrics >= 1, (vid, links, metrics)
        last = conn.execute("SELECT COALESCE(MAX(last_version), 0) FROM models").fetchone()[0]
        registered = conn.execute("SELECT COUNT(*) FROM audit WHERE action = 'register'").fetchone()[0]
        assert registered == last
        deleted = {r[0] for r in conn.execute("SELECT version FROM audit WHERE action = 'delete_version'")}
        present = {r[0] for r in conn.execute("SELECT version FROM versions")}
        assert present | deleted == set(range(1, last + 1)) and not present & deleted
    finally:
        conn.close()
    with Registry(path) as reg:
        report = reg.verify()
        assert report["corrupted"] == [] and report["missing"] == []
        # Every acknowledged write is there.
        history = reg.alias_history("m") if present else []
        for a in acks:
            if a["op"] == "register" and a["version"] not in deleted:
                assert a["version"] in present
            if a["op"] == "delete":
                assert a["version"] not in present
            if a["op"] == "set_alias":
                assert any(h["to_version"] == a["version"] for h in history)
        for version in {a["version"] for a in acks if a["op"] == "tag"} & present:
            # The value may be a later write that committed just before a kill.
            assert "stage" in reg.get(f"m:{version}")["tags"]
        reg.gc(grace_seconds=0)
        assert reg.verify()["orphans"] == []


@pytest.fixture
def seeded(tmp_path) -> tuple[Path, Path]:
    registry, acks = tmp_path / "crash.db", tmp_path / "acks.jsonl"
    for seed in range(3):
        proc = run_worker(registry, acks, "register", 0, seed)
        assert proc.returncode == 0, proc.stderr
    return registry, acks


def kill_points(registry: Path, acks: Path, op: str, unit: str) -> int:
    """Run the operation once to completion and return how many events it took."""
    proc = run_worker(registry, acks, op, 0, 100, unit)
    assert proc.returncode == 0, proc.stderr
    return int(proc.stdout.strip().splitlines()[-1])


def kill_and_check(registry: Path, acks: Path, op: str, unit: str, points: list[int]) -> int:
    kills = 0
    for i, kill_at in enumerate(points):
        proc = run_worker(registry, acks, op, kill_at, 200 + i, unit)
        # A run may take fewer events than the one counted (another branch): it then finishes.
        assert proc.returncode in (0, -signal.SIGKILL), (kill_at, proc.returncode, proc.stderr)
        kills += proc.returncode == -signal.SIGKILL
        check_consistent(registry, read_acks(acks))
    return kills


@pytest.mark.slow
@pytest.mark.parametrize("op", OPS)
def test_killed_before_every_sql_statement_leaves_the_registry_consistent(seeded, op):
    """Every statement boundary of the operation, including just before COMMIT."""
    if op == "calibrate":
        pytest.importorskip("zoo_calibrate")  # the zoo-calibrate plugin's command
    registry, acks = seeded
    total = kill_points(registry, acks, op, "sql")
    assert total >= 3  # BEGIN, at least one write, COMMIT
    points = list(range(1, total + 1))
    if op == "calibrate":
        # ~100 statements, most of them reads before the write; each run loads scipy and
        # sklearn (~2 s). Every one of the last 30 (the write transaction and after) and
        # 5 of the earlier ones.
        points = sorted(set(points[-30:]) | set(random.Random(5).sample(points[:-30], 5)))
    kills = kill_and_check(registry, acks, op, "sql", points)
    assert kills >= 0.7 * len(points)


@pytest.mark.slow
@pytest.mark.parametrize("op", [op for op in OPS if op != "calibrate"])  # its write is register's
def test_killed_at_random_lines_leaves_the_registry_consistent(seeded, op):
    """Random Python lines of registry/, which include artifact writes and renames."""
    registry, acks = seeded
    total = kill_points(registry, acks, op, "line")
    points = sorted(random.Random(op).sample(range(1, total + 1), min(KILLS_PER_OP, total)))
    assert kill_and_check(registry, acks, op, "line", points) >= 0.7 * len(points)


@pytest.mark.slow
def test_killed_at_random_moments_of_a_busy_writer(seeded):
    registry, acks = seeded
    rng = random.Random(7)
    for i in range(TIMED_KILLS):
        proc = subprocess.Popen([sys.executable, str(WORKER), str(registry), str(acks), "mixed", "sql",
                                 "0", str(500 + i)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(rng.uniform(0.4, 1.2))  # start-up is ~0.3 s, then it writes as fast as it can
        proc.send_signal(signal.SIGKILL)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == -signal.SIGKILL, err.decode()
        check_consistent(registry, read_acks(acks))
    assert len(read_acks(acks)) > TIMED_KILLS  # the writer really got work done between kills
