"""`zoo report` on real registries: metrics, baselines beside them, every extra artifact's path."""

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from zoo import Registry
from zoo.cli import cli
from zoo.default_plugins.baselines import BaselineClassifier


def zoo(*args, ok=True):
    result = CliRunner().invoke(cli, list(map(str, args)))
    if ok:
        assert result.exit_code == 0, result.output + repr(result.exception)
    return result


@pytest.fixture
def model():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(60, 2)), columns=["a", "b"])
    return BaselineClassifier().fit(X, np.where(X["a"] > 0, "yes", "no"))


def test_report_lists_metrics_and_every_extra_artifact_with_its_store_path(registry_path, tmp_path, model):
    roc, notes = tmp_path / "roc_curve.png", tmp_path / "notes.txt"
    roc.write_bytes(b"\x89PNG\r\n\x1a\nnot really a plot")
    notes.write_text("anything a command stores")
    with Registry(registry_path) as reg:
        v = reg.register("m", model, metrics={"ece": 0.02, "ece_uncalibrated": 0.09, "accuracy": 0.8},
                         artifacts={"roc_curve.png": roc, "notes.txt": notes})
        paths = {name: str(reg.artifacts.path(sha)) for name, sha in v["artifacts"].items()}
    out = json.loads(zoo("report", "m:1", "--json").stdout)
    assert out["ref"] == "m:1" and out["metrics"]["ece_uncalibrated"] == 0.09
    listed = {a["name"]: a for a in out["artifacts"]}
    assert set(listed) == {"roc_curve.png", "notes.txt"}  # everything but the model itself
    for name, artifact in listed.items():
        assert artifact["path"] == paths[name] and artifact["exists"]
    assert open(listed["roc_curve.png"]["path"], "rb").read() == roc.read_bytes()
    human = zoo("report", "m").output
    assert "roc_curve.png" in human and "notes.txt" in human
    # A metric and its uncalibrated baseline share a row.
    assert any("ece" in line and "0.0200" in line and "0.0900" in line for line in human.splitlines())


def test_report_of_a_version_without_artifacts_or_metrics(registry_path, model):
    with Registry(registry_path) as reg:
        reg.register("bare", model)
    out = zoo("report", "bare").output
    assert "No metrics recorded." in out and "No artifacts besides the model." in out
    assert json.loads(zoo("report", "bare", "--json").stdout)["artifacts"] == []


def test_report_flags_a_missing_artifact_file(registry_path, tmp_path, model):
    plot = tmp_path / "reliability.png"
    plot.write_bytes(b"\x89PNG\r\n\x1a\nplot")
    with Registry(registry_path) as reg:
        v = reg.register("m", model, artifacts={"reliability.png": plot})
        reg.artifacts.path(v["artifacts"]["reliability.png"]).unlink()
    out = json.loads(zoo("report", "m", "--json").stdout)
    assert out["artifacts"][0]["exists"] is False
    assert "missing" in zoo("report", "m").output


def test_report_of_a_calibrated_version_shows_the_reliability_diagram(registry_path, tmp_path, model):
    pytest.importorskip("zoo_calibrate")
    rng = np.random.default_rng(1)
    cal = pd.DataFrame(rng.normal(size=(200, 2)), columns=["a", "b"])
    cal["label"] = np.where(cal["a"] + rng.normal(0, 0.5, 200) > 0, "yes", "no")
    path = tmp_path / "cal.csv"
    cal.to_csv(path, index=False)
    with Registry(registry_path) as reg:
        reg.register("m", model)
    zoo("calibrate", "m", path, "--target", "label", "--method", "sigmoid")
    out = json.loads(zoo("report", "m:2", "--json").stdout)
    assert [a["name"] for a in out["artifacts"]] == ["reliability.png"]
    assert open(out["artifacts"][0]["path"], "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    assert out["parents"] == [{"ref": "m:1", "relation": "calibrated_from"}]
    assert "calibrated_from: m:1" in zoo("report", "m:2").output


def test_report_of_an_unknown_version_is_one_line():
    result = zoo("report", "ghost:3", ok=False)
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert [ln for ln in result.output.splitlines() if ln.startswith("Error:")] == [
        "Error: no model named 'ghost': the registry is empty"]


def test_report_save_writes_each_artifact_under_a_readable_name(registry_path, tmp_path, model):
    roc = tmp_path / "roc_curve.png"
    roc.write_bytes(b"\x89PNG\r\n\x1a\nnot really a plot")
    with Registry(registry_path) as reg:
        reg.register("wine", model, artifacts={"roc_curve.png": roc})
    out = tmp_path / "plots"
    human = zoo("report", "wine:1", "--save", out).output
    assert (out / "wine-1-roc_curve.png").read_bytes() == roc.read_bytes()
    assert "wine-1-roc_curve.png" in human
    listed = json.loads(zoo("report", "wine", "--save", out, "--json").stdout)["artifacts"]
    assert listed[0]["saved"] == str(out / "wine-1-roc_curve.png")


def test_saved_names_cannot_leave_the_directory():
    from zoo.default_plugins.evaluate.commands import saved_name

    assert saved_name("wine:5", "reliability.png") == "wine-5-reliability.png"
    assert saved_name("m:1", "../../etc/passwd") == "m-1-..-..-etc-passwd"
    assert "/" not in saved_name("m:1", "/abs/x\x1b[31m.png") and not saved_name(".:1", ".x").startswith(".")
