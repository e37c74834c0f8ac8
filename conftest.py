"""Fixtures shared by every test of the repository (tests/ and each plugins/*/tests/):
every test gets its own registry file, and throwaway plugins are registered into the
process-wide plugin manager only for the test that needs them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

# Before any tree library is imported: OpenMP busy-waiting slows a 2-core machine 10-50x.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

ROOT = Path(__file__).resolve().parent


@pytest.fixture(autouse=True)
def registry_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh registry file per test; nothing touches the user's data directory."""
    path = tmp_path / "registry.db"
    monkeypatch.setenv("ZOO_REGISTRY", str(path))
    return path


@pytest.fixture
def add_plugin():
    """Register a throwaway plugin object for one test: ``add_plugin(obj, name)``."""
    from zoo.plugins import get_plugins

    plugins = get_plugins()
    names: list[str] = []

    def add(obj: object, name: str) -> None:
        plugins.register(obj, name=name, version="0.0.1", distribution=name)
        names.append(name)

    yield add
    for name in names:
        plugins.unregister(name)


def _run_zoo(*args: str, env: dict[str, str] | None = None, pythonpath: Path | None = None,
            check: bool = False) -> subprocess.CompletedProcess:
    """Run the real ``zoo`` command in a subprocess of this interpreter."""
    full_env = {**os.environ, **(env or {})}
    if pythonpath is not None:
        full_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(pythonpath), full_env.get("PYTHONPATH")]))
    proc = subprocess.run([sys.executable, "-m", "zoo", *args], capture_output=True, text=True,
                          env=full_env, timeout=120)
    if check and proc.returncode:
        raise AssertionError(f"zoo {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc


def _pip_install_target(source: Path, target: Path) -> None:
    """Really install a plugin distribution into ``target`` (no deps, no network build)."""
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--disable-pip-version-check", "--target", str(target), str(source)],
        check=True, capture_output=True, timeout=300,
    )


@pytest.fixture(scope="session")
def run_zoo():
    """``run_zoo(*args, env=..., pythonpath=..., check=...)``: the real command in a subprocess."""
    return _run_zoo


@pytest.fixture(scope="session")
def pip_install_target():
    """``pip_install_target(source_dir, target_dir)``: a real pip install of a plugin."""
    return _pip_install_target


@pytest.fixture(scope="session")
def root() -> Path:
    """The repository root."""
    return ROOT
