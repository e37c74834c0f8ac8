"""Chaos: 16 processes mix register, alias, tag, delete, gc (no grace period), import and
export on one registry for $ZOO_CHAOS_SECONDS (60 s by default, as CI runs it). Afterwards:
no process met an error a correct registry does not owe it, every acknowledged write is
there (or was deleted by an acknowledged delete), SQLite's integrity check and ``verify``
are clean, and no (model, version) was ever handed out for two different artifacts."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pytest

WORKER = Path(__file__).parent / "workers" / "chaos_worker.py"
PROCESSES = 16
SECONDS = float(os.environ.get("ZOO_CHAOS_SECONDS", "60"))


def make_bundles(folder: Path) -> None:
    """Two bundles of models nobody registers under: ``imp`` (three versions, a lineage and
    an alias) and one sharing ``imp:2`` with ``imp2``."""
    from zoo import Registry
    from zoo.default_plugins.baselines import BaselineClassifier

    folder.mkdir()
    with Registry(folder / "source.db") as src:
        for i, p in enumerate((0.15, 0.25, 0.35, 0.45, 0.2)):
            m = BaselineClassifier()
            m.feature_names_in_ = np.array(["a"], dtype=object)
            m.classes_ = np.array([0, 1])
            m.class_prior_ = np.array([p, 1 - p])
            name, parents = ("imp", [f"imp:{i}"] if i else None) if i < 3 else ("imp2", None)
            src.register(name, m, parents=parents, tags={"from": "bundle"})
        src.set_alias("imp", "champion", 2)
        src.export(["imp"], folder / "a.zoo")
        src.export(["imp:2", "imp2"], folder / "b.zoo")
    (folder / "source.db").unlink()


@pytest.mark.slow
def test_sixteen_processes_mixing_every_write(tmp_path):
    from zoo import Registry

    path = tmp_path / "chaos.db"
    Registry(path).close()  # schema in place before the race
    make_bundles(tmp_path / "bundles")
    start_at = time.time() + 10  # time for 16 interpreters to start on 2 cores
    procs = [subprocess.Popen(
        [sys.executable, str(WORKER), str(path), str(tmp_path / f"w{i}.jsonl"), str(i),
         str(start_at), str(SECONDS), str(tmp_path / "bundles")],
        stderr=subprocess.PIPE, text=True) for i in range(PROCESSES)]
    stderr = [p.communicate(timeout=SECONDS + 300)[1] for p in procs]
    assert all(p.returncode == 0 for p in procs), stderr
    acks = [json.loads(line) for i in range(PROCESSES)
            for line in (tmp_path / f"w{i}.jsonl").read_text().splitlines()]
    ops = Counter(a["op"] for a in acks)
    print(f"\n{PROCESSES} processes, {SECONDS:g} s: {dict(ops)}")
    assert [a["traceback"] for a in acks if a["op"] == "error"] == []  # zero false errors
    assert min(ops[op] for op in ("register", "import", "gc", "export", "alias", "tag",
                                  "delete")) > 0, ops

    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        present = {(n, v): sha for n, v, sha in conn.execute(
            "SELECT mo.name, v.version, v.artifact_sha256 FROM versions v "
            "JOIN models mo ON mo.id = v.model_id")}
        handed_out = defaultdict(set)
        registers = Counter()
        for action, model, version, details in conn.execute(
                "SELECT action, model, version, details FROM audit WHERE action IN ('register', 'import')"):
            handed_out[(model, version)].add(json.loads(details)["artifact_sha256"])
            registers[(model, version)] += action == "register"
        deleted = {ref for (details,) in conn.execute(
            "SELECT details FROM audit WHERE action = 'delete_version'")
            for ref in json.loads(details)["refs"]}
    finally:
        conn.close()

    # No (model, version) handed out twice: once by register, and always the same bytes.
    assert [key for key, shas in handed_out.items() if len(shas) != 1] == []
    assert [key for key, n in registers.items() if n > 1] == []
    acked = Counter((a["model"], a["version"]) for a in acks if a["op"] == "register")
    assert [key for key, n in acked.items() if n > 1] == []
    for key, sha in present.items():
        assert handed_out[key] == {sha}

    # Zero lost acknowledged writes.
    with Registry(path) as reg:
        for a in acks:
            ref = f"{a.get('model')}:{a.get('version')}"
            if a["op"] == "register":
                assert present.get((a["model"], a["version"])) == a["sha"] or ref in deleted, a
            elif a["op"] == "import":
                for ref in a["imported"]:
                    name, version = ref.split(":")
                    assert (name, int(version)) in present or ref in deleted, a
            elif a["op"] == "delete" and a["model"] not in ("imp", "imp2"):  # imports restore
                assert (a["model"], a["version"]) not in present, a
            elif a["op"] == "alias":
                history = reg.alias_history(a["model"], "champion")
                assert any(h["to_version"] == a["version"] for h in history), a
        values = defaultdict(set)
        for a in acks:
            if a["op"] == "tag":
                values[(a["model"], a["version"])].add(a["value"])
        for (name, version), written in values.items():
            if (name, version) in present and f"{name}:{version}" not in deleted:
                assert reg.get(f"{name}:{version}")["tags"]["stage"] in written
        reg.gc(grace_seconds=0)
        report = reg.verify()
        assert (report["missing"], report["corrupted"], report["orphans"]) == ([], [], [])
