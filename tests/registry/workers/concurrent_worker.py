"""One of many writers hammering one registry, for test_concurrency.py.

    python concurrent_worker.py REGISTRY OUT SEED START_AT SECONDS

Waits until START_AT (a time.time() value) so all writers start together, then mixes
registrations, alias moves, tags and reads until SECONDS have passed. Every acknowledged
write is written to OUT as a JSON line; any exception is recorded and exits 1.
"""

import json
import random
import sys
import time
import traceback

import numpy as np

from zoo import Registry
from zoo.default_plugins.baselines import BaselineClassifier

registry_path, out_path, seed, start_at, seconds = sys.argv[1:6]
rng = random.Random(int(seed))
MODELS = ("alpha", "beta", "gamma")


def model() -> BaselineClassifier:
    m = BaselineClassifier()
    m.feature_names_in_ = np.array(["a"], dtype=object)
    m.classes_ = np.array([0, 1])
    p = rng.random()
    m.class_prior_ = np.array([p, 1 - p])
    return m


with open(out_path, "w") as out, Registry(registry_path) as reg:
    def ack(**record) -> None:
        out.write(json.dumps(record) + "\n")

    while time.time() < float(start_at):
        time.sleep(0.005)
    deadline = time.time() + float(seconds)
    try:
        while time.time() < deadline:
            name = rng.choice(MODELS)
            roll = rng.random()
            if roll < 0.35:
                v = reg.register(name, model(), metrics={"auc": rng.random()}, tags={"w": seed})
                ack(op="register", model=name, version=v["version"])
                continue
            try:
                latest = reg.get(name)["version"]
            except Exception as exc:  # the model may not exist yet
                if "no model named" not in str(exc):
                    raise
                continue
            target = rng.randint(1, latest)
            if roll < 0.5:
                moved = reg.set_alias(name, "champion", target)
                ack(op="alias", model=name, version=target, previous=moved["previous"])
            elif roll < 0.65:
                value = f"{seed}-{rng.random()}"
                reg.tag(f"{name}:{target}", {"stage": value})
                ack(op="tag", model=name, version=target, value=value)
            elif roll < 0.8:
                reg.versions(name, where="metrics.auc > 0.5", order_by="-metrics.auc", limit=5)
                ack(op="read")
            else:
                reg.load(f"{name}:{target}")
                ack(op="read")
    except Exception:
        ack(op="error", traceback=traceback.format_exc())
        sys.exit(1)
