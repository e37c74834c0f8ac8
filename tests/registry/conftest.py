"""Shared fixtures: built-in plugins only, a fitted baseline model, a fresh registry file."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def builtin_plugins_only(monkeypatch: pytest.MonkeyPatch):
    """Load no installed plugins, so the tests do not depend on what else is installed."""
    from zoo import plugins

    monkeypatch.setenv("ZOO_LOAD_PLUGINS", "")
    plugins.reset()
    yield
    plugins.reset()


@pytest.fixture
def frame():
    """Four rows, two numeric features."""
    import pandas as pd

    return pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "b": [0.5, 0.1, 0.9, 0.3]})


@pytest.fixture
def fitted(frame):
    """A BaselineClassifier fitted on ``frame`` (class prior 0.25 / 0.75)."""
    import pandas as pd

    from zoo.default_plugins.baselines import BaselineClassifier

    return BaselineClassifier().fit(frame, pd.Series([0, 1, 1, 1], name="label"))


@pytest.fixture
def other_fitted(frame):
    """A BaselineClassifier with a different class prior, hence a different artifact."""
    import pandas as pd

    from zoo.default_plugins.baselines import BaselineClassifier

    return BaselineClassifier().fit(frame, pd.Series([0, 0, 0, 1], name="label"))


@pytest.fixture
def reg(tmp_path: Path):
    """A new, empty registry in ``tmp_path``."""
    from zoo import Registry

    with Registry(tmp_path / "registry.db") as r:
        yield r


@pytest.fixture
def dump():
    """``dump(path)``: the whole database as SQL text, to compare before and after."""

    def dump(path: Path) -> str:
        conn = sqlite3.connect(path)
        try:
            return "\n".join(conn.iterdump())
        finally:
            conn.close()

    return dump
