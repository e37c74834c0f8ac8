"""The distributions list every package they ship: a package left out of a wheel is invisible
to editable installs and tests, and breaks only for users (scripts/wheel-smoke checks the
wheels themselves in CI)."""

from __future__ import annotations

from pathlib import Path

import pytest
import tomllib

ROOT = Path(__file__).resolve().parents[2]


def _packages_on_disk(folder: Path, name: str) -> set[str]:
    return {".".join([name, *p.parent.relative_to(folder).parts])
            for p in folder.rglob("__init__.py") if "tests" not in p.parts}


def _declared(pyproject: Path) -> tuple[set[str], dict[str, str]]:
    setuptools = tomllib.loads(pyproject.read_text())["tool"]["setuptools"]
    return set(setuptools.get("packages", [])), setuptools.get("package-dir", {})


def test_zoo_ml_lists_every_package_and_installs_the_registry_as_zoo_registry():
    packages, package_dir = _declared(ROOT / "pyproject.toml")
    assert package_dir == {"zoo_registry": "registry"}
    assert packages == _packages_on_disk(ROOT / "zoo", "zoo") | {"zoo_registry"}
    assert "registry" not in packages  # no bare, generic top-level name


@pytest.mark.parametrize("plugin", sorted(p.name for p in (ROOT / "plugins").iterdir()))
def test_each_plugin_lists_every_package(plugin):
    folder = ROOT / "plugins" / plugin
    packages, _ = _declared(folder / "pyproject.toml")
    on_disk = set()
    for package in folder.glob("zoo_*"):
        on_disk |= _packages_on_disk(package, package.name)
    assert packages == on_disk
