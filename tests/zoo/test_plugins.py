"""Plugin loading with real installed distributions: the example plugin from the docs, a
plugin that raises on import, and throwaway plugin objects for hook failures."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from zoo import BaseMLModel, hookimpl
from zoo.catalogue import build_catalogue
from zoo.default_plugins.baselines import BaselineClassifier
from zoo.errors import PluginError
from zoo.plugins import Plugins
from zoo.testing import offering

NO_STRICT = {"ZOO_STRICT_PLUGINS": ""}


def _make_distribution(root: Path, name: str, module_source: str) -> Path:
    src = root / name
    src.mkdir()
    module = name.replace("-", "_")
    (src / "pyproject.toml").write_text(textwrap.dedent(f"""
        [build-system]
        requires = ["setuptools>=64"]
        build-backend = "setuptools.build_meta"
        [project]
        name = "{name}"
        version = "9.9.9"
        license = {{ text = "MIT" }}
        [project.entry-points.zoo]
        {module} = "{module}"
        [tool.setuptools]
        py-modules = ["{module}"]
    """))
    (src / f"{module}.py").write_text(textwrap.dedent(module_source))
    return src


@pytest.fixture(scope="module")
def site(tmp_path_factory, root, pip_install_target) -> Path:
    """A directory with real pip installs of the docs' example plugin and a broken plugin."""
    tmp = tmp_path_factory.mktemp("plugins")
    target = tmp / "site"
    pip_install_target(root / "docs" / "example-plugin", target)
    broken = _make_distribution(tmp, "zoo-broken", """
        raise ImportError("the broken plugin needs libfoo, which is not installed")
    """)
    pip_install_target(broken, target)
    return target


def test_broken_plugin_is_listed_and_other_commands_work(site, run_zoo):
    proc = run_zoo("plugins", "--json", pythonpath=site, env=NO_STRICT)
    assert proc.returncode == 0, proc.stderr
    plugins = {p["name"]: p for p in json.loads(proc.stdout)["plugins"]}
    assert plugins["zoo_broken"]["status"] == "broken"
    assert "libfoo" in plugins["zoo_broken"]["error"]
    assert plugins["zoo_broken"]["version"] == "9.9.9"
    assert plugins["zoo_broken"]["licence"] == "MIT"  # read from metadata, not from the module
    assert plugins["example"]["status"] == "ok"
    assert "register_predictors" in plugins["example"]["hooks"]
    for args in (["components"], ["models"], ["--help"]):
        proc = run_zoo(*args, pythonpath=site, env=NO_STRICT)
        assert proc.returncode == 0, (args, proc.stderr)


def test_strict_mode_fails_in_one_line_naming_the_plugin(site, run_zoo):
    proc = run_zoo("models", pythonpath=site, env={"ZOO_STRICT_PLUGINS": "1"})
    assert proc.returncode != 0
    assert "zoo_broken" in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_example_plugin_trains_predicts_and_adds_a_command(site, run_zoo, tmp_path):
    env = {**NO_STRICT, "ZOO_REGISTRY": str(tmp_path / "r.db")}
    data = tmp_path / "d.csv"
    pd.DataFrame({"a": [0.0, 0.1, 5.0, 5.1] * 5, "label": ["x", "x", "y", "y"] * 5}).to_csv(data, index=False)
    proc = run_zoo("train", "example.nearest_centroid", str(data), "--target", "label", "--name", "nc",
                   "--param", "shrink=0.1", "--json", pythonpath=site, env=env, check=True)
    version = json.loads(proc.stdout)
    assert version["plugin"] == "example" and version["plugin_version"] == "0.1.0"
    assert version["params"] == {"shrink": 0.1} and version["metrics"]["accuracy"] == 1.0
    proc = run_zoo("predict", "nc", str(data), pythonpath=site, env=env, check=True)
    assert proc.stdout.splitlines()[1].startswith("0.0,x,x,")
    assert run_zoo("hello", "zoo", pythonpath=site, env=env, check=True).stdout == "Hello, zoo!\n"


def test_load_plugins_chooses_which_load(site, run_zoo):
    proc = run_zoo("plugins", "--json", pythonpath=site, env={**NO_STRICT, "ZOO_LOAD_PLUGINS": "example"})
    assert [p["name"] for p in json.loads(proc.stdout)["plugins"]] == ["example"]
    proc = run_zoo("components", "--json", pythonpath=site, env={**NO_STRICT, "ZOO_LOAD_PLUGINS": ""})
    assert {c["plugin"] for c in json.loads(proc.stdout)} == {"zoo.baselines"}


HEAVY = {"numpy", "pandas", "sklearn", "scipy", "skops", "xgboost", "lightgbm", "pyod",
         "alibi_detect", "sqlite_utils", "pyarrow", "matplotlib", "optuna", "dask"}


@pytest.mark.parametrize("command", [["--help"], ["plugins"], ["components"], ["models"]])
def test_everyday_commands_import_no_heavy_library(site, command, tmp_path):
    """With every plugin of this repository installed, these commands import no heavy module."""
    code = (
        "import sys, json\n"
        f"sys.argv = ['zoo', *{command!r}]\n"
        "from zoo.cli import cli\n"
        "try:\n    cli()\nexcept SystemExit:\n    pass\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})), file=sys.stderr)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(site), **NO_STRICT, "ZOO_REGISTRY": str(tmp_path / "r.db")}
    # An existing registry: creating one runs the migrations, which need sqlite-utils.
    subprocess.run([sys.executable, "-m", "zoo", "models"], env=env, check=True, capture_output=True)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    imported = set(json.loads(proc.stderr.strip().splitlines()[-1]))
    assert imported & HEAVY == set()
    assert "zoo_example" in imported  # the plugins really were loaded
    if importlib.util.find_spec("zoo_sklearn"):  # absent where the kernel is tested alone
        assert "zoo_sklearn" in imported
    assert "importlib.metadata" not in imported or command != ["--help"]


def test_entry_point_scan_agrees_with_importlib_metadata(site, monkeypatch):
    from importlib.metadata import entry_points as reference

    from zoo.plugins import entry_points

    monkeypatch.syspath_prepend(str(site))
    ours = sorted((e.name, e.value, e.distribution, e.version) for e in entry_points("zoo"))
    theirs = sorted((e.name, e.value, e.dist.metadata["Name"], e.dist.version)
                    for e in reference(group="zoo"))
    assert ours == theirs and ("example", "zoo_example", "zoo-example", "0.1.0") in ours


def test_licence_is_the_license_expression_else_the_first_line_of_license(tmp_path):
    from zoo.plugins import _distribution_header

    cases = {
        "License: Apache-2.0\nLicense-Expression: Apache-2.0 AND BUSL-1.1\n": "Apache-2.0 AND BUSL-1.1",
        "License: BSD 3-Clause\n        Copyright (c) someone\n": "BSD 3-Clause",
        "License: UNKNOWN\n": "",
        "": "",
    }
    for i, (lines, licence) in enumerate(cases.items()):
        dist = tmp_path / f"d{i}.dist-info"
        dist.mkdir()
        (dist / "METADATA").write_text(f"Metadata-Version: 2.4\nName: d{i}\nVersion: 1.0\n{lines}"
                                       "\nLicense-Expression: MIT\n(the body is not the header)\n")
        assert _distribution_header(str(dist)) == (f"d{i}", "1.0", licence)


# --- failures after import, with throwaway plugin objects ---


@pytest.fixture
def fresh(monkeypatch) -> Plugins:
    monkeypatch.delenv("ZOO_STRICT_PLUGINS", raising=False)
    plugins = Plugins()
    plugins.load_defaults()
    return plugins


def test_plugin_raising_inside_a_hook_is_reported_and_others_still_register(fresh):
    class Raises:
        @hookimpl
        def register_predictors(self, register):
            raise RuntimeError("boom in register")

    fresh.register(Raises(), name="raiser")
    catalogue = build_catalogue(fresh)
    assert "zoo.baseline_classifier" in catalogue.components
    assert "boom in register" in fresh.infos["raiser"].error


def test_registering_a_non_component_marks_the_plugin_broken(fresh):
    class Wrong:
        @hookimpl
        def register_predictors(self, register):
            register(dict)

    fresh.register(Wrong(), name="wrong")
    build_catalogue(fresh)
    assert "not a subclass of zoo.BaseMLModel" in fresh.infos["wrong"].error


def test_misspelled_hook_fails_loudly(fresh):
    class Typo:
        @hookimpl
        def register_predictor(self, register):
            pass

    fresh.register(Typo(), name="typo")
    assert "register_predictor" in fresh.infos["typo"].error
    assert fresh.pm.get_plugin("typo") is None


def test_name_clash_keeps_the_first_and_reports_the_second(fresh):
    class Clone(BaseMLModel):
        """Another class claiming a taken name."""

        component = "zoo.baseline_classifier"

    fresh.register(offering(Clone), name="clash")
    catalogue = build_catalogue(fresh)
    # Built-ins are trylast, so the installed plugin is asked first and keeps the name.
    assert catalogue.get("zoo.baseline_classifier").cls is Clone
    assert catalogue.conflicts == [("zoo.baseline_classifier", "clash", "zoo.baselines")]
    assert BaselineClassifier is not Clone


def test_strict_mode_raises(monkeypatch):
    monkeypatch.setenv("ZOO_STRICT_PLUGINS", "1")
    plugins = Plugins()

    class Typo:
        @hookimpl
        def register_predictor(self, register):
            pass

    with pytest.raises(PluginError, match="typo"):
        plugins.register(Typo(), name="typo")


def _clashing_plugin(tag: str):
    class Clone(BaseMLModel):
        """A component claiming a shared name."""

        component = "shared.model"
        origin = tag

    return offering(Clone)


def test_first_registered_plugin_keeps_a_name_unless_the_user_prefers_another(fresh, monkeypatch):
    fresh.register(_clashing_plugin("first"), name="first")
    fresh.register(_clashing_plugin("second"), name="second")
    catalogue = build_catalogue(fresh)
    assert catalogue.get("shared.model").cls.origin == "first"
    assert catalogue.conflicts == [("shared.model", "first", "second")]
    monkeypatch.setenv("ZOO_PREFER", "second")
    catalogue = build_catalogue(fresh)
    assert catalogue.get("shared.model").cls.origin == "second"
    assert catalogue.conflicts == [("shared.model", "second", "first")]


def test_a_component_clash_fails_in_strict_mode(monkeypatch):
    monkeypatch.setenv("ZOO_STRICT_PLUGINS", "1")
    plugins = Plugins()
    plugins.register(_clashing_plugin("first"), name="first")
    plugins.register(_clashing_plugin("second"), name="second")
    with pytest.raises(PluginError, match="'second' also provides component 'shared.model'"):
        build_catalogue(plugins)


def _command_plugin(name: str):
    import click

    class Commands:
        @hookimpl
        def register_commands(self, cli):
            @cli.command(name=name)
            def hijack():
                """Pretends to be a built-in command."""
                click.echo("hijacked")

    return Commands()


def test_a_plugin_command_never_replaces_a_built_in_one(add_plugin, monkeypatch):
    from click.testing import CliRunner

    from zoo import cli as cli_module
    from zoo.plugins import get_plugins

    monkeypatch.delenv("ZOO_STRICT_PLUGINS", raising=False)
    monkeypatch.setattr(get_plugins(), "strict", False)
    add_plugin(_command_plugin("models"), "t-hijack")
    cli_module._add_plugin_commands()
    result = CliRunner().invoke(cli_module.cli, ["models"])
    assert result.exit_code == 0 and "hijacked" not in result.output
    listing = json.loads(CliRunner().invoke(cli_module.cli, ["plugins", "--json"]).output)
    # `zoo models` belongs to the built-in zoo.registry plugin, which keeps it.
    assert {"kind": "command", "name": "models", "kept": "zoo.registry",
            "refused": "t-hijack"} in listing["conflicts"]


def test_a_command_clash_fails_in_strict_mode(add_plugin, monkeypatch):
    from zoo import cli as cli_module
    from zoo.plugins import get_plugins

    monkeypatch.setattr(get_plugins(), "strict", True)
    monkeypatch.setattr(cli_module.ZooGroup, "load_error", None)
    add_plugin(_command_plugin("verify"), "t-hijack-strict")
    cli_module._add_plugin_commands()
    assert "'t-hijack-strict' also provides command 'verify'" in str(cli_module.ZooGroup.load_error)
    assert cli_module.cli.commands["verify"].callback.__module__ == "zoo.default_plugins.registry.admin"


def test_a_built_in_plugin_can_be_disabled_like_an_installed_one(run_zoo):
    """Built-in features are plugins: zoo plugins --all lists them, ZOO_DISABLE_PLUGINS turns
    one off (its command disappears), and the rest of the CLI keeps working."""
    listed = json.loads(run_zoo("plugins", "--all", "--json", check=True).stdout)["plugins"]
    builtins = {p["name"] for p in listed if p["builtin"]}
    assert {"zoo.baselines", "zoo.evaluate", "zoo.conformal", "zoo.explain", "zoo.tune"} <= builtins
    env = {"ZOO_DISABLE_PLUGINS": "zoo.explain,zoo.tune"}
    listed = json.loads(run_zoo("plugins", "--all", "--json", env=env, check=True).stdout)["plugins"]
    assert not {"zoo.explain", "zoo.tune"} & {p["name"] for p in listed}
    assert run_zoo("explain", "--help", env=env).returncode == 2  # No such command
    assert run_zoo("compare", "--help", env=env, check=True).returncode == 0
