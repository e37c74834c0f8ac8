"""A plugin cannot take the CLI or another plugin's versions over: an import calling
``sys.exit`` or hanging is a broken plugin, listed by ``zoo plugins``, while every command
still works; a plugin that provides a component another plugin registered a version with
is refused when that version loads. Installed plugins here are real distributions on a
``PYTHONPATH`` folder (a ``.dist-info`` with ``entry_points.txt``), run through the real CLI."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest

from zoo import Registry, ZooError
from zoo.default_plugins.baselines import BaselineClassifier
from zoo.models import check_provider
from zoo.plugins import ImportTimeout, import_bounded

NO_STRICT = {"ZOO_STRICT_PLUGINS": ""}


def install(site: Path, name: str, source: str, version: str = "1.0.0") -> None:
    """A minimal installed distribution: module ``name`` with entry point ``name``."""
    site.mkdir(exist_ok=True)
    (site / f"{name}.py").write_text(textwrap.dedent(source))
    info = site / f"{name}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n\n")
    (info / "entry_points.txt").write_text(f"[zoo]\n{name} = {name}\n")


def test_a_plugin_calling_sys_exit_on_import_is_broken_and_commands_still_run(tmp_path, run_zoo):
    site = tmp_path / "site"
    install(site, "zoo_quitter", "import sys\nsys.exit(0)\n")
    proc = run_zoo("plugins", "--json", pythonpath=site, env=NO_STRICT)
    assert proc.returncode == 0, proc.stderr
    plugins = {p["name"]: p for p in json.loads(proc.stdout)["plugins"]}
    assert plugins["zoo_quitter"]["status"] == "broken"
    assert "SystemExit" in plugins["zoo_quitter"]["error"]
    proc = run_zoo("components", "--json", pythonpath=site, env=NO_STRICT)
    assert proc.returncode == 0 and json.loads(proc.stdout), proc.stderr
    strict = run_zoo("models", pythonpath=site, env={"ZOO_STRICT_PLUGINS": "1"})
    assert strict.returncode == 1 and "zoo_quitter" in strict.stderr and "SystemExit" in strict.stderr


def test_a_plugin_whose_import_hangs_is_broken_after_the_timeout(tmp_path, run_zoo):
    site = tmp_path / "site"
    install(site, "zoo_sleeper", "import time\ntry:\n    time.sleep(600)\nexcept Exception:\n"
                                 "    time.sleep(600)\n")
    start = time.monotonic()
    proc = run_zoo("plugins", "--json", pythonpath=site,
                   env={**NO_STRICT, "ZOO_PLUGIN_IMPORT_TIMEOUT": "1"})
    assert time.monotonic() - start < 60
    assert proc.returncode == 0, proc.stderr
    plugins = {p["name"]: p for p in json.loads(proc.stdout)["plugins"]}
    assert plugins["zoo_sleeper"]["status"] == "broken"
    assert "import took longer than 1 s" in plugins["zoo_sleeper"]["error"]


def test_an_import_outside_the_main_thread_is_bounded_too():
    import threading

    result: dict = {}

    def run() -> None:
        try:
            import_bounded(lambda: time.sleep(30), 0.2)
        except ImportTimeout as exc:
            result["error"] = str(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(20)
    assert result == {"error": "import took longer than 0.2 s"}


def test_a_hook_calling_sys_exit_is_a_one_line_plugin_error(add_plugin):
    from zoo import hookimpl
    from zoo.errors import PluginError
    from zoo.plugins import get_plugins

    class Quitter:
        @hookimpl
        def register_migrations(self, register):
            sys.exit(0)

    add_plugin(Quitter(), "quitter")
    with pytest.raises(PluginError, match="'quitter': register_migrations called sys.exit"):
        get_plugins().migrations()


HIJACKER = """
from zoo import hookimpl
from zoo.default_plugins.baselines import BaselineClassifier


class Hijacked(BaselineClassifier):
    # The built-in baseline's name, another plugin's code.

    def predict(self, X):
        raise SystemError("hijacked")


@hookimpl
def register_predictors(register):
    register(Hijacked)
"""


def test_a_version_is_loaded_only_by_the_plugin_that_registered_it(tmp_path, run_zoo):
    site = tmp_path / "site"
    install(site, "zoo_hijacker", HIJACKER)
    X = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0]})
    db = tmp_path / "r.db"
    with Registry(db) as registry:
        ref = registry.register("fraud", BaselineClassifier().fit(X, pd.Series([0, 1, 0, 1])))["ref"]
    data = tmp_path / "x.csv"
    X.to_csv(data, index=False)
    env = {**NO_STRICT, "ZOO_REGISTRY": str(db)}
    components = json.loads(run_zoo("components", "--json", pythonpath=site, env=env).stdout)
    assert {c["plugin"] for c in components if c["name"] == "zoo.baseline_classifier"} == {"zoo_hijacker"}
    proc = run_zoo("predict", ref, str(data), pythonpath=site, env=env)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.strip().count("\n") == 0
    assert "'zoo.baselines'" in proc.stderr and "'zoo_hijacker'" in proc.stderr
    allowed = run_zoo("predict", ref, str(data), pythonpath=site,
                      env={**env, "ZOO_ALLOW_PLUGIN_CHANGE": "zoo_hijacker"})
    assert "hijacked" in allowed.stderr  # explicitly allowed: the other plugin's code runs


class Info:
    def __init__(self, plugin: str, version: str) -> None:
        self.plugin, self.plugin_version = plugin, version


def test_a_major_version_change_of_the_same_plugin_warns():
    version = {"ref": "m:1", "component": "x.y", "plugin": "p", "plugin_version": "1.4.0"}
    with pytest.warns(UserWarning, match="m:1 was registered with plugin 'p' 1.4.0, now 2.0.0"):
        check_provider(version, Info("p", "2.0.0"))
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_provider(version, Info("p", "1.9.2"))  # same major: silent
    with pytest.raises(ZooError, match="registered by plugin 'p', but x.y now comes from plugin 'q'"):
        check_provider(version, Info("q", "1.4.0"))


def test_a_command_answers_despite_a_plugin_calling_sys_exit(tmp_path):
    """``sys.exit(0)`` in a plugin used to end `zoo models` with exit 0 and no output."""
    site = tmp_path / "site"
    install(site, "zoo_quitter", "import sys\nsys.exit(0)\n")
    proc = subprocess.run([sys.executable, "-m", "zoo", "models", "--json"], capture_output=True,
                          text=True, timeout=120,
                          env={**__import__("os").environ, "PYTHONPATH": str(site), **NO_STRICT,
                               "ZOO_REGISTRY": str(tmp_path / "r.db")})
    assert proc.returncode == 0 and json.loads(proc.stdout) == [], (proc.stdout, proc.stderr)
