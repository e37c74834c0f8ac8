"""``zoo import`` test-loads and scores every version in a sandboxed child before its rows
commit: a model whose loading segfaults, hangs or eats memory is refused with one line and
the registry is left as it was; a crafted scikit-learn forest is refused by its plugin's
validator inside the sandbox. The throwaway plugin is a real installed distribution (a
``.dist-info`` on ``PYTHONPATH``), so the sandbox child loads it as any plugin."""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from zootest import version_count

from zoo import Registry
from zoo.default_plugins.sandbox import Sandbox

BOMB = '''
"""Loads fine, or crashes, hangs or eats memory, as its artifact says."""
import ctypes
import time
from pathlib import Path

from zoo import BaseMLModel, hookimpl


class Bomb(BaseMLModel):
    component = "bomb.model"
    task = "regression"
    artifact_format = "text"

    def __init__(self, payload="ok"):
        self.store_params(locals())

    def _fit(self, X, y):
        self.fitted_ = True

    def _predict(self, X):
        return X.iloc[:, 0].to_numpy()

    def save(self, path):
        Path(path).write_text(self.payload)

    @classmethod
    def load(cls, path, metadata=None):
        payload = Path(path).read_text()
        if payload == "segv":
            ctypes.string_at(0)
        if payload == "hang":
            time.sleep(3600)
        if payload == "eat":
            hoard = bytearray(64 << 30)
        model = cls(payload)
        model.fitted_ = True
        return model


@hookimpl
def register_predictors(register):
    register(Bomb)
'''


@pytest.fixture
def site(tmp_path: Path, monkeypatch, add_plugin) -> Path:
    """The bomb plugin installed for child processes and registered in this one."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "zoo_bomb.py").write_text(textwrap.dedent(BOMB))
    info = site / "zoo_bomb-0.0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: zoo-bomb\nVersion: 0.0.1\n\n")
    (info / "entry_points.txt").write_text("[zoo]\nzoo_bomb = zoo_bomb\n")
    monkeypatch.syspath_prepend(str(site))
    import importlib

    sys.modules.pop("zoo_bomb", None)
    add_plugin(importlib.import_module("zoo_bomb"), "zoo_bomb")
    return site


def bundle(tmp_path: Path, name: str, payload: str) -> Path:
    """A hash-consistent bundle of one Bomb version whose artifact is ``payload``."""
    cls = sys.modules["zoo_bomb"].Bomb
    X = pd.DataFrame({"a": [0.0, 1.0, 2.0]})
    with Registry(tmp_path / f"{name}-source.db") as source:
        source.register(name, cls(payload).fit(X, pd.Series([0.0, 1.0, 2.0])))
        source.export([f"{name}:1"], tmp_path / f"{name}.zoo")
    return tmp_path / f"{name}.zoo"


@pytest.mark.parametrize("payload, problem", [
    ("segv", "loading and scoring its model in a sandbox was killed by SIGSEGV"),
    ("hang", "its model did not load and score within 3 s in a sandbox"),
    ("eat", "loading its model exhausted the sandbox's memory"),
])
def test_a_model_that_crashes_hangs_or_eats_memory_is_refused(site, tmp_path, run_zoo,
                                                                registry_path, payload, problem):
    path = bundle(tmp_path, payload, payload)
    env = {"ZOO_STRICT_PLUGINS": "", "ZOO_SANDBOX_TIMEOUT": "3", "ZOO_SANDBOX_MEMORY_MB": "2048"}
    proc = run_zoo("import", str(path), pythonpath=site, env=env)
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    assert proc.stderr.strip().count("\n") == 0 and "Traceback" not in proc.stderr, proc.stderr
    assert f"{payload}:1" in proc.stderr and problem in proc.stderr, proc.stderr
    assert version_count(registry_path) == 0


def test_a_sound_model_imports_and_the_child_is_reused(site, tmp_path, registry_path):
    paths = [bundle(tmp_path, f"ok{i}", "ok") for i in range(2)]
    with Registry(registry_path) as registry, Sandbox(timeout=60) as sandbox:
        for path in paths:
            registry.import_bundle(path, sandbox.check)
        assert sandbox.proc is not None and sandbox.proc.poll() is None  # one child served both
    assert version_count(registry_path) == 2


@pytest.mark.slow
def test_a_crafted_forest_is_refused_at_the_door(tmp_path, run_zoo, registry_path):
    import skops.io
    from zoo_sklearn.models import RandomForestClassifierModel

    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(80, 3)), columns=list("abc"))
    model = RandomForestClassifierModel(n_estimators=2).fit(X, (X["a"] > 0).astype(int))
    model.estimator_.estimators_[1].tree_.children_left[0] = 50_000_000
    model.save = lambda path: skops.io.dump(model.estimator_, path)
    with Registry(tmp_path / "source.db") as source:
        source.register("fraud", model)
        source.export(["fraud:1"], tmp_path / "fraud.zoo")
    proc = run_zoo("import", str(tmp_path / "fraud.zoo"), env={"ZOO_STRICT_PLUGINS": ""})
    assert proc.returncode == 1 and proc.stderr.strip().count("\n") == 0, proc.stderr
    assert "refusing the import: fraud:1: crafted or corrupted model: tree 1 node 0 points at left " \
           "child 50000000" in proc.stderr
    assert version_count(registry_path) == 0
    assert json.loads(run_zoo("models", "--json").stdout) == []
