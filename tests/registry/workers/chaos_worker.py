"""One of 16 processes mixing every kind of registry write, for test_chaos.py.

    python chaos_worker.py REGISTRY OUT SEED START_AT SECONDS BUNDLES_DIR

Waits until START_AT, then until SECONDS have passed registers, moves aliases, tags,
deletes (forced or not), collects garbage with no grace period (the worst case for writers
that stored a file but have not committed), imports the bundles in BUNDLES_DIR and exports.
Every acknowledged write goes to OUT as a JSON line. A refusal the registry owes the caller
(a version deleted a moment ago, a delete of a version still in use) is recorded as
``refused``; anything else is recorded as ``error`` with its traceback and the run goes on.
"""

import json
import random
import sys
import time
import traceback
from pathlib import Path

import numpy as np

from zoo import Registry
from zoo.default_plugins.baselines import BaselineClassifier
from zoo.errors import NotFoundError, ZooError

registry_path, out_path, seed, start_at, seconds, bundles = sys.argv[1:7]
rng = random.Random(int(seed))
MODELS = ("alpha", "beta", "gamma")
IMPORTED = ("imp", "imp2")  # the bundles' models; nobody registers under these names
BUNDLES = sorted(Path(bundles).glob("*.zoo"))
EXPORTS = Path(out_path).parent / f"exports-{seed}"


def model() -> BaselineClassifier:
    m = BaselineClassifier()
    m.feature_names_in_ = np.array(["a"], dtype=object)
    m.classes_ = np.array([0, 1])
    # Few distinct priors: many versions share bytes, so deletes meet shared artifacts.
    p = rng.choice((0.1, 0.2, 0.3, 0.4, 0.5, 0.6))
    m.class_prior_ = np.array([p, 1 - p])
    return m


def some_version(reg: Registry, name: str) -> int | None:
    versions = [v["version"] for v in reg.versions(name)]
    return rng.choice(versions) if versions else None


def step(reg: Registry, ack) -> None:
    roll = rng.random()
    name = rng.choice(MODELS + IMPORTED if roll > 0.5 else MODELS)
    if roll < 0.30:
        v = reg.register(name, model(), metrics={"auc": rng.random()})
        ack(op="register", model=name, version=v["version"], sha=v["artifact_sha256"])
    elif roll < 0.38:
        for bundle in rng.sample(BUNDLES, 1):
            result = reg.import_bundle(bundle)
            ack(op="import", imported=result["imported"], skipped=result["skipped"])
    elif roll < 0.44:
        report = reg.gc(grace_seconds=0)
        ack(op="gc", removed=len(report["removed"]))
    elif roll < 0.50:
        EXPORTS.mkdir(exist_ok=True)
        result = reg.export([name], EXPORTS / f"{name}.zoo")
        ack(op="export", versions=result["versions"])
    else:
        version = some_version(reg, name)
        if version is None:
            return
        ref = f"{name}:{version}"
        if roll < 0.65:
            moved = reg.set_alias(name, "champion", version)
            ack(op="alias", model=name, version=version, previous=moved["previous"])
        elif roll < 0.82:
            value = f"{seed}-{rng.random()}"
            reg.tag(ref, {"stage": value})
            ack(op="tag", model=name, version=version, value=value)
        else:
            deleted = reg.delete(ref, force=rng.random() < 0.5)
            ack(op="delete", model=name, version=version, unlinked=deleted["unlinked"])


def owed(exc: Exception) -> bool:
    """A refusal a correct registry gives when another process got there first."""
    if isinstance(exc, NotFoundError):
        return "missing from the store" not in str(exc) and "vanished" not in str(exc)
    return type(exc) is ZooError and "is still in use" in str(exc)


with open(out_path, "w", buffering=1) as out, Registry(registry_path) as reg:
    def ack(**record) -> None:
        out.write(json.dumps(record) + "\n")

    while time.time() < float(start_at):
        time.sleep(0.005)
    deadline = time.time() + float(seconds)
    while time.time() < deadline:
        try:
            step(reg, ack)
        except Exception as exc:
            if owed(exc):
                ack(op="refused", error=str(exc))
            else:
                ack(op="error", traceback=traceback.format_exc())
