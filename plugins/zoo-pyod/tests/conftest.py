"""Fixtures of this plugin's tests: every test gets its own registry file."""

import pytest


@pytest.fixture(autouse=True)
def registry_path(tmp_path, monkeypatch):
    """A fresh registry file per test (also for the CLI, through $ZOO_REGISTRY); nothing touches
    the user's data directory."""
    path = tmp_path / "registry.db"
    monkeypatch.setenv("ZOO_REGISTRY", str(path))
    return path
