"""The real ``zoo`` command with zoo-alibi-detect installed: its licence in ``zoo plugins`` and
the catalogue, start-up that never imports alibi-detect, and training a drift test.

Runs where alibi-detect is installed (.venv-alibi, made by scripts/setup-alibi); skipped
elsewhere. Each command runs in a subprocess of this interpreter.
"""

from __future__ import annotations

import importlib.util
import json
import os
import statistics
import subprocess
import sys
import time

import pytest

pytest.importorskip("alibi_detect", reason="alibi-detect is not installed in this environment: "
                    "run these tests with .venv-alibi (bash scripts/setup-alibi)")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

LICENCE = "Apache-2.0 AND BUSL-1.1"
ENV = {**os.environ, "ZOO_STRICT_PLUGINS": "1"}


@pytest.fixture(autouse=True)
def own_registry(tmp_path, monkeypatch):
    """Self-contained: every command here uses a registry of its own."""
    monkeypatch.setitem(ENV, "ZOO_REGISTRY", str(tmp_path / "registry.db"))
    monkeypatch.setenv("ZOO_REGISTRY", str(tmp_path / "registry.db"))


def zoo(*args: str, python_flags: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *python_flags, "-m", "zoo", *args], capture_output=True,
                          text=True, env=ENV, timeout=120)


def imported_modules(stderr: str) -> set[str]:
    """Module names from ``python -X importtime``'s report."""
    names = set()
    for line in stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            name = line.rsplit("|", 1)[1].strip()
            if name != "imported package":
                names.add(name)
    return names


def test_plugins_lists_the_plugin_with_its_licence():
    proc = zoo("plugins", "--json")
    assert proc.returncode == 0, proc.stderr
    plugin = {p["name"]: p for p in json.loads(proc.stdout)["plugins"]}["alibi"]
    assert plugin["status"] == "ok" and plugin["distribution"] == "zoo-alibi-detect"
    assert plugin["licence"] == LICENCE and plugin["hooks"] == ["register_drift_tests"]
    table = zoo("plugins")
    assert "BUSL-1.1" in table.stdout.replace("\n", " ")


def test_catalogue_shows_the_licence_of_every_alibi_test():
    proc = zoo("components", "--kind", "drift_test", "--json")
    assert proc.returncode == 0, proc.stderr
    alibi = [c for c in json.loads(proc.stdout) if c["plugin"] == "alibi"]
    assert len(alibi) == 8 and all(c["licence"] == LICENCE for c in alibi)
    one = " ".join(zoo("components", "alibi.mmd").stdout.split())  # rich wraps at 80 columns
    assert f"from alibi 0.1.0, licence {LICENCE}" in one and "needs torch or tensorflow" in one


@pytest.mark.parametrize("command", [["--help"], ["plugins"], ["components"]])
def test_start_up_imports_nothing_of_alibi_detect(command):
    proc = zoo(*command, python_flags=("-X", "importtime"))
    assert proc.returncode == 0, proc.stderr
    modules = imported_modules(proc.stderr)
    assert len(modules) > 50  # the report really was parsed
    assert {m for m in modules if m.split(".")[0] == "alibi_detect"} == set()
    if command != ["--help"]:
        assert "zoo_alibi_detect.drift" in modules  # the plugin really registered its tests


def test_help_takes_at_most_twice_as_long_as_importing_click_and_rich():
    """Medians of 5 runs each, interleaved so that both see the same load on a shared machine.

    Byte-code is cached (__pycache__, ignored by git) as for any user: under
    PYTHONDONTWRITEBYTECODE every run would recompile zoo's own modules, which measures the
    compiler rather than what ``zoo --help`` imports.
    """
    env = {k: v for k, v in ENV.items() if k != "PYTHONDONTWRITEBYTECODE"}
    commands = {"baseline": ["-c", "import click, rich"], "help": ["-m", "zoo", "--help"]}
    times: dict[str, list[float]] = {name: [] for name in commands}
    for i in range(6):  # the first round writes the byte-code cache
        for name, args in commands.items():
            start = time.perf_counter()
            subprocess.run([sys.executable, *args], check=True, capture_output=True, env=env)
            if i:
                times[name].append(time.perf_counter() - start)
    baseline, help_time = statistics.median(times["baseline"]), statistics.median(times["help"])
    print(f"zoo --help {help_time * 1000:.0f} ms, import click, rich {baseline * 1000:.0f} ms, "
          f"ratio {help_time / baseline:.2f}")
    assert help_time <= 2 * baseline, (help_time, baseline)


def test_train_registers_a_drift_test_that_loads_and_finds_the_shift(tmp_path):
    from zoo import Registry

    rng = np.random.default_rng(0)
    reference = pd.DataFrame({"x": rng.normal(size=500), "colour": rng.choice(["a", "b"], size=500)})
    reference.to_csv(tmp_path / "reference.csv", index=False)
    proc = zoo("train", "alibi.tabular", str(tmp_path / "reference.csv"), "--name", "ref", "--json")
    assert proc.returncode == 0, proc.stderr
    version = json.loads(proc.stdout)
    assert version["component"] == "alibi.tabular" and version["artifact_format"] == "npz"
    current = reference.assign(x=reference["x"] + 1.0)
    with Registry(ENV["ZOO_REGISTRY"]) as registry:
        assert registry.load("ref").test(current)["drifted"] == ["x"]


def test_zoo_drift_runs_an_alibi_test_and_its_exit_status_says_drift(tmp_path):
    rng = np.random.default_rng(4)
    reference = pd.DataFrame({"x": rng.normal(size=400), "y": rng.normal(size=400),
                              "colour": rng.choice(["a", "b", "c"], size=400)})
    clean = pd.DataFrame({"x": rng.normal(size=400), "y": rng.normal(size=400),
                          "colour": rng.choice(["a", "b", "c"], size=400)})
    shifted = clean.assign(y=clean["y"] + 1)
    for name, frame in (("reference", reference), ("clean", clean), ("shifted", shifted)):
        frame.to_csv(tmp_path / f"{name}.csv", index=False)

    def drift(current: str, *options: str) -> subprocess.CompletedProcess:
        return zoo("drift", str(tmp_path / "reference.csv"), str(tmp_path / f"{current}.csv"),
                   "--test", "alibi.tabular", *options)

    quiet = drift("clean", "--json")
    assert quiet.returncode == 0, quiet.stderr
    assert json.loads(quiet.stdout)["drift"] is False
    loud = drift("shifted", "--correction", "bonferroni")
    assert loud.returncode == 3, loud.stderr
    text = " ".join(loud.stdout.split())
    assert "Drift: alibi.tabular, bonferroni" in text and "Drift in 1 of 3 features: y" in text


@pytest.mark.skipif(any(importlib.util.find_spec(p) for p in ("torch", "tensorflow")),
                    reason="torch or tensorflow is installed here")
def test_a_kernel_test_without_a_backend_fails_in_one_line_and_registers_nothing(tmp_path):
    pd.DataFrame({"x": np.arange(20.0)}).to_csv(tmp_path / "d.csv", index=False)
    proc = zoo("train", "alibi.mmd", str(tmp_path / "d.csv"), "--name", "k")
    assert proc.returncode == 1
    assert proc.stderr.strip() == ("Error: alibi.mmd needs torch or tensorflow, and neither is "
                                   "installed: pip install torch (or tensorflow) into this environment")
    assert json.loads(zoo("models", "--json").stdout) == []
