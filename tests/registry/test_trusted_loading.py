"""Trusted loading: nothing is deserialised before its sha256 matches, loaders get a private
copy, a file crafted to run code on load is refused without running it, and artifact names
cannot escape the store."""

from __future__ import annotations

import os
import pickle
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from zootest import needs_plugin

from zoo import hookimpl
from zoo.default_plugins.baselines import BaselineClassifier
from zoo.errors import IntegrityError, ZooError


class Payload:
    """Unpickling this creates a directory: proof that code ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (str(self.marker),))


def swap_artifact(reg, ref: str, data: bytes) -> None:
    """What an attacker with write access to the registry could do: point a version at
    new bytes and record their true sha256, so the hash check passes."""
    sha, size = reg.artifacts.put_bytes(data)
    v = reg.get(ref)
    with sqlite3.connect(reg.path) as conn:
        conn.execute("INSERT OR IGNORE INTO artifacts (sha256, size, created_at) VALUES (?, ?, 'x')",
                     [sha, size])
        conn.execute("UPDATE versions SET artifact_sha256 = ? WHERE id = ?", [sha, v["id"]])
        conn.execute("UPDATE version_artifacts SET sha256 = ? WHERE version_id = ? AND name = 'model'",
                     [sha, v["id"]])


def fitted_sklearn():
    needs_plugin("sklearn")
    from zoo.catalogue import build_catalogue

    X = pd.DataFrame({"a": np.arange(20.0), "b": np.arange(20.0) % 3})
    return build_catalogue().get("sklearn.logistic_regression").create().fit(X, [0, 1] * 10)


@pytest.mark.parametrize("kind", ["sklearn", "builtin"])
def test_a_pickle_payload_is_refused_and_never_runs(reg, fitted, tmp_path, kind, monkeypatch):
    if kind == "sklearn":
        monkeypatch.delenv("ZOO_LOAD_PLUGINS")  # this test needs the installed sklearn plugin
        from zoo import plugins

        plugins.reset()
        fitted = fitted_sklearn()
    marker = tmp_path / "pwned"
    ref = reg.register("victim", fitted)["ref"]
    swap_artifact(reg, ref, pickle.dumps(Payload(marker)))
    with pytest.raises(IntegrityError, match="could not be loaded|not a skops file"):
        reg.load(ref)
    assert not marker.exists()


def test_the_loader_gets_a_private_verified_copy(reg, add_plugin_to_catalogue):
    seen = add_plugin_to_catalogue
    ref = reg.register("m", seen.model())["ref"]
    reg.load(ref)
    (path, content), = seen.loaded
    assert not Path(path).is_relative_to(reg.artifacts.root)  # never the store's own file
    assert content == Path(reg.artifacts.path(reg.get(ref)["artifact_sha256"])).read_bytes()


@pytest.fixture
def add_plugin_to_catalogue():
    from zoo.plugins import get_plugins

    loaded: list[tuple[str, bytes]] = []

    class Recording(BaselineClassifier):
        """Records what load() was given."""

        component = "t.recording"

        @classmethod
        def load(cls, path, metadata=None):
            loaded.append((str(path), Path(path).read_bytes()))
            return super().load(path, metadata)

    class Plugin:
        @hookimpl
        def register_predictors(self, register):
            register(Recording)

    plugins = get_plugins()
    plugins.register(Plugin(), name="t-recording")

    class Seen:
        pass

    seen = Seen()
    seen.loaded = loaded
    seen.model = lambda: Recording().fit(pd.DataFrame({"a": [1.0, 2.0]}), pd.Series([0, 1]))
    yield seen
    plugins.unregister("t-recording")


@pytest.mark.parametrize("name", ["../evil.png", "a/../../x", "/etc/passwd", "..", "x\\..\\y", "model"])
def test_artifact_names_cannot_escape_the_store(reg, fitted, tmp_path, name):
    extra = tmp_path / "plot.png"
    extra.write_bytes(b"png")
    with pytest.raises(ZooError, match="invalid artifact name"):
        reg.register("m", fitted, artifacts={name: extra})
    assert reg.models() == []
