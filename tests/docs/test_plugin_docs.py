"""docs/plugins.md, run: every code block whose first line is ``# file: NAME`` is a file of a
plugin. Each example module is written to a temporary folder, imported, registered into the
process-wide plugin manager (commands included) and exercised end to end through the real
``zoo`` command; then the conformance kit checks every example component.

Meta-tests keep the guide whole: every hook is implemented by an example, every kind has
one, the examples import only the public API and nothing heavy at the top, the public API
section lists every export with the real signatures, and docs/example-plugin/ is the
guide's first example, file for file.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import inspect
import json
import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from zootest import one_line_error, zoo

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "plugins.md"
TEXT = GUIDE.read_text()


def guide_files(text: str = TEXT) -> dict[str, str]:
    """``{file name: content}`` of the guide's blocks whose first line is ``# file: NAME``
    (that line left out, as the file on disk would be)."""
    files: dict[str, str] = {}
    for body in re.findall(r"^```\w*\n(.*?)^```$", text, re.M | re.S):
        first, _, rest = body.partition("\n")
        match = re.fullmatch(r"# file: (\S+)", first.strip())
        if match:
            assert match[1] not in files, f"the guide has two blocks for {match[1]}"
            files[match[1]] = rest
    return files


FILES = guide_files()
#: The example plugin modules (the test module of the testing section aside).
MODULES = sorted(name for name in FILES if name.startswith("zoo_") and name.endswith(".py"))


def section(title: str) -> str:
    """The text of the guide's section whose heading is ``title`` (up to the next heading of
    the same or a higher level)."""
    # Headings outside code blocks only: a block's "# file:" line is not a heading.
    masked = re.sub(r"^```.*?^```$", lambda m: re.sub(r"[^\n]", " ", m[0]), TEXT, flags=re.M | re.S)
    match = re.search(rf"^(#+) {re.escape(title)}\n", masked, re.M)
    assert match, f"the guide has no section {title!r}"
    level = len(match[1])
    end = re.compile(rf"^#{{1,{level}}} ", re.M).search(masked, match.end())
    return TEXT[match.end(): end.start() if end else len(TEXT)]


# --- loading an example as a plugin ---


@pytest.fixture
def plugin(tmp_path, monkeypatch, add_plugin):
    """``plugin("zoo_notes.py")``: the guide's module imported from a temporary folder and
    registered as the plugin ``notes`` (its entry-point name would be), with its commands
    added to ``zoo``; all of it undone after the test."""
    from zoo import cli as cli_module

    folder = tmp_path / "plugins"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    commands, owners = dict(cli_module.cli.commands), dict(cli_module.ZooGroup.owners)
    loaded: list[str] = []

    def load(file_name: str):
        name = file_name.removesuffix(".py")
        (folder / file_name).write_text(FILES[file_name])
        importlib.invalidate_caches()
        sys.modules.pop(name, None)
        module = importlib.import_module(name)
        loaded.append(name)
        add_plugin(module, name.removeprefix("zoo_"))
        cli_module._add_plugin_commands()
        return module

    yield load
    for name in loaded:
        sys.modules.pop(name, None)
    cli_module.cli.commands.clear()
    cli_module.cli.commands.update(commands)
    cli_module.ZooGroup.owners.clear()
    cli_module.ZooGroup.owners.update(owners)


def _json(result):
    assert result.exit_code in (0, 3), result.output + repr(result.exception)
    return json.loads(result.stdout)


def _csv(result) -> pd.DataFrame:
    from io import StringIO

    return pd.read_csv(StringIO(result.stdout))


def classes_table(path: Path, n: int = 90, seed: int = 0) -> Path:
    """Two well separated classes, ``a`` and ``b``, in two features."""
    rng = np.random.default_rng(seed)
    label = np.where(np.arange(n) % 2 == 0, "a", "b")
    centre = np.where(label == "a", 0.0, 3.0)
    df = pd.DataFrame({"x1": centre + rng.normal(0, 1, n), "x2": -centre + rng.normal(0, 1, n),
                       "label": label})
    df.to_csv(path, index=False)
    return path


def values_table(path: Path, n: int = 80, seed: int = 0) -> Path:
    """A regression table: ``y = 2 x + noise``."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 1, n)
    pd.DataFrame({"x": x, "y": 2 * x + rng.normal(0, 0.3, n)}).to_csv(path, index=False)
    return path


def normal_table(path: Path, shift: float = 0.0, n: int = 300, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    pd.DataFrame({"a": rng.normal(shift, 1, n), "b": rng.normal(0, 1, n)}).to_csv(path, index=False)
    return path


# --- the guide as a whole ---


def test_the_guide_has_its_examples():
    assert {"pyproject.toml", "zoo_example.py", "test_zoo_example.py"} <= set(FILES)
    assert len(MODULES) >= 10


def test_every_hook_is_implemented_by_an_example():
    from zoo import hookspecs

    hooks = {name for name, fn in vars(hookspecs).items() if hasattr(fn, "zoo_spec")}
    implemented = set()
    for name in MODULES:
        for node in ast.walk(ast.parse(FILES[name])):
            if isinstance(node, ast.FunctionDef) and any(
                    "hookimpl" in ast.unparse(d) for d in node.decorator_list):
                implemented.add(node.name)
    assert hooks - implemented == set(), "hooks without an example in the guide"
    assert implemented - hooks == set(), "examples implementing a hook that does not exist"


def test_every_kind_has_an_example(plugin):
    import zoo

    kinds = {kind_of(cls) for cls in example_components(plugin)}
    assert kinds == set(zoo.KINDS)


def test_the_example_plugin_is_the_guides_first_example():
    folder = ROOT / "docs" / "example-plugin"
    assert (folder / "zoo_example.py").read_text() == FILES["zoo_example.py"]
    assert (folder / "pyproject.toml").read_text() == FILES["pyproject.toml"]
    assert (folder / "tests" / "test_zoo_example.py").read_text() == FILES["test_zoo_example.py"]


def test_examples_import_only_the_public_api():
    spec = importlib.util.spec_from_file_location("zoo_architecture_rules",
                                                  ROOT / "tests" / "zoo" / "test_architecture.py")
    rules = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(rules)
    import zoo

    sources = {name.removesuffix(".py"): FILES[name] for name in MODULES}
    assert rules.plugin_violations(sources, set(zoo.__all__)) == []
    # The guide's test module, as a module of the plugin it tests (it imports zoo_example).
    tests = {"zoo_example.tests": FILES["test_zoo_example.py"], "zoo_example": ""}
    assert rules.plugin_violations(tests, set(zoo.__all__)) == []


HEAVY = {"numpy", "pandas", "scipy", "sklearn", "skops", "xgboost", "lightgbm", "pyarrow",
         "matplotlib", "sqlite_utils"}


def test_examples_are_ruff_clean(tmp_path):
    """With the repository's own settings (line length, import order, bugbear)."""
    import subprocess

    pytest.importorskip("ruff")
    for name, content in FILES.items():
        if name.endswith(".py"):
            (tmp_path / name).write_text(content)
    proc = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "--config",
                           str(ROOT / "pyproject.toml"), str(tmp_path)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("name", MODULES)
def test_examples_import_nothing_heavy_at_the_top(name):
    """``zoo --help`` imports every plugin's entry module: libraries load inside functions."""
    top = set()
    for node in ast.parse(FILES[name]).body:
        if isinstance(node, ast.Import):
            top |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            top.add(node.module.split(".")[0])
    assert top & HEAVY == set()
    assert "zoo.metrics" not in FILES[name].split("\n\n\n")[0]  # zoo.metrics imports numpy


def test_the_public_api_section_lists_every_export():
    import zoo

    text = section("`zoo`")
    missing = [name for name in zoo.__all__ if f"`{name}`" not in text and f"`{name}(" not in text]
    assert missing == []
    rules = _architecture_rules()
    headings = set(re.findall(r"^### `([\w.]+)`$", section("The public API"), re.M))
    assert headings == rules.PUBLIC_MODULES


def _architecture_rules():
    spec = importlib.util.spec_from_file_location("zoo_architecture_rules",
                                                  ROOT / "tests" / "zoo" / "test_architecture.py")
    rules = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(rules)
    return rules


def _namespaces(module: str) -> list[object]:
    import zoo_registry

    import zoo

    if module == "zoo":
        return [zoo, zoo.Registry, zoo.ComponentInfo]
    if module == "zoo_registry":
        return [zoo_registry.Store]
    imported = importlib.import_module(module)
    return [imported, *(getattr(imported, n) for n in ("TableWriter",) if hasattr(imported, n))]


def _documented_calls(text: str) -> list[tuple[str, list[str]]]:
    """``(name, parameter names)`` of every `` `name(params)` `` in ``text``."""
    calls = []
    for name, params in re.findall(r"`(\w+)\(([^`)]*)\)`", text):
        names = []
        for part in " ".join(params.split()).split(","):
            part = part.strip().split("=")[0].strip()
            if part and part != "*" and part != "...":
                names.append(part)
        calls.append((name, names))
    return calls


@pytest.mark.parametrize("module", ["zoo", "zoo.clitools", "zoo.data", "zoo.drift", "zoo.metrics",
                                    "zoo.testing", "zoo_registry", "zoo_registry.rows"])
def test_documented_signatures_are_the_real_ones(module):
    """Each documented call names real parameters, in order, and every required one."""
    text = section(f"`{module}`")
    spaces = _namespaces(module)
    calls = _documented_calls(text)
    assert calls or module == "zoo.testing"
    if module == "zoo.testing":
        calls = _documented_calls(section("Testing your plugin: zoo.testing"))
    for name, documented in calls:
        owner = next((s for s in spaces if hasattr(s, name)), None)
        assert owner is not None, f"{module} documents {name}(), which it does not have"
        signature = inspect.signature(getattr(owner, name))
        real = [("**" if p.kind is p.VAR_KEYWORD else "*" if p.kind is p.VAR_POSITIONAL else "") + p.name
                for p in signature.parameters.values() if p.name != "self"]
        required = [("*" if p.kind is p.VAR_POSITIONAL else "") + p.name
                    for p in signature.parameters.values()
                    if p.default is p.empty and p.kind not in (p.VAR_KEYWORD,) and p.name != "self"]
        assert [n for n in real if n in documented] == documented, (
            f"{module}: {name}({', '.join(documented)}) but the code has {name}{signature}")
        assert set(required) <= set(documented), (
            f"{module}: {name}({', '.join(documented)}) leaves out required parameters of {name}{signature}")


def test_the_testing_section_lists_every_check():
    from zoo.testing import _KIT_OPTIONS, CHECKS

    listed = re.findall(r"^\| `(\w+)` \| ", section("Testing your plugin: zoo.testing"), re.M)
    assert [n for n in listed if n not in _KIT_OPTIONS] == list(CHECKS)
    assert {n for n in listed if n in _KIT_OPTIONS} == _KIT_OPTIONS


# --- each kind, end to end ---


def test_predictor_trains_predicts_registers_and_loads(plugin, tmp_path, registry_path):
    from zoo import Registry, train_and_register

    plugin("zoo_example.py")
    data = classes_table(tmp_path / "train.csv")
    version = _json(zoo("train", "example.nearest_centroid", data, "--target", "label",
                        "--name", "nc", "--param", "shrink=0.1", "--json"))
    assert (version["ref"], version["kind"], version["plugin"]) == ("nc:1", "predictor", "example")
    assert version["params"] == {"shrink": 0.1} and version["metrics"]["accuracy"] > 0.9
    assert version["metadata"]["classes"] == ["a", "b"] and version["artifact_format"] == "json"
    scored = _csv(zoo("predict", "nc", classes_table(tmp_path / "new.csv", n=20, seed=1)))
    assert list(scored.columns) == ["x1", "x2", "label", "prediction", "proba_a", "proba_b"]
    assert (scored["prediction"] == scored["label"]).mean() > 0.9
    assert np.allclose(scored[["proba_a", "proba_b"]].sum(axis=1), 1.0)

    df = pd.read_csv(data)
    with Registry(registry_path) as registry:
        version, result = train_and_register(registry, "example.nearest_centroid", df, "label",
                                             name="nc", params={"shrink": 0.3})
        loaded = registry.load(version["ref"], observed=False)
    X = df.drop(columns=["label"])
    assert loaded.model_name == "nc" and loaded.model_version == 2 and loaded.shrink == 0.3
    assert list(loaded.classes_) == ["a", "b"] and loaded.feature_names == ["x1", "x2"]
    assert np.array_equal(loaded.predict_proba(X), result.model.predict_proba(X))  # bit for bit
    assert zoo("hello", "zoo").output == "Hello, zoo!\n"


def test_detector_trains_scores_and_keeps_its_threshold(plugin, tmp_path, registry_path):
    from zoo import Registry

    plugin("zoo_zscore.py")
    data = normal_table(tmp_path / "train.csv")
    version = _json(zoo("train", "example.zscore", data, "--name", "z", "--param",
                        "contamination=0.05", "--json"))
    assert (version["kind"], version["task"]) == ("detector", "anomaly")
    assert version["metadata"]["contamination"] == 0.05 and version["metadata"]["threshold"] > 0
    scored = _csv(zoo("predict", "z", data))
    assert {"anomaly_score", "anomaly"} <= set(scored.columns)
    assert scored["anomaly"].sum() == 15  # 5% of 300 training rows lie above the threshold
    with Registry(registry_path) as registry:
        model = registry.load("z", observed=False)
    X = pd.read_csv(data)
    assert model.threshold_ == version["metadata"]["threshold"] and model.contamination == 0.05
    assert np.array_equal(model.decision_function(X), scored["anomaly_score"].to_numpy())
    assert np.array_equal(model.predict(X), scored["anomaly"].to_numpy())
    assert model.set_contamination(0.1).predict(X).sum() == 30  # decision_scores_ were saved


def test_calibrator_fits_and_transforms_every_shape(plugin):
    from zoo import build_catalogue

    plugin("zoo_temperature.py")
    rng = np.random.default_rng(0)
    truth = rng.uniform(0.05, 0.95, 400)
    y = (rng.random(400) < truth).astype(int)
    overconfident = 1 / (1 + np.exp(-3 * np.log(truth / (1 - truth))))
    model = build_catalogue().get("example.temperature").create().fit(overconfident, y)
    assert 2.0 < model.temperature_ < 4.5  # it undoes the factor 3
    out = model.transform(overconfident)
    assert out.shape == (400,) and ((0 < out) & (out < 1)).all()
    two = model.transform(np.column_stack([1 - overconfident, overconfident]))
    assert two.shape == (400, 2) and np.allclose(two[:, 1], out)
    logits = rng.normal(0, 1, (300, 3))
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    labels = (rng.random(300)[:, None] < proba.cumsum(axis=1)).argmax(axis=1)
    sharp = np.exp(3 * logits) / np.exp(3 * logits).sum(axis=1, keepdims=True)
    multi = model.fit(sharp, labels).transform(sharp)
    assert multi.shape == (300, 3) and np.allclose(multi.sum(axis=1), 1.0)


def test_zoo_calibrate_uses_the_example_calibrator(plugin, tmp_path, registry_path):
    pytest.importorskip("zoo_calibrate")
    from zoo import Registry

    plugin("zoo_example.py")
    plugin("zoo_temperature.py")
    zoo("train", "example.nearest_centroid", classes_table(tmp_path / "train.csv"), "--target", "label",
        "--name", "nc", "--test-size", "0")
    held_out = classes_table(tmp_path / "held-out.csv", n=60, seed=2)
    # --force: this toy calibrator makes the log loss worse, which zoo calibrate refuses by default.
    version = _json(zoo("calibrate", "nc", held_out, "--target", "label", "--method",
                        "example.temperature", "--force", "--json"))
    assert version["component"] == "calibrate.calibrated_model" and version["ref"] == "nc:2"
    scored = _csv(zoo("predict", "nc:2", held_out))
    assert {"prediction", "proba_a", "proba_b"} <= set(scored.columns)
    with Registry(registry_path) as registry:
        model = registry.load("nc:2", observed=False)
    assert model.calibrator_.component == "example.temperature" and model.calibrator_.temperature_ > 0


def test_drift_test_through_zoo_drift(plugin, tmp_path):
    module = plugin("zoo_meanshift.py")
    reference = normal_table(tmp_path / "reference.csv")
    shifted = normal_table(tmp_path / "shifted.csv", shift=0.5, seed=1)
    same = normal_table(tmp_path / "same.csv", seed=2)
    test = module.MeanShiftTest().fit(pd.read_csv(reference))
    result = test.test(pd.read_csv(shifted))
    assert result["drift"] and result["drifted"] == ["a"] and result["rows"] == {"reference": 300,
                                                                                 "current": 300}
    assert {"drift", "alpha", "correction", "p_value", "drifted", "features", "test"} <= set(result)
    assert [row["feature"] for row in result["features"]] == ["a", "b"]
    assert {"feature", "test", "statistic", "p_value", "p_adjusted", "drift"} <= set(result["features"][0])

    pytest.importorskip("zoo_drift")
    found = zoo("drift", reference, shifted, "--test", "example.mean_shift", "--json", ok=False)
    assert found.exit_code == 3 and _json(found)["drifted"] == ["a"]
    assert _json(found)["test"] == "example.mean_shift"
    calm = zoo("drift", reference, same, "--test", "mean_shift", "--correction", "bonferroni", "--json")
    assert _json(calm)["drift"] is False and _json(calm)["correction"] == "bonferroni"
    table = zoo("drift", reference, shifted, "--test", "mean_shift", ok=False)
    assert table.exit_code == 3 and "Drift in 1 of 2 features: a" in table.stdout
    error = one_line_error(zoo("drift", reference, shifted, "--test", "mean_shift", "--alpha", "2", ok=False))
    assert "alpha must be between 0 and 1" in error


def test_monitor_observes_batches(plugin, tmp_path):
    from zoo import build_catalogue

    plugin("zoo_range.py")
    reference = pd.read_csv(normal_table(tmp_path / "reference.csv", n=500))
    watcher = build_catalogue().get("example.range").create(margin=0.1).fit(reference)
    calm = watcher.observe(pd.read_csv(normal_table(tmp_path / "calm.csv", n=200, seed=1)))
    assert calm["health"] >= 95 and calm["rows"] == 200 and calm["alerts"] == []
    moved = watcher.observe(pd.read_csv(normal_table(tmp_path / "moved.csv", shift=5.0, n=200, seed=2)))
    assert moved["health"] < 40 and moved["outside"]["a"] > 0.6 and moved["outside"]["b"] < 0.05
    (alert,) = moved["alerts"]
    assert alert["check"] == "range" and alert["severity"] in ("HIGH", "CRITICAL")
    assert set(alert) == {"check", "severity", "message", "details"}
    json.dumps(moved)


def test_command_lists_the_best_versions(plugin, tmp_path):
    plugin("zoo_example.py")
    plugin("zoo_leaderboard.py")
    data = classes_table(tmp_path / "train.csv")
    zoo("train", "example.nearest_centroid", data, "--target", "label", "--name", "m",
        "--tag", "team=growth")
    zoo("train", "example.nearest_centroid", data, "--target", "label", "--name", "m",
        "--param", "shrink=0.99", "--tag", "team=risk")
    board = _json(zoo("leaderboard", "log_loss", "--json"))
    assert [row["ref"] for row in board] == ["m:1", "m:2"]  # a loss: smallest first
    assert board[0]["log_loss"] < board[1]["log_loss"]
    risk = _json(zoo("leaderboard", "accuracy", "--tag", "team=risk", "--json"))
    assert [row["ref"] for row in risk] == ["m:2"]
    assert "Best by accuracy" in zoo("leaderboard", "accuracy").stdout
    assert "invalid metric" in one_line_error(zoo("leaderboard", "no such", ok=False))


def test_a_plugin_command_cannot_take_a_built_in_name(plugin, monkeypatch):
    import click

    from zoo import cli as cli_module
    from zoo.plugins import get_plugins

    plugins = get_plugins()
    monkeypatch.setattr(plugins, "strict", False)
    monkeypatch.setattr(plugins, "conflicts", list(plugins.conflicts))  # restored afterwards
    module = plugin("zoo_leaderboard.py")
    monkeypatch.setattr(module.leaderboard, "name", "models")
    cli_module._add_plugin_commands()
    # `zoo models` comes from the built-in zoo.registry plugin, which keeps it.
    assert cli_module.cli.commands["models"].callback.__module__ == "zoo.default_plugins.registry.browse"
    listing = _json(zoo("plugins", "--json"))
    clash = {"kind": "command", "name": "models", "kept": "zoo.registry", "refused": "leaderboard"}
    assert clash in listing["conflicts"]
    assert isinstance(cli_module.cli.commands["leaderboard"], click.Command)


def test_migration_creates_the_plugins_table(plugin, tmp_path, registry_path):
    import sqlite3

    from zoo import Registry

    module = plugin("zoo_notes.py")
    zoo("train", "zoo.baseline_regressor", values_table(tmp_path / "d.csv"), "--target", "y",
        "--name", "m", "--test-size", "0")
    with sqlite3.connect(registry_path) as conn:
        assert conn.execute("SELECT name FROM _sqlite_migrations WHERE migration_set = 'notes'"
                            ).fetchall() == [("m001_notes",)]
    row = _json(zoo("note", "m", "checked by hand", "--author", "ann", "--json"))
    assert (row["ref"], row["author"], row["note"]) == ("m:1", "ann", "checked by hand")
    assert "Noted on m:1" in zoo("note", "m:1", "second").output
    assert [n["note"] for n in _json(zoo("notes", "m:1", "--json"))] == ["checked by hand", "second"]
    assert "checked by hand" in zoo("notes", "m:1").stdout
    assert "example.note" in {a["action"] for a in _json(zoo("audit", "--json"))}
    assert "invalid author" in one_line_error(zoo("note", "m", "x", "--author", "a b", ok=False))
    assert "no model named" in one_line_error(zoo("note", "nope", "x", ok=False))
    with Registry(registry_path) as registry:
        assert len(module.notes(registry, "m")) == 2
        registry.delete("m:1")
        with registry.read() as conn:  # the notes went with their version
            assert conn.execute("SELECT COUNT(*) FROM example_notes").fetchone()[0] == 0


def test_services_make_artifacts_intervals_and_an_engine(plugin, tmp_path, registry_path):
    plugin("zoo_residuals.py")
    data = values_table(tmp_path / "d.csv", n=100)
    version = _json(zoo("train", "zoo.baseline_regressor", data, "--target", "y", "--name", "r", "--json"))
    assert "example_residuals.json" in version["artifacts"]
    result = zoo("predict", "r", data, "--interval", "0.8")
    scored = _csv(result)
    assert list(scored.columns) == ["x", "y", "prediction", "lower", "upper"]
    assert np.allclose(scored["upper"] - scored["prediction"], scored["prediction"] - scored["lower"])
    assert "20 held-out residuals (example_residuals.json)" in result.output
    inside = ((scored["lower"] <= scored["y"]) & (scored["y"] <= scored["upper"])).mean()
    assert 0.6 < inside < 0.95
    built_in = zoo("predict", "r", data, "--interval", "0.8", "--method", "conformal")
    assert "example_residuals.json" not in built_in.output  # --method conformal: the built-in answers

    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(2):
        values_table(folder / f"part{i}.csv", n=30, seed=i)
    summaries = _json(zoo("predict", "r", f"{folder}/*.csv", "--engine", "serial", "-o",
                          tmp_path / "out", "--chunk-rows", "7", "--json"))
    assert [(Path(s["file"]).name, s["rows"]) for s in summaries] == [("part0.csv", 30), ("part1.csv", 30)]
    out = pd.read_csv(tmp_path / "out" / "part1.csv")
    assert list(out.columns) == ["x", "y", "prediction"] and len(out) == 30
    result = zoo("predict", "r", f"{folder}/*.csv", "--engine", "serial", "-o", tmp_path / "out2",
                 "--interval", "0.8")
    assert "Scored 60 rows of 2 file(s) with r:1" in result.output and "±" in result.output
    out = pd.read_csv(tmp_path / "out2" / "part0.csv")
    assert list(out.columns) == ["x", "y", "prediction", "lower", "upper"]
    assert "-o DIRECTORY" in one_line_error(zoo("predict", "r", data, "--engine", "serial", ok=False))


def test_events_are_heard(plugin, tmp_path, registry_path, monkeypatch):
    from zoo import Registry

    log = tmp_path / "events.jsonl"
    monkeypatch.setenv("ZOO_EXAMPLE_EVENTS", str(log))
    plugin("zoo_events.py")
    data = values_table(tmp_path / "d.csv", n=40)
    zoo("train", "zoo.baseline_regressor", data, "--target", "y", "--name", "m")
    zoo("predict", "m", data)
    with Registry(registry_path) as registry:
        registry.load("m").predict(pd.read_csv(data)[["x"]])
        registry.load("m", observed=False).predict(pd.read_csv(data)[["x"]])  # not reported
    events = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(e["event"], e["ref"], e.get("rows")) for e in events] == [
        ("version_registered", "m:1", None), ("batch_predicted", "m:1", 40), ("batch_predicted", "m:1", 40)]
    assert events[0]["component"] == "zoo.baseline_regressor" and events[1]["seconds"] >= 0


# --- the safe-format recipes ---

RECIPES = [("zoo_xgb_recipe.py", "xgboost", "regression"),
           ("zoo_lgbm_recipe.py", "lightgbm", "regression"),
           ("zoo_skops_recipe.py", "skops", "classification")]


@pytest.mark.parametrize(("file_name", "library", "task"), RECIPES)
def test_recipe_round_trips_bit_for_bit_and_refuses_foreign_files(plugin, tmp_path, registry_path,
                                                                   file_name, library, task):
    pytest.importorskip(library)
    from zoo import IntegrityError, Registry, train_and_register

    module = plugin(file_name)
    cls = next(c for c in vars(module).values()
               if isinstance(c, type) and c.__module__ == module.__name__ and getattr(c, "component", ""))
    path = (classes_table if task == "classification" else values_table)(tmp_path / "d.csv")
    df = pd.read_csv(path)
    target = "label" if task == "classification" else "y"
    with Registry(registry_path) as registry:
        version, result = train_and_register(registry, cls.component, df, target, name="m")
        loaded = registry.load("m", observed=False)
    assert version["artifact_format"] == cls.artifact_format
    X = df.drop(columns=[target])
    assert type(loaded) is cls and loaded.get_params() == result.model.get_params()
    assert np.array_equal(loaded.predict(X), result.model.predict(X))
    if task == "classification":
        assert np.array_equal(loaded.predict_proba(X), result.model.predict_proba(X))
    not_ours = tmp_path / "not-ours"
    not_ours.write_bytes(b"\x00 not a model file")
    with pytest.raises(IntegrityError, match="refusing to load"):
        cls.load(not_ours)


def test_skops_recipe_refuses_untrusted_types(plugin, tmp_path):
    skops_io = pytest.importorskip("skops.io")
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.preprocessing import FunctionTransformer

    from zoo import IntegrityError

    module = plugin("zoo_skops_recipe.py")
    forged = tmp_path / "forged.skops"
    skops_io.dump(FunctionTransformer(eval), forged)
    with pytest.raises(IntegrityError, match="untrusted type.*builtins.eval"):
        module.TreeClassifier.load(forged)
    other = tmp_path / "forest.skops"  # trusted types only, but not a decision tree
    skops_io.dump(RandomForestClassifier(n_estimators=2).fit([[0.0], [1.0]], [0, 1]), other)
    with pytest.raises(IntegrityError, match="RandomForestClassifier"):
        module.TreeClassifier.load(other)


def test_the_xgboost_recipe_has_two_capabilities(plugin):
    pytest.importorskip("xgboost")
    import zoo

    module = plugin("zoo_xgb_recipe.py")
    X = pd.DataFrame({"x": np.linspace(0, 1, 50), "z": np.linspace(1, 0, 50) ** 2})
    model = module.XGBoostRegressor().fit(X, 3 * X["x"])
    assert isinstance(model, zoo.Contributions) and isinstance(module.XGBoostRegressor, zoo.SearchSpace)
    assert not isinstance(model, zoo.QuantilePredictor)
    parts = model.contributions(X)
    assert parts.shape == (50, 3) and np.allclose(parts.sum(axis=1), model.predict(X), atol=1e-5)


# --- the conformance kit on every example component ---


def kind_of(cls: type) -> str:
    import zoo

    return next(kind for kind in zoo.KINDS if issubclass(cls, zoo.BASES[kind]))


def example_components(plugin) -> list[type]:
    """Every component class the example modules register (libraries they need installed)."""
    from zoo import Component

    classes = []
    for name in MODULES:
        needs = {"zoo_xgb_recipe.py": "xgboost", "zoo_lgbm_recipe.py": "lightgbm",
                 "zoo_skops_recipe.py": "skops"}.get(name)
        if needs and importlib.util.find_spec(needs) is None:
            continue
        module = plugin(name)
        classes += [c for c in vars(module).values() if isinstance(c, type) and issubclass(c, Component)
                    and c.__module__ == module.__name__]
    return classes


COMPONENT_FILES = ["zoo_example.py", "zoo_zscore.py", "zoo_temperature.py", "zoo_meanshift.py",
                   "zoo_range.py", "zoo_xgb_recipe.py", "zoo_lgbm_recipe.py", "zoo_skops_recipe.py"]


@pytest.mark.parametrize("file_name", COMPONENT_FILES)
def test_every_example_component_passes_the_conformance_kit(plugin, file_name):
    from zoo import Component
    from zoo.testing import check_component

    needs = {"zoo_xgb_recipe.py": "xgboost", "zoo_lgbm_recipe.py": "lightgbm",
             "zoo_skops_recipe.py": "skops"}.get(file_name)
    if needs:
        pytest.importorskip(needs)
    module = plugin(file_name)
    classes = [c for c in vars(module).values()
               if isinstance(c, type) and issubclass(c, Component) and c.__module__ == module.__name__]
    assert classes
    for cls in classes:
        check_component(cls)


@pytest.mark.parametrize("file_name", COMPONENT_FILES)
def test_every_example_load_refuses_a_file_it_did_not_write(plugin, tmp_path, file_name):
    from zoo import Component, IntegrityError

    needs = {"zoo_xgb_recipe.py": "xgboost", "zoo_lgbm_recipe.py": "lightgbm",
             "zoo_skops_recipe.py": "skops"}.get(file_name)
    if needs:
        pytest.importorskip(needs)
    module = plugin(file_name)
    (cls,) = [c for c in vars(module).values()
              if isinstance(c, type) and issubclass(c, Component) and c.__module__ == module.__name__]
    for i, content in enumerate([b"\x00\x01 not a model", b"[]", b'{"other": 1}']):
        path = tmp_path / f"foreign{i}"
        path.write_bytes(content)
        with pytest.raises(IntegrityError, match="refusing to load"):
            cls.load(path, {})


def test_component_files_cover_every_example_component():
    bases = r"^class \w+\((BaseMLModel|Detector|Calibrator|DriftTest|Monitor)\)"
    found = {name for name in MODULES if re.search(bases, FILES[name], re.M)}
    assert found == set(COMPONENT_FILES)


@pytest.fixture(scope="module")
def example_site(tmp_path_factory, pip_install_target) -> Path:
    """docs/example-plugin really installed (pip, no dependencies) into a folder of its own."""
    target = tmp_path_factory.mktemp("example-site")
    pip_install_target(ROOT / "docs" / "example-plugin", target)
    return target


def test_the_guides_test_module_passes(example_site, monkeypatch, tmp_path):
    """The guide's ``test_zoo_example.py``, run against the pip-installed example plugin."""
    from zoo.testing import checks_for

    monkeypatch.syspath_prepend(str(example_site))
    monkeypatch.setenv("PYTHONPATH", str(example_site))  # check_plugin's fresh interpreters
    for name in ("zoo_example", "test_zoo_example"):
        sys.modules.pop(name, None)
    (tmp_path / "test_zoo_example.py").write_text(FILES["test_zoo_example.py"])
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        tests = importlib.import_module("test_zoo_example")
        (mark,) = [m for m in tests.test_contract.pytestmark if m.name == "parametrize"]
        cases = mark.args[1]
        assert [c.id for c in cases] == [f"example.nearest_centroid-{name}"
                                         for name in checks_for(tests.NearestCentroid)]
        for case in cases:
            tests.test_contract(*case.values)
        tests.test_with_more_shrinkage_it_still_learns()
        tests.test_the_installed_plugin()
    finally:
        for name in ("zoo_example", "test_zoo_example"):
            sys.modules.pop(name, None)
