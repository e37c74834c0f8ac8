"""Runs registry operations and is killed (SIGKILL) part-way, by test_crash.py.

    python crash_worker.py REGISTRY ACKS OP UNIT KILL_AT SEED

OP is register | set_alias | delete | tag | mixed. The process kills itself just before
the KILL_AT-th event of the operation (0: never; the count is printed at exit), where UNIT
says what an event is: "sql", each SQL statement the registry sends to SQLite (so every
statement boundary can be tried), or "line", each Python line executed inside registry/.
Every operation that returned is appended to ACKS (and fsynced) before the next starts.
"""

import json
import os
import random
import signal
import sqlite3
import sys
from pathlib import Path

import numpy as np

from zoo import Registry
from zoo.default_plugins.baselines import BaselineClassifier

registry_path, acks_path, op, unit, kill_at, seed = sys.argv[1:7]
kill_at, seed = int(kill_at), int(seed)
rng = random.Random(seed)
package_dir = str(Path(__import__("zoo_registry").__file__).parent)
events = 0


def event() -> None:
    global events
    events += 1
    if events == kill_at:
        os.kill(os.getpid(), signal.SIGKILL)


def tracer(frame, kind, arg):
    if not frame.f_code.co_filename.startswith(package_dir):
        return None

    def local(frame, kind, arg):
        if kind == "line":
            event()
        return local

    return local


def model(prior: float) -> BaselineClassifier:
    m = BaselineClassifier()
    m.feature_names_in_ = np.array(["a", "b"], dtype=object)
    m.classes_ = np.array([0, 1])
    m.class_prior_ = np.array([prior, 1 - prior])
    return m


def ack(record: dict) -> None:
    with open(acks_path, "a") as f:
        f.write(json.dumps(record) + "\n")
        f.flush()
        os.fsync(f.fileno())


def one(reg: Registry, kind: str) -> None:
    versions = [v["version"] for v in reg.versions(where="name = 'm'")]
    if kind == "register":
        v = reg.register("m", model(rng.random()), metrics={"a": 1.0, "b": 2.0, "c": 3.0},
                         params={"p": 1, "q": "x"}, tags={"t": "y"})
        ack({"op": "register", "version": v["version"]})
    elif kind == "set_alias" and versions:
        target = rng.choice(versions)
        reg.set_alias("m", "champion", target)
        ack({"op": "set_alias", "version": target})
    elif kind == "delete" and len(versions) > 1:
        target = rng.choice(versions)
        reg.delete(f"m:{target}", force=True)  # it may hold the alias or be a parent
        ack({"op": "delete", "version": target})
    elif kind == "calibrate" and versions:
        import pandas as pd

        from zoo.cli import cli

        data = Path(acks_path).with_name("calibration.csv")
        if not data.exists():
            rows = random.Random(0)
            pd.DataFrame({"a": [rows.random() for _ in range(60)], "b": [rows.random() for _ in range(60)],
                          "label": [i % 2 for i in range(60)]}).to_csv(data, index=False)
        target = min(versions)
        cli.main(["--registry", registry_path, "calibrate", f"m:{target}", str(data), "--target", "label",
                  "--method", "sigmoid", "--json"], standalone_mode=False)
        ack({"op": "calibrate", "version": reg.get("m")["version"]})
    elif kind == "tag" and versions:
        target, value = rng.choice(versions), str(rng.random())
        reg.tag(f"m:{target}", {"stage": value})
        ack({"op": "tag", "version": target, "value": value})


if unit == "sql":
    # Every connection this process opens (zoo calibrate opens its own) reports each
    # statement before SQLite runs it.
    _connect = sqlite3.connect

    def connect(*args, **kwargs):
        conn = _connect(*args, **kwargs)
        conn.set_trace_callback(lambda statement: event())
        return conn

    sqlite3.connect = connect
reg = Registry(registry_path)
if unit == "sql":
    events = 0  # count from here: opening the registry is not part of the operation
else:
    sys.settrace(tracer)
if op == "mixed":
    while True:  # the parent kills us
        one(reg, rng.choice(["register", "register", "set_alias", "delete", "tag"]))
else:
    one(reg, op)
sys.settrace(None)
reg.close()
print(events)
