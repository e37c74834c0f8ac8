"""16 processes mix registrations, alias moves, tags and reads on one registry for 30 s:
no error reaches any of them, every acknowledged write is there afterwards, and version
numbers are dense and unique."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

import pytest

WORKER = Path(__file__).parent / "workers" / "concurrent_worker.py"
WRITERS = 16
SECONDS = 30


@pytest.mark.slow
def test_sixteen_writers_for_thirty_seconds(tmp_path):
    from zoo import Registry

    path = tmp_path / "busy.db"
    Registry(path).close()  # schema in place before the race
    start_at = time.time() + 8  # time for 16 interpreters to start on 2 cores
    procs = [
        subprocess.Popen([sys.executable, str(WORKER), str(path), str(tmp_path / f"w{i}.jsonl"),
                          str(i), str(start_at), str(SECONDS)], stderr=subprocess.PIPE, text=True)
        for i in range(WRITERS)
    ]
    errors = [p.communicate(timeout=SECONDS + 120)[1] for p in procs]
    acks = [json.loads(line) for i in range(WRITERS)
            for line in (tmp_path / f"w{i}.jsonl").read_text().splitlines()]
    failures = [a["traceback"] for a in acks if a["op"] == "error"]
    assert failures == [] and all(p.returncode == 0 for p in procs), failures or errors

    ops = Counter(a["op"] for a in acks)
    assert ops["register"] > 100 and ops["alias"] > 20 and ops["tag"] > 20 and ops["read"] > 50, ops
    registered = defaultdict(list)
    for a in acks:
        if a["op"] == "register":
            registered[a["model"]].append(a["version"])
    with Registry(path) as reg:
        for name, numbers in registered.items():
            stored = [v["version"] for v in reg.versions(name)]
            # Dense, unique, and exactly the acknowledged ones.
            assert sorted(numbers) == stored == list(range(1, len(numbers) + 1))
            moves = [a for a in acks if a["op"] == "alias" and a["model"] == name]
            history = reg.alias_history(name, "champion")
            assert len(history) == sum(a["previous"] != a["version"] for a in moves)
            for a in moves:
                assert any(h["to_version"] == a["version"] for h in history)
        tagged = defaultdict(set)
        for a in acks:
            if a["op"] == "tag":
                tagged[(a["model"], a["version"])].add(a["value"])
        for (name, version), values in tagged.items():
            assert reg.get(f"{name}:{version}")["tags"]["stage"] in values
        assert reg.verify()["corrupted"] == [] and reg.verify()["missing"] == []
    print(f"\n{WRITERS} writers, {SECONDS} s: {dict(ops)}")
