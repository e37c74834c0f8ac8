"""Every hook is documented with its exact signature and has a test here named
``test_hook_<name>`` (datasette's meta-tests, our own version)."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from zoo import Calibrator, Detector, DriftTest, Monitor, hookimpl, hookspecs
from zoo.catalogue import build_catalogue
from zoo.default_plugins.baselines import BaselineRegressor
from zoo.testing import offering

ROOT = Path(__file__).resolve().parents[2]
HOOKS = sorted(
    name for name, fn in vars(hookspecs).items()
    if callable(fn) and hasattr(fn, "zoo_spec")
)


def test_hooks_found():
    assert "register_predictors" in HOOKS and "batch_predicted" in HOOKS


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_is_documented_with_its_signature(hook):
    fn = getattr(hookspecs, hook)
    args = ", ".join(inspect.signature(fn).parameters)
    docs = (ROOT / "docs" / "plugins.md").read_text()
    assert f"### `{hook}({args})`" in docs, f"docs/plugins.md must document {hook}({args})"
    assert fn.__doc__ and fn.__doc__.strip(), f"{hook} needs a docstring"


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_has_a_test(hook):
    assert re.search(rf"^def test_hook_{hook}\b", Path(__file__).read_text(), re.M)


# --- one test per hook ---


class Regressor(BaselineRegressor):
    """A test predictor."""

    component = "t.regressor"


class Det(Detector):
    """A test detector."""

    component = "t.detector"


class Cal(Calibrator):
    """A test calibrator."""

    component = "t.calibrator"


class Drift(DriftTest):
    """A test drift test."""

    component = "t.drift"


class Mon(Monitor):
    """A test monitor."""

    component = "t.monitor"


def _trained_regressor(tmp_path):
    """A CliRunner, and a small table on which ``zoo train`` registered baseline regressor m:1."""
    from zoo.cli import cli

    data = tmp_path / "d.csv"
    pd.DataFrame({"x": [1.0, 2.0, 3.0], "y": [1.0, 2.0, 3.0]}).to_csv(data, index=False)
    runner = CliRunner()
    assert runner.invoke(cli, ["train", "zoo.baseline_regressor", str(data), "--target", "y",
                               "--name", "m", "--test-size", "0"]).exit_code == 0
    return runner, data


def _registered(add_plugin, name):
    add_plugin(offering(Regressor, Det, Cal, Drift, Mon), "t")
    return build_catalogue().get(name)


def test_hook_register_predictors(add_plugin):
    info = _registered(add_plugin, "t.regressor")
    assert (info.kind, info.plugin, info.description) == ("predictor", "t", "A test predictor.")


def test_hook_register_detectors(add_plugin):
    assert _registered(add_plugin, "t.detector").kind == "detector"


def test_hook_register_calibrators(add_plugin):
    assert _registered(add_plugin, "t.calibrator").kind == "calibrator"


def test_hook_register_drift_tests(add_plugin):
    assert _registered(add_plugin, "t.drift").kind == "drift_test"


def test_hook_register_monitors(add_plugin):
    assert _registered(add_plugin, "t.monitor").kind == "monitor"


def test_hook_register_commands(add_plugin):
    import click

    from zoo import cli as cli_module

    class Commands:
        @hookimpl
        def register_commands(self, cli):
            @cli.command(name="t-ping")
            def ping():
                click.echo("pong")

    add_plugin(Commands(), "t-commands")
    cli_module._add_plugin_commands()
    try:
        result = CliRunner().invoke(cli_module.cli, ["t-ping"])
        assert result.exit_code == 0 and result.output == "pong\n"
    finally:
        cli_module.cli.commands.pop("t-ping", None)


class Events:
    def __init__(self):
        self.registered = []
        self.predicted = []

    @hookimpl
    def version_registered(self, version):
        self.registered.append(version["ref"])

    @hookimpl
    def batch_predicted(self, version, inputs, predictions, seconds):
        self.predicted.append((version["ref"], len(inputs), list(predictions.columns), seconds))


def test_hook_version_registered(add_plugin, registry_path):
    from zoo import Registry

    events = Events()
    add_plugin(events, "t-events")
    model = BaselineRegressor().fit(pd.DataFrame({"x": [1.0, 2.0]}), pd.Series([1.0, 3.0]))
    with Registry(registry_path) as reg:
        reg.register("m", model)
        reg.register("m", model)
    assert events.registered == ["m:1", "m:2"]


def test_hook_version_references(add_plugin, registry_path):
    from zoo import Registry, ZooError

    class Pins:
        @hookimpl
        def version_references(self, registry, version):
            return ["pinned by a test"] if version["version"] == 1 else []

    add_plugin(Pins(), "t-pins")
    model = BaselineRegressor().fit(pd.DataFrame({"x": [1.0, 2.0]}), pd.Series([1.0, 3.0]))
    with Registry(registry_path) as reg:
        reg.register("m", model)
        reg.register("m", model)
        assert reg.delete("m:2")["unlinked"] == []
        with pytest.raises(ZooError, match="pinned by a test.*--force"):
            reg.delete("m:1")
        assert reg.delete("m:1", force=True)["unlinked"] == ["pinned by a test"]


def test_hook_import_guard(add_plugin, registry_path, tmp_path):
    import contextlib

    from zoo import Registry, ZooError

    seen = []

    class Guard:
        @hookimpl
        def import_guard(self):
            @contextlib.contextmanager
            def guard():
                def check(version, model_path):
                    seen.append((version["ref"], Path(model_path).is_file()))
                    if version["version"] == 2:
                        raise ZooError(f"{version['ref']}: refused by the guard")

                yield check

            return guard()

    add_plugin(Guard(), "t-guard")
    model = BaselineRegressor().fit(pd.DataFrame({"x": [1.0, 2.0]}), pd.Series([1.0, 3.0]))
    with Registry(registry_path) as reg:
        reg.register("m", model)
        reg.export(["m:1"], tmp_path / "one.zoo")
        reg.register("m", model)
        reg.export(["m"], tmp_path / "both.zoo")
    with Registry(tmp_path / "other.db") as other:
        with pytest.raises(ZooError, match="refused by the guard"):
            other.import_bundle(tmp_path / "both.zoo")
        assert other.models() == []  # refused as a whole: nothing committed
        assert [v["ref"] for v in other.import_bundle(tmp_path / "one.zoo")["imported_versions"]] == ["m:1"]
    assert ("m:1", True) in seen and ("m:2", True) in seen


def test_hook_batch_predicted(add_plugin, tmp_path):
    from zoo.cli import cli

    events = Events()
    add_plugin(events, "t-events")
    runner, data = _trained_regressor(tmp_path)
    result = runner.invoke(cli, ["predict", "m", str(data)])
    assert result.exit_code == 0, result.output
    (ref, rows, columns, seconds), = events.predicted
    assert (ref, rows) == ("m:1", 3) and "prediction" in columns and seconds >= 0


def test_a_failing_event_listener_does_not_undo_the_registration(add_plugin, registry_path):
    from zoo import Registry

    class Broken:
        @hookimpl
        def version_registered(self, version):
            raise RuntimeError("listener exploded")

    add_plugin(Broken(), "t-broken-listener")
    model = BaselineRegressor().fit(pd.DataFrame({"x": [1.0]}), pd.Series([1.0]))
    with Registry(registry_path) as reg:
        with pytest.warns(UserWarning, match="listener exploded"):
            reg.register("m", model)
        assert reg.get("m")["version"] == 1


def test_hook_register_migrations(add_plugin, tmp_path):
    import sqlite3

    from zoo import Registry

    class Tables:
        @hookimpl
        def register_migrations(self, register):
            register("m001_notes", ["CREATE TABLE t_notes (version_id INTEGER NOT NULL "
                                    "REFERENCES versions(id) ON DELETE CASCADE, note TEXT)"])

    add_plugin(Tables(), "t-tables")
    path = tmp_path / "r.db"
    Registry(path).close()
    Registry(path).close()  # applied once, recorded under the plugin's name
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT name FROM sqlite_master WHERE name = 't_notes'").fetchone()
    assert conn.execute("SELECT name FROM _sqlite_migrations WHERE migration_set = 't-tables'"
                        ).fetchall() == [("m001_notes",)]


def test_hook_training_artifacts(add_plugin, registry_path, tmp_path):
    from zoo import Registry, train_and_register

    class Files:
        @hookimpl
        def training_artifacts(self, model, X_test, y_test, split, directory):
            path = directory / "rows.txt"
            path.write_text(f"{len(X_test)} {split['rows']}")
            return {"rows.txt": path}

    add_plugin(Files(), "t-files")
    df = pd.DataFrame({"x": [float(i) for i in range(10)], "y": [float(i) for i in range(10)]})
    with Registry(registry_path) as reg:
        version, result = train_and_register(reg, "zoo.baseline_regressor", df, "y", name="m",
                                             test_size=0.3)
        assert "rows.txt" in version["artifacts"] and "reference.parquet" in version["artifacts"]
        copy = reg.verified_copy(version, tmp_path / "copy", "rows.txt")
        assert copy.read_text() == "3 3" and result.n_test == 3


def test_hook_prediction_intervals(add_plugin, tmp_path):
    from zoo.cli import cli

    def band(model, inputs, predictions, level=0.5):
        out = predictions.copy()
        out["lower"], out["upper"] = out["prediction"] - level, out["prediction"] + level
        return out

    class Bands:
        @hookimpl(tryfirst=True)
        def prediction_intervals(self, registry, version, level, method):
            return band, f"test band at {level}"

    add_plugin(Bands(), "t-bands")
    runner, data = _trained_regressor(tmp_path)
    result = runner.invoke(cli, ["predict", "m", str(data), "--interval", "0.5"])
    assert result.exit_code == 0, result.output
    assert "x,y,prediction,lower,upper" in result.output and "test band at 0.5" in result.output


def test_hook_predict_with_engine(add_plugin, tmp_path):
    from zoo.cli import cli

    calls = []

    class Engine:
        @hookimpl
        def predict_with_engine(self, engine, registry, version, data, output, options):
            if engine != "t-engine":
                return None
            calls.append((version["ref"], data, output, options["chunk_rows"], options["intervals"]))
            return [{"rows": 3}]

    add_plugin(Engine(), "t-engine")
    runner, data = _trained_regressor(tmp_path)
    result = runner.invoke(cli, ["predict", "m", str(data), "--engine", "t-engine", "-o", "out"])
    assert result.exit_code == 0, result.output
    assert calls == [("m:1", str(data), "out", 100_000, None)]
    unknown = runner.invoke(cli, ["predict", "m", str(data), "--engine", "nope"])
    assert unknown.exit_code == 1 and "no plugin runs the prediction engine 'nope'" in unknown.output


def test_hooks_run_through_pluggy_so_wrappers_run(add_plugin, registry_path):
    """A new-style ``wrapper=True`` implementation sees the call and every answer: hooks are
    called through pluggy's relay, not one implementation at a time."""
    from zoo import Registry

    seen = []

    class Wrapper:
        @hookimpl(wrapper=True)
        def version_registered(self, registry, version):
            seen.append(("before", version["ref"]))
            result = yield
            seen.append(("after", version["ref"]))
            return result

    add_plugin(Wrapper(), "t-wrapper")
    add_plugin(Events(), "t-events")
    model = BaselineRegressor().fit(pd.DataFrame({"x": [1.0]}), pd.Series([1.0]))
    with Registry(registry_path) as reg:
        reg.register("m", model)
    assert seen == [("before", "m:1"), ("after", "m:1")]


def test_hook_adopt_model(add_plugin, registry_path):
    """A plugin wraps an object of its library that `Registry.register` was given."""
    from zoo import Registry, ZooError

    class Fitted:
        """A model fitted outside zoo: it knows its slope."""

        slope = 2.0

    class Adopter:
        @hookimpl
        def adopt_model(self, obj):
            if not isinstance(obj, Fitted):
                return None
            model = Regressor().fit(pd.DataFrame({"x": [1.0, 2.0, 3.0]}), [2.0, 4.0, 6.0])
            model.adopted_slope_ = obj.slope
            return model

    add_plugin(offering(Regressor), "t")
    add_plugin(Adopter(), "adopter")
    with Registry(registry_path) as registry:
        version = registry.register("outside", Fitted())
        assert version["component"] == "t.regressor"
        with pytest.raises(ZooError, match="no installed plugin adopts it"):
            registry.register("other", object())


# --- serving (zoo-serve asks these through zoo.ask_plugins) ---


def test_hook_serve_route(add_plugin, registry_path):
    import zoo

    class Router:
        @hookimpl
        def serve_route(self, model, unit, fields):
            if model != "m":
                return None
            return {"experiment": "e", "arm": "B", "ref": "m:2", "shadows": {},
                    "unit": unit or fields.get("id")}

    add_plugin(Router(), "t-router")
    with zoo.Registry(registry_path) as registry:
        answer = zoo.ask_plugins("serve_route", registry=registry, model="m", unit=None, fields={"id": 7})
        assert answer["ref"] == "m:2" and answer["unit"] == 7
        assert zoo.ask_plugins("serve_route", registry=registry, model="other", unit="u", fields={}) is None


def test_hook_serve_outcome(add_plugin, registry_path):
    import zoo

    class Outcomes:
        def __init__(self):
            self.units = set()

        @hookimpl
        def serve_outcome(self, model, unit, value):
            new = unit not in self.units
            self.units.add(unit)
            return {"experiment": "e", "arm": "A", "recorded": new}

    add_plugin(Outcomes(), "t-outcomes")
    with zoo.Registry(registry_path) as registry:
        ask = lambda: zoo.ask_plugins("serve_outcome", registry=registry, model="m", unit="u1", value=1.0)  # noqa: E731
        assert [ask()["recorded"], ask()["recorded"]] == [True, False]


def test_hook_shadow_scored(add_plugin, registry_path):
    import zoo

    seen = []

    class Shadows:
        @hookimpl
        def shadow_scored(self, experiment, arm, ref, control, shadow, seconds):
            seen.append((experiment, arm, ref, len(control), list(shadow.columns), seconds))

    add_plugin(Shadows(), "t-shadows")
    table = pd.DataFrame({"prediction": [0, 1]})
    with zoo.Registry(registry_path) as registry:
        zoo.ask_plugins("shadow_scored", registry=registry, experiment="e", arm="B", ref="m:2",
                        control=table, shadow=table, seconds=0.01)
    assert seen == [("e", "B", "m:2", 2, ["prediction"], 0.01)]
