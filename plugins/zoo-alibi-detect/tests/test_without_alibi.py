"""zoo-alibi-detect installed (really, with pip, without its dependencies) where alibi-detect is
not: the plugin is listed with its licence, its tests are in the catalogue, and using one is
a one-line error saying how to install alibi-detect.

This is the test of the plugin that runs in zoo's main environment (numpy 2, no alibi-detect).
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PLUGIN = Path(__file__).resolve().parents[1]
LICENCE = "Apache-2.0 AND BUSL-1.1"
HAS_ALIBI = importlib.util.find_spec("alibi_detect") is not None


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """A directory holding a real pip install of the plugin (no dependencies, no network)."""
    tmp = tmp_path_factory.mktemp("alibi-plugin")
    # Build from a copy, so setuptools' build files never land in the source tree.
    source = shutil.copytree(PLUGIN, tmp / "src", ignore=shutil.ignore_patterns(
        "tests", "*.egg-info", "build", "__pycache__"))
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--disable-pip-version-check", "--target", str(tmp / "site"), str(source)],
                   check=True, capture_output=True, timeout=300)
    return tmp / "site"


def zoo(site: Path, tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "ZOO_REGISTRY": str(tmp_path / "registry.db"), "ZOO_STRICT_PLUGINS": "1",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")]))}
    return subprocess.run([sys.executable, "-m", "zoo", *args], capture_output=True, text=True,
                          env=env, timeout=120)


def test_plugins_and_components_show_the_plugin_and_its_licence(site, tmp_path):
    proc = zoo(site, tmp_path, "plugins", "--json")
    assert proc.returncode == 0, proc.stderr
    plugin = {p["name"]: p for p in json.loads(proc.stdout)["plugins"]}["alibi"]
    assert plugin["status"] == "ok" and plugin["version"] == "0.1.0"
    assert plugin["licence"] == LICENCE
    proc = zoo(site, tmp_path, "components", "--kind", "drift_test", "--json")
    assert proc.returncode == 0, proc.stderr
    alibi = {c["name"]: c for c in json.loads(proc.stdout) if c["plugin"] == "alibi"}
    assert {"alibi.ks", "alibi.cvm", "alibi.chisquare", "alibi.tabular", "alibi.fet",
            "alibi.classifier", "alibi.mmd", "alibi.lsdd"} == set(alibi)
    assert {c["licence"] for c in alibi.values()} == {LICENCE}


@pytest.mark.skipif(HAS_ALIBI, reason="alibi-detect is installed in this environment")
def test_using_an_alibi_test_without_alibi_detect_is_one_line_and_writes_nothing(site, tmp_path):
    data = tmp_path / "reference.csv"
    # No column unique on every row: zoo train would warn that it looks like an ID.
    data.write_text("a,b\n" + "".join(f"{i % 7},{i % 3}\n" for i in range(20)))
    proc = zoo(site, tmp_path, "train", "alibi.ks", str(data), "--name", "reference")
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr
    assert lines[0].startswith("Error: alibi-detect is not installed: pip install 'alibi-detect>=0.13,<0.14'")
    assert "scripts/setup-alibi" in lines[0]
    models = zoo(site, tmp_path, "models", "--json")
    assert models.returncode == 0 and json.loads(models.stdout) == []
